//! The .eml files the server writes into its outbox folder (no SMTP host is configured),
//! decoded with `mail-parser`.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::server::lock;
use crate::PATIENCE;

/// The server's outbox folder: each .eml file's recipient and subject read once (headers only),
/// a body decoded when a step asks for it.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    files: HashSet<PathBuf>,
    mails: Vec<Mail>,
}

#[derive(Debug)]
struct Mail {
    to: String,
    subject: String,
    path: PathBuf,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Reads the headers of the files that appeared since the last look (the server writes each
    /// aside and renames it into place, so a file with the .eml name is whole).
    fn refresh(&self, seen: &mut Seen) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut new: Vec<PathBuf> = entries
            .map_while(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml") && !seen.files.contains(p))
            .collect();
        // Named `<created_at>-<id>.eml`: oldest first.
        new.sort();
        for path in new {
            let mut head = Vec::new();
            let read = std::fs::File::open(&path)
                .and_then(|f| f.take(16 << 10).read_to_end(&mut head).map(|_| ()));
            if read.is_err() {
                continue;
            }
            seen.files.insert(path.clone());
            let Some(message) = mail_parser::MessageParser::default().parse_headers(&head) else {
                continue;
            };
            let to = message
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned();
            // What follows the service's 【Inkan】 prefix, as the bench looks for it.
            let subject = message.subject().unwrap_or_default();
            let subject = subject
                .strip_prefix("【Inkan】")
                .unwrap_or(subject)
                .to_owned();
            seen.mails.push(Mail { to, subject, path });
        }
    }

    /// The decoded text of the newest mail to `to` whose subject `wanted`, waiting for it.
    pub fn wait_body(&self, to: &str, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let found = {
                let mut seen = lock(&self.seen);
                self.refresh(&mut seen);
                seen.mails
                    .iter()
                    .rev()
                    .find(|m| m.to == to && wanted(&m.subject))
                    .map(|m| m.path.clone())
            };
            if let Some(path) = found {
                let raw = std::fs::read(&path).expect("read a mail");
                let message = mail_parser::MessageParser::default()
                    .parse(&raw)
                    .unwrap_or_else(|| panic!("{} is not a mail", path.display()));
                return message
                    .body_text(0)
                    .unwrap_or_else(|| panic!("{} has no text", path.display()))
                    .into_owned();
            }
            if started.elapsed() > PATIENCE {
                let seen = lock(&self.seen);
                let subjects: Vec<&str> = seen
                    .mails
                    .iter()
                    .filter(|m| m.to == to)
                    .map(|m| m.subject.as_str())
                    .collect();
                panic!("no awaited mail to {to}; it has {subjects:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
