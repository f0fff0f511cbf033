//! The `microcloud` command: form an LXD + MicroOVN + MicroCeph cluster from
//! one declarative preseed file.
//!
//! This is the only crate that uses `anyhow`; libraries return typed errors
//! and diagnostics, and this binary decides how they reach a person.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use config_loader::Environment;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status when the input is invalid (as opposed to 1 for other failures).
const EXIT_INVALID: u8 = 2;

mod assets;
mod events;
mod live;
mod logging;
mod multi;
mod options;
mod preseed;
mod progress;
mod ready;
mod report;
mod run_lock;
mod schema;
mod secret_file;

#[derive(Parser)]
#[command(name = "microcloud", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More logs on standard error: -v debug (every service request with
    /// its method, path and status; step starts, ends and deadlines), -vv
    /// trace. RUST_LOG (e.g. `clients=debug`) overrides both.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Text for people: diagnostics with source lines and carets, or the
    /// plan grouped by phase and node.
    Human,
    /// JSON: {"valid": bool, "diagnostics": [...]} for problems, or the
    /// versioned plan.
    Json,
}

/// The real machine: environment variables, and files relative to the
/// directory of the preseed file (or the working directory for stdin).
struct HostEnvironment {
    base: Option<PathBuf>,
}

impl Environment for HostEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read_secret_file(
        &self,
        path: &Path,
    ) -> Result<config_loader::SecretFile, config_loader::SecretFileError> {
        let full = match &self.base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_owned(),
        };
        secret_file::read(&full)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { file, format } => validate(file.as_deref(), format),
        Command::Preseed {
            file,
            sim_dir,
            name,
            address,
            sockets,
            dry_run,
            format,
            max_parallel,
            serial_peers,
            journal,
            run_options,
        } => preseed::run(preseed::Args {
            file,
            sim_dir,
            name,
            address,
            lxd_socket: sockets.lxd(),
            microceph_socket: sockets.microceph(),
            microovn_socket: sockets.microovn(),
            dry_run,
            format,
            max_parallel,
            serial_peers,
            journal,
            run_options,
        }),
        Command::Plan {
            file,
            inventory,
            sim_dir,
            format,
        } => {
            let source = match (inventory, sim_dir) {
                (_, Some(dir)) => InventorySource::Sim(dir),
                (Some(dir), None) => InventorySource::Files(dir),
                (None, None) => anyhow::bail!("give --inventory DIR or --sim-dir DIR"),
            };
            plan(file.as_deref(), &source, format)
        }
        Command::WaitReady(args) => ready::run(&args),
        Command::Completions(args) => assets::completions(&args),
        Command::Man(args) => assets::man(&args),
        Command::Schema { kind } => {
            writeln!(io::stdout(), "{}", schema::text(kind))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads the whole input, refusing more than the loader accepts so that a
/// huge file costs neither memory nor time.
fn read_input(file: Option<&Path>) -> Result<(String, Vec<u8>, Option<PathBuf>)> {
    let limit = u64::try_from(config_loader::MAX_INPUT_BYTES).unwrap_or(u64::MAX) + 1;
    let mut bytes = Vec::new();
    match file.filter(|p| *p != Path::new("-")) {
        None => {
            io::stdin()
                .take(limit)
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            Ok(("<stdin>".to_owned(), bytes, None))
        }
        Some(p) => {
            std::fs::File::open(p)
                .and_then(|f| f.take(limit).read_to_end(&mut bytes))
                .with_context(|| format!("cannot read {}", p.display()))?;
            let base = p.parent().map(Path::to_owned);
            Ok((p.display().to_string(), bytes, base))
        }
    }
}

fn validate(file: Option<&Path>, format: Format) -> Result<ExitCode> {
    let (name, bytes, base) = read_input(file)?;
    let env = HostEnvironment { base };
    let report = config_loader::load_bytes(&bytes, &env);
    print_diagnostics(&report, report.diagnostics(), &name, format)?;
    Ok(if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

/// Prints `diagnostics` (located against `report`'s source) on stdout.
fn print_diagnostics(
    report: &config_loader::Report,
    diagnostics: &config_loader::Diagnostics,
    name: &str,
    format: Format,
) -> Result<()> {
    let mut stdout = io::stdout().lock();
    match format {
        Format::Human => {
            stdout.write_all(report.render_diagnostics(name, diagnostics).as_bytes())?
        }
        Format::Json => writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&diagnostics.to_json())?
        )?,
    }
    Ok(())
}

/// Reads every `*.json` file of an inventory directory, sorted by name.
fn read_inventory(dir: &Path) -> Result<planner::Inventory> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the inventory directory {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry
            .with_context(|| format!("cannot read the inventory directory {}", dir.display()))?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        files.push((name, text));
    }
    files.sort();
    planner::Inventory::from_files(files)
        .with_context(|| format!("invalid inventory in {}", dir.display()))
}

/// Where `plan` takes the inventory from.
enum InventorySource {
    /// A directory of inventory files.
    Files(PathBuf),
    /// A running simulated cluster.
    Sim(PathBuf),
}

fn plan(file: Option<&Path>, source: &InventorySource, format: Format) -> Result<ExitCode> {
    let (name, bytes, base) = read_input(file)?;
    let env = HostEnvironment { base };
    let report = config_loader::load_bytes(&bytes, &env);
    let Some(preseed) = report.preseed() else {
        print_diagnostics(&report, report.diagnostics(), &name, format)?;
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let inventory = match source {
        InventorySource::Files(dir) => read_inventory(dir)?,
        InventorySource::Sim(dir) => preseed::sim_inventory(preseed, dir)?,
    };
    let mut stdout = io::stdout().lock();
    match planner::plan(preseed, &inventory) {
        Ok(plan) => {
            // Loader warnings still deserve a look, on stderr.
            if !report.diagnostics().is_empty() && format == Format::Human {
                eprint!("{}", report.render(&name));
            }
            match format {
                Format::Human => stdout.write_all(plan.render_text().as_bytes())?,
                Format::Json => stdout.write_all(plan.to_json().as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            let all = report.with_extra(errors.iter().map(planner::PlanError::to_diagnostic));
            drop(stdout);
            print_diagnostics(&report, &all, &name, format)?;
            Ok(ExitCode::from(EXIT_INVALID))
        }
    }
}
