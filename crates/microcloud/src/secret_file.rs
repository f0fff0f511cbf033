//! Reading the passphrase file on the real machine: the checks behind
//! [`config_loader::Environment::read_secret_file`] for
//! [`crate::input::HostEnvironment`].
//!
//! The file is looked at before it is opened, and opened without blocking
//! (`O_NONBLOCK`, `O_NOCTTY`), so that a FIFO never makes `validate` or
//! `preseed` wait for a writer; whatever was opened is checked again (a
//! regular file, not something swapped in between), and at most
//! [`MAX_SECRET_FILE_BYTES`] + 1 bytes are read, so that `/dev/zero` or a
//! huge file costs nothing.

use config_loader::{FileKind, MAX_SECRET_FILE_BYTES, SecretFile, SecretFileError};
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Reads the passphrase file at `path` (already resolved).
pub(crate) fn read(path: &Path) -> Result<SecretFile, SecretFileError> {
    let io = |e: std::io::Error| SecretFileError::Io {
        message: io_message(&e),
    };
    regular(&std::fs::metadata(path).map_err(io)?)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    regular(&meta)?;
    let mut bytes = Vec::new();
    let cap = u64::try_from(MAX_SECRET_FILE_BYTES).unwrap_or(u64::MAX);
    <File as Read>::take(file, cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_SECRET_FILE_BYTES {
        return Err(SecretFileError::TooLarge {
            limit: MAX_SECRET_FILE_BYTES,
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| SecretFileError::NotText)?;
    Ok(SecretFile {
        text,
        path: path.to_owned(),
        mode: Some(meta.permissions().mode() & 0o7777),
    })
}

/// Refuses anything but a regular file, saying what it is.
fn regular(meta: &Metadata) -> Result<(), SecretFileError> {
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        FileKind::Directory
    } else if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_socket() {
        FileKind::Socket
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Other
    };
    Err(SecretFileError::NotAFile { kind })
}

/// The system's reason without Rust's " (os error N)" suffix, as the
/// loader's messages quote it.
fn io_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::input::HostEnvironment;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    const TWO_SYSTEMS: &str =
        "initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n  - name: b\n";

    /// Validates a preseed naming `file` in `dir` as its passphrase file,
    /// on another thread, failing (instead of hanging) after 10 s.
    fn validate(dir: &Path, file: &str) -> config_loader::Report {
        let yaml = format!("{TWO_SYSTEMS}session_passphrase_file: {file}\n");
        let env = HostEnvironment {
            base: Some(dir.to_owned()),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(config_loader::load(&yaml, &env));
        });
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("loading with {file} did not finish within 10 s"))
    }

    /// The one diagnostic about the passphrase file, rendered.
    fn only(report: &config_loader::Report) -> String {
        let found: Vec<_> = report
            .diagnostics()
            .iter()
            .filter(|d| d.path.to_string() == "session_passphrase_file")
            .collect();
        assert_eq!(found.len(), 1, "{}", report.render("x.yaml"));
        assert_eq!(found[0].line(), Some(6));
        format!(
            "{:?}: {} / {}",
            found[0].severity,
            found[0].message,
            found[0].help.as_deref().unwrap_or("")
        )
    }

    fn write(dir: &Path, name: &str, text: &[u8], mode: u32) {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    const NOT_A_FILE_HELP: &str = "name a regular file that holds only the passphrase (one short line, mode 600), or set MICROCLOUD_SESSION_PASSPHRASE instead";

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo");
        // No writer ever opens it: a blocking open would wait forever.
        let report = validate(dir.path(), "pipe");
        assert!(!report.is_valid());
        assert_eq!(
            only(&report),
            format!(
                "Error: cannot read the passphrase file \"pipe\": it is a FIFO (named pipe), not a regular file / {NOT_A_FILE_HELP}"
            )
        );
    }

    #[test]
    fn devices_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for (file, kind) in [
            ("/dev/zero", "a character device"),
            ("/dev/null", "a character device"),
            ("sub", "a directory"),
        ] {
            let report = validate(dir.path(), file);
            assert_eq!(
                only(&report),
                format!(
                    "Error: cannot read the passphrase file {file:?}: it is {kind}, not a regular file / {NOT_A_FILE_HELP}"
                )
            );
        }
    }

    #[test]
    fn a_large_file_is_refused_and_a_file_at_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        // 20 MB: only the first 4 KiB + 1 byte are ever read.
        write(dir.path(), "big", &vec![b'a'; 20 << 20], 0o600);
        assert_eq!(
            only(&validate(dir.path(), "big")),
            format!(
                "Error: cannot read the passphrase file \"big\": it is larger than 4096 bytes / {NOT_A_FILE_HELP}"
            )
        );
        write(
            dir.path(),
            "limit",
            &vec![b'a'; MAX_SECRET_FILE_BYTES],
            0o600,
        );
        let report = validate(dir.path(), "limit");
        assert!(report.is_valid(), "{}", report.render("x.yaml"));
        assert!(report.diagnostics().is_empty());
    }

    #[test]
    fn a_file_others_can_read_or_write_is_used_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("secret");
        for (mode, what) in [
            (0o640, "readable by its group (mode 640)"),
            (0o604, "readable by other users (mode 604)"),
            (0o622, "writable by its group and other users (mode 622)"),
            (
                0o666,
                "readable and writable by its group and other users (mode 666)",
            ),
        ] {
            write(dir.path(), "secret", b"correct horse\n", mode);
            let report = validate(dir.path(), "secret");
            assert!(report.is_valid(), "{}", report.render("x.yaml"));
            assert_eq!(
                only(&report),
                format!(
                    "Warning: the passphrase file \"secret\" is {what} / let only its owner read it: chmod 600 {}",
                    full.display()
                )
            );
        }
        write(dir.path(), "secret", b"correct horse\n", 0o600);
        let report = validate(dir.path(), "secret");
        assert!(
            report.diagnostics().is_empty(),
            "{}",
            report.render("x.yaml")
        );
        assert_eq!(
            report
                .preseed()
                .unwrap()
                .passphrase
                .as_ref()
                .unwrap()
                .expose(),
            "correct horse"
        );
    }

    #[test]
    fn a_missing_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            only(&validate(dir.path(), "absent")),
            "Error: cannot read the passphrase file \"absent\": No such file or directory / create the file, or set MICROCLOUD_SESSION_PASSPHRASE instead"
        );
    }
}
