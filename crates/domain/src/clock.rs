//! The service's clock. Everything time-dependent (session expiry, login locks, reset links,
//! later certificate reminders) asks [`Clock::now`] rather than the system clock, so tests can
//! move time forward without sleeping.
//!
//! `INKAN_TEST_CLOCK_FILE` names a file holding a number of seconds to add to the system time;
//! it is read again whenever it changes (a new modification time, length or file: write a new
//! file and rename it into place), so a test can move the clock of a running server (or of
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
    /// (the file's version, offset) last read.
    cached: Mutex<Option<(Version, i64)>>,
}

/// What tells one version of the offset file from another: its modification time, its length,
/// and (on Unix) its inode, which a rename into place always changes, however coarse the
/// filesystem's timestamps.
type Version = (SystemTime, u64, u64);

fn version(meta: &std::fs::Metadata) -> Option<Version> {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
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
        let Some(current) = std::fs::metadata(&file.path)
            .ok()
            .as_ref()
            .and_then(version)
        else {
            return 0;
        };
        let mut cached = file.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, offset)) = *cached {
            if seen == current {
                return offset;
            }
        }
        let offset = std::fs::read_to_string(&file.path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        *cached = Some((current, offset));
        offset
    }
}

/// Unix seconds in Japan time (UTC+9, the service's users' time zone) as `format` (chrono's
/// strftime); empty for a time chrono cannot hold.
fn in_japan(seconds: i64, format: &str) -> String {
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset");
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.with_timezone(&jst).format(format).to_string())
        .unwrap_or_default()
}

/// The start of the day `YYYY-MM-DD` in Japan (Unix seconds); `None` when it is no such date.
pub fn jst_day_start(date: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp() - 9 * 3600)
}

/// `{{ seconds | datetime }}`: Unix seconds as `YYYY-MM-DD HH:MM` in Japan time.
pub fn jst(seconds: i64) -> String {
    in_japan(seconds, "%Y-%m-%d %H:%M")
}

/// Unix seconds as the date in Japan, `YYYY年MM月DD日` (a contract's date-signed field).
pub fn jst_date(seconds: i64) -> String {
    in_japan(seconds, "%Y年%m月%d日")
}

/// Unix seconds as `YYYY/MM/DD hh:mm:ss` in Japan (the mails, as the manual writes dates).
pub fn jst_slashed(seconds: i64) -> String {
    in_japan(seconds, "%Y/%m/%d %H:%M:%S")
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS JST`, to the second (the certificate of completion).
pub fn jst_seconds(seconds: i64) -> String {
    in_japan(seconds, "%Y-%m-%d %H:%M:%S JST")
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
        // Two versions written and renamed into place at once, with the same length: the
        // second is still seen (its inode differs), whatever the timestamp resolution.
        for offset in ["3600", "7200"] {
            let tmp = dir.path().join("offset.tmp");
            std::fs::write(&tmp, offset).expect("write");
            std::fs::rename(&tmp, &path).expect("rename");
            let expected: i64 = offset.parse().expect("number");
            assert!((clock.now() - system - expected).abs() <= 1, "{offset}");
        }
    }

    #[test]
    fn times_are_shown_in_japan_time() {
        assert_eq!(jst(0), "1970-01-01 09:00");
        assert_eq!(jst_date(0), "1970年01月01日");
        assert_eq!(jst_seconds(59), "1970-01-01 09:00:59 JST");
    }
}
