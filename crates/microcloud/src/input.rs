//! Reading the preseed: its bytes (bounded), and the environment its
//! secrets come from (variables, files relative to the preseed).

use anyhow::{Context, Result};
use config_loader::Environment;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The real machine: environment variables, and files relative to the
/// directory of the preseed file (or the working directory for stdin).
pub struct HostEnvironment {
    /// The preseed's directory (`None` for stdin: the working directory).
    pub base: Option<PathBuf>,
}

impl Environment for HostEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read_secret_file(
        &self,
        path: &Path,
    ) -> Result<config_loader::SecretFile, config_loader::SecretFileError> {
        let full = match &self.base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_owned(),
        };
        crate::secret_file::read(&full)
    }
}

/// Reads the whole input, refusing more than the loader accepts so that a
/// huge file costs neither memory nor time.
pub fn read_input(file: Option<&Path>) -> Result<(String, Vec<u8>, Option<PathBuf>)> {
    let limit = u64::try_from(config_loader::MAX_INPUT_BYTES).unwrap_or(u64::MAX) + 1;
    let mut bytes = Vec::new();
    match file.filter(|p| *p != Path::new("-")) {
        None => {
            io::stdin()
                .take(limit)
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            Ok(("<stdin>".to_owned(), bytes, None))
        }
        Some(p) => {
            std::fs::File::open(p)
                .and_then(|f| f.take(limit).read_to_end(&mut bytes))
                .with_context(|| format!("cannot read {}", p.display()))?;
            let base = p.parent().map(Path::to_owned);
            Ok((p.display().to_string(), bytes, base))
        }
    }
}
