//! Role decision: what this machine does in a run, from the preseed and the
//! machine's own identity (host name and interface addresses). Pure.
//!
//! - Initiator: its name equals `initiator`, or one of its addresses equals
//!   `initiator_address`.
//! - Bootstrap when the initiator is listed in `systems`, add mode otherwise.
//! - The machine's address for the run: its `systems[].address` (unicast),
//!   the first of its addresses inside `lookup_subnet` (multicast, in
//!   interface order as MicroCloud does), or `initiator_address` for an
//!   add-mode initiator.
//!
//! Every mistake is reported with what the machine knows about itself, since
//! the usual cause is a host name that differs from the file.

use config_loader::Mode;
use config_loader::model::{Initiator as InitiatorSpec, Preseed};
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// What a machine knows about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    /// Host name (or `--name`).
    pub name: String,
    /// Interface addresses with their prefixes, in interface order (or the
    /// single `--address`).
    pub addresses: Vec<IpNet>,
}

impl LocalIdentity {
    fn has(&self, address: IpAddr) -> bool {
        self.addresses.iter().any(|a| a.addr() == address)
    }
}

/// This machine's part in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Runs the session and drives the bootstrap.
    Initiator {
        /// Bootstrap or add.
        mode: Mode,
        /// The address it serves the session on.
        address: IpAddr,
    },
    /// Joins the initiator's session.
    Joiner {
        /// Bootstrap or add.
        mode: Mode,
        /// Its own address for the run.
        address: IpAddr,
        /// How to reach the initiator.
        initiator: Contact,
    },
}

/// How a joiner reaches the initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// Directly at this address (unicast).
    Address(IpAddr),
    /// By multicast discovery on the interface holding `from`.
    Multicast {
        /// The initiator's name, to check the reply against.
        name: String,
        /// The local address whose interface sends the query.
        from: IpAddr,
    },
}

/// Why this machine has no role, or cannot have the one the file gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// Neither the initiator nor a listed system.
    #[error(
        "this machine (host name {name:?}, addresses {addresses}) is neither the initiator nor listed in `systems`; \
         check its host name (or pass --name) against the file"
    )]
    NotInvolved {
        /// Its host name.
        name: String,
        /// Its addresses.
        addresses: Addresses,
    },
    /// Multicast mode, but no local address lies in `lookup_subnet`.
    #[error(
        "no address of this machine is inside lookup_subnet {subnet} (its addresses: {addresses}); fix `lookup_subnet` or the network configuration"
    )]
    NoAddressInSubnet {
        /// The lookup subnet.
        subnet: IpNet,
        /// Its addresses.
        addresses: Addresses,
    },
    /// The file gives this machine an address it does not have.
    #[error(
        "`{key}` is {address}, but no interface of this machine has that address (its addresses: {addresses}); fix the file or pass --address"
    )]
    AddressNotLocal {
        /// Key path of the address in the preseed.
        key: String,
        /// The address.
        address: IpAddr,
        /// Its addresses.
        addresses: Addresses,
    },
    /// This machine has the initiator's address but is listed under another name.
    #[error(
        "this machine has initiator_address {address}, which `systems` gives to {listed:?}, but its host name is {name:?}; fix the host name (or pass --name)"
    )]
    NameMismatch {
        /// The initiator address.
        address: IpAddr,
        /// The name the file gives it.
        listed: String,
        /// This machine's name.
        name: String,
    },
}

/// A list of addresses, displayed comma-separated (or "none").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses(pub Vec<IpNet>);

impl fmt::Display for Addresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

/// Decides this machine's role.
pub fn decide(preseed: &Preseed, local: &LocalIdentity) -> Result<Role, RoleError> {
    let mode = preseed.mode();
    let listed = preseed
        .systems
        .iter()
        .position(|s| s.name.as_str() == local.name);
    let addresses = || Addresses(local.addresses.clone());
    match &preseed.initiator {
        InitiatorSpec::Name {
            name,
            lookup_subnet,
        } => {
            let is_initiator = name.as_str() == local.name;
            if !is_initiator && listed.is_none() {
                return Err(RoleError::NotInvolved {
                    name: local.name.clone(),
                    addresses: addresses(),
                });
            }
            let address = local
                .addresses
                .iter()
                .find(|a| lookup_subnet.contains(&a.addr()))
                .map(IpNet::addr)
                .ok_or_else(|| RoleError::NoAddressInSubnet {
                    subnet: *lookup_subnet,
                    addresses: addresses(),
                })?;
            Ok(if is_initiator {
                Role::Initiator { mode, address }
            } else {
                Role::Joiner {
                    mode,
                    address,
                    initiator: Contact::Multicast {
                        name: name.to_string(),
                        from: address,
                    },
                }
            })
        }
        InitiatorSpec::Address(initiator) => {
            if let Some(i) = listed {
                let system = &preseed.systems[i];
                // Validation guarantees every system has an address in unicast mode.
                let Some(address) = system.address else {
                    return Err(RoleError::NotInvolved {
                        name: local.name.clone(),
                        addresses: addresses(),
                    });
                };
                if !local.has(address) {
                    return Err(RoleError::AddressNotLocal {
                        key: format!("systems[{i}].address"),
                        address,
                        addresses: addresses(),
                    });
                }
                return Ok(if address == *initiator {
                    Role::Initiator { mode, address }
                } else {
                    Role::Joiner {
                        mode,
                        address,
                        initiator: Contact::Address(*initiator),
                    }
                });
            }
            if local.has(*initiator) {
                if let Some(other) = preseed
                    .systems
                    .iter()
                    .find(|s| s.address == Some(*initiator))
                {
                    return Err(RoleError::NameMismatch {
                        address: *initiator,
                        listed: other.name.to_string(),
                        name: local.name.clone(),
                    });
                }
                return Ok(Role::Initiator {
                    mode,
                    address: *initiator,
                });
            }
            Err(RoleError::NotInvolved {
                name: local.name.clone(),
                addresses: addresses(),
            })
        }
    }
}
