//! Writes the seed corpora of every target into `fuzz/corpus/<target>/`
//! from the repository's examples and fixtures:
//!
//! * `preseed`: every YAML file under `examples/`;
//! * `filter`: every `find:` expression in those files;
//! * `responses`: every response fixture of the clients' tests
//!   (`crates/clients/tests/fixtures/**/*.response.json` and the envelope
//!   fixtures), for the calls that read it, and the async creations
//!   followed by their operation;
//! * `session`: a few hand-written operation sequences (honest runs, a
//!   wrong passphrase, a relay), in the target's own op code.
//!
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml --bin seed-corpora`.

use std::fs;
use std::path::{Path, PathBuf};

use microcloud_fuzz::{filter_input, responses_input};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the fuzz crate lives in the repository")
        .to_path_buf()
}

fn files(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, suffix, out);
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("fuzz/corpus").join(target);
    fs::create_dir_all(&dir).expect("create the corpus directory");
    fs::write(dir.join(name), bytes).expect("write a seed");
}

/// The calls of the `responses` target that read a fixture, by the start
/// of its file name (see the `call` table in `fuzz_targets/responses.rs`).
fn calls_for(name: &str) -> &'static [u8] {
    const TABLE: &[(&str, &[u8])] = &[
        ("server-info", &[24, 37, 38]),
        ("server", &[0, 1, 23]),
        ("cluster-members", &[6, 5]),
        ("cluster-enable", &[3]),
        ("cluster-join", &[4]),
        ("cluster", &[2, 29]),
        ("certificates", &[7, 39]),
        ("resources", &[8]),
        ("storage-pool", &[9, 10, 11]),
        ("volume", &[12, 13]),
        ("network", &[14, 15, 16, 17]),
        ("profile", &[18, 19, 20]),
        ("operation", &[21, 22]),
        ("error", &[0, 8, 20]),
        ("disks", &[30, 31]),
        ("configs", &[32]),
        ("pools", &[33, 34]),
        ("services", &[35, 36]),
        ("tokens", &[28]),
        ("token-issue", &[27]),
        ("already-initialized", &[25, 26]),
        ("not-ready", &[24, 37]),
        ("database-not-ready", &[29, 38]),
    ];
    TABLE
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map_or(&[], |(_, calls)| calls)
}

fn status_of(body: &[u8]) -> u16 {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 200;
    };
    match v["type"].as_str() {
        Some("error") => v["error_code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (200..=599).contains(c))
            .unwrap_or(500),
        Some("async") => 202,
        _ => 200,
    }
}

fn main() {
    let root = root();

    let mut yaml = Vec::new();
    files(&root.join("examples"), ".yaml", &mut yaml);
    let mut finds = Vec::new();
    for path in &yaml {
        let text = fs::read(path).expect("read an example");
        let name = path.strip_prefix(&root).unwrap_or(path).to_string_lossy();
        write("preseed", &name.replace('/', "_"), &text);
        for line in String::from_utf8_lossy(&text).lines() {
            if let Some(find) = line.trim_start().trim_start_matches("- ").strip_prefix("find:") {
                let find = find.trim().trim_matches(|c| c == '"' || c == '\'');
                if !finds.iter().any(|f| f == find) {
                    finds.push(find.to_owned());
                }
            }
        }
    }
    for (i, find) in finds.iter().enumerate() {
        write("filter", &format!("example-{i:02}"), &filter_input(find));
    }

    let mut fixtures = Vec::new();
    files(&root.join("crates/clients/tests/fixtures"), ".json", &mut fixtures);
    let operation = fs::read(root.join("crates/clients/tests/fixtures/lxd/operation-success.response.json"))
        .expect("the operation fixture");
    let mut count = 0;
    for path in &fixtures {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let envelope = path.parent().is_some_and(|p| p.ends_with("envelope"));
        if !envelope && !name.ends_with(".response.json") {
            continue;
        }
        let body = fs::read(path).expect("read a fixture");
        let status = status_of(&body);
        let calls: Vec<u8> = if envelope { (0..41).collect() } else { calls_for(&name).to_vec() };
        for call in calls {
            let seed = if status == 202 {
                responses_input(call, &[(status, &body), (200, &operation)])
            } else {
                responses_input(call, &[(status, &body)])
            };
            write("responses", &format!("{}-{call:02}", name.trim_end_matches(".json")), &seed);
            count += 1;
        }
    }

    // Session op codes: 0 start (byte: name bits 0-1, certificate bits
    // 2-3, wrong passphrase bit 6, wrong version bit 7), 1 hello to the
    // initiator (peer, which), 2 challenge to a joiner (peer, which,
    // slot), 3 proof to the initiator (peer, which), 4 verdict to a joiner
    // (which, slot), 5 abandon (peer, which).
    let honest = [0, 0x00, 1, 1, 0, 2, 0, 0, 0, 3, 1, 0, 4, 0, 0];
    let two = [
        0, 0x00, 0, 0x04, 1, 1, 0, 1, 2, 1, 2, 0, 0, 0, 2, 0, 1, 1, 3, 1, 0, 3, 2, 1, 4, 0, 0, 4, 1, 1,
    ];
    let wrong = [0, 0x40, 1, 1, 0, 2, 0, 0, 0, 5, 1, 0, 1, 1, 0, 5, 1, 1];
    let relay = [0, 0x00, 1, 4, 0, 2, 4, 0, 0, 3, 4, 0];
    for (name, ops) in [("honest", &honest[..]), ("two-joiners", &two), ("wrong-passphrase", &wrong), ("relay", &relay)] {
        write("session", name, ops);
    }
    println!(
        "seeded: preseed {}, filter {}, responses {count}, session 4 (in {})",
        yaml.len(),
        finds.len(),
        root.join("fuzz/corpus").display()
    );
}
