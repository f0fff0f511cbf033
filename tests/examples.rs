//! Every shipped example is valid, without warnings; every invalid example
//! renders exactly as its snapshot says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::{
    assert_snapshot, examples_environment, relative_name, workspace_root, yaml_files,
};

#[test]
fn every_example_is_valid_and_warning_free() {
    let mut files = yaml_files("examples");
    assert!(
        files.len() >= 5,
        "expected at least five examples, found {files:?}"
    );
    files.extend(yaml_files("examples/simulated"));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let report = config_loader::load(&text, &examples_environment());
        let name = relative_name(&file);
        assert!(report.is_valid(), "{}", report.render(&name));
        assert!(report.diagnostics().is_empty(), "{}", report.render(&name));
    }
}

#[test]
fn examples_cover_the_documented_scenarios() {
    use config_loader::Mode;
    use config_loader::model::Initiator;
    let load = |name: &str| {
        let text = std::fs::read_to_string(workspace_root().join("examples").join(name)).unwrap();
        config_loader::load(&text, &examples_environment())
            .preseed()
            .cloned()
            .unwrap_or_else(|| panic!("{name} is invalid"))
    };
    let multicast = load("multicast-3-nodes.yaml");
    assert!(matches!(multicast.initiator, Initiator::Name { .. }));
    assert_eq!(
        (multicast.systems.len(), multicast.mode()),
        (3, Mode::Bootstrap)
    );

    let unicast = load("unicast-3-nodes-ovn-ceph.yaml");
    assert!(matches!(unicast.initiator, Initiator::Address(_)));
    assert!(unicast.uses_ovn() && unicast.uses_ceph());
    assert!(
        !unicast.filters.ceph.is_empty()
            && unicast.systems.iter().any(|s| !s.ceph_disks.is_empty())
    );
    assert!(unicast.passphrase.is_some(), "the passphrase file is read");

    let add = load("add-one-node.yaml");
    assert_eq!((add.systems.len(), add.mode()), (1, Mode::Add));

    let single = load("single-node.yaml");
    assert_eq!(
        (
            single.systems.len(),
            single.mode(),
            single.passphrase.is_none()
        ),
        (1, Mode::Bootstrap, true)
    );

    let v6 = load("ipv6-only-uplink.yaml");
    assert!(v6.ovn.ipv4.is_none() && v6.ovn.ipv6_gateway.is_some());
}

#[test]
fn invalid_examples_match_their_snapshots() {
    let files = yaml_files("examples/invalid");
    assert!(
        files.len() >= 10,
        "expected the invalid cases, found {files:?}"
    );
    for file in files {
        let text = std::fs::read(&file).unwrap();
        let report = config_loader::load_bytes(&text, &examples_environment());
        let name = relative_name(&file);
        assert!(!report.is_valid(), "{name} should be invalid");
        let stem = file.file_stem().unwrap().to_string_lossy();
        let mut rendered = report.render(&name);
        rendered.push_str("--- json\n");
        rendered.push_str(&serde_json::to_string_pretty(&report.to_json()).unwrap());
        rendered.push('\n');
        assert_snapshot(&format!("tests/snapshots/invalid/{stem}.txt"), &rendered);
    }
}
