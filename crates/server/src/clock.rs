//! The service's clock. Everything time-dependent (session expiry, login locks, reset links,
//! later certificate reminders) asks [`Clock::now`] rather than the system clock, so tests can
//! move time forward without sleeping.
//!
//! `INKAN_TEST_CLOCK_FILE` names a file holding a number of seconds to add to the system time;
//! it is read again whenever it changes, so a test can move the clock of a running server (or of
//! several server processes at once). Without it the clock is the system clock.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_file: Option<Arc<OffsetFile>>,
}

#[derive(Debug)]
struct OffsetFile {
    path: PathBuf,
    /// (modification time, offset) last read.
    cached: Mutex<Option<(SystemTime, i64)>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock shifted by the number of seconds in `path` (missing file: no shift).
    pub fn with_offset_file(path: PathBuf) -> Self {
        Self {
            offset_file: Some(Arc::new(OffsetFile {
                path,
                cached: Mutex::new(None),
            })),
        }
    }

    /// From the environment: `INKAN_TEST_CLOCK_FILE` if set.
    pub fn from_env() -> Self {
        match std::env::var_os("INKAN_TEST_CLOCK_FILE") {
            Some(path) => {
                tracing::warn!(file = ?path, "the clock is shifted by a test clock file");
                Self::with_offset_file(path.into())
            }
            None => Self::system(),
        }
    }

    /// Unix seconds.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.offset()
    }

    fn offset(&self) -> i64 {
        let Some(file) = &self.offset_file else {
            return 0;
        };
        let Ok(modified) = std::fs::metadata(&file.path).and_then(|m| m.modified()) else {
            return 0;
        };
        let mut cached = file.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, offset)) = *cached {
            if at == modified {
                return offset;
            }
        }
        let offset = std::fs::read_to_string(&file.path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        *cached = Some((modified, offset));
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_file_moves_the_clock_and_is_reread_when_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("offset");
        let clock = Clock::with_offset_file(path.clone());
        let system = chrono::Utc::now().timestamp();
        assert!((clock.now() - system).abs() <= 1, "no file: no shift");
        std::fs::write(&path, "3600").expect("write");
        assert!((clock.now() - system - 3600).abs() <= 1);
        // A different length guarantees a different modification time on coarse filesystems too.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "-86400\n").expect("write");
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_modified(SystemTime::now() + std::time::Duration::from_secs(5))
            .expect("touch");
        assert!((clock.now() - system + 86400).abs() <= 1);
    }
}
