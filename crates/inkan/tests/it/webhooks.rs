//! Webhooks end to end against the real server, on SQLite and PostgreSQL: an administrator
//! registers an endpoint for a receiver on loopback (a small HTTP server in the test answering
//! 500, 500, then 200), sends it a ping and follows the delivery log while the test moves the
//! server's clock past each retry delay (30 s, then 60 s: the defaults, never slept through).
//! The receiver's requests carry the signature the secret given at creation verifies; other
//! roles are refused and another organisation's administrator does not find the endpoint.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;
use serde_json::{json, Value};

use crate::serve::Backend;
use crate::service::{set_clock, Api, Service};
use crate::support::wait_until;

/// One request the receiver took: its headers (names in lower case) and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.headers))
    }
}

/// An HTTP receiver on 127.0.0.1 answering the requests with `statuses` in turn (the last one
/// again after them), one connection per request.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/inkan/events",
            listener.local_addr().expect("address")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let (log, statuses) = (received.clone(), statuses.to_vec());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let n = {
                    let mut log = log.lock().expect("lock");
                    log.push(request);
                    log.len()
                };
                let status = statuses[(n - 1).min(statuses.len() - 1)];
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Test\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\
                     Connection: close\r\n\r\nanswer!"
                );
            }
        });
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

/// Reads one request (head and a Content-Length body); `None` if the peer closed early.
fn read_request(stream: &mut TcpStream) -> Option<Received> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        let headers: Vec<(String, String)> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into_owned();
            assert!(head.starts_with("POST /inkan/events HTTP/1.1"), "{head}");
            return Some(Received { headers, body });
        }
    }
}

/// The endpoint's delivery log as `admin` reads it.
fn log(admin: &mut Api, endpoint: &str) -> Value {
    let a = admin.get(&format!("/api/webhooks/{endpoint}/deliveries"));
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body
}

/// Waits until the newest delivery of `endpoint` has made `attempts` attempts.
fn wait_for_attempts(admin: &mut Api, endpoint: &str, attempts: i64) -> Value {
    let mut last = Value::Null;
    wait_until(
        Duration::from_secs(30),
        &format!("attempt {attempts} recorded"),
        || {
            last = log(admin, endpoint)[0].clone();
            last["attempts"].as_i64() == Some(attempts)
        },
    );
    last
}

fn a_ping_is_retried_until_the_receiver_accepts_it_and_verifies_with_the_secret(backend: Backend) {
    let clock_dir = tempfile::tempdir().expect("tempdir");
    let clock = clock_dir.path().join("offset");
    set_clock(&clock, 0);
    let clock_env = clock.display().to_string();
    let env = [
        ("INKAN_TEST_CLOCK_FILE", clock_env.as_str()),
        ("NO_PROXY", "127.0.0.1"),
    ];
    let Some(service) = Service::start_with(backend, &env) else {
        return;
    };
    let mut admin = service.admin();
    let receiver = Receiver::start(&[500, 500, 200]);

    // Refused, every problem named: a scheme other than http(s), an unknown event; no event.
    let a = admin.post(
        "/api/webhooks",
        json!({ "url": "ftp://127.0.0.1/x", "events": ["contract.signed", "contract.shredded"] }),
    );
    assert_eq!(a.status, 400, "{:?}", a.body);
    assert_eq!(
        (a.field("url"), a.field("events")),
        ("webhook_url", "webhook_events")
    );
    let a = admin.post(
        "/api/webhooks",
        json!({ "url": receiver.url, "events": [] }),
    );
    assert_eq!(
        (a.status, a.field("events")),
        (400, "required"),
        "{:?}",
        a.body
    );
    let long = format!("https://example.com/{}", "a".repeat(2000));
    let a = admin.post(
        "/api/webhooks",
        json!({ "url": long, "events": ["contract.sent"] }),
    );
    assert_eq!(
        (a.status, a.field("url")),
        (400, "too_long"),
        "{:?}",
        a.body
    );

    let a = admin.post(
        "/api/webhooks",
        json!({
            "url": receiver.url,
            "events": ["contract.completed", "contract.signed"],
            "description": "受信テスト",
        }),
    );
    assert_eq!(a.status, 201, "{:?}", a.body);
    let endpoint = a.body["id"].as_str().expect("id").to_owned();
    let secret = a.body["secret"].as_str().expect("secret").to_owned();
    let hex_part = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert!(
        hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()),
        "{secret}"
    );
    assert_eq!(
        a.body["events"],
        json!(["contract.signed", "contract.completed"])
    );
    let listed = admin.get("/api/webhooks");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body[0]["id"], endpoint.as_str(), "{:?}", listed.body);
    assert!(!listed.text.contains(hex_part), "the secret is shown once");
    assert_eq!(listed.body[0]["description"], "受信テスト");

    // Only administrators, and only their organisation's.
    let (_, mut manager) = service.user(
        &mut admin,
        "dm@example.jp",
        &["document_manager", "signer"],
        "Manager2026x",
    );
    assert_eq!(manager.get("/api/webhooks").status, 403);
    let a = manager.post(&format!("/api/webhooks/{endpoint}/test"), json!({}));
    assert_eq!(a.status, 403, "{:?}", a.body);
    let mut operator = service.operator();
    let mut other = service.other_org_admin(&mut operator);
    assert_eq!(other.get("/api/webhooks").body, json!([]));
    for (method, path) in [
        ("GET", format!("/api/webhooks/{endpoint}/deliveries")),
        ("POST", format!("/api/webhooks/{endpoint}/test")),
        ("DELETE", format!("/api/webhooks/{endpoint}")),
    ] {
        let a = other.call(method, &path, None);
        assert_eq!(a.status, 404, "{method} {path}: {:?}", a.body);
    }
    assert!(receiver.received().is_empty());

    // The ping: 500 at once, 500 after 30 s, 200 after another 60 s.
    let a = admin.post(&format!("/api/webhooks/{endpoint}/test"), json!({}));
    assert_eq!(a.status, 202, "{:?}", a.body);
    let delivery = a.body["id"].as_str().expect("delivery").to_owned();
    assert_eq!(a.body["event"], "ping");
    assert_eq!(a.body["status"], "pending");
    let first = wait_for_attempts(&mut admin, &endpoint, 1);
    assert_eq!(first["id"], delivery.as_str());
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["last_status_code"], 500, "{first}");
    assert_eq!(
        first["last_error"], "the receiver answered 500: answer!",
        "{first}"
    );
    let due = first["next_attempt_at"].as_i64().expect("next attempt");
    let attempted = first["last_attempt_at"].as_i64().expect("attempted");
    assert!((29..=31).contains(&(due - attempted)), "{first}");
    // Not before its time.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(receiver.received().len(), 1);

    set_clock(&clock, 31);
    let second = wait_for_attempts(&mut admin, &endpoint, 2);
    assert_eq!(
        (&second["status"], &second["last_status_code"]),
        (&json!("pending"), &json!(500)),
        "{second}"
    );
    let due = second["next_attempt_at"].as_i64().expect("next attempt");
    let attempted = second["last_attempt_at"].as_i64().expect("attempted");
    assert!((59..=61).contains(&(due - attempted)), "{second}");

    set_clock(&clock, 31 + 62);
    let third = wait_for_attempts(&mut admin, &endpoint, 3);
    assert_eq!(third["status"], "delivered", "{third}");
    assert_eq!(third["last_status_code"], 200, "{third}");
    assert_eq!(third["last_error"], Value::Null, "{third}");
    assert_eq!(third["delivered_at"], third["last_attempt_at"], "{third}");
    assert_eq!(log(&mut admin, &endpoint).as_array().map(Vec::len), Some(1));

    // Every attempt was signed for its own timestamp over the same body, and the secret given at
    // creation verifies it.
    let received = receiver.received();
    assert_eq!(received.len(), 3, "{received:?}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut times = Vec::new();
    for r in &received {
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("inkan-webhook-id"), delivery);
        let t = r.header("inkan-webhook-timestamp");
        let signature = r.header("inkan-webhook-signature");
        let tag = hex::decode(signature.strip_prefix("v1=").expect("v1=")).expect("hex");
        hmac::verify(&key, format!("{t}.{}", r.body).as_bytes(), &tag)
            .unwrap_or_else(|_| panic!("the signature {signature} does not verify"));
        assert!(
            hmac::verify(&key, format!("{t}.{} ", r.body).as_bytes(), &tag).is_err(),
            "a changed body does not verify"
        );
        times.push(t.parse::<i64>().expect("Unix seconds"));
        assert_eq!(r.body, received[0].body, "the body is fixed when queued");
    }
    assert!(
        times[1] - times[0] >= 30 && times[2] - times[1] >= 60,
        "{times:?}"
    );
    let body: Value = serde_json::from_str(&received[0].body).expect("a JSON body");
    assert_eq!(body["id"], delivery.as_str());
    assert_eq!(body["type"], "ping");
    assert_eq!(body["data"], json!({ "endpoint": endpoint }));
    assert!(body["created_at"].as_i64().is_some_and(|t| t <= times[0]));

    // Every change is in the audit log; deleting ends the endpoint.
    let a = admin.delete(&format!("/api/webhooks/{endpoint}"));
    assert_eq!(a.status, 204, "{:?}", a.body);
    assert_eq!(admin.get("/api/webhooks").body, json!([]));
    assert_eq!(
        admin
            .get(&format!("/api/webhooks/{endpoint}/deliveries"))
            .status,
        404
    );
    let audit = admin.get("/api/audit").body;
    for action in ["webhook.created", "webhook.tested", "webhook.deleted"] {
        let entry = audit["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {audit}"));
        assert_eq!(entry["detail"]["endpoint"], endpoint.as_str(), "{entry}");
    }
    assert!(
        !audit.to_string().contains(hex_part),
        "the secret is not audited"
    );
    assert_eq!(audit["chain_intact"], true);
}

#[test]
fn a_ping_is_retried_until_the_receiver_accepts_it_and_verifies_with_the_secret_on_sqlite() {
    a_ping_is_retried_until_the_receiver_accepts_it_and_verifies_with_the_secret(Backend::Sqlite);
}

#[test]
fn a_ping_is_retried_until_the_receiver_accepts_it_and_verifies_with_the_secret_on_postgres() {
    a_ping_is_retried_until_the_receiver_accepts_it_and_verifies_with_the_secret(Backend::Postgres);
}
