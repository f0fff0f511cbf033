//! The `microcloud` command: form an LXD + MicroOVN + MicroCeph cluster from
//! one declarative preseed file. This file only parses the arguments and
//! dispatches to the library (`src/lib.rs`).

use clap::{CommandFactory, Parser};
use std::io::{self, Write};
use std::process::ExitCode;

use microcloud::cli::{Cli, Command};
use microcloud::commands::{self, InventorySource};
use microcloud::{assets, logging, preseed, ready, schema};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.verbose);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { file, format } => commands::validate(file.as_deref(), format),
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
            commands::plan(file.as_deref(), &source, format)
        }
        Command::WaitReady(args) => ready::run(&args),
        Command::Completions(args) => assets::completions(&args, Cli::command()),
        Command::Man(args) => assets::man(&args, Cli::command()),
        Command::Schema { kind } => {
            writeln!(io::stdout(), "{}", schema::text(kind))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
