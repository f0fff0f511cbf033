//! The shape the scheduler runs: steps with dependencies, serialisation
//! groups and a class (for deadlines), independent of what a step does.

use std::collections::{BTreeMap, BTreeSet};

use config_loader::model::StepClass;
use planner::StepId;

/// One step of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The step.
    pub id: StepId,
    /// Steps that must have succeeded first.
    pub deps: Vec<StepId>,
    /// Steps sharing a group never run at the same time (a service that
    /// requires serial joins, for example).
    pub group: Option<String>,
    /// Deadline class (see [`crate::Deadlines`]).
    pub class: StepClass,
}

/// A validated graph: every dependency exists and there is no cycle.
#[derive(Debug, Clone)]
pub struct Dag {
    nodes: Vec<Node>,
    index: BTreeMap<StepId, usize>,
}

/// Why a graph cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    /// Two steps have the same id.
    #[error("step {0} appears twice in the plan")]
    Duplicate(StepId),
    /// A dependency names no step.
    #[error("step {step} depends on {missing}, which is not in the plan")]
    UnknownDependency {
        /// The step.
        step: StepId,
        /// The missing dependency.
        missing: StepId,
    },
    /// The dependencies form a cycle.
    #[error("the plan's dependencies form a cycle through {0}")]
    Cycle(StepId),
}

impl Dag {
    /// Validates `nodes` into a graph.
    pub fn new(nodes: Vec<Node>) -> Result<Dag, DagError> {
        let mut index = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            if index.insert(n.id.clone(), i).is_some() {
                return Err(DagError::Duplicate(n.id.clone()));
            }
        }
        for n in &nodes {
            if let Some(missing) = n.deps.iter().find(|d| !index.contains_key(*d)) {
                return Err(DagError::UnknownDependency {
                    step: n.id.clone(),
                    missing: missing.clone(),
                });
            }
        }
        let dag = Dag { nodes, index };
        dag.check_acyclic()?;
        Ok(dag)
    }

    fn check_acyclic(&self) -> Result<(), DagError> {
        // Kahn's algorithm: whatever cannot be ordered is on or behind a cycle.
        let mut remaining = self.dep_counts();
        let mut ready: Vec<usize> = (0..self.nodes.len())
            .filter(|i| remaining[*i] == 0)
            .collect();
        let dependents = self.dependents();
        let mut seen = 0;
        while let Some(i) = ready.pop() {
            seen += 1;
            for &d in &dependents[i] {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    ready.push(d);
                }
            }
        }
        if seen == self.nodes.len() {
            return Ok(());
        }
        let stuck = remaining.iter().position(|r| *r > 0).unwrap_or(0);
        Err(DagError::Cycle(self.nodes[stuck].id.clone()))
    }

    /// For each node, the nodes that depend on it (by index).
    pub(crate) fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            let unique: BTreeSet<&StepId> = n.deps.iter().collect();
            for d in unique {
                if let Some(&j) = self.index.get(d) {
                    out[j].push(i);
                }
            }
        }
        out
    }

    /// Number of distinct dependencies of each node (by index).
    pub(crate) fn dep_counts(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|n| n.deps.iter().collect::<BTreeSet<_>>().len())
            .collect()
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no steps.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
