//! The field that carries an LXD join token (`PUT /1.0/cluster`), chosen by
//! capability: `cluster_token` when `explicit_trust_token` is advertised or
//! the LXD is not known to be older than 5.21.2 (the release that added
//! it, `shared/api/cluster.go` at lxd-5.21.2; 6.1+ ignores
//! `cluster_password`), `cluster_password` only for an older version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use config_loader::FakeEnvironment;
use planner::inventory::{Interface, InterfaceKind, LinkState, LxdService, Services};
use planner::plan::TokenField;
use planner::{Action, Inventory, SystemInventory};

fn system(i: u8, version: &str, extensions: &[&str]) -> SystemInventory {
    SystemInventory {
        name: format!("micro0{i}"),
        address: format!("10.0.0.{i}").parse().unwrap(),
        services: Services {
            lxd: Some(LxdService {
                version: version.into(),
                api_extensions: extensions.iter().map(|e| e.to_string()).collect(),
                ..LxdService::default()
            }),
            microceph: None,
            microovn: None,
        },
        disks: Vec::new(),
        interfaces: vec![Interface {
            name: "enp5s0".into(),
            kind: InterfaceKind::Physical,
            state: LinkState::Up,
            addresses: vec![format!("10.0.0.{i}/24").parse().unwrap()],
            bridge: None,
            managed: false,
        }],
        default_route_interface: Some("enp5s0".into()),
    }
}

/// The joiner's token field and the decision recorded for it.
fn joiner_field(version: &str, extensions: &[&str]) -> (TokenField, Option<(String, String)>) {
    let yaml = "initiator: micro01\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\nsystems:\n\
                \x20 - name: micro01\n\x20 - name: micro02\n";
    let report = config_loader::load(yaml, &FakeEnvironment::default());
    let preseed = report
        .preseed()
        .unwrap_or_else(|| panic!("{}", report.render("test.yaml")));
    let inventory = Inventory::new(
        [
            system(1, version, extensions),
            system(2, version, extensions),
        ],
        None,
    )
    .unwrap();
    let plan = planner::plan(preseed, &inventory).unwrap_or_else(|e| panic!("{e:?}"));
    let field = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::JoinLxd { token_field, .. } => Some(*token_field),
            _ => None,
        })
        .unwrap();
    let decision = plan
        .decisions
        .iter()
        .find(|d| d.subject == "LXD join token field of micro02")
        .map(|d| (d.choice.clone(), d.reason.clone()));
    (field, decision)
}

#[test]
fn advertised_extension_gives_cluster_token_without_a_decision() {
    assert_eq!(
        joiner_field("6.9", &["explicit_trust_token"]),
        (TokenField::ClusterToken, None)
    );
}

#[test]
fn lxd_older_than_5_21_2_gets_cluster_password() {
    for version in ["5.0.2", "5.21.1", "4.0.9"] {
        let (field, decision) = joiner_field(version, &[]);
        assert_eq!(field, TokenField::ClusterPassword, "{version}");
        assert_eq!(
            decision,
            Some((
                "cluster_password".to_owned(),
                format!("LXD {version} on micro02 lacks the API extension explicit_trust_token")
            ))
        );
    }
}

#[test]
fn new_fields_without_the_extension_get_cluster_token() {
    // Incus-like: decodes cluster_token without advertising it; or a
    // version that does not parse.
    for version in ["6.0.1", "5.21.2", "git-1234"] {
        let (field, decision) = joiner_field(version, &[]);
        assert_eq!(field, TokenField::ClusterToken, "{version}");
        assert_eq!(
            decision,
            Some((
                "cluster_token".to_owned(),
                format!(
                    "LXD {version} on micro02 does not advertise explicit_trust_token but is not \
                     known to be older than 5.21.2, which added cluster_token (6.1 and later \
                     ignore cluster_password)"
                )
            ))
        );
    }
}
