//! schemathesis (from PyPI, in a virtualenv of its own) against a live server's OpenAPI document:
//! `run_schemathesis` generates requests from the document and fails on 5xx answers and on
//! answers the document does not describe. The self-tests below run it against a small axum API,
//! correct or flawed, to show that it both passes and fails.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The release scripts/test.sh installs.
const VERSION: &str = "4.32.5";

/// A 5xx answer; a status code, content type or body that the document does not give for the
/// operation.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";

/// Stateful testing is left out: it chains operations for as long as it finds links to follow,
/// which makes a run's length and its requests harder to predict.
const PHASES: &str = "examples,coverage,fuzzing";

/// Fixed, so that a run sends the same requests as the one before it and a failure seen once is
/// seen again.
const SEED: &str = "20240601";

/// A run still going after this is killed and counts as failed.
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// Disables the cache of earlier runs' requests, which would make a run depend on the last one.
const CONFIG: &str = "[cache]\nenabled = false\n";

fn venv() -> PathBuf {
    std::env::var("INKAN_CONFORMANCE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/inkan-conformance")
        })
        .join("schemathesis-venv")
}

/// The virtualenv's `schemathesis` command, or `None` (after printing SKIPPED) when it is not
/// installed and nothing requires it: under `CI` or `INKAN_REQUIRE_POSTGRES` a missing
/// schemathesis fails the test instead.
fn schemathesis() -> Option<PathBuf> {
    let venv = venv();
    let program = venv.join("bin/schemathesis");
    if program.is_file() {
        return Some(program);
    }
    let install = format!(
        "python3 -m venv {v} && {v}/bin/pip install 'schemathesis=={VERSION}' \
         (or run scripts/test.sh)",
        v = venv.display()
    );
    let required =
        std::env::var_os("CI").is_some() || std::env::var_os("INKAN_REQUIRE_POSTGRES").is_some();
    assert!(
        !required,
        "schemathesis is required (CI or INKAN_REQUIRE_POSTGRES is set) but {} is missing; \
         install with: {install}",
        program.display()
    );
    eprintln!(
        "SKIPPED: {} is missing; install with: {install}",
        program.display()
    );
    None
}

/// schemathesis sends its requests to the URLs it is given: only a server on this machine may be
/// one.
fn assert_loopback(url: &str) {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("not an http(s) URL: {url}"));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    assert!(
        host == "localhost" || host == "[::1]" || host.starts_with("127."),
        "schemathesis may only test a server on loopback, not {url}"
    );
}

/// Runs schemathesis against the OpenAPI document at `schema_url`, sending its requests to
/// `base_url` with `headers` added to every one, at most `max_examples` generated cases per
/// operation; returns (passed, the command line followed by schemathesis's output).
///
/// `None` means schemathesis is not installed and the caller should skip (SKIPPED has been
/// printed); under `CI` or `INKAN_REQUIRE_POSTGRES` that panics instead. Both URLs must be on
/// loopback. A run is repeatable (fixed seed, one worker, no example database or cache kept
/// between runs) and is killed after five minutes.
pub fn run_schemathesis(
    schema_url: &str,
    base_url: &str,
    headers: &[(&str, &str)],
    max_examples: u32,
) -> Option<(bool, String)> {
    run_schemathesis_with(schema_url, base_url, headers, max_examples, &[])
}

/// [`run_schemathesis`] with more arguments for `schemathesis run` (filters such as
/// `--exclude-path`).
pub fn run_schemathesis_with(
    schema_url: &str,
    base_url: &str,
    headers: &[(&str, &str)],
    max_examples: u32,
    extra: &[&str],
) -> Option<(bool, String)> {
    assert_loopback(schema_url);
    assert_loopback(base_url);
    let program = schemathesis()?;
    // Its working folder: schemathesis and Hypothesis write their state into it.
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("write schemathesis.toml");

    let config = config.display().to_string();
    let max_examples = max_examples.to_string();
    // Redirects are not followed, so each answer is checked as the server sent it. Failures are
    // reported as found rather than shrunk, which can take longer than the run itself; each comes
    // with a curl line that reproduces it.
    let mut args = Vec::from(
        [
            "--config-file",
            &config,
            "run",
            schema_url,
            "--url",
            base_url,
            "--checks",
            CHECKS,
            "--phases",
            PHASES,
            "--max-examples",
            &max_examples,
            "--seed",
            SEED,
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--max-redirects",
            "0",
            "--no-shrink",
            "--no-color",
        ]
        .map(String::from),
    );
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    for (name, value) in headers {
        args.push("--header".into());
        args.push(format!("{name}: {value}"));
    }

    let log_path = dir.path().join("output.txt");
    let log = File::create(&log_path).expect("create output file");
    let mut child = Command::new(&program)
        .args(&args)
        .current_dir(dir.path())
        // Loopback only: no proxy, and no hooks module loaded from the environment.
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .env_remove("SCHEMATHESIS_HOOKS")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "120")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("output file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", program.display()));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let mut output = format!("$ {} {}\n", program.display(), args.join(" "));
    output.push_str(&String::from_utf8_lossy(
        &std::fs::read(&log_path).expect("read output"),
    ));
    match status {
        Some(status) => Some((status.success(), output)),
        None => {
            output.push_str(&format!("\nkilled: still running after {RUN_LIMIT:?}\n"));
            Some((false, output))
        }
    }
}

/// A two-operation API with its own OpenAPI 3.1 document, on 127.0.0.1, correct or with one flaw.
mod stub {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Json, Response};
    use axum::routing::{get, post};
    use axum::Router;
    use serde::Deserialize;
    use serde_json::{json, Value};

    #[derive(Clone, Copy)]
    pub enum Flaw {
        None,
        /// `POST /greetings` answers 500 for names longer than ten characters.
        ServerErrorOnLongNames,
        /// `GET /status` says `"healthy": "yes"` where the document promises a boolean.
        BodyBreaksItsSchema,
    }

    /// The server runs on its own runtime and stops when this is dropped.
    pub struct StubApi {
        pub base_url: String,
        _runtime: tokio::runtime::Runtime,
    }

    impl StubApi {
        pub fn start(flaw: Flaw) -> Self {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind");
            let address = listener.local_addr().expect("address");
            let app = Router::new()
                .route("/openapi.json", get(document))
                .route("/status", get(status))
                .route("/greetings", post(greet))
                .with_state(flaw);
            runtime.spawn(async move { axum::serve(listener, app).await.expect("serve") });
            Self {
                base_url: format!("http://{address}"),
                _runtime: runtime,
            }
        }

        pub fn schema_url(&self) -> String {
            format!("{}/openapi.json", self.base_url)
        }
    }

    /// The `content` of a JSON body described by the named component schema.
    fn json_body(schema: &str) -> Value {
        let reference = format!("#/components/schemas/{schema}");
        json!({ "application/json": { "schema": { "$ref": reference } } })
    }

    async fn document() -> Json<Value> {
        Json(json!({
            "openapi": "3.1.0",
            "info": { "title": "schemathesis self-test", "version": "1" },
            "paths": {
                "/status": {
                    "get": {
                        "operationId": "status",
                        "responses": {
                            "200": {
                                "description": "The service is up",
                                "content": json_body("Status")
                            }
                        }
                    }
                },
                "/greetings": {
                    "post": {
                        "operationId": "greet",
                        "requestBody": {
                            "required": true,
                            "content": json_body("GreetingRequest")
                        },
                        "responses": {
                            "201": { "description": "Greeted", "content": json_body("Greeting") },
                            "400": {
                                "description": "Not a valid request",
                                "content": json_body("Error")
                            }
                        }
                    }
                }
            },
            "components": {
                "schemas": {
                    "Status": {
                        "type": "object",
                        "required": ["service", "healthy"],
                        "properties": {
                            "service": { "type": "string" },
                            "healthy": { "type": "boolean" }
                        },
                        "additionalProperties": false
                    },
                    "GreetingRequest": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": { "type": "string", "minLength": 1, "maxLength": 20 }
                        },
                        "additionalProperties": false
                    },
                    "Greeting": {
                        "type": "object",
                        "required": ["greeting"],
                        "properties": { "greeting": { "type": "string" } },
                        "additionalProperties": false
                    },
                    "Error": {
                        "type": "object",
                        "required": ["error"],
                        "properties": { "error": { "type": "string" } },
                        "additionalProperties": false
                    }
                }
            }
        }))
    }

    async fn status(State(flaw): State<Flaw>) -> Json<Value> {
        let healthy = match flaw {
            Flaw::BodyBreaksItsSchema => json!("yes"),
            _ => json!(true),
        };
        Json(json!({ "service": "inkan-stub", "healthy": healthy }))
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct GreetingRequest {
        name: String,
    }

    /// Reads the body itself rather than through axum's `Json`, whose rejections (415, 422, plain
    /// text) the document does not list.
    async fn greet(State(flaw): State<Flaw>, body: Bytes) -> Response {
        let bad = |error: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": error })));
        let Ok(request) = serde_json::from_slice::<GreetingRequest>(&body) else {
            return bad("expected {\"name\": string}").into_response();
        };
        let length = request.name.chars().count();
        if !(1..=20).contains(&length) {
            return bad("name must be 1 to 20 characters").into_response();
        }
        if matches!(flaw, Flaw::ServerErrorOnLongNames) && length > 10 {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal error" })),
            )
                .into_response();
        }
        let greeting = format!("こんにちは、{}さん", request.name);
        (StatusCode::CREATED, Json(json!({ "greeting": greeting }))).into_response()
    }
}

use stub::{Flaw, StubApi};

/// Few cases per operation keep each self-test to a few seconds; the coverage phase's boundary
/// values (a 20-character name) reach the 500 without relying on luck.
const SELF_TEST_EXAMPLES: u32 = 10;

fn check(api: &StubApi) -> Option<(bool, String)> {
    run_schemathesis(&api.schema_url(), &api.base_url, &[], SELF_TEST_EXAMPLES)
}

#[test]
fn a_conforming_api_passes() {
    let api = StubApi::start(Flaw::None);
    let Some((passed, output)) = check(&api) else {
        return;
    };
    assert!(passed, "{output}");
    assert!(output.contains("2 selected / 2 total"), "{output}");
}

#[test]
fn a_server_error_fails_the_run_and_is_named() {
    let api = StubApi::start(Flaw::ServerErrorOnLongNames);
    let Some((passed, output)) = check(&api) else {
        return;
    };
    assert!(!passed, "{output}");
    assert!(output.contains("Server error"), "{output}");
    assert!(output.contains("[500] Internal Server Error"), "{output}");
    assert!(output.contains("POST /greetings"), "{output}");
}

#[test]
fn a_body_that_breaks_its_schema_fails_the_run() {
    let api = StubApi::start(Flaw::BodyBreaksItsSchema);
    let Some((passed, output)) = check(&api) else {
        return;
    };
    assert!(!passed, "{output}");
    assert!(output.contains("Response violates schema"), "{output}");
    assert!(
        output.contains("\"yes\" is not of type \"boolean\""),
        "{output}"
    );
    assert!(output.contains("GET /status"), "{output}");
}

#[test]
#[should_panic(expected = "only test a server on loopback")]
fn schemathesis_refuses_a_server_off_loopback() {
    let _ = run_schemathesis("http://192.0.2.1/openapi.json", "http://192.0.2.1", &[], 1);
}
