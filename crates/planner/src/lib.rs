//! Planner: turns a validated preseed and an inventory of the machines into
//! an ordered, typed plan of idempotent steps.
//!
//! Pure and deterministic: no I/O, no async runtime, no clock, no
//! randomness, no hash-map iteration. The same `(Preseed, Inventory)` always
//! gives byte-identical JSON; every choice (disks, uplinks, networks, API
//! field names for the LXD version at hand) is made here and recorded with
//! its reason, so that the executor never has to decide anything.
//!
//! * [`inventory`]: what every machine has (plain, JSON-friendly data).
//! * [`plan`](mod@plan): [`plan()`] itself, the [`Plan`] and its [`Step`]s,
//!   and graph views (topological order, critical path).
//! * [`render`]: the human text rendering ([`Plan::render_text`]).
//!
//! Failure behaviour: planning returns every problem at once
//! ([`PlanErrors`]), each naming the system and the preseed key path; no
//! partial plan is ever returned.

pub mod inventory;
pub mod plan;
pub mod render;

pub use inventory::{Inventory, InventoryError, SystemInventory};
pub use plan::{
    Action, FORMAT_VERSION, Phase, Plan, PlanError, PlanErrors, PlanMode, Service, Status, Step,
    StepId, plan,
};
