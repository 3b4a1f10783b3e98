//! A real browser for the integration tests: headless Chromium, driven over WebDriver by
//! chromedriver, behind a small synchronous API (`Browser`) for plain `#[test]` functions. Its own
//! tests fill in a form served from a thread and check what the server received and the
//! screenshots.
//!
//! Browser tests skip with a message when Chromium or chromedriver is missing, and fail instead
//! when `CI` or `INKAN_REQUIRE_BROWSER` is set.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::support::repo_root;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str = "apt-get install -y chromium chromium-driver";

/// WebDriver's special keys, for `press` and `type_into`.
pub const KEY_TAB: &str = "\u{e004}";
pub const KEY_ENTER: &str = "\u{e007}";
pub const KEY_SHIFT: char = '\u{e008}';
pub const KEY_ALT: char = '\u{e00a}';
pub const KEY_UP: &str = "\u{e013}";
pub const KEY_RIGHT: &str = "\u{e014}";
pub const KEY_DELETE: &str = "\u{e017}";

/// The viewport every page is laid out in, and so the size of every screenshot.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

/// Headless as root, in a throwaway profile, with none of Chromium's background traffic: the
/// test machines' closed network refuses it, and it only slows start-up. `--lang` asks for
/// Japanese browser messages, which Debian ships apart (chromium-l10n, not installed), so they stay
/// English; the language the pages see (`navigator.language`, Accept-Language) is the
/// `intl.accept_languages` preference set in `start`.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--lang=ja",
];

/// Where Chromium saves downloads: a folder in the browser's scratch directory.
fn scratch_downloads(browser: &Browser) -> String {
    browser
        .scratch
        .path()
        .join("downloads")
        .to_string_lossy()
        .into_owned()
}

/// How long `wait_for` and the element lookups wait for an element to appear, unless
/// `set_timeout` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one WebDriver command may take before the test gives up on the browser.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// A Chromium window with its own chromedriver and profile, closed (and both processes gone)
/// on drop. Every method panics with what it was doing and where the browser was.
#[derive(Debug)]
pub struct Browser {
    rt: tokio::runtime::Runtime,
    /// `None` before the session is open, and again while dropping.
    client: Option<Client>,
    chromedriver: Child,
    /// The Chromium profile and chromedriver's log.
    scratch: tempfile::TempDir,
    screenshots: PathBuf,
    taken: Cell<u32>,
    timeout: Duration,
    /// chromedriver's address, for the commands fantoccini does not offer (the console log).
    webdriver: String,
    /// Every Content-Security-Policy violation the console has shown: no page may raise one,
    /// which the drop checks for every browser test.
    csp_seen: RefCell<Vec<String>>,
}

impl Browser {
    /// Starts chromedriver and Chromium for the test `test_name`, which names its screenshot
    /// folder (emptied here of earlier runs' screenshots); `None` (after saying so) when either
    /// program is missing, unless a browser is required.
    pub fn start(test_name: &str) -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let required = std::env::var_os("CI").is_some()
                || std::env::var_os("INKAN_REQUIRE_BROWSER").is_some();
            assert!(
                !required,
                "{test_name} needs a browser (CI or INKAN_REQUIRE_BROWSER is set) but {} is \
                 missing: {INSTALL}",
                missing.join(" and ")
            );
            eprintln!(
                "SKIPPED: {test_name} needs a browser, but {} is missing ({INSTALL})",
                missing.join(" and ")
            );
            return None;
        }

        let scratch = tempfile::tempdir().expect("temporary directory");
        let profile = scratch.path().join("profile");
        std::fs::create_dir_all(scratch.path().join("downloads")).expect("downloads folder");
        let log = scratch.path().join("chromedriver.log");
        let screenshots = target_dir().join("screenshots").join(test_name);
        match std::fs::remove_dir_all(&screenshots) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot clear {}: {e}", screenshots.display()),
        }
        let port = free_port();
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} does not start: {e}"));
        // From here on, a panic drops `browser`, which ends chromedriver.
        let mut browser = Browser {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
            client: None,
            chromedriver,
            scratch,
            screenshots,
            taken: Cell::new(0),
            timeout: DEFAULT_TIMEOUT,
            webdriver: format!("http://127.0.0.1:{port}"),
            csp_seen: RefCell::default(),
        };
        let webdriver = browser.webdriver.clone();
        browser.wait_until_ready(&webdriver);

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        // The console's messages, read by `console`.
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        capabilities.insert(
            "timeouts".into(),
            json!({ "implicit": 0, "pageLoad": 30_000, "script": 30_000 }),
        );
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": CHROMIUM_ARGS
                    .iter()
                    .map(|a| a.to_string())
                    .chain([format!("--user-data-dir={}", profile.display())])
                    .collect::<Vec<_>>(),
                // Downloads land in the scratch folder, unasked (read by `downloaded`).
                "prefs": {
                    "intl.accept_languages": "ja",
                    "download.default_directory": scratch_downloads(&browser),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            }),
        );
        let connected = browser.block_on_within(
            COMMAND_LIMIT,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&webdriver),
        );
        let client = match connected {
            Some(Ok(client)) => client,
            Some(Err(e)) => panic!(
                "chromedriver did not open a Chromium session: {e}\n{}",
                browser.chromedriver_log()
            ),
            None => panic!(
                "chromedriver did not open a Chromium session within {COMMAND_LIMIT:?}\n{}",
                browser.chromedriver_log()
            ),
        };
        browser.client = Some(client);
        browser.allow_downloads();
        browser.fit_viewport(WIDTH, HEIGHT);
        Some(browser)
    }

    /// The newest file downloaded whose name ends with `suffix`, once it is complete (waits up to
    /// `limit`); files seen before are skipped only by name, so give each download a new name
    /// or remove it after reading.
    pub fn downloaded(&self, suffix: &str, limit: Duration) -> PathBuf {
        let dir = PathBuf::from(scratch_downloads(self));
        let started = std::time::Instant::now();
        loop {
            let found = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
            if let Some(path) = found {
                // Chromium writes to `….crdownload` and renames when done.
                return path;
            }
            assert!(
                started.elapsed() < limit,
                "no download ending with {suffix} in {} within {limit:?}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Lays pages out in a `width` x `height` page area from now on (a phone: 390 x 844).
    pub fn set_viewport(&self, width: u32, height: u32) {
        self.fit_viewport(width, height);
    }

    /// Headless Chromium saves downloads only when told where (the prefs alone are not enough):
    /// chromedriver passes the DevTools command on.
    fn allow_downloads(&self) {
        let session = self
            .run("reading the session id", self.client().session_id())
            .expect("an open session");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let url = format!("{}/session/{session}/goog/cdp/execute", self.webdriver);
        let body = json!({
            "cmd": "Browser.setDownloadBehavior",
            "params": { "behavior": "allow", "downloadPath": scratch_downloads(self) },
        });
        let answer = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_else(|e| panic!("allowing downloads at {url}: {e}"));
        assert!(
            !answer.contains("\"error\""),
            "allowing downloads: {answer}"
        );
    }

    /// The browser console's messages since the last call (level and text each, e.g. `SEVERE
    /// http://…/sign/… - Refused to execute inline script because it violates the following
    /// Content Security Policy directive…`), from chromedriver's log.
    pub fn console(&self) -> Vec<String> {
        let session = self
            .run("reading the session id", self.client().session_id())
            .expect("an open session");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let url = format!("{}/session/{session}/se/log", self.webdriver);
        let body = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(json!({ "type": "browser" }).to_string())
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_else(|e| panic!("reading the console log at {url}: {e}"));
        let log: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("the console log is not JSON ({e}): {body}"));
        let messages: Vec<String> = log["value"]
            .as_array()
            .unwrap_or_else(|| panic!("no console log in {body}"))
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["level"].as_str().unwrap_or("?"),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect();
        self.csp_seen
            .borrow_mut()
            .extend(messages.iter().filter(|m| is_csp_violation(m)).cloned());
        messages
    }

    /// How long element lookups and `wait_for` wait before failing.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn goto(&self, url: &str) {
        self.run(&format!("going to {url}"), self.client().goto(url));
    }

    /// Replaces the text in the field matching `css` with `value`.
    pub fn fill(&self, css: &str, value: &str) {
        let field = self.find(css);
        self.run(&format!("clearing `{css}`"), field.clear());
        if !value.is_empty() {
            self.run(&format!("typing into `{css}`"), field.send_keys(value));
        }
    }

    /// Types `keys` into the element matching `css` without clearing it first (`"\u{e007}"` is
    /// Enter, `"\u{e004}"` Tab).
    pub fn type_into(&self, css: &str, keys: &str) {
        let element = self.find(css);
        self.run(&format!("typing into `{css}`"), element.send_keys(keys));
    }

    /// Chooses the file at `path` (absolute) in the file input matching `css`.
    pub fn choose_file(&self, css: &str, path: &Path) {
        let input = self.find(css);
        let path = path.to_str().expect("a UTF-8 path");
        self.run(
            &format!("choosing {path} in `{css}`"),
            input.send_keys(path),
        );
    }

    /// Chooses several files (absolute paths) at once in the `multiple` file input matching `css`.
    pub fn choose_file_list(&self, css: &str, paths: &[&Path]) {
        let input = self.find(css);
        let list: Vec<&str> = paths
            .iter()
            .map(|p| p.to_str().expect("a UTF-8 path"))
            .collect();
        self.run(
            &format!("choosing {list:?} in `{css}`"),
            input.send_keys(&list.join("\n")),
        );
    }

    /// Runs `script` in the page (its `return` value as JSON).
    pub fn script(&self, script: &str) -> serde_json::Value {
        self.run(
            "running a script",
            self.client().execute(script, Vec::new()),
        )
    }

    /// Chooses the option whose value is `value` in the `<select>` matching `css`.
    pub fn select(&self, css: &str, value: &str) {
        let select = self.find(css);
        if let Err(e) = self.within_limit(select.select_by_value(value)) {
            let offered: Vec<String> = self
                .within_limit(select.find_all(Locator::Css("option")))
                .unwrap_or_default()
                .iter()
                .map(|o| {
                    self.within_limit(o.attr("value"))
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                })
                .collect();
            panic!(
                "choosing value {value:?} in `{css}` failed ({e}); it offers {offered:?}\n{}",
                self.whereabouts()
            );
        }
    }

    /// Ticks the checkbox matching `css` (left ticked if it already is).
    pub fn check(&self, css: &str) {
        let checkbox = self.find(css);
        let ticked = |b: &Browser| b.run(&format!("reading `{css}`"), checkbox.is_selected());
        if !ticked(self) {
            self.run(&format!("clicking `{css}`"), checkbox.click());
        }
        if !ticked(self) {
            panic!(
                "`{css}` stays unticked after a click\n{}",
                self.whereabouts()
            );
        }
    }

    /// Clicks the element matching `css`; does not wait for any page it leads to.
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.run(&format!("clicking `{css}`"), element.click());
    }

    /// Clicks the submit button of the form matching `form_css`, then waits for the page the
    /// form leads to. When no new page loads (the browser's own validation stops the form, say),
    /// the panic lists the fields the browser finds invalid.
    pub fn submit(&self, form_css: &str) {
        let form = self.find(form_css);
        let button = self.run(
            &format!("looking for the submit button of `{form_css}`"),
            form.find_all(Locator::Css(
                "button:not([type]), button[type=submit], input[type=submit]",
            )),
        );
        let Some(button) = button.first() else {
            panic!(
                "form `{form_css}` has no submit button\n{}",
                self.whereabouts()
            );
        };
        // The mark lives on this page's window only, so its absence means a new page.
        self.run(
            "marking the page",
            self.client()
                .execute("window.inkanOldPage = true;", Vec::new()),
        );
        self.run(&format!("clicking submit in `{form_css}`"), button.click());
        let new_page = "return document.readyState === 'complete' && !window.inkanOldPage;";
        let started = Instant::now();
        loop {
            // While the next page is on its way, scripts may fail: that is "not yet".
            let loaded = self.within_limit(self.client().execute(new_page, Vec::new()));
            if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            if started.elapsed() > self.timeout {
                let invalid = self.within_limit(self.client().execute(
                    "return Array.from(document.querySelectorAll('input, select, textarea'))
                        .filter(e => !e.checkValidity())
                        .map(e => (e.name || e.id) + ': ' + e.validationMessage);",
                    Vec::new(),
                ));
                panic!(
                    "submitting `{form_css}` loaded no new page within {:?}; invalid fields: \
                     {}\n{}",
                    self.timeout,
                    invalid.map_or_else(|e| format!("(unknown: {e})"), |v| v.to_string()),
                    self.whereabouts()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Drags with the mouse (WebDriver pointer actions, so the page sees real pointer events):
    /// presses on the middle of the element matching `css`, moves in steps to the point (`x`,
    /// `y`) of the window's viewport (CSS pixels), and releases there.
    pub fn drag(&self, css: &str, x: f64, y: f64) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let element = self.find(css);
        let (left, top, width, height) =
            self.run(&format!("measuring `{css}`"), element.rectangle());
        let scroll = self.script("return [window.scrollX, window.scrollY];");
        let (sx, sy) = (
            scroll[0].as_f64().unwrap_or(0.0),
            scroll[1].as_f64().unwrap_or(0.0),
        );
        // The element's rectangle is in page coordinates; the moves are in the viewport's.
        let (from_x, from_y) = (left + width / 2.0 - sx, top + height / 2.0 - sy);
        let mut mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo {
                duration: None,
                x: from_x.round(),
                y: from_y.round(),
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        for i in 1..=8 {
            let f = f64::from(i) / 8.0;
            mouse = mouse.then(PointerAction::MoveTo {
                duration: Some(Duration::from_millis(30)),
                x: (from_x + (x - from_x) * f).round(),
                y: (from_y + (y - from_y) * f).round(),
            });
        }
        let mouse = mouse.then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
        self.run(
            &format!("dragging `{css}` to ({x}, {y})"),
            self.client().perform_actions(mouse),
        );
        self.run("releasing the mouse", self.client().release_actions());
    }

    /// Sends `keys` to whatever has the focus (`KEY_*` for the special keys), as typed.
    pub fn press(&self, keys: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.run(
            &format!("pressing {keys:?}"),
            self.client().perform_actions(actions),
        );
    }

    /// Presses `modifier` (`KEY_SHIFT`, `KEY_ALT`) while pressing `key`.
    pub fn press_with(&self, modifier: char, key: char) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: modifier })
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Up { value: modifier });
        self.run(
            &format!("pressing {modifier:?} with {key:?}"),
            self.client().perform_actions(actions),
        );
        self.run("releasing the keys", self.client().release_actions());
    }

    /// The `id` of the element that has the focus (empty when it has none).
    pub fn focused(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : '';")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Presses Tab until the element with `id` has the focus (at most `limit` times).
    pub fn tab_to(&self, id: &str, limit: usize) {
        for _ in 0..limit {
            if self.focused() == id {
                return;
            }
            self.press(KEY_TAB);
        }
        assert_eq!(
            self.focused(),
            id,
            "Tab did not reach #{id} in {limit} presses\n{}",
            self.whereabouts()
        );
    }

    /// The rendered text of the element matching `css` (waiting for it).
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.run(&format!("reading the text of `{css}`"), element.text())
    }

    /// The current value of the form field matching `css` (waiting for it).
    pub fn value(&self, css: &str) -> String {
        let element = self.find(css);
        self.run(
            &format!("reading the value of `{css}`"),
            element.prop("value"),
        )
        .unwrap_or_default()
    }

    /// The rendered text of every element matching `css`, in page order; no waiting.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let elements = self.run(
            &format!("looking for `{css}`"),
            self.client().find_all(Locator::Css(css)),
        );
        elements
            .iter()
            .map(|e| self.run(&format!("reading the text of `{css}`"), e.text()))
            .collect()
    }

    /// How many elements match `css` now (read in the page, so a list the page is redrawing
    /// meanwhile is no error); no waiting.
    pub fn count(&self, css: &str) -> usize {
        let css = serde_json::to_string(css).expect("JSON");
        let n = self.script(&format!("return document.querySelectorAll({css}).length;"));
        n.as_u64().unwrap_or(0) as usize
    }

    /// Whether anything on the page matches `css` now; no waiting.
    pub fn exists(&self, css: &str) -> bool {
        !self
            .run(
                &format!("looking for `{css}`"),
                self.client().find_all(Locator::Css(css)),
            )
            .is_empty()
    }

    pub fn current_url(&self) -> String {
        self.run("reading the URL", self.client().current_url())
            .to_string()
    }

    /// Waits until something matches `css`.
    pub fn wait_for(&self, css: &str) {
        self.find(css);
    }

    /// The current page's HTML as the browser now has it.
    pub fn source(&self) -> String {
        self.run("reading the page source", self.client().source())
    }

    /// Saves what the window shows as `<target>/screenshots/<test>/<NN>-<name>.png`, NN counting
    /// this browser's screenshots from 01; returns the path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.run(
            &format!("taking screenshot {name:?}"),
            self.client().screenshot(),
        );
        self.taken.set(self.taken.get() + 1);
        let path = self
            .screenshots
            .join(format!("{:02}-{name}.png", self.taken.get()));
        std::fs::create_dir_all(&self.screenshots)
            .and_then(|()| std::fs::write(&path, png))
            .unwrap_or_else(|e| panic!("cannot save {}: {e}", path.display()));
        path
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the browser session is open")
    }

    /// The element matching `css`, waiting for it up to the timeout.
    fn find(&self, css: &str) -> Element {
        let found = self.within_limit(
            self.client()
                .wait()
                .at_most(self.timeout)
                .every(Duration::from_millis(50))
                .for_element(Locator::Css(css)),
        );
        match found {
            Ok(element) => element,
            Err(CmdError::WaitTimeout) => panic!(
                "nothing matches `{css}` after {:?}\n{}",
                self.timeout,
                self.whereabouts()
            ),
            Err(e) => panic!("looking for `{css}` failed: {e}\n{}", self.whereabouts()),
        }
    }

    /// Runs one WebDriver command; its failure panics with `what` and where the browser was.
    fn run<T>(&self, what: &str, command: impl Future<Output = Result<T, CmdError>>) -> T {
        self.within_limit(command)
            .unwrap_or_else(|e| panic!("{what} failed: {e}\n{}", self.whereabouts()))
    }

    /// Runs one WebDriver command, taken as timed out after COMMAND_LIMIT.
    fn within_limit<T>(
        &self,
        command: impl Future<Output = Result<T, CmdError>>,
    ) -> Result<T, CmdError> {
        self.block_on_within(COMMAND_LIMIT, command)
            .unwrap_or(Err(CmdError::WaitTimeout))
    }

    /// `None` when `work` takes longer than `limit`.
    fn block_on_within<T>(&self, limit: Duration, work: impl Future<Output = T>) -> Option<T> {
        // The timer has to be made inside the runtime.
        self.rt
            .block_on(async { tokio::time::timeout(limit, work).await })
            .ok()
    }

    /// The current URL and the start of the page source, for panic messages.
    fn whereabouts(&self) -> String {
        let limit = Duration::from_secs(5);
        let client = self.client();
        let url = match self.block_on_within(limit, client.current_url()) {
            Some(Ok(url)) => url.to_string(),
            Some(Err(e)) => format!("(unknown: {e})"),
            None => "(unknown: the browser does not answer)".into(),
        };
        let source = match self.block_on_within(limit, client.source()) {
            Some(Ok(source)) => excerpt(&source, 2000),
            Some(Err(e)) => format!("(unavailable: {e})"),
            None => "(unavailable: the browser does not answer)".into(),
        };
        format!("  the browser is at {url}\n  its page source begins: {source}")
    }

    /// Waits until chromedriver answers `/status` with ready.
    fn wait_until_ready(&mut self, webdriver: &str) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let started = Instant::now();
        loop {
            let status = agent
                .get(format!("{webdriver}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok());
            if status.is_some_and(|s| s["value"]["ready"] == json!(true)) {
                return;
            }
            if let Ok(Some(exit)) = self.chromedriver.try_wait() {
                panic!(
                    "chromedriver exited ({exit}) before answering\n{}",
                    self.chromedriver_log()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer {webdriver}/status within 20 s\n{}",
                self.chromedriver_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resizes the window so that the page area is `wanted_width` x `wanted_height`: headless
    /// Chromium still keeps room for the toolbars it does not draw, so `--window-size` alone leaves
    /// the page shorter.
    fn fit_viewport(&self, wanted_width: u32, wanted_height: u32) {
        let viewport = "return [window.innerWidth, window.innerHeight];";
        let read = |b: &Browser| {
            let size = b.run(
                "reading the viewport size",
                b.client().execute(viewport, Vec::new()),
            );
            let side = |i: usize| size[i].as_u64().expect("a viewport side");
            (side(0), side(1))
        };
        let (width, height) = read(self);
        let (window_width, window_height) =
            self.run("reading the window size", self.client().get_window_size());
        let fit = |window: u64, page: u64, wanted: u32| {
            u32::try_from(window + u64::from(wanted) - page).expect("a window side")
        };
        self.run(
            "resizing the window",
            self.client().set_window_size(
                fit(window_width, width, wanted_width),
                fit(window_height, height, wanted_height),
            ),
        );
        let now = read(self);
        assert_eq!(
            now,
            (u64::from(wanted_width), u64::from(wanted_height)),
            "the page area after resizing the window"
        );
    }

    /// Chromium's processes, known by this browser's profile folder on their command lines
    /// (all but Chromium's crash handlers, which end by themselves when Chromium does).
    fn chromium_processes(&self) -> Vec<u32> {
        let flag = format!(
            "--user-data-dir={}",
            self.scratch.path().join("profile").display()
        );
        let Ok(processes) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        processes
            .filter_map(|p| {
                let pid: u32 = p.ok()?.file_name().to_str()?.parse().ok()?;
                let command_line = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let mut args = command_line.split(|b| *b == 0);
                args.any(|a| a == flag.as_bytes()).then_some(pid)
            })
            .collect()
    }

    fn chromium_ends_within(&self, limit: Duration) -> bool {
        let started = Instant::now();
        while !self.chromium_processes().is_empty() {
            if started.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// The last lines of chromedriver's log, for start-up failures.
    fn chromedriver_log(&self) -> String {
        let path = self.scratch.path().join("chromedriver.log");
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("chromedriver's log ({}) ends:\n{tail}", path.display())
    }
}

/// Steps that Inkan's own pages share, so that each test says what it does rather than which
/// fields it fills.
impl Browser {
    /// Logs in through the login page of the server at `base` (logging whoever is logged in
    /// out first) and waits for the logged-in page.
    pub fn login(&self, base: &str, email: &str, password: &str) {
        self.goto(&format!("{base}/login"));
        // A logged-in browser is sent on from the login page to the home page.
        if self.exists("#logout") {
            self.logout();
        }
        self.fill("#email", email);
        self.fill("#password", password);
        self.submit("#login-form");
        self.wait_for("#me");
    }

    /// Clicks 「ログアウト」 and waits for the login page.
    pub fn logout(&self) {
        self.click("#logout");
        self.wait_for("#login-form");
    }

    /// On an outside party's signing page: asks for the one-time code and waits until the page
    /// says it was sent.
    pub fn ask_for_code(&self) {
        self.click("#send-code");
        self.wait_for("#code-sent:not([hidden])");
    }

    /// On an outside party's signing page: enters `code` and waits for the document to sign.
    pub fn enter_code(&self, code: &str) {
        self.fill("#code", code);
        self.submit("#code-form");
        self.wait_for("#sign-form");
    }

    /// The console's Content-Security-Policy violations since the last `console` call.
    pub fn csp_violations(&self) -> Vec<String> {
        self.console()
            .into_iter()
            .filter(|m| is_csp_violation(m))
            .collect()
    }

    /// The fields within the elements matching `css` (`body` for the whole page) that have
    /// no label (neither a `<label>` nor `aria-label` or `aria-labelledby`): their ids, or
    /// their names. Hidden inputs and buttons are not fields.
    pub fn unlabelled_inputs(&self, css: &str) -> Vec<String> {
        let css = serde_json::to_string(css).expect("JSON");
        let found = self.script(&format!(
            "const skip = ['hidden', 'submit', 'button', 'reset', 'image'];
             return [...document.querySelectorAll({css})]
                 .flatMap(s => [...s.querySelectorAll('input, select, textarea')])
                 .filter(i => !skip.includes(i.type))
                 .filter(i => !(i.labels && i.labels.length) && !i.getAttribute('aria-label')
                     && !i.getAttribute('aria-labelledby'))
                 .map(i => i.id || i.name);"
        ));
        found
            .as_array()
            .unwrap_or_else(|| panic!("the fields without a label: {found}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn is_csp_violation(message: &str) -> bool {
    message.contains("Content Security Policy") || message.contains("Content-Security-Policy")
}

impl Drop for Browser {
    fn drop(&mut self) {
        // What the console shows last, unless the test failed already (or never had a page).
        let violations = if std::thread::panicking() || self.client.is_none() {
            Vec::new()
        } else {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.console()));
            self.csp_seen.take()
        };
        if let Some(client) = self.client.take() {
            let _ = self.block_on_within(Duration::from_secs(10), client.close());
        }
        // Closing the session ends Chromium, though not at once. Chromium outlives a killed
        // chromedriver, so when it does not end, it is killed here.
        if !self.chromium_ends_within(Duration::from_secs(10)) {
            for pid in self.chromium_processes() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            self.chromium_ends_within(Duration::from_secs(5));
        }
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        assert!(
            violations.is_empty(),
            "the pages raised Content-Security-Policy violations: {violations:#?}"
        );
    }
}

/// A loopback port that was free a moment ago (chromedriver takes a port number, not a socket).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Where cargo builds: `CARGO_TARGET_DIR` (relative to the workspace), else the workspace's
/// `target`.
fn target_dir() -> PathBuf {
    let root = repo_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// The first `chars` characters of `text` with its whitespace runs squeezed to one space.
fn excerpt(text: &str, chars: usize) -> String {
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = squeezed.chars().take(chars).collect();
    if cut.len() < squeezed.len() {
        cut.push_str(" …");
    }
    cut
}

/// A one-page site on loopback for the harness's own tests: GET / shows an application form,
/// POST / shows what arrived (and the Accept-Language it came with).
struct FormSite {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

const FORM_PAGE: &str = r#"<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>お申し込み</title></head>
<body style="font-family: sans-serif; margin: 2em">
<h1>お申し込み</h1>
<form id="apply" method="post" action="/">
  <p><label>お名前 <input id="name" name="name" value="既定の名前" required></label></p>
  <p><label>プラン <select id="plan" name="plan">
    <option value="free">無料</option><option value="pro">プロ</option>
  </select></label></p>
  <p><label><input type="checkbox" id="agree" name="agree" value="yes"> 利用規約に同意する</label></p>
  <button>送信する</button>
</form>
</body></html>
"#;

impl FormSite {
    fn start() -> FormSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let accepting = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                // One thread per connection: Chromium opens spare connections it may never use.
                if let Ok(stream) = stream {
                    std::thread::spawn(move || {
                        let _ = FormSite::answer(stream);
                    });
                }
            }
        });
        FormSite {
            addr,
            stop,
            accepting: Some(accepting),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn answer(mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let (mut length, mut language) = (0, String::new());
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("accept-language") {
                    language = value.trim().to_string();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let mut words = request_line.split_whitespace();
        let (status, page) = match (words.next(), words.next()) {
            (Some("GET"), Some("/")) => ("200 OK", FORM_PAGE.to_string()),
            (Some("POST"), Some("/")) => ("200 OK", FormSite::received(&body, &language)),
            _ => ("404 Not Found", "<h1>Not found</h1>".to_string()),
        };
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        )
    }

    fn received(form: &[u8], language: &str) -> String {
        let mut page = String::from(
            "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
             <title>受け付けました</title></head><body style=\"font-family: sans-serif; \
             margin: 2em\"><h1>受け付けました</h1><ul id=\"fields\">",
        );
        for (name, value) in form_urlencoded::parse(form) {
            let _ = write!(page, "<li>{}={}</li>", escape(&name), escape(&value));
        }
        let _ = write!(
            page,
            "</ul><p id=\"language\">{}</p><p><a id=\"again\" href=\"/\">もう一度</a></p>\
             </body></html>",
            escape(language)
        );
        page
    }
}

impl Drop for FormSite {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Asserts that `path` is a PNG of the window's page area with something drawn on it.
fn assert_screenshot(path: &Path) {
    let file = std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("screenshot {} is missing: {e}", path.display()));
    let mut reader = png::Decoder::new(file)
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut pixels)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    assert_eq!(
        (frame.width, frame.height),
        (WIDTH, HEIGHT),
        "size of {}",
        path.display()
    );
    let pixel = frame.color_type.samples();
    let first = &pixels[..pixel];
    let differing = pixels[..frame.buffer_size()]
        .chunks(pixel)
        .filter(|p| *p != first)
        .count();
    assert!(
        differing > 1000,
        "{} is nearly blank ({differing} pixels differ from the corner)",
        path.display()
    );
}

#[test]
fn form_filled_in_the_browser_reaches_the_server() {
    let Some(browser) = Browser::start("form_filled_in_the_browser_reaches_the_server") else {
        return;
    };
    let site = FormSite::start();
    browser.goto(&site.url());
    browser.wait_for("#apply");
    assert_eq!(browser.text("h1"), "お申し込み");
    assert!(browser.exists("#agree"));
    assert!(!browser.exists("#no-such-field"));
    let form = browser.screenshot("form");

    browser.fill("#name", "山田 太郎 & Co.");
    browser.select("#plan", "pro");
    browser.check("#agree");
    browser.check("#agree");
    let filled = browser.screenshot("filled");
    browser.submit("#apply");

    browser.wait_for("#fields");
    assert_eq!(browser.text("h1"), "受け付けました");
    assert_eq!(
        browser.texts("#fields li"),
        ["name=山田 太郎 & Co.", "plan=pro", "agree=yes"]
    );
    assert!(
        browser.text("#language").starts_with("ja"),
        "Accept-Language: {}",
        browser.text("#language")
    );
    assert_eq!(browser.current_url(), site.url());
    assert!(browser.source().contains("山田 太郎 &amp; Co."));
    let received = browser.screenshot("received");
    browser.click("#again");
    browser.wait_for("#apply");
    assert_eq!(browser.texts("h1"), ["お申し込み"]);
    // Every field of the form has a label, until one without is added.
    assert_eq!(browser.unlabelled_inputs("body"), Vec::<String>::new());
    browser.script(
        "const bare = document.createElement('input');
         bare.id = 'bare';
         document.getElementById('apply').append(bare);
         return true;",
    );
    assert_eq!(browser.unlabelled_inputs("#apply"), ["bare"]);

    for (n, (path, name)) in [(form, "form"), (filled, "filled"), (received, "received")]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            path.file_name().and_then(|f| f.to_str()),
            Some(format!("{:02}-{name}.png", n + 1).as_str())
        );
        assert!(path.starts_with(target_dir().join("screenshots")));
        assert_screenshot(&path);
    }
}

#[test]
fn missing_element_panics_with_where_the_browser_was() {
    let Some(mut browser) = Browser::start("missing_element_panics_with_where_the_browser_was")
    else {
        return;
    };
    let site = FormSite::start();
    browser.goto(&site.url());
    browser.set_timeout(Duration::from_millis(300));

    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        browser.wait_for("#no-such-field")
    }))
    .expect_err("waiting for a missing element panics");
    let message = failure
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(message.contains("`#no-such-field`"), "{message}");
    assert!(message.contains(&site.url()), "{message}");
    assert!(message.contains("<h1>お申し込み</h1>"), "{message}");

    // The browser's own validation stops an empty required field: no new page, and the panic
    // names the field.
    browser.fill("#name", "");
    let failure =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| browser.submit("#apply")))
            .expect_err("submitting with an empty required field panics");
    let message = failure
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(message.contains("loaded no new page"), "{message}");
    assert!(message.contains("name: "), "{message}");
}
