//! Leveled logs: one event per line on stderr, as text or JSON.
//!
//! - text: `xskfwd: MESSAGE` (info), `xskfwd: warning: MESSAGE`,
//!   `xskfwd: error: MESSAGE`, `xskfwd: debug: MESSAGE`. When stderr is
//!   the journal (systemd sets `JOURNAL_STREAM`), each line starts with
//!   the syslog priority (`<6>`), which journald turns into the entry's
//!   level (`journalctl -p warning` works).
//! - json: `{"ts":"2026-12-02T11:13:00.123Z","level":"info","event":"port",
//!   "msg":"…"}`: `event` names the kind of event (`start`, `port`,
//!   `tables`, `privileges`, `worker`, `shutdown`, …) so a log pipeline
//!   can select on it without parsing messages.
//!
//! Every line is formatted first and written with one `write` call, so
//! lines from different threads never interleave. Workers never log.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{LogFormat, LogLevel};

static LEVEL: AtomicU8 = AtomicU8::new(2);
static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Sets the format and the most verbose level written (process-wide).
pub fn init(format: LogFormat, level: LogLevel) {
    FORMAT.store(
        match format {
            LogFormat::Text => 0,
            LogFormat::Json => 1,
        },
        Ordering::Relaxed,
    );
    LEVEL.store(rank(level), Ordering::Relaxed);
}

fn rank(l: LogLevel) -> u8 {
    match l {
        LogLevel::Error => 0,
        LogLevel::Warn => 1,
        LogLevel::Info => 2,
        LogLevel::Debug => 3,
    }
}

/// Whether lines of `level` are written.
pub fn enabled(level: LogLevel) -> bool {
    rank(level) <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one event (use the [`crate::info!`], [`crate::warn!`],
/// [`crate::error!`] and [`crate::debug!`] macros).
pub fn emit(level: LogLevel, event: &str, msg: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let json = FORMAT.load(Ordering::Relaxed) == 1;
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let line = format_line(level, event, &msg.to_string(), json, journal, now());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn level_name(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Error => "error",
        LogLevel::Warn => "warning",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    }
}

/// Seconds and milliseconds since the epoch.
fn now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_millis())
}

/// One line, newline included.
fn format_line(
    level: LogLevel,
    event: &str,
    msg: &str,
    json: bool,
    journal: bool,
    (secs, millis): (u64, u32),
) -> String {
    if json {
        let v = serde_json::json!({
            "ts": format!("{}.{millis:03}Z", rfc3339(secs)),
            "level": level_name(level),
            "event": event,
            "msg": msg,
        });
        return format!("{v}\n");
    }
    let prio = match level {
        LogLevel::Error => 3,
        LogLevel::Warn => 4,
        LogLevel::Info => 6,
        LogLevel::Debug => 7,
    };
    let tag = match level {
        LogLevel::Error => "error: ",
        LogLevel::Warn => "warning: ",
        LogLevel::Info => "",
        LogLevel::Debug => "debug: ",
    };
    // One event, one line: a message never spans lines.
    let msg = msg.replace('\n', " ");
    if journal {
        format!("<{prio}>xskfwd: {tag}{msg}\n")
    } else {
        format!("xskfwd: {tag}{msg}\n")
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of Unix time `secs`.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Logs at info level: `info!("event", "format", args…)`.
#[macro_export]
macro_rules! info {
    ($event:expr, $($arg:tt)+) => {
        $crate::log::emit($crate::config::LogLevel::Info, $event, format_args!($($arg)+))
    };
}

/// Logs at warning level: `warn!("event", "format", args…)`.
#[macro_export]
macro_rules! warn {
    ($event:expr, $($arg:tt)+) => {
        $crate::log::emit($crate::config::LogLevel::Warn, $event, format_args!($($arg)+))
    };
}

/// Logs at error level: `error!("event", "format", args…)`.
#[macro_export]
macro_rules! error {
    ($event:expr, $($arg:tt)+) => {
        $crate::log::emit($crate::config::LogLevel::Error, $event, format_args!($($arg)+))
    };
}

/// Logs at debug level: `debug!("event", "format", args…)`.
#[macro_export]
macro_rules! debug {
    ($event:expr, $($arg:tt)+) => {
        $crate::log::emit($crate::config::LogLevel::Debug, $event, format_args!($($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_carry_the_level_and_the_journal_priority() {
        let t = (1_796_209_980, 7);
        assert_eq!(
            format_line(
                LogLevel::Info,
                "port",
                "port dut1: link down",
                false,
                false,
                t
            ),
            "xskfwd: port dut1: link down\n"
        );
        assert_eq!(
            format_line(LogLevel::Warn, "x", "a\nb", false, true, t),
            "<4>xskfwd: warning: a b\n"
        );
        assert_eq!(
            format_line(LogLevel::Error, "x", "m", false, true, t),
            "<3>xskfwd: error: m\n"
        );
    }

    #[test]
    fn json_lines_are_one_object_each() {
        let line = format_line(
            LogLevel::Warn,
            "port",
            "quote \" and\nnewline",
            true,
            false,
            (1_796_209_980, 7),
        );
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "warning");
        assert_eq!(v["event"], "port");
        assert_eq!(v["msg"], "quote \" and\nnewline");
        assert_eq!(v["ts"], "2026-12-02T11:13:00.007Z");
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59");
    }

    #[test]
    fn levels_filter() {
        init(LogFormat::Text, LogLevel::Warn);
        assert!(enabled(LogLevel::Error) && enabled(LogLevel::Warn));
        assert!(!enabled(LogLevel::Info));
        init(LogFormat::Text, LogLevel::Info);
        assert!(enabled(LogLevel::Info) && !enabled(LogLevel::Debug));
    }
}
