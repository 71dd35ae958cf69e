//! Progress of the long lab tools (`demo`, `bench`, `soak`) on stderr: an
//! indicatif bar when stderr is a terminal, one plain line per finished
//! step otherwise (logs, CI, pipes), so a redirected run stays readable.
//!
//! Progress never goes to stdout: stdout carries the results only.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A run of `total` steps.
#[derive(Debug)]
pub struct Progress {
    /// `None`: plain lines.
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar of `total` steps when stderr is a terminal, plain lines
    /// otherwise.
    pub fn new(total: u64) -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::bar(total)
        } else {
            Progress::lines()
        }
    }

    /// Always plain lines.
    pub fn lines() -> Progress {
        Progress { bar: None }
    }

    fn bar(total: u64) -> Progress {
        let bar = ProgressBar::new(total);
        let style =
            ProgressStyle::with_template("{spinner} {elapsed:>4} [{bar:24}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar: Some(bar) }
    }

    /// Whether a bar is drawn.
    pub fn is_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// A step begins: the bar shows `msg`; plain lines print nothing (the
    /// step's line comes when it is done).
    pub fn begin(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }

    /// A step is done: one line (above the bar), and the bar advances.
    pub fn done(&self, msg: &str) {
        self.note(msg);
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    /// Steps that will not run (a search that had nothing to search).
    pub fn skip(&self, steps: u64) {
        if let Some(b) = &self.bar {
            b.inc(steps);
        }
    }

    /// A line that is not a step (above the bar).
    pub fn note(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    /// Sets the bar's position (a phase measured in seconds, say).
    pub fn set_position(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }
}

impl Drop for Progress {
    /// The bar is cleared, the lines printed above it stay.
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_mode_has_no_bar_and_takes_every_call() {
        let p = Progress::lines();
        assert!(!p.is_bar());
        p.begin("a step");
        p.done("a step: done");
        p.skip(3);
        p.set_position(2);
        p.note("a note");
    }

    #[test]
    fn a_bar_counts_steps_and_skips() {
        let p = Progress::bar(5);
        p.done("one");
        p.skip(2);
        p.set_position(4);
        assert_eq!(p.bar.as_ref().map(ProgressBar::position), Some(4));
    }
}
