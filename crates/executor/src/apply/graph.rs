//! The scheduler's view of a plan: its steps as a [`Dag`] (in the plan's
//! own order, or in MicroCloud's), and the deadline of every step class.

use config_loader::model::{StepClass, Timeouts};
use planner::plan::{Action, Plan, Service, Step};

use crate::dag::{Dag, DagError, Node};
use crate::retry::Deadlines;

/// The scheduler's deadlines for a plan's steps: every [`StepClass`] with
/// its deadline from `timeouts` (set, or the class's default).
pub fn deadlines(timeouts: &Timeouts) -> Deadlines {
    Deadlines {
        per_class: StepClass::ALL
            .into_iter()
            .map(|c| (c, timeouts.get(c)))
            .collect(),
        ..Deadlines::default()
    }
}

/// The scheduler's view of a plan: every step, with its dependencies,
/// serialisation group and deadline class ([`Action::step_class`]).
pub fn dag_of(plan: &Plan) -> Result<Dag, DagError> {
    Dag::new(nodes_of(plan))
}

/// [`dag_of`]'s nodes, in plan order.
fn nodes_of(plan: &Plan) -> Vec<Node> {
    plan.steps
        .iter()
        .map(|s| Node {
            id: s.id.clone(),
            deps: s.depends_on.clone(),
            group: s.serial_group.clone(),
            class: s.action.step_class(),
        })
        .collect()
}

/// The graph of a plan run in MicroCloud's order (`--serial-peers`): the
/// same steps and dependencies as [`dag_of`], plus edges so that
///
/// * the joining machines take part one at a time, in plan order: every
///   step of a machine's *unit* (its join-phase steps, such as its service
///   joins and its LXD settings, and its Ceph disks) waits for every step
///   of the previous machine's unit; the initiator's own disks form the
///   last unit, after every join, as MicroCloud adds them;
/// * within a unit, the disks are added one after the other, and the LXD
///   steps wait for the disks (a MicroCloud joiner joins MicroCeph and
///   adds its disks, then joins LXD).
///
/// Token steps and everything after the joins keep their dependencies, as
/// MicroCloud issues the tokens up front and creates pools and networks
/// after the joins. Used to measure what the ordering costs (BENCHMARKS.md).
///
/// # Errors
///
/// As [`dag_of`]; the added edges cannot form a cycle, since no step of a
/// unit depends on a later machine's steps.
pub fn dag_of_serial_peers(plan: &Plan) -> Result<Dag, DagError> {
    let joiners: Vec<&str> = plan
        .systems
        .iter()
        .filter(|s| s.role == planner::plan::Role::Joiner)
        .map(|s| s.name.as_str())
        .collect();
    let is_disk = |s: &Step| matches!(s.action, Action::AddCephDisk { .. });
    let unit_of = |s: &Step| -> Option<usize> {
        if is_disk(s) && s.node == plan.initiator {
            return Some(joiners.len());
        }
        if s.phase == planner::plan::Phase::Join || is_disk(s) {
            return joiners.iter().position(|j| *j == s.node);
        }
        None
    };
    let mut units: Vec<Vec<usize>> = vec![Vec::new(); joiners.len() + 1];
    for (i, s) in plan.steps.iter().enumerate() {
        if let Some(u) = unit_of(s) {
            units[u].push(i);
        }
    }
    let mut nodes = nodes_of(plan);
    let id = |i: usize| plan.steps[i].id.clone();
    let units: Vec<Vec<usize>> = units.into_iter().filter(|u| !u.is_empty()).collect();
    for (k, unit) in units.iter().enumerate() {
        let disks: Vec<usize> = unit
            .iter()
            .copied()
            .filter(|&i| is_disk(&plan.steps[i]))
            .collect();
        for pair in disks.windows(2) {
            nodes[pair[1]].deps.push(id(pair[0]));
        }
        for &i in unit {
            if plan.steps[i].service == Service::Lxd {
                nodes[i].deps.extend(disks.iter().map(|&d| id(d)));
            }
            if let Some(previous) = k.checked_sub(1).map(|p| &units[p]) {
                nodes[i].deps.extend(previous.iter().map(|&p| id(p)));
            }
        }
    }
    Dag::new(nodes)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_step_class_gets_its_deadline() {
        let mut timeouts = Timeouts::default();
        timeouts.set(StepClass::Join, Duration::from_secs(7));
        let d = deadlines(&timeouts);
        assert_eq!(d.per_class.len(), StepClass::ALL.len());
        assert_eq!(d.of(StepClass::Join), Duration::from_secs(7));
        assert_eq!(d.of(StepClass::Token), StepClass::Token.default_timeout());
        assert_eq!(d.of(StepClass::Settings), Duration::from_secs(120));
    }
}
