//! What the loader may ask of the outside world: environment variables and
//! the passphrase file. The binary implements [`Environment`] with the real
//! machine; tests use [`FakeEnvironment`].

use std::fmt;
use std::path::{Path, PathBuf};

/// Largest passphrase file accepted, in bytes. A passphrase is one short
/// line; anything larger is the wrong file.
pub const MAX_SECRET_FILE_BYTES: usize = 4096;

/// What the loader may ask of the outside world.
pub trait Environment {
    /// The value of an environment variable, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// Reads the passphrase file named by `session_passphrase_file`.
    ///
    /// An implementation must never block and never read without bound: it
    /// refuses anything that is not a regular file without waiting on it
    /// (a FIFO, a device, a socket, a directory:
    /// [`SecretFileError::NotAFile`]) and reads at most
    /// [`MAX_SECRET_FILE_BYTES`] + 1 bytes ([`SecretFileError::TooLarge`]).
    fn read_secret_file(&self, path: &Path) -> Result<SecretFile, SecretFileError>;
}

/// A passphrase file that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// Its contents.
    pub text: String,
    /// The path it was read from (relative paths resolved), for messages.
    pub path: PathBuf,
    /// Its permission bits (`0o644`), when known.
    pub mode: Option<u32>,
}

/// What a path named as a passphrase file turned out to be, when it is not
/// a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A FIFO (named pipe).
    Fifo,
    /// A unix socket.
    Socket,
    /// A character device (such as `/dev/zero`).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else that is not a regular file.
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why a passphrase file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretFileError {
    /// It could not be opened or read (`message` is the system's reason).
    #[error("{message}")]
    Io {
        /// The system's reason, such as "No such file or directory".
        message: String,
    },
    /// It is not a regular file; it was not read (nor waited on).
    #[error("it is {kind}, not a regular file")]
    NotAFile {
        /// What it is.
        kind: FileKind,
    },
    /// It holds more than `limit` bytes; only `limit` + 1 were read.
    #[error("it is larger than {limit} bytes")]
    TooLarge {
        /// The largest size accepted.
        limit: usize,
    },
    /// It is not UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotText,
}

/// An environment with fixed variables and files, for tests and for
/// validating without touching the machine.
#[derive(Debug, Default, Clone)]
pub struct FakeEnvironment {
    /// Variables that are set.
    pub vars: Vec<(String, String)>,
    /// Files that exist (regular files, mode unknown), with their contents.
    pub files: Vec<(String, String)>,
}

impl Environment for FakeEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
    fn read_secret_file(&self, path: &Path) -> Result<SecretFile, SecretFileError> {
        let (_, text) = self
            .files
            .iter()
            .find(|(p, _)| Path::new(p) == path)
            .ok_or_else(|| SecretFileError::Io {
                message: "No such file or directory".to_owned(),
            })?;
        if text.len() > MAX_SECRET_FILE_BYTES {
            return Err(SecretFileError::TooLarge {
                limit: MAX_SECRET_FILE_BYTES,
            });
        }
        Ok(SecretFile {
            text: text.clone(),
            path: path.to_owned(),
            mode: None,
        })
    }
}
