//! Role decision from the preseed and the machine's identity.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use config_loader::{FakeEnvironment, Mode, Preseed};
use ipnet::IpNet;
use microcloud::role::{Contact, LocalIdentity, Role, decide};
use std::net::IpAddr;

fn preseed(yaml: &str) -> Preseed {
    let report = config_loader::load(yaml, &FakeEnvironment::default());
    report
        .preseed()
        .cloned()
        .unwrap_or_else(|| panic!("{}", report.render("t")))
}

fn me(name: &str, addrs: &[&str]) -> LocalIdentity {
    LocalIdentity {
        name: name.into(),
        addresses: addrs.iter().map(|a| a.parse::<IpNet>().unwrap()).collect(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const MULTICAST: &str = "initiator: micro01\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\nsystems:\n  - name: micro01\n  - name: micro02\n";
const UNICAST: &str = "initiator_address: 10.0.0.1\nsession_passphrase: x\nsystems:\n  - name: micro01\n    address: 10.0.0.1\n  - name: micro02\n    address: 10.0.0.2\n";
const UNICAST_ADD: &str = "initiator_address: 10.0.0.1\nsession_passphrase: x\nsystems:\n  - name: micro04\n    address: 10.0.0.4\n";
const MULTICAST_ADD: &str = "initiator: micro01\nlookup_subnet: 10.0.0.0/24\nsession_passphrase: x\nsystems:\n  - name: micro04\n";

#[test]
fn multicast_roles_and_addresses() {
    let p = preseed(MULTICAST);
    assert_eq!(
        decide(
            &p,
            &me("micro01", &["192.168.1.5/24", "10.0.0.1/24", "10.0.0.9/24"])
        ),
        Ok(Role::Initiator {
            mode: Mode::Bootstrap,
            address: ip("10.0.0.1")
        })
    );
    assert_eq!(
        decide(&p, &me("micro02", &["10.0.0.2/24"])),
        Ok(Role::Joiner {
            mode: Mode::Bootstrap,
            address: ip("10.0.0.2"),
            initiator: Contact::Multicast {
                name: "micro01".into(),
                from: ip("10.0.0.2")
            },
        })
    );
    assert_eq!(
        decide(&p, &me("micro02", &["192.168.1.5/24"]))
            .unwrap_err()
            .to_string(),
        "no address of this machine is inside lookup_subnet 10.0.0.0/24 (its addresses: 192.168.1.5/24); fix `lookup_subnet` or the network configuration"
    );
}

#[test]
fn unicast_roles_and_addresses() {
    let p = preseed(UNICAST);
    assert_eq!(
        decide(&p, &me("micro01", &["10.0.0.1/24"])),
        Ok(Role::Initiator {
            mode: Mode::Bootstrap,
            address: ip("10.0.0.1")
        })
    );
    assert_eq!(
        decide(&p, &me("micro02", &["10.0.0.2/24"])),
        Ok(Role::Joiner {
            mode: Mode::Bootstrap,
            address: ip("10.0.0.2"),
            initiator: Contact::Address(ip("10.0.0.1"))
        })
    );
    assert_eq!(
        decide(&p, &me("micro02", &["10.0.0.7/24"]))
            .unwrap_err()
            .to_string(),
        "`systems[1].address` is 10.0.0.2, but no interface of this machine has that address (its addresses: 10.0.0.7/24); fix the file or pass --address"
    );
    assert_eq!(
        decide(&p, &me("node-1", &["10.0.0.1/24"]))
            .unwrap_err()
            .to_string(),
        "this machine has initiator_address 10.0.0.1, which `systems` gives to \"micro01\", but its host name is \"node-1\"; fix the host name (or pass --name)"
    );
}

#[test]
fn add_mode() {
    let p = preseed(UNICAST_ADD);
    assert_eq!(
        decide(&p, &me("micro01", &["10.0.0.1/24"])),
        Ok(Role::Initiator {
            mode: Mode::Add,
            address: ip("10.0.0.1")
        })
    );
    assert_eq!(
        decide(&p, &me("micro04", &["10.0.0.4/24"])),
        Ok(Role::Joiner {
            mode: Mode::Add,
            address: ip("10.0.0.4"),
            initiator: Contact::Address(ip("10.0.0.1"))
        })
    );
    let p = preseed(MULTICAST_ADD);
    assert_eq!(
        decide(&p, &me("micro01", &["10.0.0.1/24"])),
        Ok(Role::Initiator {
            mode: Mode::Add,
            address: ip("10.0.0.1")
        })
    );
}

#[test]
fn machines_outside_the_run_are_told_why() {
    for yaml in [MULTICAST, UNICAST, UNICAST_ADD] {
        let err = decide(&preseed(yaml), &me("micro09", &["10.0.0.9/24"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this machine (host name \"micro09\", addresses 10.0.0.9/24) is neither the initiator nor listed in `systems`; check its host name (or pass --name) against the file"
        );
    }
}
