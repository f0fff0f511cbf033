//! Debug logs (`tracing`) on standard error, and whether output may be
//! coloured.
//!
//! Without `-v` and without `RUST_LOG` only warnings and errors are logged.
//! `-v` logs this program's debug events (each service request with its
//! method, path and status; step starts, ends and deadlines), `-vv` adds
//! trace events; `RUST_LOG` (an `EnvFilter` directive such as
//! `clients=debug`) replaces both. Log lines never hold request or
//! response bodies.
//!
//! While the live view is on screen, log lines are written with its bars
//! hidden, so that neither tears the other.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};

use indicatif::MultiProgress;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Our crates, for `-v`.
const CRATES: [&str; 6] = [
    "microcloud",
    "executor",
    "clients",
    "collect",
    "session",
    "planner",
];

/// The live view's bars while they are on screen.
static LIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Whether `NO_COLOR` asks for no colour (set and not empty, as
/// <https://no-color.org> defines it).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether standard output is a terminal that can show a live view.
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Whether colour may be used on standard output.
pub fn stdout_color() -> bool {
    stdout_is_terminal() && !no_color()
}

/// The filter for `verbose` (`-v` count) unless `RUST_LOG` is set.
fn filter(verbose: u8) -> EnvFilter {
    if let Ok(directives) = std::env::var("RUST_LOG")
        && !directives.is_empty()
    {
        return EnvFilter::new(directives);
    }
    let level = match verbose {
        0 => return EnvFilter::new("warn"),
        1 => "debug",
        _ => "trace",
    };
    let ours: Vec<String> = CRATES.iter().map(|c| format!("{c}={level}")).collect();
    EnvFilter::new(format!("warn,{}", ours.join(",")))
}

/// Installs the log subscriber (once; later calls do nothing).
pub fn init(verbose: u8) {
    let ansi = std::io::stderr().is_terminal() && !no_color();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(verbose))
        .with_writer(Stderr)
        .with_ansi(ansi)
        .with_target(true)
        .try_init();
}

/// Registers the live view's bars (`Some`) or their end (`None`).
pub fn set_live(bars: Option<MultiProgress>) {
    *LIVE.lock().unwrap_or_else(PoisonError::into_inner) = bars;
}

/// Writes log lines to standard error, hiding the live view meanwhile.
struct Stderr;

/// One log line, written when dropped.
struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.0);
        };
        let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match live {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_selects_our_crates() {
        // RUST_LOG is not set by the test runner for this crate's tests
        // unless a developer sets it; only check when it is absent.
        if std::env::var_os("RUST_LOG").is_some() {
            return;
        }
        assert_eq!(filter(0).to_string(), "warn");
        let one = filter(1).to_string();
        assert!(
            one.contains("clients=debug") && one.contains("executor=debug"),
            "{one}"
        );
        assert!(filter(2).to_string().contains("microcloud=trace"));
    }
}
