//! The session passphrase: from the preseed, the passphrase file (through
//! [`Environment::read_secret_file`], with its error kinds and a warning
//! for a file others may read or write) or the environment variable.

use std::path::Path;

use super::sections::Sections;
use super::{Checker, PASSPHRASE_ENV};
use crate::model::Passphrase;
use crate::node::KeyPath;
use crate::raw::RawPreseed;
use crate::{Environment, SecretFileError};

pub(super) fn passphrase(
    c: &mut Checker<'_>,
    raw: &RawPreseed,
    env: &dyn Environment,
    sections: &Sections,
) -> Option<Passphrase> {
    let root = KeyPath::root();
    let from_env = env.var(PASSPHRASE_ENV).filter(|v| !v.is_empty());
    let from_file = match (&raw.session_passphrase, &raw.session_passphrase_file) {
        (Some(_), Some(_)) => {
            c.error_help(
                &root.key("session_passphrase_file"),
                "`session_passphrase` and `session_passphrase_file` cannot both be set",
                "keep one of them",
            );
            None
        }
        (Some(text), None) => match Passphrase::new(text.clone()) {
            Some(p) => Some(p),
            None => {
                c.error(
                    &root.key("session_passphrase"),
                    "the session passphrase is empty",
                );
                None
            }
        },
        (None, Some(file)) if from_env.is_none() => {
            let path = root.key("session_passphrase_file");
            match env.read_secret_file(Path::new(file)) {
                Ok(read) => {
                    if let Some(mode) = read.mode {
                        loose_mode_warning(c, &path, file, &read.path, mode);
                    }
                    let text = &read.text;
                    let secret = text.strip_suffix('\n').unwrap_or(text);
                    let secret = secret.strip_suffix('\r').unwrap_or(secret);
                    let p = Passphrase::new(secret.to_owned());
                    if p.is_none() {
                        c.error(&path, format!("the passphrase file {file:?} is empty"));
                    }
                    p
                }
                Err(e) => {
                    let help = match e {
                        SecretFileError::Io { .. } => {
                            format!("create the file, or set {PASSPHRASE_ENV} instead")
                        }
                        SecretFileError::NotAFile { .. }
                        | SecretFileError::TooLarge { .. }
                        | SecretFileError::NotText => format!(
                            "name a regular file that holds only the passphrase (one short line, mode 600), or set {PASSPHRASE_ENV} instead"
                        ),
                    };
                    c.error_help(
                        &path,
                        format!("cannot read the passphrase file {file:?}: {e}"),
                        help,
                    );
                    None
                }
            }
        }
        _ => None,
    };
    if let Some(secret) = from_env {
        if raw.session_passphrase.is_some() || raw.session_passphrase_file.is_some() {
            let key = if raw.session_passphrase.is_some() {
                "session_passphrase"
            } else {
                "session_passphrase_file"
            };
            c.warning_help(
                &root.key(key),
                format!("{PASSPHRASE_ENV} is set and overrides `{key}`"),
                format!("unset {PASSPHRASE_ENV} to use the file's passphrase"),
            );
        }
        return Passphrase::new(secret);
    }
    let others_join = sections.others_join();
    if from_file.is_none()
        && others_join
        && raw.session_passphrase.is_none()
        && raw.session_passphrase_file.is_none()
    {
        c.error_help(
            &root,
            "a session passphrase is required: other systems join in this run",
            format!("set `session_passphrase`, `session_passphrase_file` or the environment variable {PASSPHRASE_ENV}"),
        );
    }
    from_file
}

/// Warns, as ssh does for keys, when the passphrase file can be read or
/// written by anyone but its owner.
fn loose_mode_warning(c: &mut Checker<'_>, path: &KeyPath, file: &str, full: &Path, mode: u32) {
    let (group, others) = ((mode >> 3) & 0o6, mode & 0o6);
    if group == 0 && others == 0 {
        return;
    }
    let access = match (group | others) & 0o6 {
        0o6 => "readable and writable",
        0o4 => "readable",
        _ => "writable",
    };
    let who = match (group != 0, others != 0) {
        (true, true) => "its group and other users",
        (true, false) => "its group",
        _ => "other users",
    };
    c.warning_help(
        path,
        format!(
            "the passphrase file {file:?} is {access} by {who} (mode {:03o})",
            mode & 0o777
        ),
        format!("let only its owner read it: chmod 600 {}", full.display()),
    );
}
