//! Test-only pauses for the black-box tests that kill a process at a precise point. With
//! `INKAN_TEST_HOLD_DIR` set (never in production), [`hold`] writes `<dir>/<point>.held` and
//! waits until `<dir>/<point>.release` exists; without it, it returns at once.

use std::path::PathBuf;
use std::time::Duration;

/// Waits at `point` while a test asks it to (see the module's documentation).
pub async fn hold(point: &str) {
    let Some(dir) = std::env::var_os("INKAN_TEST_HOLD_DIR").map(PathBuf::from) else {
        return;
    };
    tracing::warn!(point, "INKAN_TEST_HOLD_DIR: holding until released");
    let _ = std::fs::write(
        dir.join(format!("{point}.held")),
        std::process::id().to_string(),
    );
    while !dir.join(format!("{point}.release")).exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
