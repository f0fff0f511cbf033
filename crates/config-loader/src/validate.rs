//! Raw types → domain types, collecting every problem.
//!
//! The rules are MicroCloud's (`validate()` in its `preseed.go`), plus the
//! checks it makes only after every joiner has joined (OVN range, gateways,
//! DNS servers, Ceph networks, disk filters) or never (duplicate addresses
//! and underlay IPs, a disk used twice, filter fields, timeouts). A problem in
//! one key never hides a problem in another: each check records what it
//! found and the conversion carries on with what it could make sense of.

use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::Environment;
use crate::diagnostic::Diagnostic;
use crate::filter::DiskFilter;
use crate::model::{
    Ceph, DEFAULT_LOOKUP_TIMEOUT, DEFAULT_SESSION_TIMEOUT, DirectDisk, DiskPath, FilterRule,
    HostName, Initiator, InterfaceName, LocalPoolDriver, Lxd, MAX_TIMEOUT, Preseed, StepClass,
    StorageFilters, System, Timeouts, parse_step_timeout,
};
use crate::node::{KeyPath, Loc, Node};
use crate::raw::{
    RawCeph, RawDiskFilter, RawLxd, RawPreseed, RawStorageFilters, RawSystem, RawTimeouts,
};

/// Name of the environment variable that may carry the session passphrase.
pub const PASSPHRASE_ENV: &str = "MICROCLOUD_SESSION_PASSPHRASE";

mod ovn;
mod passphrase;
mod sections;
use ovn::ovn;
use passphrase::passphrase;
use sections::{InitiatorKey, Sections};

struct Checker<'a> {
    tree: &'a Node,
    source: &'a str,
    out: Vec<Diagnostic>,
}

impl Checker<'_> {
    /// Records `d`, locating it from its key path unless it already has a place.
    fn push(&mut self, mut d: Diagnostic) {
        if d.loc.is_none() {
            let loc = self.tree.locate(&d.path);
            d.width = d.width.or_else(|| self.width_of(loc));
            d.loc = Some(loc);
        }
        self.out.push(d);
    }

    fn error(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.push(Diagnostic::error(path.clone(), message));
    }

    fn error_help(&mut self, path: &KeyPath, message: impl Into<String>, help: impl Into<String>) {
        self.push(Diagnostic::error(path.clone(), message).with_help(help));
    }

    fn warning_help(
        &mut self,
        path: &KeyPath,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Diagnostic::warning(path.clone(), message).with_help(help));
    }

    /// Underline width: the node's text up to the end of its first line.
    fn width_of(&self, loc: Loc) -> Option<usize> {
        let text = loc.slice(self.source)?;
        let first = text.lines().next().unwrap_or("");
        Some(first.trim_end().chars().count().max(1))
    }

    fn parse<T>(
        &mut self,
        path: &KeyPath,
        text: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(text) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }

    fn ip(&mut self, path: &KeyPath, text: &str) -> Option<IpAddr> {
        self.parse(path, text.trim(), |t| {
            t.parse::<IpAddr>()
                .map_err(|_| format!("{t:?} is not an IP address"))
        })
    }
}

/// Converts a structurally valid raw preseed into a [`Preseed`], or returns
/// `None` when any error was found. All diagnostics go to `out`.
pub(crate) fn validate(
    raw: &RawPreseed,
    tree: &Node,
    source: &str,
    env: &dyn Environment,
    out: &mut Vec<Diagnostic>,
) -> Option<Preseed> {
    let mut c = Checker {
        tree,
        source,
        out: Vec::new(),
    };
    let root = KeyPath::root();

    let initiator = initiator(&mut c, raw);
    let unicast = raw.initiator_address.is_some() && raw.initiator.is_none();
    let multicast = raw.initiator.is_some();
    let lookup_timeout = timeout(
        &mut c,
        &root.key("lookup_timeout"),
        raw.lookup_timeout,
        DEFAULT_LOOKUP_TIMEOUT,
    );
    let session_timeout = timeout(
        &mut c,
        &root.key("session_timeout"),
        raw.session_timeout,
        DEFAULT_SESSION_TIMEOUT,
    );
    if let (Some(lookup), Some(session)) = (lookup_timeout, session_timeout)
        && lookup > session
    {
        c.warning_help(
            &root.key("lookup_timeout"),
            format!(
                "lookup_timeout ({} s) is longer than session_timeout ({} s)",
                lookup.as_secs(),
                session.as_secs()
            ),
            "the session closes first; make lookup_timeout at most session_timeout",
        );
    }

    let raw_systems = raw.systems.as_deref().unwrap_or_default();
    if raw.systems.is_some() && raw_systems.is_empty() {
        c.error_help(
            &root.key("systems"),
            "no systems are listed",
            "list at least the initiator under `systems`",
        );
    }
    let indexed = systems(&mut c, raw_systems, unicast, multicast);
    let file_index: Vec<usize> = indexed.iter().map(|(i, _)| *i).collect();
    let systems: Vec<System> = indexed.into_iter().map(|(_, s)| s).collect();
    let ovn = ovn(&mut c, raw.ovn.as_ref());
    let filters = filters(&mut c, raw.storage.as_ref());
    let lxd = lxd(&mut c, raw.lxd.as_ref());
    let timeouts = step_timeouts(&mut c, raw.timeouts.as_ref());

    let key = match &initiator {
        Some(initiator) => Some(InitiatorKey::of(initiator)),
        None => InitiatorKey::from_raw(raw),
    };
    let Some(key) = key else {
        out.append(&mut c.out);
        return None;
    };
    let sections = Sections {
        mode: key.mode(&systems),
        systems,
        ovn,
        filters,
        lxd,
    };
    let passphrase = passphrase(&mut c, raw, env, &sections);
    let ceph = ceph(&mut c, raw.ceph.as_ref(), &sections);
    cross_checks(&mut c, raw, &sections, &file_index);

    let failed = c.out.iter().any(Diagnostic::is_error);
    out.append(&mut c.out);
    if failed || raw_systems.len() != sections.systems.len() {
        return None;
    }
    let Sections {
        systems,
        ovn,
        filters,
        lxd,
        ..
    } = sections;
    Some(Preseed {
        initiator: initiator?,
        lookup_timeout: lookup_timeout.unwrap_or(DEFAULT_LOOKUP_TIMEOUT),
        session_timeout: session_timeout.unwrap_or(DEFAULT_SESSION_TIMEOUT),
        passphrase,
        systems,
        ovn,
        ceph,
        filters,
        lxd,
        timeouts,
    })
}

fn initiator(c: &mut Checker<'_>, raw: &RawPreseed) -> Option<Initiator> {
    let root = KeyPath::root();
    match (&raw.initiator, &raw.initiator_address) {
        (None, None) => {
            c.error_help(
                &root,
                "the initiator is not set",
                "set `initiator` (its host name, found by multicast on `lookup_subnet`) or `initiator_address` (unicast)",
            );
            None
        }
        (Some(_), Some(_)) => {
            c.error_help(
                &root.key("initiator_address"),
                "`initiator` and `initiator_address` cannot both be set",
                "use `initiator` with `lookup_subnet` for multicast discovery, or `initiator_address` with an `address` for every system",
            );
            None
        }
        (Some(name), None) => {
            let name = c.parse(&root.key("initiator"), name, HostName::parse);
            let subnet = match &raw.lookup_subnet {
                None => {
                    c.error_help(
                        &root.key("initiator"),
                        "`initiator` needs `lookup_subnet`",
                        "set `lookup_subnet` to the subnet the machines share, e.g. 10.0.0.0/24, or use `initiator_address` instead",
                    );
                    None
                }
                Some(text) => c.parse(&root.key("lookup_subnet"), text.trim(), |t| {
                    t.parse::<IpNet>().map_err(|_| {
                        format!("{t:?} is not a subnet in CIDR form (e.g. 10.0.0.0/24)")
                    })
                }),
            };
            Some(Initiator::Name {
                name: name?,
                lookup_subnet: subnet?,
            })
        }
        (None, Some(address)) => {
            if raw.lookup_subnet.is_some() {
                c.error_help(
                    &root.key("lookup_subnet"),
                    "`lookup_subnet` cannot be used with `initiator_address`",
                    "remove `lookup_subnet`: with `initiator_address` every system is reached at its `address`",
                );
            }
            c.ip(&root.key("initiator_address"), address)
                .map(Initiator::Address)
        }
    }
}

fn timeout(
    c: &mut Checker<'_>,
    path: &KeyPath,
    value: Option<i64>,
    default: Duration,
) -> Option<Duration> {
    let max = MAX_TIMEOUT.as_secs();
    match value {
        None => Some(default),
        Some(0) => {
            c.warning_help(
                path,
                format!(
                    "0 means the default ({} s), as in MicroCloud",
                    default.as_secs()
                ),
                "remove the key to use the default",
            );
            Some(default)
        }
        Some(v) if v < 0 || v.unsigned_abs() > max => {
            c.error_help(
                path,
                format!("{v} is out of range: the timeout must be between 1 and {max} seconds"),
                format!("omit the key for the default of {} s", default.as_secs()),
            );
            None
        }
        Some(v) => Some(Duration::from_secs(v.unsigned_abs())),
    }
}

/// First path at which each value was seen, for duplicate reports.
struct Seen<T: Ord>(BTreeMap<T, KeyPath>);

impl<T: Ord> Seen<T> {
    fn new() -> Self {
        Seen(BTreeMap::new())
    }
    /// Records `value` at `path`; returns the earlier path if it was seen before.
    fn insert(&mut self, value: T, path: &KeyPath) -> Option<KeyPath> {
        match self.0.get(&value) {
            Some(first) => Some(first.clone()),
            None => {
                self.0.insert(value, path.clone());
                None
            }
        }
    }
}

/// Converts the systems; each comes with its index in the file, since a
/// system whose name is unusable is left out.
fn systems(
    c: &mut Checker<'_>,
    raw: &[RawSystem],
    unicast: bool,
    multicast: bool,
) -> Vec<(usize, System)> {
    let mut names = Seen::new();
    let mut addresses = Seen::new();
    let mut underlays = Seen::new();
    let mut systems = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let path = KeyPath::root().key("systems").index(i);
        let name = s
            .name
            .as_deref()
            .and_then(|n| c.parse(&path.key("name"), n, HostName::parse));
        if let Some(name) = &name
            && let Some(first) = names.insert(name.clone(), &path.key("name"))
        {
            c.error_help(
                &path.key("name"),
                format!("system name `{name}` is used twice"),
                format!("it is already used at `{first}`; every system needs its own name"),
            );
        }
        let address = match (&s.address, unicast, multicast) {
            (Some(_), _, true) => {
                c.error_help(
                    &path.key("address"),
                    "a system `address` cannot be used with `initiator` and `lookup_subnet`",
                    "in multicast mode each machine finds its address in `lookup_subnet`; remove `address`, or switch to `initiator_address`",
                );
                None
            }
            (Some(text), _, false) => {
                let addr = c.ip(&path.key("address"), text);
                if let Some(a) = addr
                    && let Some(first) = addresses.insert(a, &path.key("address"))
                {
                    c.error_help(
                        &path.key("address"),
                        format!("address {a} is used twice"),
                        format!(
                            "it is already used at `{first}`; every system needs its own address"
                        ),
                    );
                }
                addr
            }
            (None, true, _) => {
                c.error_help(
                    &path,
                    "this system has no `address`",
                    "with `initiator_address` every system needs its `address`",
                );
                None
            }
            (None, _, _) => None,
        };
        let uplink = s
            .ovn_uplink_interface
            .as_deref()
            .and_then(|t| c.parse(&path.key("ovn_uplink_interface"), t, InterfaceName::parse));
        let underlay = s
            .ovn_underlay_ip
            .as_deref()
            .and_then(|t| c.ip(&path.key("ovn_underlay_ip"), t));
        if let Some(u) = underlay
            && let Some(first) = underlays.insert(u, &path.key("ovn_underlay_ip"))
        {
            c.error_help(
                &path.key("ovn_underlay_ip"),
                format!("underlay IP {u} is used twice"),
                format!("it is already used at `{first}`; every system needs its own underlay IP"),
            );
        }
        let (local_disk, ceph_disks) = system_disks(c, s, &path);
        if let Some(name) = name {
            systems.push((
                i,
                System {
                    name,
                    address,
                    ovn_uplink_interface: uplink,
                    ovn_underlay_ip: underlay,
                    local_disk,
                    ceph_disks,
                },
            ));
        }
    }
    // A system's underlay IP may equal its own address, but not another's.
    for (i, s) in &systems {
        if let Some(u) = s.ovn_underlay_ip
            && let Some((j, other)) = systems.iter().find(|(j, o)| o.address == Some(u) && j != i)
        {
            c.error_help(
                &KeyPath::root()
                    .key("systems")
                    .index(*i)
                    .key("ovn_underlay_ip"),
                format!(
                    "underlay IP {u} is the address of another system, `{}` (systems[{j}])",
                    other.name
                ),
                "use an address of this system",
            );
        }
    }
    systems
}

fn system_disks(
    c: &mut Checker<'_>,
    s: &RawSystem,
    path: &KeyPath,
) -> (Option<DirectDisk>, Vec<DirectDisk>) {
    let Some(storage) = &s.storage else {
        return (None, Vec::new());
    };
    let storage_path = path.key("storage");
    let mut used: Seen<DiskPath> = Seen::new();
    let mut disk = |c: &mut Checker<'_>, p: &KeyPath, raw: &crate::raw::RawDirectDisk| {
        let text = raw.path.as_deref()?;
        let disk_path = c.parse(&p.key("path"), text.trim(), DiskPath::parse)?;
        if let Some(first) = used.insert(disk_path.clone(), &p.key("path")) {
            c.error_help(
                &p.key("path"),
                format!("disk {disk_path} is used twice on this system"),
                format!(
                    "it is already used at `{first}`; a disk can back one pool or one OSD only"
                ),
            );
        }
        Some(DirectDisk {
            path: disk_path,
            wipe: raw.wipe.unwrap_or(false),
            encrypt: raw.encrypt.unwrap_or(false),
        })
    };
    let local = storage.local.as_ref().and_then(|raw| {
        let p = storage_path.key("local");
        if raw.encrypt == Some(true) {
            c.warning_help(
                &p.key("encrypt"),
                "`encrypt` has no effect on the local disk",
                "only Ceph disks can be encrypted; remove the key",
            );
        }
        disk(c, &p, raw)
    });
    let ceph = storage
        .ceph
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(j, raw)| disk(c, &storage_path.key("ceph").index(j), raw))
        .collect();
    (local, ceph)
}

fn ceph(c: &mut Checker<'_>, raw: Option<&RawCeph>, sections: &Sections) -> Ceph {
    let Some(raw) = raw else {
        return Ceph::default();
    };
    let path = KeyPath::root().key("ceph");
    let has_disks = sections.uses_ceph();
    let network = |c: &mut Checker<'_>, key: &str, text: &Option<String>| -> Option<IpNet> {
        let text = text.as_deref()?.trim();
        let p = path.key(key);
        let net = match text.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => {
                c.error_help(
                    &p,
                    format!("{text:?} is not a network in CIDR form"),
                    "e.g. 10.20.0.0/24",
                );
                return None;
            }
        };
        if net.addr() != net.network() {
            c.error_help(
                &p,
                format!("{net} is not a network address"),
                format!("did you mean {}?", net.trunc()),
            );
            return None;
        }
        if net.max_prefix_len() - net.prefix_len() < 1 {
            c.error(&p, format!("{net} has no room for more than one address"));
            return None;
        }
        if !has_disks {
            c.error_help(
                &p,
                format!("`ceph.{key}` is set but no Ceph disks are requested"),
                "add Ceph disks (systems[].storage.ceph or storage.ceph filters), or remove the key",
            );
        }
        Some(net)
    };
    let internal_network = network(c, "internal_network", &raw.internal_network);
    let public_network = network(c, "public_network", &raw.public_network);
    let cephfs = raw.cephfs.unwrap_or(false);
    if cephfs && !has_disks {
        c.warning_help(
            &path.key("cephfs"),
            "`cephfs` has no effect without Ceph disks",
            "add Ceph disks, or remove the key",
        );
    }
    Ceph {
        cephfs,
        internal_network,
        public_network,
    }
}

/// The `lxd:` section (a microcloud extension).
fn lxd(c: &mut Checker<'_>, raw: Option<&RawLxd>) -> Lxd {
    let Some(text) = raw.and_then(|r| r.local_pool_driver.as_deref()) else {
        return Lxd::default();
    };
    let text = text.trim();
    if let Some(local_pool_driver) = LocalPoolDriver::from_name(text) {
        return Lxd { local_pool_driver };
    }
    let help = match LocalPoolDriver::from_name(&text.to_ascii_lowercase()) {
        Some(hint) => format!("did you mean `{hint}`? Driver names are lowercase"),
        None => {
            let names: Vec<&str> = LocalPoolDriver::ALL.iter().map(|d| d.name()).collect();
            format!("use one of: {}", names.join(", "))
        }
    };
    c.error_help(
        &KeyPath::root().key("lxd").key("local_pool_driver"),
        format!("{text:?} is not a local pool driver"),
        help,
    );
    Lxd::default()
}

/// The `timeouts:` extension: each key a step class, each value a duration
/// within bounds.
fn step_timeouts(c: &mut Checker<'_>, raw: Option<&RawTimeouts>) -> Timeouts {
    let mut timeouts = Timeouts::default();
    let Some(raw) = raw else {
        return timeouts;
    };
    for (key, text) in raw.entries() {
        let (Some(text), Some(class)) = (text, StepClass::from_name(key)) else {
            continue;
        };
        let path = KeyPath::root().key("timeouts").key(key);
        match parse_step_timeout(text) {
            Ok(d) => timeouts.set(class, d),
            Err(message) => c.error_help(
                &path,
                message,
                format!(
                    "omit the key for the default of {}",
                    crate::model::format_duration(class.default_timeout())
                ),
            ),
        }
    }
    timeouts
}

/// Which of the `storage` lists (and of a system's disks) a filter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DiskKind {
    /// `storage.local`: the disk of the `local` pool.
    Local,
    /// `storage.ceph`: Ceph OSDs.
    Ceph,
}

impl DiskKind {
    /// Its key under `storage` (and in a system's entry).
    fn key(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Ceph => "ceph",
        }
    }
}

fn filters(c: &mut Checker<'_>, raw: Option<&RawStorageFilters>) -> StorageFilters {
    let Some(raw) = raw else {
        return StorageFilters::default();
    };
    let path = KeyPath::root().key("storage");
    let rules = |c: &mut Checker<'_>,
                 kind: DiskKind,
                 list: &Option<Vec<RawDiskFilter>>|
     -> Vec<FilterRule> {
        let mut seen = Seen::new();
        let mut out = Vec::new();
        for (i, f) in list.iter().flatten().enumerate() {
            let p = path.key(kind.key()).index(i);
            if let Some(rule) = filter_rule(c, &p, kind, f) {
                if let Some(first) = seen.insert(rule.find.source().trim().to_owned(), &p) {
                    c.warning_help(
                        &p.key("find"),
                        "this filter repeats an earlier one",
                        format!("`{first}` has the same expression; disks it takes are not offered again, so this one matches nothing"),
                    );
                }
                out.push(rule);
            }
        }
        out
    };
    let local = rules(c, DiskKind::Local, &raw.local);
    let ceph = rules(c, DiskKind::Ceph, &raw.ceph);
    StorageFilters { local, ceph }
}

fn filter_rule(
    c: &mut Checker<'_>,
    path: &KeyPath,
    kind: DiskKind,
    raw: &RawDiskFilter,
) -> Option<FilterRule> {
    let find = raw.find.as_deref().and_then(|text| {
        let p = path.key("find");
        if text.trim().is_empty() {
            c.error_help(
                &p,
                "the filter is empty",
                "write an expression such as `type == nvme && size > 100GiB`",
            );
            return None;
        }
        match DiskFilter::parse(text) {
            Ok(filter) => {
                for w in filter.warnings() {
                    let d = Diagnostic::warning(p.clone(), w.message);
                    let d = inside_value(c, &p, d, w.offset, w.len);
                    c.push(match w.help {
                        Some(h) => d.with_help(h),
                        None => d,
                    });
                }
                Some(filter)
            }
            Err(errors) => {
                for e in errors {
                    let d = Diagnostic::error(p.clone(), e.message);
                    let d = inside_value(c, &p, d, e.offset, e.len);
                    c.push(match e.help {
                        Some(h) => d.with_help(h),
                        None => d,
                    });
                }
                None
            }
        }
    });
    let bound = |c: &mut Checker<'_>, key: &str, v: Option<i64>| -> Option<u32> {
        let v = v?;
        match u32::try_from(v) {
            Ok(v) => Some(v),
            Err(_) => {
                c.error(
                    &path.key(key),
                    format!("`{key}` must be between 0 and {}, not {v}", u32::MAX),
                );
                None
            }
        }
    };
    let find_min = match bound(c, "find_min", raw.find_min) {
        None => 1,
        Some(0) if kind == DiskKind::Ceph => {
            c.error_help(
                &path.key("find_min"),
                "`find_min` must be at least 1 for Ceph filters",
                "remove the key for the default of 1",
            );
            1
        }
        Some(0) => {
            c.warning_help(
                &path.key("find_min"),
                "`find_min: 0` is treated as 1",
                "remove the key for the default of 1",
            );
            1
        }
        Some(n) => n,
    };
    let find_max = match bound(c, "find_max", raw.find_max) {
        None | Some(0) => None,
        Some(n) if n < find_min => {
            c.error_help(
                &path.key("find_max"),
                format!("`find_max` ({n}) is smaller than `find_min` ({find_min})"),
                "make find_max at least find_min, or 0 for no limit",
            );
            None
        }
        Some(n) => Some(n),
    };
    if kind == DiskKind::Local && raw.encrypt == Some(true) {
        c.warning_help(
            &path.key("encrypt"),
            "`encrypt` has no effect on local disks",
            "only Ceph disks can be encrypted",
        );
    }
    Some(FilterRule {
        find: find?,
        find_min,
        find_max,
        wipe: raw.wipe.unwrap_or(false),
        encrypt: raw.encrypt.unwrap_or(false),
    })
}

/// Points a diagnostic at characters inside a string value (a filter
/// expression, one DNS server) when the value is written on one line, plainly
/// or in simple quotes; otherwise at the value, saying which character.
fn inside_value(
    c: &Checker<'_>,
    path: &KeyPath,
    d: Diagnostic,
    offset: usize,
    len: usize,
) -> Diagnostic {
    let Some(node) = c.tree.get(path) else {
        return d;
    };
    let raw = node.loc.slice(c.source).unwrap_or("");
    let expr = match &node.kind {
        crate::node::NodeKind::Str(s) => s.as_str(),
        _ => raw,
    };
    let inner = if raw == expr && !raw.contains('\n') {
        Some(0)
    } else if raw.len() >= 2
        && (raw.starts_with('"') && raw.ends_with('"')
            || raw.starts_with('\'') && raw.ends_with('\''))
        && raw.get(1..raw.len() - 1) == Some(expr)
        && !raw.contains('\n')
    {
        Some(1)
    } else {
        None
    };
    match inner {
        Some(skip) => {
            let mut loc = node.loc;
            let shift = u32::try_from(skip + offset).unwrap_or(0);
            loc.column = loc.column.saturating_add(shift);
            loc.byte_offset = None;
            d.at(loc).with_width(len.max(1))
        }
        None => {
            let Diagnostic { message, .. } = &d;
            let message = format!("{message} (at character {} of the value)", offset + 1);
            Diagnostic { message, ..d }.at(node.loc)
        }
    }
}

/// Checks that need several sections at once.
fn cross_checks(c: &mut Checker<'_>, raw: &RawPreseed, p: &Sections, file_index: &[usize]) {
    let systems = KeyPath::root().key("systems");
    // Path of the n-th converted system, by its index in the file.
    let system_path = |n: usize| systems.index(file_index.get(n).copied().unwrap_or(n));
    let mode = p.mode;
    let raw_gateway = raw
        .ovn
        .as_ref()
        .is_some_and(|o| o.ipv4_gateway.is_some() || o.ipv6_gateway.is_some());

    // All-or-none keys.
    let all_or_none =
        |c: &mut Checker<'_>, key: &str, has: &dyn Fn(&System) -> bool, what: &str| {
            let with: Vec<usize> = (0..p.systems.len())
                .filter(|i| has(&p.systems[*i]))
                .collect();
            if with.is_empty() || with.len() == p.systems.len() {
                return;
            }
            let example = system_path(with[0]);
            for i in (0..p.systems.len()).filter(|i| !with.contains(i)) {
                c.error_help(
                    &system_path(i),
                    format!(
                        "system `{}` has no `{key}`, but `{example}` has one",
                        p.systems[i].name
                    ),
                    format!("set {what} on every system or on none"),
                );
            }
        };
    all_or_none(
        c,
        "ovn_uplink_interface",
        &|s| s.ovn_uplink_interface.is_some(),
        "`ovn_uplink_interface`",
    );
    all_or_none(
        c,
        "ovn_underlay_ip",
        &|s| s.ovn_underlay_ip.is_some(),
        "`ovn_underlay_ip`",
    );
    if p.filters.local.is_empty() {
        all_or_none(
            c,
            "storage.local",
            &|s| s.local_disk.is_some(),
            "`storage.local` (or select local disks with a `storage.local` filter)",
        );
    }

    // An uplink interface without a gateway cannot form an uplink network.
    if mode == crate::Mode::Bootstrap && !raw_gateway {
        for (i, s) in p.systems.iter().enumerate() {
            if s.ovn_uplink_interface.is_some() {
                c.error_help(
                    &system_path(i).key("ovn_uplink_interface"),
                    "an uplink interface is set but the uplink network has no gateway",
                    "set `ovn.ipv4_gateway` (with `ovn.ipv4_range`) or `ovn.ipv6_gateway`",
                );
            }
        }
    }

    // The OVN range must not hand out addresses that machines already use.
    if let Some(v4) = &p.ovn.ipv4 {
        for (i, s) in p.systems.iter().enumerate() {
            for (key, addr) in [
                ("address", s.address),
                ("ovn_underlay_ip", s.ovn_underlay_ip),
            ] {
                if let Some(IpAddr::V4(a)) = addr
                    && v4.range.contains(a)
                {
                    c.error_help(
                        &KeyPath::root().key("ovn").key("ipv4_range"),
                        format!(
                            "range {} contains {a}, the `{key}` of system `{}`",
                            v4.range, s.name
                        ),
                        format!(
                            "leave {a} out of the range (it is used at `{}`)",
                            system_path(i).key(key)
                        ),
                    );
                }
            }
        }
    }

    // The `dir` driver keeps the `local` pool in a directory: no disk.
    if !p.lxd.local_pool_driver.uses_disk() {
        let help = "remove the local disks, or choose a driver that uses a disk (zfs, btrfs, lvm)";
        for (i, s) in p.systems.iter().enumerate() {
            if s.local_disk.is_some() {
                c.error_help(
                    &system_path(i).key("storage").key("local"),
                    "the `dir` local pool driver takes no disk",
                    help,
                );
            }
        }
        if !p.filters.local.is_empty() {
            c.error_help(
                &KeyPath::root().key("storage").key("local"),
                "the `dir` local pool driver takes no disk, so local disk filters cannot be used",
                help,
            );
        }
    }

    // Filters cannot select anything when every system names its disks.
    let everyone =
        |has: &dyn Fn(&System) -> bool| !p.systems.is_empty() && p.systems.iter().all(has);
    for (kind, rules, all_direct) in [
        (
            DiskKind::Ceph,
            &p.filters.ceph,
            everyone(&|s| !s.ceph_disks.is_empty()),
        ),
        (
            DiskKind::Local,
            &p.filters.local,
            everyone(&|s| s.local_disk.is_some()),
        ),
    ] {
        if !rules.is_empty() && all_direct {
            let kind = kind.key();
            c.error_help(
                &KeyPath::root().key("storage").key(kind),
                format!("`storage.{kind}` filters cannot be used: every system already lists its {kind} disks"),
                format!("remove the filters, or remove `storage.{kind}` from the systems that should use them"),
            );
        }
    }

    // Fault tolerance: decidable here only when no filter can add systems.
    let ceph_filters_written = raw
        .storage
        .as_ref()
        .is_some_and(|s| s.ceph.as_ref().is_some_and(|l| !l.is_empty()));
    if mode == crate::Mode::Bootstrap && !ceph_filters_written {
        let supplying = p
            .systems
            .iter()
            .filter(|s| !s.ceph_disks.is_empty())
            .count();
        if (1..3).contains(&supplying) {
            c.warning_help(
                &systems,
                format!("only {supplying} of the systems supply Ceph disks; at least 3 are recommended for fault tolerance"),
                "give Ceph disks to at least three systems",
            );
        }
    }
}
