//! The cloud-init user data of `examples/cloud-init/`: the files they write
//! are extracted into a temporary root, and the embedded preseed must pass
//! `microcloud validate` there (its passphrase file resolves beside it). The
//! check against cloud-init's own schema needs the `cloud-init` package and
//! runs in `tests/packaging/run.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{root, run, text};

const PRESEED: &str = "/etc/microcloud/preseed.yaml";
const PASSPHRASE: &str = "/etc/microcloud/passphrase";
const FIRST_BOOT: &str = "/usr/local/sbin/microcloud-first-boot";

/// The parts of a `#cloud-config` document these tests look at.
#[derive(Deserialize)]
struct UserData {
    hostname: String,
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
}

#[derive(Deserialize)]
struct WriteFile {
    path: String,
    content: String,
    permissions: String,
    owner: String,
}

/// The parts of the embedded preseed that decide each machine's role.
#[derive(Deserialize)]
struct Roles {
    initiator_address: String,
    systems: Vec<System>,
}

#[derive(Deserialize)]
struct System {
    name: String,
    address: String,
}

fn user_data_file(name: &str) -> PathBuf {
    root().join("examples/cloud-init").join(name)
}

fn parse(text: &str) -> UserData {
    assert!(
        text.starts_with("#cloud-config\n"),
        "user data must start with #cloud-config"
    );
    serde_saphyr::from_str(text).expect("user data is YAML of the expected shape")
}

fn load(name: &str) -> (String, UserData) {
    let text = std::fs::read_to_string(user_data_file(name)).unwrap();
    let data = parse(&text);
    (text, data)
}

fn file<'a>(data: &'a UserData, path: &str) -> &'a WriteFile {
    data.write_files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no write_files entry for {path}"))
}

/// Writes every `write_files` entry under `root` with its permissions, as
/// cloud-init would under `/` (the passphrase file's mode matters: a file
/// others can read draws a warning).
fn extract(data: &UserData, root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in &data.write_files {
        let target = root.join(entry.path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, &entry.content).unwrap();
        let mode = u32::from_str_radix(&entry.permissions, 8).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn validate(preseed: &Path) -> Output {
    run([Path::new("validate"), preseed])
}

#[test]
fn embedded_preseeds_validate_without_warnings() {
    for name in ["initiator.yaml", "joiner.yaml"] {
        let (_, data) = load(name);
        let root = tempfile::tempdir().unwrap();
        extract(&data, root.path());
        let preseed = root.path().join(PRESEED.trim_start_matches('/'));
        let out = validate(&preseed);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        // "valid" and nothing else: no warnings either.
        assert_eq!(
            text(&out.stdout),
            format!("{}: valid\n", preseed.display()),
            "{name}"
        );
    }
}

#[test]
fn the_passphrase_comes_from_the_file_beside_the_preseed() {
    let (_, data) = load("initiator.yaml");
    let passphrase = file(&data, PASSPHRASE);
    assert_eq!(passphrase.permissions, "0600");
    assert_eq!(passphrase.owner, "root:root");
    assert!(!passphrase.content.trim().is_empty());
    let preseed = file(&data, PRESEED);
    assert!(
        preseed
            .content
            .contains("\nsession_passphrase_file: passphrase\n"),
        "{}",
        preseed.content
    );
    assert!(!preseed.content.contains("session_passphrase:"));

    // Without the passphrase file the same preseed is invalid: the check
    // above really read it.
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("preseed.yaml");
    std::fs::write(&path, &preseed.content).unwrap();
    let out = validate(&path);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("cannot read the passphrase file \"passphrase\""),
        "{stdout}"
    );
}

#[test]
fn a_broken_embedded_preseed_is_caught() {
    let (text_before, _) = load("joiner.yaml");
    let broken = text_before.replacen("      lookup_timeout:", "      lookup_timout:", 1);
    assert_ne!(broken, text_before);
    let data = parse(&broken);
    let root = tempfile::tempdir().unwrap();
    extract(&data, root.path());
    let out = validate(&root.path().join(PRESEED.trim_start_matches('/')));
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("error: unknown key `lookup_timout` at the top level"),
        "{stdout}"
    );
}

#[test]
fn every_machine_gets_the_same_preseed_and_passphrase_and_its_own_role() {
    let (_, initiator) = load("initiator.yaml");
    let (_, joiner) = load("joiner.yaml");
    for path in [PRESEED, PASSPHRASE] {
        assert_eq!(
            file(&initiator, path).content,
            file(&joiner, path).content,
            "{path} differs between initiator.yaml and joiner.yaml"
        );
    }
    let roles: Roles = serde_saphyr::from_str(&file(&initiator, PRESEED).content).unwrap();
    let address_of = |host: &str| {
        roles
            .systems
            .iter()
            .find(|s| s.name == host)
            .unwrap_or_else(|| panic!("{host} is not a system of the preseed"))
            .address
            .clone()
    };
    assert_eq!(address_of(&initiator.hostname), roles.initiator_address);
    assert_ne!(address_of(&joiner.hostname), roles.initiator_address);
}

#[test]
fn first_boot_runs_microcloud_preseed_on_the_written_file_once() {
    for name in ["initiator.yaml", "joiner.yaml"] {
        let (_, data) = load(name);
        assert_eq!(data.runcmd, vec![vec![FIRST_BOOT.to_owned()]], "{name}");
        let script = file(&data, FIRST_BOOT);
        assert_eq!(script.permissions, "0755", "{name}");
        let body = &script.content;
        assert!(body.starts_with("#!/bin/sh\n"), "{name}");
        assert!(body.contains(&format!("\nPRESEED={PRESEED}\n")), "{name}");
        assert!(
            body.contains(&format!("\nNAME={}\n", data.hostname)),
            "{name}: the script's NAME is not the host name"
        );
        assert!(
            body.contains("microcloud preseed --name \"$NAME\" \"$PRESEED\" || status=$?"),
            "{name}"
        );
        // Statuses the documentation calls safe to re-run are retried; the
        // others end the script with the same status.
        assert!(body.contains("1 | 5) if"), "{name}");
        assert!(body.contains("exit \"$status\""), "{name}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("first-boot");
        std::fs::write(&path, body).unwrap();
        let out = Command::new("sh").arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: sh -n: {}",
            text(&out.stderr)
        );
    }
}
