//! The typed clients against an in-process server over real unix sockets
//! and real TLS: request and response shapes (pinned by the fixture files),
//! operations, error classification.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod lxd;
mod microceph;
mod microcluster;
mod operations;
mod support;
mod transport;
