//! A JSON API client for the service tests (keeps the session cookie and the CSRF token), and
//! set-ups shared by the account, matrix, browser and schemathesis tests: a server with a real
//! SMTP server on loopback, logging in with the emailed temporary password, users of every role,
//! the parties' mailed signing links and one-time codes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::email::{free_port, serve_with_smtp, SmtpSink};
use crate::serve::{Backend, TestApp};

/// One user agent: its own cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    /// Every Set-Cookie header of the last response.
    pub last_set_cookies: Vec<String>,
    /// More headers for every request (e.g. an Idempotency-Key).
    pub headers: Vec<(String, String)>,
}

/// A response: status and JSON body (Null when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The body as text.
    pub text: String,
    /// The body.
    pub bytes: Vec<u8>,
    /// The response headers (names in lower case).
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error code of one field.
    pub fn field(&self, name: &str) -> &str {
        self.body["fields"][name]["code"].as_str().unwrap_or("")
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            cookie: None,
            csrf: None,
            last_set_cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Sends a request; `body` as JSON when given. Raw variants below for malformed bodies.
    pub fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON"));
        self.raw(method, path, bytes.as_deref(), Some("application/json"))
    }

    pub fn raw(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: Option<&str>,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        if let Some(t) = &self.csrf {
            req = req.header("X-CSRF-Token", t);
        }
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        if let (Some(ct), Some(_)) = (content_type, body) {
            req = req.header("Content-Type", ct);
        }
        let result = match body {
            Some(b) => agent().run(req.body(b.to_vec()).expect("request")),
            None => agent().run(req.body(()).expect("request")),
        };
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        self.last_set_cookies = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &self.last_set_cookies {
            if let Some(v) = c.strip_prefix("inkan_session=") {
                let value = v.split(';').next().unwrap_or_default();
                self.cookie = (!value.is_empty()).then(|| format!("inkan_session={value}"));
            }
        }
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let bytes = resp.body_mut().read_to_vec().unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer {
            status,
            body,
            text,
            bytes,
            headers,
        }
    }

    pub fn get(&mut self, path: &str) -> Answer {
        self.call("GET", path, None)
    }

    pub fn post(&mut self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(&body))
    }

    pub fn patch(&mut self, path: &str, body: Value) -> Answer {
        self.call("PATCH", path, Some(&body))
    }

    pub fn delete(&mut self, path: &str) -> Answer {
        self.call("DELETE", path, None)
    }

    /// Logs in; remembers the cookie and the CSRF token.
    pub fn login(&mut self, email: &str, password: &str) -> Answer {
        let a = self.post(
            "/api/session",
            json!({ "email": email, "password": password }),
        );
        if a.status == 200 {
            self.csrf = a.body["csrf_token"].as_str().map(str::to_owned);
        }
        a
    }

    /// Logs in with a temporary password and replaces it with `new_password`.
    pub fn first_login(&mut self, email: &str, temporary: &str, new_password: &str) {
        let a = self.login(email, temporary);
        assert_eq!(a.status, 200, "first login of {email}: {:?}", a.body);
        assert_eq!(a.body["user"]["must_change_password"], true);
        let a = self.post(
            "/api/me/password",
            json!({
                "current_password": temporary,
                "new_password": new_password,
                "new_password_confirmation": new_password,
            }),
        );
        assert_eq!(a.status, 204, "password change of {email}: {:?}", a.body);
    }
}

/// Contracts made through the API, for the tests that need one to look at.
impl Api {
    /// Creates a draft titled `title`; its id.
    pub fn draft(&mut self, title: &str) -> String {
        let a = self.post("/api/contracts", json!({ "title": title }));
        assert_eq!(a.status, 201, "{:?}", a.body);
        a.body["id"].as_str().expect("id").to_owned()
    }

    /// Sends a contract titled `title` to `parties` (address, name, step: signers with simple
    /// signatures; a user by address alone), each with a signature field on a one-page
    /// document; its id.
    pub fn send_contract(&mut self, title: &str, parties: &[(&str, &str, i64)]) -> String {
        let id = self.draft(title);
        let pdf = crate::support::minimal_pdf(if title.is_ascii() { title } else { "contract" });
        let a = self.raw(
            "POST",
            &format!("/api/contracts/{id}/documents?name=contract.pdf"),
            Some(&pdf),
            Some("application/pdf"),
        );
        assert_eq!(a.status, 201, "{:?}", a.body);
        let document = a.body["id"].as_str().expect("id").to_owned();
        for (i, (email, name, step)) in parties.iter().enumerate() {
            let a = self.post(
                &format!("/api/contracts/{id}/parties"),
                json!({ "role": "signer", "step": step, "signature_kind": "simple",
                        "email": email, "name": name }),
            );
            assert_eq!(a.status, 201, "{:?}", a.body);
            let party = a.body["id"].as_str().expect("id").to_owned();
            let a = self.post(
                &format!("/api/contracts/{id}/fields"),
                json!({ "document": document, "party": party, "kind": "signature", "page": 1,
                        "x": 60 + 150 * i, "y": 80, "width": 120, "height": 60 }),
            );
            assert_eq!(a.status, 201, "{:?}", a.body);
        }
        let a = self.post(&format!("/api/contracts/{id}/send"), json!({}));
        assert_eq!(a.status, 200, "{:?}", a.body);
        id
    }
}

/// The value after `label` in a text (`仮パスワード: …`).
pub fn labelled(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no '{label}' in {text}"))
}

/// The one-time code in a mail (`確認コード: …`).
fn code_in(mail: &Value) -> String {
    labelled(mail["body"].as_str().expect("body"), "確認コード:")
}

/// A server with a real SMTP server on loopback receiving its mail.
pub struct Service {
    pub app: TestApp,
    pub smtp: SmtpSink,
    /// The SMTP sink's port (for further server processes).
    pub smtp_port: u16,
    _mail_dir: tempfile::TempDir,
}

impl Service {
    /// `None` when PostgreSQL is unavailable and allowed to be.
    pub fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, &[])
    }

    pub fn start_with(backend: Backend, env: &[(&str, &str)]) -> Option<Self> {
        let port = free_port();
        let mail_dir = tempfile::tempdir().expect("tempdir");
        let smtp = SmtpSink::start(port, mail_dir.path());
        let app = serve_with_smtp(backend, port, env)?;
        Some(Self {
            app,
            smtp,
            smtp_port: port,
            _mail_dir: mail_dir,
        })
    }

    /// Another `inkan serve` process on this service's database, with a data folder of its own,
    /// configured like the first (and `env`).
    pub fn start_another(&self, env: &[(&str, &str)]) -> TestApp {
        let db = self.app.db.share();
        let mut cmd = crate::email::smtp_serve_command(&db, self.smtp_port);
        for (k, v) in env {
            cmd.env(k, v);
        }
        TestApp::start(db, cmd)
    }

    pub fn api(&self) -> Api {
        Api::new(&self.app.base)
    }

    /// The temporary password the server printed for the first administrator.
    pub fn printed_password(&self) -> String {
        self.app
            .stdout
            .iter()
            .find_map(|l| l.trim().strip_prefix("temporary password:"))
            .map(|p| p.trim().to_owned())
            .unwrap_or_else(|| panic!("no temporary password in {:?}", self.app.stdout))
    }

    /// The newest message to `to` with `subject`, waiting for it.
    pub fn mail_to(&self, to: &str, subject: &str) -> Value {
        self.mail_after(to, subject, 0)
    }

    /// How many messages to `to` with `subject` have arrived.
    fn mails_to(&self, to: &str, subject: &str) -> usize {
        self.smtp
            .messages()
            .iter()
            .filter(|m| m["to"] == to && m["subject"] == subject)
            .count()
    }

    /// The newest message to `to` with `subject` once more than `seen` of them have arrived.
    fn mail_after(&self, to: &str, subject: &str, seen: usize) -> Value {
        let started = std::time::Instant::now();
        loop {
            let mut found: Vec<Value> = self
                .smtp
                .messages()
                .into_iter()
                .filter(|m| m["to"] == to && m["subject"] == subject)
                .collect();
            if found.len() > seen {
                return found.pop().expect("a message");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no '{subject}' to {to} after the {seen} seen; got {:?}",
                self.smtp.messages()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The path (`/sign/…`) of the signing link in the newest mail to `to` with `subject` (the
    /// request: `【署名依頼】<title>（Inkan）`); open it at the server's own address.
    pub fn mailed_link(&self, to: &str, subject: &str) -> String {
        let mail = self.mail_to(to, subject);
        let body = mail["body"].as_str().expect("body");
        body.lines()
            .find_map(|l| l.trim().strip_prefix("https://sign.example.jp"))
            .unwrap_or_else(|| panic!("no link in {body}"))
            .to_owned()
    }

    /// The one-time code in the newest mail to `to` with `subject` (`【確認コード】<title>`).
    pub fn mailed_code(&self, to: &str, subject: &str) -> String {
        code_in(&self.mail_to(to, subject))
    }

    /// On the signing page that `browser` shows the outside party `to`: asks for the one-time
    /// code, reads it from the new mail with `subject` (`【確認コード】<title>`), enters it and
    /// waits for the document to sign.
    pub fn enter_mailed_code(&self, browser: &Browser, to: &str, subject: &str) {
        let seen = self.mails_to(to, subject);
        browser.ask_for_code();
        browser.enter_code(&code_in(&self.mail_after(to, subject, seen)));
    }

    /// The temporary password in the account email to `to`.
    pub fn mailed_password(&self, to: &str) -> String {
        let m = self.mail_to(to, "アカウント発行のお知らせ");
        labelled(m["body"].as_str().expect("body"), "仮パスワード:")
    }

    /// The first administrator, logged in with a new password.
    pub fn admin(&self) -> Api {
        let mut api = self.api();
        api.first_login(ADMIN_EMAIL, &self.printed_password(), "Kanri2026pass");
        api
    }

    /// The document manager [`MANAGER_EMAIL`] (password [`MANAGER_PASSWORD`]), created by
    /// `admin` and logged in: the sender of the browser tests' contracts.
    pub fn manager(&self, admin: &mut Api) -> Api {
        let (_, manager) = self.user(
            admin,
            MANAGER_EMAIL,
            &["document_manager"],
            MANAGER_PASSWORD,
        );
        manager
    }

    /// An instance operator made by `inkan admin create-operator`, logged in with a new
    /// password.
    pub fn operator(&self) -> Api {
        let out = self
            .app
            .db
            .command(&["admin", "create-operator", "--email", "op@inkan.example"])
            .env("INKAN_BASE_URL", "https://sign.example.jp")
            .output()
            .expect("inkan admin create-operator runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut api = self.api();
        api.first_login(
            "op@inkan.example",
            &labelled(&printed, "temporary password:"),
            "Operator2026",
        );
        api
    }

    /// The operator made by [`Self::operator`], logged in again (its session may have expired
    /// when a test moved the clock).
    pub fn operator_again(&self) -> Api {
        let mut api = self.api();
        let a = api.login("op@inkan.example", "Operator2026");
        assert_eq!(a.status, 200, "{:?}", a.body);
        api
    }

    /// The administrator of a second organisation that `operator` creates, logged in.
    pub fn other_org_admin(&self, operator: &mut Api) -> Api {
        let a = operator.post(
            "/api/organisations",
            json!({ "name": "別会社", "admin_name": "別 管理", "admin_email": "other@example.com" }),
        );
        assert_eq!(a.status, 201, "{:?}", a.body);
        let mut other = self.api();
        other.first_login(
            "other@example.com",
            &self.mailed_password("other@example.com"),
            "Other2026pass",
        );
        other
    }

    /// Creates a user as `admin` and returns them logged in with `password` set.
    pub fn user(
        &self,
        admin: &mut Api,
        email: &str,
        roles: &[&str],
        password: &str,
    ) -> (String, Api) {
        let a = admin.post(
            "/api/users",
            json!({ "display_name": email, "email": email, "roles": roles }),
        );
        assert_eq!(a.status, 201, "creating {email}: {:?}", a.body);
        let id = a.body["id"].as_str().expect("id").to_owned();
        let mut api = self.api();
        api.first_login(email, &self.mailed_password(email), password);
        (id, api)
    }
}

/// The first administrator's address (`serve_with_smtp`).
pub const ADMIN_EMAIL: &str = "kanri@example.jp";

/// The document manager made by [`Service::manager`].
pub const MANAGER_EMAIL: &str = "bunsho@example.jp";
pub const MANAGER_PASSWORD: &str = "Bunsho2026x";

/// A complete, valid certificate application (`n` varies the email address).
pub fn applicant_form(n: usize) -> serde_json::Value {
    json!({
        "organisation": "株式会社印鑑テスト",
        "postal_code": "100-0001",
        "country": "JP",
        "prefecture": "東京都",
        "city": "千代田区",
        "street": "千代田1-1",
        "building": "印鑑ビル 5F",
        "family_name": "山田",
        "given_name": "太郎",
        "family_name_romaji": "Yamada",
        "given_name_romaji": "Taro",
        "department": "法務部",
        "phone": "03-1234-5678",
        "email": format!("applicant{n}@example.jp"),
    })
}

/// Moves the clock of the servers started with `INKAN_TEST_CLOCK_FILE=file` to `offset_seconds`
/// from the system time: a new file renamed into place, so a server never reads half a number
/// and always sees the change.
pub fn set_clock(file: &std::path::Path, offset_seconds: i64) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, offset_seconds.to_string()).expect("write clock");
    std::fs::rename(&tmp, file).expect("move clock");
}
