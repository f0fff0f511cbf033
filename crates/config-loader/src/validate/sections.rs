//! The validated sections before the preseed exists, and what the checks
//! that span sections (the passphrase, Ceph, the cross checks) read from
//! them. No preseed is built until every check has passed.

use std::net::IpAddr;

use crate::model::{HostName, Initiator, Lxd, Mode, Ovn, StorageFilters, System};
use crate::raw::RawPreseed;

/// Who the initiator is, as far as the mode needs it (whether it is listed
/// among the systems): its name or its address.
pub(super) enum InitiatorKey {
    /// Multicast: by host name.
    Name(HostName),
    /// Unicast: by address.
    Address(IpAddr),
}

impl InitiatorKey {
    /// The key of a valid initiator.
    pub(super) fn of(initiator: &Initiator) -> Self {
        match initiator {
            Initiator::Name { name, .. } => Self::Name(name.clone()),
            Initiator::Address(address) => Self::Address(*address),
        }
    }

    /// When the initiator is unusable (its errors already recorded),
    /// whatever of its raw name or address parses, so that the later
    /// checks still run; `None` when neither does.
    pub(super) fn from_raw(raw: &RawPreseed) -> Option<Self> {
        if let Some(name) = raw
            .initiator
            .as_deref()
            .and_then(|n| HostName::parse(n).ok())
        {
            return Some(Self::Name(name));
        }
        raw.initiator_address
            .as_deref()
            .and_then(|a| a.trim().parse::<IpAddr>().ok())
            .map(Self::Address)
    }

    /// Bootstrap when the initiator is among `systems`, add otherwise (the
    /// rule of [`crate::Preseed::mode`]).
    pub(super) fn mode(&self, systems: &[System]) -> Mode {
        let listed = systems.iter().any(|s| match self {
            Self::Name(name) => &s.name == name,
            Self::Address(address) => s.address == Some(*address),
        });
        if listed { Mode::Bootstrap } else { Mode::Add }
    }
}

/// The validated sections the cross-section checks read.
pub(super) struct Sections {
    /// Bootstrap or add (see [`InitiatorKey::mode`]).
    pub(super) mode: Mode,
    /// The systems that validated, in file order.
    pub(super) systems: Vec<System>,
    pub(super) ovn: Ovn,
    pub(super) filters: StorageFilters,
    pub(super) lxd: Lxd,
}

impl Sections {
    /// Whether any Ceph disk is requested (the rule of
    /// [`crate::Preseed::uses_ceph`]).
    pub(super) fn uses_ceph(&self) -> bool {
        !self.filters.ceph.is_empty() || self.systems.iter().any(|s| !s.ceph_disks.is_empty())
    }

    /// Whether systems other than the initiator join (so a passphrase is
    /// needed).
    pub(super) fn others_join(&self) -> bool {
        self.systems.len() > 1 || self.mode == Mode::Add
    }
}
