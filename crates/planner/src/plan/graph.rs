//! Graph views of a plan: topological order and critical path.
//!
//! Both are deterministic: ties are broken by position in the step list.
//! Serialisation groups are not edges: the critical path is the longest
//! dependency chain, a lower bound on the time needed.

use std::collections::BTreeMap;

use super::{Plan, Step, StepId};

impl Plan {
    /// The steps in a topological order (Kahn's algorithm, always taking
    /// the earliest ready step in list order). Since the planner lists steps
    /// with every dependency first, this is the list order itself; it is
    /// computed rather than assumed. Dependencies on unknown ids are
    /// ignored; steps caught in a cycle (impossible for a planned `Plan`)
    /// are left out.
    pub fn topological_order(&self) -> Vec<&StepId> {
        let index: BTreeMap<&StepId, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id, i))
            .collect();
        let n = self.steps.len();
        let mut indegree = vec![0usize; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, step) in self.steps.iter().enumerate() {
            for dep in &step.depends_on {
                if let Some(&d) = index.get(dep) {
                    indegree[i] += 1;
                    dependents[d].push(i);
                }
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(&self.steps[i].id);
            for &j in &dependents[i] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        order
    }

    /// The longest dependency chain counted in steps, first step first.
    pub fn critical_path(&self) -> Vec<StepId> {
        self.critical_path_with(|_| 1)
    }

    /// The dependency chain with the largest total `cost`, first step
    /// first. `cost` is a plain function, e.g. an estimate per action kind.
    pub fn critical_path_with(&self, cost: impl Fn(&Step) -> u64) -> Vec<StepId> {
        let index: BTreeMap<&StepId, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id, i))
            .collect();
        let mut total: BTreeMap<usize, u64> = BTreeMap::new();
        let mut via: BTreeMap<usize, usize> = BTreeMap::new();
        for id in self.topological_order() {
            let Some(&i) = index.get(id) else { continue };
            let step = &self.steps[i];
            let mut best: Option<(u64, usize)> = None;
            for dep in &step.depends_on {
                if let Some(&d) = index.get(dep)
                    && let Some(&t) = total.get(&d)
                    && best.is_none_or(|(b, bi)| t > b || (t == b && d < bi))
                {
                    best = Some((t, d));
                }
            }
            let base = best.map_or(0, |(t, _)| t);
            if let Some((_, d)) = best {
                via.insert(i, d);
            }
            total.insert(i, base.saturating_add(cost(step)));
        }
        let Some((&end, _)) = total
            .iter()
            .max_by(|(ia, ta), (ib, tb)| ta.cmp(tb).then(ib.cmp(ia)))
        else {
            return Vec::new();
        };
        let mut path = vec![end];
        let mut at = end;
        while let Some(&prev) = via.get(&at) {
            path.push(prev);
            at = prev;
        }
        path.reverse();
        path.into_iter().map(|i| self.steps[i].id.clone()).collect()
    }
}
