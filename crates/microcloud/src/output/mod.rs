//! Everything `microcloud` prints: the output format, diagnostics, plans,
//! JSON event lines ([`events`]), the progress of a run ([`progress`], with
//! the terminal's live view [`live`]) and the final report ([`report`]).

pub mod events;
pub mod live;
pub mod progress;
pub mod report;

use anyhow::Result;
use clap::ValueEnum;
use std::io::{self, Write};

/// How output is written.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people: diagnostics with source lines and carets, or the
    /// plan grouped by phase and node.
    Human,
    /// JSON: {"valid": bool, "diagnostics": [...]} for problems, or the
    /// versioned plan.
    Json,
}

/// Prints `diagnostics` (located against `report`'s source) on stdout.
pub fn print_diagnostics(
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

/// Prints a plan (a dry run, `microcloud plan`) on stdout.
pub fn print_plan(plan: &planner::plan::Plan, format: Format) -> Result<()> {
    let mut out = io::stdout().lock();
    match format {
        Format::Human => out.write_all(plan.render_text().as_bytes())?,
        Format::Json => out.write_all(plan.to_json().as_bytes())?,
    }
    Ok(())
}

/// Prints a line for people, or a JSON message for programs.
pub fn say(format: Format, text: &str) {
    match format {
        Format::Human => println!("{text}"),
        Format::Json => events::print(
            &events::Event::Message {
                message: text.to_owned(),
            },
            None,
        ),
    }
}
