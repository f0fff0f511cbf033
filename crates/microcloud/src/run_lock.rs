//! One `microcloud preseed` per machine at a time.
//!
//! The lock is an advisory `flock` on one well-known file,
//! [`DEFAULT_LOCK`] (or [`LOCK_ENV`]; `DIR/preseed.lock` for a simulated
//! cluster under `--sim-dir DIR`), whatever the journal path, taken before
//! the run reaches any service. The kernel drops a `flock` when its holder
//! exits, however it ends (SIGKILL included), so a lock left by a dead
//! process never stops a new run. The holder writes its PID into the file
//! so that a refused run can name it.
//!
//! A run that finds the lock held waits a little ([`GRACE`]) before it is
//! refused: after its initiator was killed, a joiner's agent gives up only
//! once the initiator has been silent for [`crate::liveness::AGENT_IDLE`], and
//! a re-run started at once must not fail on that.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The run lock of this machine.
pub(crate) const DEFAULT_LOCK: &str = "/run/microcloud/preseed.lock";
/// Environment variable naming another lock file (tests, several
/// simulated machines on one host).
pub(crate) const LOCK_ENV: &str = "MICROCLOUD_LOCK_FILE";
/// How long a run waits for a held lock before it is refused: long enough
/// for the agent of a run whose initiator is gone to give up.
pub(crate) const GRACE: std::time::Duration =
    crate::liveness::AGENT_IDLE.saturating_add(crate::liveness::PING_EVERY);

/// How often a waiting run tries the lock again.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another live process holds it.
    #[error(
        "another `microcloud preseed` ({}) is running on this machine: it holds {}; nothing was changed. Wait for it to end, or stop it, then run again",
        holder.map_or_else(|| "PID unknown".to_owned(), |p| format!("PID {p}")),
        path.display()
    )]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The holder's PID, as it wrote it.
        holder: Option<u32>,
    },
    /// The lock file could not be created, opened or locked.
    #[error("cannot take the run lock {}: {source}; run as root, or set MICROCLOUD_LOCK_FILE to a file you may write", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

impl LockError {
    /// "another `microcloud preseed` (PID N) holds PATH", or the error.
    pub(crate) fn holder_text(&self) -> String {
        match self {
            LockError::Held { path, holder } => format!(
                "another `microcloud preseed` ({}) holds {}",
                holder.map_or_else(|| "PID unknown".to_owned(), |p| format!("PID {p}")),
                path.display()
            ),
            other => other.to_string(),
        }
    }
}

/// Held for as long as it lives; released by the kernel when the process
/// ends, however it ends.
pub(crate) struct RunLock {
    _file: File,
}

/// Where this machine's run lock is: [`LOCK_ENV`] when set, else
/// `DIR/preseed.lock` for a simulated cluster, else [`DEFAULT_LOCK`].
pub(crate) fn path(sim_dir: Option<&Path>) -> PathBuf {
    match (std::env::var_os(LOCK_ENV), sim_dir) {
        (Some(p), _) if !p.is_empty() => PathBuf::from(p),
        (_, Some(dir)) => dir.join("preseed.lock"),
        _ => PathBuf::from(DEFAULT_LOCK),
    }
}

/// Takes the lock at `path`, waiting at most `grace` for another holder to
/// end (saying so once through `waiting`, with the holder's PID).
pub(crate) async fn take_within(
    path: &Path,
    grace: std::time::Duration,
    waiting: impl FnOnce(&LockError),
) -> Result<RunLock, LockError> {
    let end = tokio::time::Instant::now() + grace;
    let mut waiting = Some(waiting);
    loop {
        match take(path) {
            Err(e @ LockError::Held { .. }) if tokio::time::Instant::now() < end => {
                if let Some(say) = waiting.take() {
                    say(&e);
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
            other => return other,
        }
    }
}

/// Takes the lock at `path` without waiting, and writes this process's
/// PID into it.
pub(crate) fn take(path: &Path) -> Result<RunLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        // Never through a symbolic link: the path can come from
        // MICROCLOUD_LOCK_FILE, and a link planted in a directory others can
        // write would have the truncation below empty its target.
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.take(32).read_to_string(&mut text);
            return Err(LockError::Held {
                path: path.to_owned(),
                holder: text.lines().next().and_then(|l| l.trim().parse().ok()),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    // Overwrite, then cut what is left of a longer old PID: the file is
    // never empty after a first run, so a run refused at this moment still
    // reads a PID from its first line (truncating first left a window in
    // which it read none).
    let pid = format!("{}\n", std::process::id());
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(pid.as_bytes()).map_err(io)?;
    file.set_len(pid.len() as u64).map_err(io)?;
    Ok(RunLock { _file: file })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_lock_that_cannot_be_made_says_how_to_run_without_root() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, "").unwrap();
        let path = file.join("preseed.lock");
        let e = take(&path).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot take the run lock {}: File exists (os error 17); run as root, \
                 or set MICROCLOUD_LOCK_FILE to a file you may write",
                path.display()
            )
        );
    }

    #[test]
    fn a_longer_pid_left_by_an_earlier_run_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preseed.lock");
        std::fs::write(&path, "123456789012\n").unwrap();
        let _held = take(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
    }

    #[test]
    fn a_second_taker_is_refused_with_the_holders_pid_and_gets_it_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/preseed.lock");
        let held = take(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        let err = take(&path).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!(
                "another `microcloud preseed` (PID {}) is running on this machine: it holds {}; nothing was changed. Wait for it to end, or stop it, then run again",
                std::process::id(),
                path.display()
            )
        );
        drop(held);
        let _again = take(&path).unwrap();
    }

    #[test]
    fn a_symbolic_link_at_the_lock_path_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me\n").unwrap();
        let path = dir.path().join("preseed.lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = take(&path).err().unwrap();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    }

    #[tokio::test]
    async fn a_waiting_taker_gets_the_lock_when_the_holder_ends_within_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preseed.lock");
        let held = take(&path).unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            drop(held);
        });
        let mut said = None;
        let got = take_within(&path, std::time::Duration::from_secs(30), |e| {
            said = Some(e.to_string());
        })
        .await;
        assert!(got.is_ok());
        drop(got);
        assert!(
            said.unwrap()
                .contains(&format!("PID {}", std::process::id()))
        );
        release.await.unwrap();

        // Still held at the end of the grace: refused.
        let _held = take(&path).unwrap();
        let refused = take_within(&path, std::time::Duration::from_millis(300), |_| {}).await;
        assert!(matches!(refused, Err(LockError::Held { .. })));
    }
}
