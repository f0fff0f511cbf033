//! Applies a plan against the services.
//!
//! [`run`] is the scheduler, generic over what a step does: it runs a
//! [`Dag`] with bounded concurrency and serialisation groups, retries
//! transient failures with capped, jittered exponential backoff within a
//! per-class deadline, stops new work after a permanent failure while
//! in-flight steps finish, publishes typed [`Event`]s, and reports one
//! result per step.
//!
//! [`apply`] runs a planner `Plan` through that scheduler: every action as
//! client calls with ensure semantics.
//!
//! [`journal`] records the plan and each step's outcome on disk, atomically.
//!
//! [`wipe`] is the last check before a disk is wiped: still the planned
//! disk, and unused.

pub mod apply;
pub mod dag;
pub mod journal;
pub mod retry;
pub mod run;
pub mod wipe;

pub use config_loader::model::StepClass;
pub use dag::{Dag, DagError, Node};
pub use planner::StepId;
pub use retry::{Deadlines, RetryPolicy};
pub use run::{
    Event, Failure, NotStarted, Options, Outcome, Report, Runner, StepError, StepResult, execute,
};
