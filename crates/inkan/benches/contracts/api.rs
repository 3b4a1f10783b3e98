//! A client of the JSON API: session cookie, CSRF token, extra headers; a 5xx answer is
//! retried and counted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::{lock, ServerLog};
use crate::PATIENCE;

/// One user agent: its session cookie, CSRF token and extra headers.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    agent: ureq::Agent,
    /// The server's log, quoted when the server fails a request.
    pub log: Option<Arc<Mutex<ServerLog>>>,
    cookie: Option<String>,
    csrf: Option<String>,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The server's last log lines when it answered 5xx.
    log: String,
}

impl Reply {
    /// The body, when the status is `status`; otherwise the bench fails, saying `what`.
    pub fn expect(self, status: u16, what: &str) -> Value {
        assert_eq!(
            self.status, status,
            "{what}: {:?}\nthe server's log ends:\n{}",
            self.body, self.log
        );
        self.body
    }
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(PATIENCE))
                .build()
                .into(),
            log: None,
            cookie: None,
            csrf: None,
            headers: Vec::new(),
        }
    }

    /// Sends a request. A 5xx answer from one of our servers is retried a few times, and
    /// counted (see [`ServerLog::retried`]): the figures then say how often it happened instead
    /// of a whole run being lost.
    pub fn send(&mut self, method: &str, path: &str, body: Option<(&[u8], &str)>) -> Reply {
        let mut attempt = 1;
        loop {
            let reply = self.send_once(method, path, body);
            match &self.log {
                Some(log) if reply.status >= 500 && attempt < 5 => {
                    lock(log).retried += 1;
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(300));
                }
                _ => return reply,
            }
        }
    }

    fn send_once(&mut self, method: &str, path: &str, body: Option<(&[u8], &str)>) -> Reply {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        if let Some(t) = &self.csrf {
            req = req.header("X-CSRF-Token", t);
        }
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        let result = match body {
            Some((bytes, content_type)) => self.agent.run(
                req.header("Content-Type", content_type)
                    .body(bytes)
                    .expect("a request"),
            ),
            None => self.agent.run(req.body(()).expect("a request")),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        for c in resp.headers().get_all("set-cookie") {
            if let Some(v) = c
                .to_str()
                .ok()
                .and_then(|c| c.strip_prefix("inkan_session="))
            {
                let value = v.split(';').next().unwrap_or_default();
                self.cookie = (!value.is_empty()).then(|| format!("inkan_session={value}"));
            }
        }
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().read_to_vec().unwrap_or_default();
        let log = match &self.log {
            Some(log) if status >= 500 => {
                // The error is logged as the answer goes out.
                std::thread::sleep(Duration::from_millis(200));
                lock(log).last(10)
            }
            _ => String::new(),
        };
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            log,
        }
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    pub fn post(&mut self, path: &str, body: Value) -> Reply {
        self.call("POST", path, body)
    }

    pub fn call(&mut self, method: &str, path: &str, body: Value) -> Reply {
        let bytes = serde_json::to_vec(&body).expect("JSON");
        self.send(method, path, Some((&bytes, "application/json")))
    }

    pub fn login(&mut self, email: &str, password: &str) -> Reply {
        let reply = self.post(
            "/api/session",
            json!({ "email": email, "password": password }),
        );
        if reply.status == 200 {
            self.csrf = reply.body["csrf_token"].as_str().map(str::to_owned);
        }
        reply
    }

    /// Logs in with a temporary password and sets `password`.
    pub fn first_login(&mut self, email: &str, temporary: &str, password: &str) {
        self.login(email, temporary)
            .expect(200, &format!("first login of {email}"));
        self.post(
            "/api/me/password",
            json!({ "current_password": temporary, "new_password": password,
                    "new_password_confirmation": password }),
        )
        .expect(204, &format!("password of {email}"));
    }

    /// Waits until contract `id` is `status`.
    pub fn wait_status(&mut self, id: &str, status: &str) {
        let started = Instant::now();
        loop {
            let now = self.get(&format!("/api/contracts/{id}")).body;
            if now["status"] == status {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "contract {id} did not become {status}: {now}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
