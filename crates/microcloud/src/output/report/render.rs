//! The final report for people: a summary line, then tables in the spirit
//! of `lxc cluster list`, `lxc storage list` and `lxc network list`, each
//! with a THIS RUN column, then the phases with their times, the warnings
//! and the journal. Pure; colour only when asked for.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Change, ClusterView, Final, RunOutcome};

/// ANSI styles used (only when colour is on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Good news.
    Green,
    /// Worth a look.
    Yellow,
    /// Bad news.
    Red,
    /// Nothing happened.
    Dim,
    /// Headings.
    Bold,
}

/// `text` in `style` when `color`, else as is.
pub fn paint(text: &str, style: Style, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match style {
        Style::Green => "32",
        Style::Yellow => "33",
        Style::Red => "1;31",
        Style::Dim => "2",
        Style::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `1.2s`.
pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// A table: a header and rows of cells, each cell with an optional style.
struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Option<Style>)>>,
}

impl Table {
    fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<(String, Option<Style>)>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String, color: bool) {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, (text, _)) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(text.chars().count());
            }
        }
        let line = |out: &mut String, cells: Vec<(String, Option<Style>)>| {
            let mut text = String::from("  ");
            for (i, (cell, style)) in cells.iter().enumerate() {
                let last = i + 1 == cells.len();
                let pad = if last {
                    String::new()
                } else {
                    " ".repeat(widths[i].saturating_sub(cell.chars().count()) + 2)
                };
                match style {
                    Some(s) => text.push_str(&paint(cell, *s, color)),
                    None => text.push_str(cell),
                }
                text.push_str(&pad);
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        let header = self
            .header
            .iter()
            .map(|h| ((*h).to_owned(), Some(Style::Bold)))
            .collect();
        line(out, header);
        for row in &self.rows {
            line(out, row.clone());
        }
    }
}

fn plain(text: impl Into<String>) -> (String, Option<Style>) {
    (text.into(), None)
}

/// A THIS RUN cell; `created` is the word for [`Change::Created`]
/// (`joined`, `added`, `created`).
fn change_cell(change: Change, created: &str) -> (String, Option<Style>) {
    let (text, style) = match change {
        Change::Created => (created, Style::Green),
        Change::Updated => ("updated", Style::Green),
        Change::AlreadyPresent => ("already present", Style::Dim),
        Change::Failed => ("FAILED", Style::Red),
        Change::NotStarted => ("not started", Style::Yellow),
        Change::NotInPlan => ("-", Style::Dim),
    };
    (text.to_owned(), Some(style))
}

/// A status cell: green when healthy.
fn status_cell(status: &str) -> (String, Option<Style>) {
    let good = ["online", "created"].contains(&status.to_ascii_lowercase().as_str());
    let style = if good { Style::Green } else { Style::Yellow };
    (status.to_owned(), Some(style))
}

fn heading(out: &mut String, text: &str, color: bool) {
    out.push('\n');
    out.push_str(&paint(text, Style::Bold, color));
    out.push('\n');
}

/// The whole report for people.
pub fn human(report: &Final, color: bool) -> String {
    let mut out = String::new();
    summary(&mut out, report, color);
    match &report.cluster {
        Ok(view) => cluster(&mut out, view, color),
        Err(e) => {
            heading(&mut out, "Cluster", color);
            let _ = writeln!(out, "  could not read the cluster's state: {e}");
        }
    }
    phases(&mut out, report, color);
    if !report.warnings.is_empty() {
        heading(&mut out, "Warnings", color);
        for w in &report.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    if let Some(journal) = &report.journal {
        out.push('\n');
        let _ = writeln!(out, "Journal: {}", journal.display());
    }
    out
}

fn summary(out: &mut String, report: &Final, color: bool) {
    let t = &report.totals;
    if report.succeeded() {
        let text = format!(
            "MicroCloud is ready: {} step(s) changed something, {} were already done ({}).",
            t.changed,
            t.already_done,
            seconds(report.elapsed)
        );
        let _ = writeln!(out, "{}", paint(&text, Style::Green, color));
        return;
    }
    let why = match report.outcome {
        RunOutcome::Interrupted => "The run was interrupted",
        _ => "The run failed",
    };
    let text = format!(
        "{why}: {} step(s) changed something, {} were already done, {} failed, {} did not start ({}).",
        t.changed,
        t.already_done,
        t.failed,
        t.not_started,
        seconds(report.elapsed)
    );
    let _ = writeln!(out, "{}", paint(&text, Style::Red, color));
    for f in &report.failures {
        let _ = writeln!(
            out,
            "  {} {} on {}: {}",
            paint("failed:", Style::Red, color),
            f.step,
            f.node,
            f.error
        );
        if let Some(hint) = &f.hint {
            let _ = writeln!(out, "    hint: {hint}");
        }
    }
    if !report.not_started.is_empty() {
        let _ = writeln!(
            out,
            "  not started: {} step(s): {}",
            report.not_started.len(),
            report.not_started.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Fix the cause and run the same command again: finished steps are not repeated."
    );
}

/// What a member the run made is called: the bootstrapped one and the joined ones.
fn member_created<'a>(view: &ClusterView, name: &str) -> &'a str {
    if view.bootstrapped.as_deref() == Some(name) {
        "bootstrapped"
    } else {
        "joined"
    }
}

/// The cluster as the run left it, section by section.
fn cluster(out: &mut String, view: &ClusterView, color: bool) {
    members(out, view, color);
    pools(out, view, color);
    networks(out, view, color);
    profile(out, view, color);
    osds(out, view, color);
    volumes(out, view, color);
}

/// The LXD, MicroCeph and MicroOVN members.
fn members(out: &mut String, view: &ClusterView, color: bool) {
    heading(out, "LXD cluster members", color);
    if view.members.is_empty() {
        let _ = writeln!(out, "  LXD is not clustered.");
    } else {
        let mut t = Table::new(&["NAME", "URL", "ROLES", "STATUS", "THIS RUN"]);
        for (m, change) in &view.members {
            t.row(vec![
                plain(&m.name),
                plain(&m.url),
                plain(m.roles.join(", ")),
                status_cell(&m.status),
                change_cell(*change, member_created(view, &m.name)),
            ]);
        }
        t.render(out, color);
    }
    for (title, members) in [
        ("MicroCeph members", &view.microceph),
        ("MicroOVN members", &view.microovn),
    ] {
        let Some(members) = members else { continue };
        heading(out, title, color);
        let mut t = Table::new(&["NAME", "ADDRESS", "ROLE", "STATUS", "THIS RUN"]);
        for (m, change) in members {
            t.row(vec![
                plain(&m.name),
                plain(&m.address),
                plain(&m.role),
                status_cell(&m.status),
                change_cell(*change, member_created(view, &m.name)),
            ]);
        }
        t.render(out, color);
    }
}

/// The storage pools, one line per member source.
fn pools(out: &mut String, view: &ClusterView, color: bool) {
    heading(out, "Storage pools", color);
    let mut t = Table::new(&["NAME", "DRIVER", "STATUS", "MEMBER", "SOURCE", "THIS RUN"]);
    for p in &view.pools {
        let mut first = vec![plain(&p.name), plain(&p.driver), status_cell(&p.status)];
        if p.sources.is_empty() {
            first.extend([
                plain(""),
                plain(p.source.clone().unwrap_or_default()),
                change_cell(p.change, "created"),
            ]);
            t.row(first);
            continue;
        }
        for (i, (member, source)) in p.sources.iter().enumerate() {
            if i == 0 {
                first.extend([
                    plain(member),
                    plain(source),
                    change_cell(p.change, "created"),
                ]);
                t.row(std::mem::take(&mut first));
            } else {
                t.row(vec![
                    plain(""),
                    plain(""),
                    plain(""),
                    plain(member),
                    plain(source),
                ]);
            }
        }
    }
    t.render(out, color);
}

/// The networks, one line per member parent.
fn networks(out: &mut String, view: &ClusterView, color: bool) {
    heading(out, "Networks", color);
    let mut t = Table::new(&[
        "NAME", "TYPE", "STATUS", "MEMBER", "PARENT", "CONFIG", "THIS RUN",
    ]);
    for n in &view.networks {
        let config = n
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut parents = n.parents.iter();
        let (member, parent) = parents
            .next()
            .map_or((String::new(), String::new()), |(m, p)| {
                (m.clone(), p.clone())
            });
        t.row(vec![
            plain(&n.name),
            plain(&n.kind),
            status_cell(&n.status),
            plain(member),
            plain(parent),
            plain(config),
            change_cell(n.change, "created"),
        ]);
        for (member, parent) in parents {
            t.row(vec![
                plain(""),
                plain(""),
                plain(""),
                plain(member),
                plain(parent),
            ]);
        }
    }
    t.render(out, color);
}

/// The profile the run set up.
fn profile(out: &mut String, view: &ClusterView, color: bool) {
    if let Some(p) = &view.profile {
        heading(out, &format!("Profile {}", p.name), color);
        let mut t = Table::new(&["DEVICE", "TYPE", "SETTINGS"]);
        for (name, device) in &p.devices {
            let settings = device
                .iter()
                .filter(|(k, _)| *k != "type")
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ");
            t.row(vec![
                plain(name),
                plain(device.get("type").cloned().unwrap_or_default()),
                plain(settings),
            ]);
        }
        t.render(out, color);
        let said = match p.change {
            Change::Created | Change::Updated => "its devices were set by this run",
            Change::AlreadyPresent => "its devices were already as planned",
            Change::Failed => "setting its devices FAILED",
            Change::NotStarted => "setting its devices did not start",
            Change::NotInPlan => "not part of this plan",
        };
        let _ = writeln!(out, "  ({said})");
    }
}

/// The Ceph OSDs.
fn osds(out: &mut String, view: &ClusterView, color: bool) {
    if !view.osds.is_empty() {
        heading(out, "Ceph OSDs", color);
        let mut t = Table::new(&["MEMBER", "OSD", "DISK", "THIS RUN"]);
        for o in &view.osds {
            t.row(vec![
                plain(&o.member),
                plain(o.osd.to_string()),
                plain(&o.path),
                change_cell(o.change, "added"),
            ]);
        }
        t.render(out, color);
    }
}

/// The custom volumes.
fn volumes(out: &mut String, view: &ClusterView, color: bool) {
    if !view.volumes.is_empty() {
        heading(out, "Custom volumes", color);
        let mut t = Table::new(&["POOL", "NAME", "MEMBER", "THIS RUN"]);
        for v in &view.volumes {
            t.row(vec![
                plain(&v.pool),
                plain(&v.name),
                plain(&v.member),
                change_cell(v.change, "created"),
            ]);
        }
        t.render(out, color);
    }
}

fn phases(out: &mut String, report: &Final, color: bool) {
    heading(out, "Phases", color);
    let mut t = Table::new(&[
        "PHASE",
        "STEPS",
        "CHANGED",
        "ALREADY DONE",
        "FAILED",
        "NOT STARTED",
        "TIME",
    ]);
    let counts = |c: &super::Counts| {
        let failed = if c.failed > 0 {
            (c.failed.to_string(), Some(Style::Red))
        } else {
            plain(c.failed.to_string())
        };
        vec![
            plain(c.total.to_string()),
            plain(c.changed.to_string()),
            plain(c.already_done.to_string()),
            failed,
            plain(c.not_started.to_string()),
        ]
    };
    for p in &report.phases {
        let mut row = vec![plain(p.phase.title())];
        row.extend(counts(&p.counts));
        row.push(plain(p.elapsed.map_or_else(|| "-".to_owned(), seconds)));
        t.row(row);
    }
    let mut row = vec![("all".to_owned(), Some(Style::Bold))];
    row.extend(counts(&report.totals));
    row.push(plain(seconds(report.elapsed)));
    t.row(row);
    t.render(out, color);
    let _ = writeln!(
        out,
        "  (a phase's time runs from its first step's start to its last step's end; phases overlap)"
    );
}
