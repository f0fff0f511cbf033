//! Disk selection: direct disks and filters, with every exclusion recorded.
//!
//! Per system (by name):
//!
//! 1. Direct disks (`systems[].storage.local` / `.ceph`) are taken as given
//!    and reserved, so no filter of the other kind can offer them.
//! 2. Local filters, for a system without a direct local disk (and a local
//!    driver that uses a disk): filters are tried in file order; the first
//!    one matching any candidate gives the system its **first** match (in
//!    LXD's order) and the search stops (MicroCloud has no `break` and could
//!    define `local` twice). `find_min`/`find_max` count *systems*.
//! 3. Ceph filters, for a system without direct Ceph disks: in file order,
//!    each takes **all** its matches among the candidates left by the
//!    previous filters. `find_min`/`find_max` count *disks*, per filter
//!    (MicroCloud keys its counters by the `find` text; we key by position).
//!
//! Candidates exclude disks with partitions, CD-ROMs (`type == cdrom`),
//! read-only, mounted and otherwise used disks (`used_by`, an OSD, an LXD
//! pool source), and the disk selected for the other kind: MicroCloud only
//! skips partitioned disks and may hand one disk to both ZFS and Ceph.
//! LXD without `resources_disk_mounted` (5.0.x) does not report mounts, so
//! on such a system every disk a filter chooses gets a warning.
//! Local filters run before Ceph filters so that the single local disk is
//! the one MicroCloud would pick and Ceph gets the rest. A disk that is
//! already what the plan wants (an OSD of this member for Ceph, the source
//! of the `local` pool for local) stays a candidate, so re-runs select the
//! same disks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use config_loader::KeyPath;
use config_loader::filter::Disk;
use config_loader::model::{FilterRule, LocalPoolDriver, StorageFilters, System};

use super::PlanError;
use crate::inventory::{InventoryDisk, Osd, SystemInventory};

/// How disks were selected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskSelection {
    /// Per system, by name.
    pub systems: Vec<SystemDisks>,
    /// Per filter, local filters first, in file order.
    pub filters: Vec<FilterOutcome>,
}

/// The disks of one system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemDisks {
    /// System name.
    pub system: String,
    /// Disk of the `local` pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SelectedDisk>,
    /// Ceph OSD disks.
    pub ceph: Vec<SelectedDisk>,
    /// Disks a filter could not be offered, and why.
    pub excluded: Vec<ExcludedDisk>,
}

/// A selected disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedDisk {
    /// Path handed to LXD or MicroCeph.
    pub path: String,
    /// The inventory disk (`id`), when the path names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    /// Where the choice came from.
    pub source: DiskSource,
    /// Wipe before use.
    pub wipe: bool,
    /// Encrypt (Ceph only).
    pub encrypt: bool,
    /// What already uses it as planned (e.g. `osd.3`), on re-runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub already: Option<String>,
}

/// Where a selected disk came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum DiskSource {
    /// Named in the system's `storage` section.
    Direct,
    /// Matched by `storage.<kind>[index]`.
    Filter {
        /// The filter's key path, e.g. `storage.ceph[1]`.
        filter: String,
    },
}

/// A disk that was not offered to the filters of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedDisk {
    /// `local` or `ceph`.
    pub kind: String,
    /// The disk's `id`.
    pub disk: String,
    /// Why.
    pub reason: String,
}

/// What one filter matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterOutcome {
    /// Key path, e.g. `storage.local[0]`.
    pub filter: String,
    /// The expression as written.
    pub find: String,
    /// What is counted: `systems` (local) or `disks` (ceph).
    pub counts: String,
    /// Number counted.
    pub count: u32,
    /// Lower bound.
    pub find_min: u32,
    /// Upper bound, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find_max: Option<u32>,
    /// What it took, per system it applied to (by name).
    pub matched: Vec<FilterMatch>,
}

/// What a filter took on one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterMatch {
    /// System name.
    pub system: String,
    /// Disk ids taken.
    pub disks: Vec<String>,
    /// Disks it matched but could not take, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// One system's input to the selection.
pub(crate) struct DiskInput<'a> {
    /// The preseed entry.
    pub system: &'a System,
    /// Its inventory.
    pub inv: &'a SystemInventory,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    Ceph,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Ceph => "ceph",
        }
    }
}

/// Why `disk` cannot be offered to filters of `kind`; `Ok(Some(..))` when
/// it already serves that kind as planned; `Ok(None)` for a free candidate.
fn fitness(disk: &InventoryDisk, kind: Kind) -> Result<Option<String>, String> {
    match (kind, disk.ceph_osd, disk.lxd_pool.as_deref()) {
        (Kind::Ceph, Some(osd), _) => return Ok(Some(format!("osd.{osd}"))),
        (Kind::Local, _, Some("local")) => return Ok(Some("pool local".into())),
        (Kind::Local, Some(osd), _) => return Err(format!("is Ceph OSD osd.{osd}")),
        (_, _, Some(pool)) => return Err(format!("is the source of LXD storage pool {pool}")),
        _ => {}
    }
    if disk.partitions > 0 {
        let s = if disk.partitions == 1 { "" } else { "s" };
        return Err(format!("has {} partition{s}", disk.partitions));
    }
    if disk.kind.eq_ignore_ascii_case("cdrom") {
        return Err("is a CD-ROM".into());
    }
    if disk.read_only {
        return Err("is read-only".into());
    }
    if disk.mounted {
        return Err("is mounted".into());
    }
    if !disk.used_by.is_empty() {
        return Err(format!("is used by {}", disk.used_by));
    }
    Ok(None)
}

/// LXD before `resources_disk_mounted` (5.0.x) does not say whether a disk
/// is mounted, so a filter may pick one in use: on a real LXD 5.0.2 a
/// `size > 100GiB` filter chose the disk holding the root file system.
/// Says so for every disk a filter newly chose on such a system.
fn warn_mount_state_unknown(input: &DiskInput<'_>, out: &SystemDisks, warnings: &mut Vec<String>) {
    let Some(lxd) = input.inv.services.lxd.as_ref() else {
        return;
    };
    if lxd.has_extension("resources_disk_mounted") {
        return;
    }
    let chosen: Vec<String> = out
        .local
        .iter()
        .chain(&out.ceph)
        .filter(|d| d.already.is_none())
        .filter_map(|d| match &d.source {
            DiskSource::Filter { filter } => Some(format!(
                "{} ({filter})",
                d.disk.as_deref().unwrap_or(&d.path)
            )),
            DiskSource::Direct => None,
        })
        .collect();
    if !chosen.is_empty() {
        warnings.push(format!(
            "LXD {} on {} does not report whether a disk is mounted (it lacks the API extension \
             resources_disk_mounted), so the filters may have chosen a disk in use: {}; \
             check these disks, or name the disks by path",
            lxd.version,
            out.system,
            chosen.join(", ")
        ));
    }
}

/// Selects the disks of every system; records filter bound violations and
/// the bootstrap "local disk on every machine" rule in `errors`.
pub(crate) fn select(
    inputs: &[DiskInput<'_>],
    filters: &StorageFilters,
    driver: LocalPoolDriver,
    osds: &[Osd],
    bootstrap: bool,
    errors: &mut Vec<PlanError>,
    warnings: &mut Vec<String>,
) -> DiskSelection {
    let mut systems = Vec::new();
    // Per filter: what it took on each system it applied to.
    let mut local_matches: Vec<Vec<FilterMatch>> = vec![Vec::new(); filters.local.len()];
    let mut ceph_matches: Vec<Vec<FilterMatch>> = vec![Vec::new(); filters.ceph.len()];
    // What the filters see of each disk of the current system: refilled per
    // system (reusing the buffers), once rather than per filter and disk.
    let mut views: Vec<Disk> = Vec::new();
    // The existing OSDs by member, in list order: looked up per direct Ceph
    // disk, which would otherwise scan every OSD of the cluster.
    let mut osds_of: BTreeMap<&str, Vec<&Osd>> = BTreeMap::new();
    for o in osds {
        osds_of.entry(o.location.as_str()).or_default().push(o);
    }

    for input in inputs {
        let name = input.system.name.as_str();
        let disks = &input.inv.disks;
        let mut reserved = vec![false; disks.len()];
        let mut out = SystemDisks {
            system: name.to_owned(),
            ..SystemDisks::default()
        };
        let find = |path: &str| disks.iter().position(|d| d.is_named(path));

        // 1. Direct disks.
        if let Some(direct) = &input.system.local_disk {
            let path = direct.path.as_str();
            let at = find(path);
            if let Some(i) = at {
                reserved[i] = true;
            } else {
                warnings.push(format!("local disk {path} of {name} is not among the disks its LXD reports; it is used as given"));
            }
            let already = at
                .and_then(|i| disks.get(i))
                .filter(|d| d.lxd_pool.as_deref() == Some("local"))
                .map(|_| "pool local".to_owned());
            out.local = Some(SelectedDisk {
                path: path.to_owned(),
                disk: at.and_then(|i| disks.get(i)).map(|d| d.id.clone()),
                source: DiskSource::Direct,
                wipe: direct.wipe,
                encrypt: false,
                already,
            });
        }
        for direct in &input.system.ceph_disks {
            let path = direct.path.as_str();
            let at = find(path);
            if let Some(i) = at {
                reserved[i] = true;
            } else {
                warnings.push(format!("Ceph disk {path} of {name} is not among the disks its LXD reports; it is used as given"));
            }
            let disk = at.and_then(|i| disks.get(i));
            let already = disk
                .and_then(|d| d.ceph_osd)
                .or_else(|| {
                    osds_of
                        .get(name)?
                        .iter()
                        .find(|o| o.path == path || disk.is_some_and(|d| d.is_named(&o.path)))
                        .map(|o| o.osd)
                })
                .map(|osd| format!("osd.{osd}"));
            out.ceph.push(SelectedDisk {
                path: path.to_owned(),
                disk: disk.map(|d| d.id.clone()),
                source: DiskSource::Direct,
                wipe: direct.wipe,
                encrypt: direct.encrypt,
                already,
            });
        }

        // 2. Local filters.
        let local_applies =
            input.system.local_disk.is_none() && driver.uses_disk() && !filters.local.is_empty();
        let ceph_applies = input.system.ceph_disks.is_empty() && !filters.ceph.is_empty();
        if local_applies || ceph_applies {
            views.resize_with(disks.len(), Disk::default);
            for (view, d) in views.iter_mut().zip(disks) {
                d.write_filter_view(view);
            }
        } else {
            views.clear();
        }
        let matches =
            |rule: &FilterRule, i: usize| views.get(i).is_some_and(|v| rule.find.matches(v));
        if local_applies {
            let mut candidates = Vec::new();
            for (i, d) in disks.iter().enumerate() {
                if reserved[i] {
                    continue;
                }
                match fitness(d, Kind::Local) {
                    Ok(already) => candidates.push((i, already)),
                    Err(reason) => out.excluded.push(ExcludedDisk {
                        kind: "local".into(),
                        disk: d.id.clone(),
                        reason,
                    }),
                }
            }
            let mut taken_by: Option<usize> = None;
            for (k, rule) in filters.local.iter().enumerate() {
                let matched: Vec<&(usize, Option<String>)> = candidates
                    .iter()
                    .filter(|(i, _)| matches(rule, *i))
                    .collect();
                let mut m = FilterMatch {
                    system: name.to_owned(),
                    disks: Vec::new(),
                    skipped: Vec::new(),
                };
                match (taken_by, matched.first()) {
                    (None, Some(&&(i, ref already))) => {
                        if let Some(d) = disks.get(i) {
                            m.disks.push(d.id.clone());
                            for &&(j, _) in matched.iter().skip(1) {
                                if let Some(other) = disks.get(j) {
                                    m.skipped.push(format!(
                                        "{} (only the first match is used)",
                                        other.id
                                    ));
                                }
                            }
                            reserved[i] = true;
                            taken_by = Some(k);
                            out.local = Some(SelectedDisk {
                                path: d.path(),
                                disk: Some(d.id.clone()),
                                source: DiskSource::Filter {
                                    filter: filter_key(Kind::Local, k),
                                },
                                wipe: rule.wipe,
                                encrypt: false,
                                already: already.clone(),
                            });
                        }
                    }
                    (Some(first), _) => {
                        for &&(j, _) in &matched {
                            if let Some(other) = disks.get(j)
                                && !m.disks.contains(&other.id)
                            {
                                m.skipped.push(format!(
                                    "{} ({name} already has its local disk from {})",
                                    other.id,
                                    filter_key(Kind::Local, first)
                                ));
                            }
                        }
                    }
                    (None, None) => {}
                }
                if let Some(list) = local_matches.get_mut(k) {
                    list.push(m);
                }
            }
        }

        // 3. Ceph filters.
        if ceph_applies {
            let mut candidates = Vec::new();
            for (i, d) in disks.iter().enumerate() {
                if reserved[i] {
                    if out
                        .local
                        .as_ref()
                        .is_some_and(|l| l.disk.as_deref() == Some(d.id.as_str()))
                    {
                        out.excluded.push(ExcludedDisk {
                            kind: "ceph".into(),
                            disk: d.id.clone(),
                            reason: "is selected for the local pool".into(),
                        });
                    }
                    continue;
                }
                match fitness(d, Kind::Ceph) {
                    Ok(already) => candidates.push((i, already)),
                    Err(reason) => out.excluded.push(ExcludedDisk {
                        kind: "ceph".into(),
                        disk: d.id.clone(),
                        reason,
                    }),
                }
            }
            // At most every candidate is taken: one allocation, trimmed after.
            out.ceph.reserve_exact(candidates.len());
            for (k, rule) in filters.ceph.iter().enumerate() {
                let filter = filter_key(Kind::Ceph, k);
                let mut m = FilterMatch {
                    system: name.to_owned(),
                    disks: Vec::new(),
                    skipped: Vec::new(),
                };
                candidates.retain(|(i, already)| {
                    let Some(d) = disks.get(*i) else { return false };
                    if !matches(rule, *i) {
                        return true;
                    }
                    m.disks.push(d.id.clone());
                    out.ceph.push(SelectedDisk {
                        path: d.path(),
                        disk: Some(d.id.clone()),
                        source: DiskSource::Filter {
                            filter: filter.clone(),
                        },
                        wipe: rule.wipe,
                        encrypt: rule.encrypt,
                        already: already.clone(),
                    });
                    false
                });
                if let Some(list) = ceph_matches.get_mut(k) {
                    list.push(m);
                }
            }
            out.ceph.shrink_to_fit();
        }
        warn_mount_state_unknown(input, &out, warnings);
        systems.push(out);
    }

    let mut outcomes = Vec::new();
    for (kind, rules, matches) in [
        (Kind::Local, &filters.local, local_matches),
        (Kind::Ceph, &filters.ceph, ceph_matches),
    ] {
        for ((k, rule), matched) in rules.iter().enumerate().zip(matches) {
            let count = match kind {
                Kind::Local => matched.iter().filter(|m| !m.disks.is_empty()).count(),
                Kind::Ceph => matched.iter().map(|m| m.disks.len()).sum(),
            };
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            check_bounds(kind, k, rule, count, &matched, errors);
            outcomes.push(FilterOutcome {
                filter: filter_key(kind, k),
                find: rule.find.source().to_owned(),
                counts: match kind {
                    Kind::Local => "systems".into(),
                    Kind::Ceph => "disks".into(),
                },
                count,
                find_min: rule.find_min,
                find_max: rule.find_max,
                matched,
            });
        }
    }

    // Bootstrap: a `local` pool must be on every member or on none.
    if bootstrap && driver.uses_disk() {
        let without: Vec<&SystemDisks> = systems.iter().filter(|s| s.local.is_none()).collect();
        if !without.is_empty() && without.len() < systems.len() {
            let names: Vec<&str> = without.iter().map(|s| s.system.as_str()).collect();
            let path = if filters.local.is_empty() {
                KeyPath::root().key("systems")
            } else {
                KeyPath::root().key("storage").key("local")
            };
            errors.push(PlanError {
                system: names.first().map(|n| (*n).to_owned()),
                path,
                message: format!(
                    "no local disk for {}: the `local` pool must exist on every member or on none",
                    names.join(", ")
                ),
                help: Some("give these systems a local disk, or widen the local filters (see the excluded disks in the plan's disk report)".into()),
            });
        }
    }
    DiskSelection {
        systems,
        filters: outcomes,
    }
}

fn filter_key(kind: Kind, index: usize) -> String {
    format!("storage.{}[{index}]", kind.name())
}

fn check_bounds(
    kind: Kind,
    k: usize,
    rule: &FilterRule,
    count: u32,
    matched: &[FilterMatch],
    errors: &mut Vec<PlanError>,
) {
    // Only built for an error message: it lists every system.
    let detail = || {
        matched
            .iter()
            .map(|m| {
                if m.disks.is_empty() {
                    format!("{}: none", m.system)
                } else {
                    format!("{}: {}", m.system, m.disks.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let find = rule.find.source();
    let path = KeyPath::root().key("storage").key(kind.name()).index(k);
    let what = match kind {
        Kind::Local => format!("it gave a local disk to {count} system(s)"),
        Kind::Ceph => format!("{count} matched"),
    };
    let unit = match kind {
        Kind::Local => " systems",
        Kind::Ceph => "",
    };
    if count < rule.find_min {
        errors.push(PlanError {
            system: None,
            path: path.key("find_min"),
            message: format!(
                "not enough disks for filter \"{find}\": {what}, find_min is {}{unit} ({})",
                rule.find_min,
                detail()
            ),
            help: Some("widen the filter or lower find_min; disks with partitions, CD-ROMs, read-only, mounted and used disks are never candidates".into()),
        });
    }
    if let Some(max) = rule.find_max
        && count > max
    {
        errors.push(PlanError {
            system: None,
            path: path.key("find_max"),
            message: format!(
                "too many disks for filter \"{find}\": {what}, find_max is {max}{unit} ({})",
                detail()
            ),
            help: Some("narrow the filter or raise find_max".into()),
        });
    }
}
