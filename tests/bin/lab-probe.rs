//! A small program run inside lab hosts by the lab tests: multicast
//! discovery responder and query, using the session crate's discovery.
//!
//! `lab-probe respond <interface-ip> <name> <port>`: answers until killed.
//! `lab-probe discover <interface-ip> <name> <port> <timeout-ms>`: prints
//! the announcement as JSON, or the error, and exits 0 or 1.

use session::discovery::{Announcement, Channel, GROUP, VERSION, discover, respond};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

fn parse<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("argument {i} must be {what}"))
}

async fn main_inner(args: Vec<String>) -> Result<(), String> {
    let interface: Ipv4Addr = parse(&args, 2, "an IPv4 address")?;
    let name: String = parse(&args, 3, "a name")?;
    let port: u16 = parse(&args, 4, "a port")?;
    let channel = Channel {
        group: GROUP,
        port,
        interface,
    };
    match args.get(1).map(String::as_str) {
        Some("respond") => {
            let announcement = Announcement {
                version: VERSION.into(),
                name,
                address: interface.into(),
            };
            respond(channel, announcement)
                .await
                .map_err(|e| e.to_string())
        }
        Some("discover") => {
            let timeout: u64 = parse(&args, 5, "a timeout in ms")?;
            let found = discover(
                channel,
                &name,
                &BTreeSet::new(),
                Duration::from_millis(timeout),
                Duration::from_millis(200),
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string(&found).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        _ => Err(
            "usage: lab-probe respond|discover <interface-ip> <name> <port> [timeout-ms]".into(),
        ),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match main_inner(std::env::args().collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
