//! The `microcloud` command.
fn main() {}
