//! `microcloud validate` and `microcloud plan`: the commands that change
//! nothing.

use anyhow::{Context, Result};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::exit::Exit;
use crate::input::{HostEnvironment, read_input};
use crate::output::{Format, print_diagnostics};

/// `microcloud validate`: exit 0 when the file is valid, 2 when not.
///
/// # Errors
/// When the file cannot be read or the diagnostics cannot be written.
pub fn validate(file: Option<&Path>, format: Format) -> Result<ExitCode> {
    let (name, bytes, base) = read_input(file)?;
    let env = HostEnvironment { base };
    let report = config_loader::load_bytes(&bytes, &env);
    print_diagnostics(&report, report.diagnostics(), &name, format)?;
    Ok(if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        Exit::Invalid.into()
    })
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
pub enum InventorySource {
    /// A directory of inventory files.
    Files(PathBuf),
    /// A running simulated cluster.
    Sim(PathBuf),
}

/// `microcloud plan`: the plan, or every problem (exit 2).
///
/// # Errors
/// When the file or the inventory cannot be read, or the output written.
pub fn plan(file: Option<&Path>, source: &InventorySource, format: Format) -> Result<ExitCode> {
    let (name, bytes, base) = read_input(file)?;
    let env = HostEnvironment { base };
    let report = config_loader::load_bytes(&bytes, &env);
    let Some(preseed) = report.preseed() else {
        print_diagnostics(&report, report.diagnostics(), &name, format)?;
        return Ok(Exit::Invalid.into());
    };
    let inventory = match source {
        InventorySource::Files(dir) => read_inventory(dir)?,
        InventorySource::Sim(dir) => crate::run::sim_inventory(preseed, dir)?,
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
            Ok(Exit::Invalid.into())
        }
    }
}
