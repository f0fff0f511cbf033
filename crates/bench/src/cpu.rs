//! CPU time of the calling thread, from `/proc/thread-self/schedstat`
//! (its first field: nanoseconds on a CPU). Per thread, unlike
//! `getrusage(RUSAGE_SELF)`, so that one side of an in-process exchange can
//! be measured alone when it runs on its own thread (a current-thread tokio
//! runtime keeps all its tasks there).

use std::time::Duration;

/// CPU time the calling thread has used so far; `None` where the kernel
/// does not provide it.
pub fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinning_shows_up_as_cpu_time() {
        let Some(before) = thread_cpu_time() else {
            eprintln!("no /proc/thread-self/schedstat here: skipped");
            return;
        };
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let used = thread_cpu_time().unwrap_or_default() - before;
        assert!(used >= Duration::from_millis(5), "{used:?}");
    }
}
