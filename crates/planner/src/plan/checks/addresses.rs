//! Checks of the systems' addresses against their inventories.

use config_loader::model::Initiator;
use config_loader::{KeyPath, Preseed};

use crate::plan::build::{Member, Notes};

pub(in crate::plan) fn check_addresses(preseed: &Preseed, members: &[Member<'_>], n: &mut Notes) {
    for m in members {
        let addr = m.inv.address;
        match (&preseed.initiator, m.sys.address) {
            (_, Some(given)) if given != addr => n.error(
                Some(m.name()),
                m.path().key("address"),
                format!(
                    "address {given} of `{}` differs from the address its inventory reports ({addr})",
                    m.name()
                ),
                "use the machine's cluster address, or re-collect its inventory",
            ),
            (Initiator::Name { lookup_subnet, .. }, None) if !lookup_subnet.contains(&addr) => n
                .error(
                    Some(m.name()),
                    KeyPath::root().key("lookup_subnet"),
                    format!(
                        "the address of `{}` ({addr}) is not in lookup_subnet {lookup_subnet}",
                        m.name()
                    ),
                    "set lookup_subnet to the subnet the machines share",
                ),
            _ => {}
        }
        if !m
            .inv
            .interfaces
            .iter()
            .any(|i| i.addresses.iter().any(|a| a.addr() == addr))
        {
            n.error(
                Some(m.name()),
                m.path(),
                format!(
                    "the address of `{}` ({addr}) is not configured on any of its interfaces",
                    m.name()
                ),
                "configure the address on an interface, or re-collect the inventory",
            );
        }
    }
}
