//! `microcloud` as a library: the run orchestration behind the command
//! (`main.rs` only parses the arguments and dispatches here).
//!
//! This is the only crate that uses `anyhow`; the libraries below it return
//! typed errors and diagnostics, and this crate decides how they reach a
//! person.
//!
//! Modules form one-way layers (ARCHITECTURE.md, "crates/microcloud";
//! `tests/layers.rs` fails on an edge that goes up or on a cycle), from the
//! bottom: `exit`, `liveness`, `logging`, `secret_file`, `run_lock`,
//! `input`, `machine`, `role`, `output`, `options`, `ready`, `run`,
//! `multi`, `preseed`, `commands`, `schema`, `assets`, `cli`.

pub mod assets;
pub mod cli;
pub mod commands;
pub mod exit;
pub mod input;
pub mod liveness;
pub mod logging;
pub mod machine;
pub mod multi;
pub mod options;
pub mod output;
pub mod preseed;
pub mod ready;
pub mod role;
pub mod run;
pub mod run_lock;
pub mod schema;
pub mod secret_file;
