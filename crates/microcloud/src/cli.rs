//! The command line: every subcommand and option (clap), and nothing else.
//! `main.rs` parses it and dispatches; the man pages and completions are
//! generated from it (`assets`).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::output::Format;
use crate::{assets, options, ready, schema};

/// `microcloud` and its options.
#[derive(Parser)]
#[command(name = "microcloud", version, about, long_about = None)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
    /// More logs on standard error: -v debug (every service request with
    /// its method, path and status; step starts, ends and deadlines), -vv
    /// trace. RUST_LOG (e.g. `clients=debug`) overrides both.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Check a preseed file and report every problem at once.
    ///
    /// Exit status: 0 when the file is valid (warnings allowed), 2 when it is
    /// invalid, 1 when it could not be checked (for example, unreadable).
    Validate {
        /// The preseed file; standard input when absent or "-".
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Plan the cluster formation from a preseed and an inventory, without
    /// changing anything.
    ///
    /// The inventory directory holds one JSON file per system
    /// (`<name>.json`) and, for an existing cluster, `cluster.json`.
    /// Exit status: 0 with a plan, 2 when the preseed is invalid or cannot be
    /// planned (every problem is reported), 1 on other failures (for
    /// example, an unreadable inventory).
    Plan {
        /// The preseed file; standard input when absent or "-".
        file: Option<PathBuf>,
        /// Directory with the inventory files.
        #[arg(long, value_name = "DIR", required_unless_present = "sim_dir")]
        inventory: Option<PathBuf>,
        /// Collect the inventory from the simulated cluster under DIR (as
        /// started by `microcloud-sim --state-dir DIR`) instead.
        #[arg(long, value_name = "DIR", conflicts_with = "inventory")]
        sim_dir: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Form (or grow) the cluster described by a preseed: collect what the
    /// machines have, plan, and apply the plan with progress and a final
    /// report. Running it again changes nothing once the cluster is formed.
    ///
    /// Every machine runs it with the same file and decides its own part:
    /// the initiator opens the trust session and drives the run; the other
    /// machines join with the passphrase, lend their services through an
    /// agent, and report the outcome the initiator sends them.
    ///
    /// Progress: a live view when standard output is a terminal, one line
    /// per event otherwise, JSON lines with `--output json`. NO_COLOR turns
    /// colour off.
    ///
    /// Exit status: 0 success (including nothing to do), 1 the run failed,
    /// 2 the preseed is invalid, cannot be planned or failed a pre-flight
    /// check, 3 interrupted, 4 the trust session failed (wrong passphrase,
    /// machine refused or not found in time), 5 another machine was lost or
    /// stopped the run, 6 a service of this machine was not ready in time,
    /// 7 another `microcloud preseed` is running on this machine (it holds
    /// /run/microcloud/preseed.lock, or MICROCLOUD_LOCK_FILE; its PID is
    /// named; nothing was changed).
    Preseed {
        /// The preseed file; standard input when absent or "-".
        file: Option<PathBuf>,
        /// Form a simulated cluster: the directory `microcloud-sim
        /// --state-dir` uses, holding every machine's service sockets.
        #[arg(long, value_name = "DIR", conflicts_with = "sockets")]
        sim_dir: Option<PathBuf>,
        /// This machine's name (default: its host name).
        #[arg(long)]
        name: Option<String>,
        /// This machine's address, instead of the addresses its LXD reports
        /// (for containers and tests).
        #[arg(long, value_name = "IP")]
        address: Option<std::net::IpAddr>,
        /// This machine's service sockets.
        #[command(flatten)]
        sockets: options::SocketOptions,
        /// Collect and plan, print the plan, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output: progress lines and a summary, or one JSON object per line.
        #[arg(long = "output", value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Steps running at once (1 runs them strictly one after another).
        #[arg(long, default_value_t = executor::Options::default().max_parallel)]
        max_parallel: usize,
        /// MicroCloud's ordering: join the machines one at a time and add
        /// each machine's disks one after the other (for comparison; slower).
        #[arg(long)]
        serial_peers: bool,
        /// Where to keep the run journal (default: /var/lib/microcloud/journal.json,
        /// or DIR/microcloud-journal.json with --sim-dir).
        #[arg(long, value_name = "PATH")]
        journal: Option<PathBuf>,
        /// Deadlines, the report file, the wait for the services.
        #[command(flatten)]
        run_options: options::RunOptions,
    },
    /// Wait until this machine's services answer (for scripts, e.g. right
    /// after installing them).
    ///
    /// Exit status: 0 when every service is ready, 6 when one is not by
    /// the timeout (the message names it and what it was doing), 2 on
    /// usage errors.
    WaitReady(ready::WaitReadyArgs),
    /// Print a JSON Schema: the preseed format (default), the
    /// `--output json` event lines, or the `--report FILE` document.
    Schema {
        /// Which schema.
        #[arg(long, value_enum, default_value_t = schema::Kind::Preseed)]
        kind: schema::Kind,
    },
    /// Print the completion script for a shell on standard output.
    ///
    /// For example: `microcloud completions bash >
    /// /usr/share/bash-completion/completions/microcloud` (the Debian package
    /// installs bash, zsh and fish completions already).
    Completions(assets::CompletionsArgs),
    /// Print the man page (roff) on standard output, or write every page
    /// into a directory.
    ///
    /// For example: `microcloud man | man -l -`.
    Man(assets::ManArgs),
}
