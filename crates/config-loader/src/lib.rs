//! Strict loader for microcloud preseed files.
//!
//! Pure: no network, no tokio, no direct file or environment access (both are
//! injected through [`Environment`]). Deterministic: the same input gives the
//! same [`Preseed`] or the same diagnostics, in the same order.

pub mod filter;
