//! The live view of `microcloud preseed` on a terminal: a header with the
//! elapsed time, the current phase and step N of M, and one line per
//! machine with its own progress and what it is doing; finished steps
//! scroll above it as plain lines.
//!
//! [`LiveState`] is the pure part (what to show, from the executor's
//! events); [`Live`] draws it with indicatif on standard output.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use executor::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use planner::plan::{Phase, Plan};

/// One machine's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NodeState {
    total: usize,
    done: usize,
    running: BTreeSet<String>,
    failed: Option<String>,
}

/// What the live view shows, updated from events.
#[derive(Debug, Clone)]
pub struct LiveState {
    /// Per step: machine, summary, phase.
    steps: BTreeMap<String, (String, String, Phase)>,
    nodes: BTreeMap<String, NodeState>,
    total: usize,
    done: usize,
    running: BTreeSet<String>,
    last_phase: Option<Phase>,
    stopping: Option<String>,
}

impl LiveState {
    /// The state before anything ran.
    pub fn new(plan: &Plan) -> LiveState {
        let mut nodes: BTreeMap<String, NodeState> = BTreeMap::new();
        let mut steps = BTreeMap::new();
        for s in &plan.steps {
            nodes.entry(s.member().to_owned()).or_default().total += 1;
            steps.insert(
                s.id.to_string(),
                (s.member().to_owned(), planner::render::summary(s), s.phase),
            );
        }
        LiveState {
            steps,
            nodes,
            total: plan.steps.len(),
            done: 0,
            running: BTreeSet::new(),
            last_phase: None,
            stopping: None,
        }
    }

    /// Takes one event into account.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Started { step, .. } => {
                if let Some((node, _, phase)) = self.steps.get(step.as_str()) {
                    self.running.insert(step.to_string());
                    self.last_phase = Some(*phase);
                    if let Some(n) = self.nodes.get_mut(node) {
                        n.running.insert(step.to_string());
                    }
                }
            }
            Event::Finished { step, .. } | Event::Failed { step, .. } => {
                self.running.remove(step.as_str());
                let failed = matches!(event, Event::Failed { .. });
                if !failed {
                    self.done += 1;
                }
                if let Some((node, summary, _)) = self.steps.get(step.as_str())
                    && let Some(n) = self.nodes.get_mut(node)
                {
                    n.running.remove(step.as_str());
                    if failed {
                        n.failed = Some(summary.clone());
                    } else {
                        n.done += 1;
                    }
                }
            }
            Event::Stopping { reason } => self.stopping = Some(reason.clone()),
            Event::Retrying { .. } => {}
        }
    }

    /// The phase shown: the earliest phase with a running step, else the
    /// phase of the last step that started.
    pub fn phase(&self) -> Option<Phase> {
        self.running
            .iter()
            .filter_map(|s| self.steps.get(s).map(|(_, _, p)| *p))
            .min()
            .or(self.last_phase)
    }

    /// The header's message: phase, running steps, stop reason.
    pub fn header(&self) -> String {
        let phase = self.phase().map_or("starting", Phase::title);
        let mut text = format!("{phase} · {} running", self.running.len());
        if let Some(reason) = &self.stopping {
            text.push_str(&format!(" · stopping: {reason}"));
        }
        text
    }

    /// Steps done and in all.
    pub fn position(&self) -> (usize, usize) {
        (self.done, self.total)
    }

    /// The machines, in name order.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    /// A machine's steps done and in all.
    pub fn node_position(&self, node: &str) -> (usize, usize) {
        self.nodes.get(node).map_or((0, 0), |n| (n.done, n.total))
    }

    /// What a machine is doing: the first running step's summary (and how
    /// many more), `FAILED: ...`, `done`, or `waiting`.
    pub fn node_status(&self, node: &str) -> String {
        let Some(n) = self.nodes.get(node) else {
            return String::new();
        };
        if let Some(summary) = &n.failed {
            return format!("FAILED: {summary}");
        }
        let mut running = n.running.iter();
        if let Some(first) = running.next() {
            let summary = self
                .steps
                .get(first)
                .map(|(_, s, _)| s.as_str())
                .unwrap_or_default();
            let more = running.count();
            return if more > 0 {
                format!("{summary} (+{more} more)")
            } else {
                summary.to_owned()
            };
        }
        if n.done == n.total {
            "done".to_owned()
        } else {
            "waiting".to_owned()
        }
    }
}

/// The live view on the terminal.
pub struct Live {
    bars: MultiProgress,
    header: ProgressBar,
    nodes: BTreeMap<String, ProgressBar>,
    state: LiveState,
}

impl Live {
    /// Starts drawing on standard output.
    pub fn start(plan: &Plan, color: bool) -> Live {
        let state = LiveState::new(plan);
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let (header_template, node_template) = if color {
            (
                "{spinner:.cyan} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} steps · {wide_msg}",
                "  {prefix:.bold} {bar:20.green/white} {pos:>3}/{len:<3} {wide_msg}",
            )
        } else {
            (
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps · {wide_msg}",
                "  {prefix} {bar:20} {pos:>3}/{len:<3} {wide_msg}",
            )
        };
        let header_style = ProgressStyle::with_template(header_template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let node_style = ProgressStyle::with_template(node_template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let (_, total) = state.position();
        let header = bars.add(ProgressBar::new(total as u64).with_style(header_style));
        header.enable_steady_tick(Duration::from_millis(120));
        let width = state
            .node_names()
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        let nodes = state
            .node_names()
            .into_iter()
            .map(|name| {
                let (_, total) = state.node_position(&name);
                let bar = bars.add(
                    ProgressBar::new(total as u64)
                        .with_style(node_style.clone())
                        .with_prefix(format!("{name:<width$}")),
                );
                (name, bar)
            })
            .collect();
        crate::logging::set_live(Some(bars.clone()));
        let live = Live {
            bars,
            header,
            nodes,
            state,
        };
        live.redraw();
        live
    }

    /// Prints a line above the view.
    pub fn println(&self, line: &str) {
        let _ = self.bars.println(line);
    }

    /// Takes an event into account and redraws.
    pub fn event(&mut self, event: &Event) {
        self.state.on_event(event);
        self.redraw();
    }

    fn redraw(&self) {
        let (done, _) = self.state.position();
        self.header.set_position(done as u64);
        self.header.set_message(self.state.header());
        for (name, bar) in &self.nodes {
            let (done, _) = self.state.node_position(name);
            bar.set_position(done as u64);
            bar.set_message(self.state.node_status(name));
        }
    }

    /// Removes the view from the screen (before the final report).
    pub fn finish(self) {
        crate::logging::set_live(None);
        self.header.finish_and_clear();
        for bar in self.nodes.values() {
            bar.finish_and_clear();
        }
        let _ = self.bars.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use executor::Outcome;

    fn plan() -> Plan {
        let preseed = microcloud_tests::example("unicast-3-nodes-ovn-ceph");
        let inventory =
            microcloud_tests::inventory_dir("tests/fixtures/inventory/unicast-3-nodes-ovn-ceph");
        planner::plan(&preseed, &inventory).unwrap()
    }

    #[test]
    fn shows_phase_position_and_what_each_machine_does() {
        let plan = plan();
        let mut state = LiveState::new(&plan);
        assert_eq!(state.header(), "starting · 0 running");
        let nodes = state.node_names();
        assert_eq!(nodes, ["micro01", "micro02", "micro03"]);
        assert!(nodes.iter().all(|n| state.node_status(n) == "waiting"));

        let id = |i: usize| plan.steps[i].id.clone();
        let first = &plan.steps[0];
        let second = plan
            .steps
            .iter()
            .position(|s| s.member() == first.member() && s.id != first.id)
            .unwrap();
        state.on_event(&Event::Started {
            step: id(0),
            attempt: 1,
        });
        state.on_event(&Event::Started {
            step: id(second),
            attempt: 1,
        });
        assert_eq!(
            state.header(),
            format!("{} · 2 running", first.phase.title())
        );
        assert_eq!(
            state.node_status(first.member()),
            format!(
                "{} (+1 more)",
                planner::render::summary(
                    [first, &plan.steps[second]]
                        .into_iter()
                        .min_by(|a, b| a.id.cmp(&b.id))
                        .unwrap()
                )
            )
        );
        state.on_event(&Event::Finished {
            step: id(0),
            outcome: Outcome::Changed,
            elapsed: Duration::from_millis(5),
        });
        state.on_event(&Event::Failed {
            step: id(second),
            error: "boom".into(),
        });
        state.on_event(&Event::Stopping {
            reason: format!("step {} failed", plan.steps[second].id),
        });
        assert_eq!(state.position(), (1, plan.steps.len()));
        assert_eq!(state.node_position(first.member()).0, 1);
        assert_eq!(
            state.node_status(first.member()),
            format!("FAILED: {}", planner::render::summary(&plan.steps[second]))
        );
        assert!(state.header().ends_with(&format!(
            "0 running · stopping: step {} failed",
            plan.steps[second].id
        )));
    }
}
