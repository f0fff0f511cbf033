//! `microcloud completions` and `microcloud man`: the files a package
//! installs beside the binary (shell completions, man pages), generated from
//! the same clap definition as the command line itself so they never drift.

use anyhow::{Context, Result};
use clap::Args;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The name the completions are registered for.
const BIN_NAME: &str = "microcloud";

/// Arguments of `microcloud completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Arguments of `microcloud man`.
#[derive(Args)]
pub struct ManArgs {
    /// Write `microcloud.1` and one page per subcommand
    /// (`microcloud-validate.1`, ...) into DIR, which must exist, instead of
    /// printing the main page.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script of `cmd` (the whole command line, as
/// `main` parses it) for `args.shell` on standard output.
pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN_NAME, &mut script);
    io::stdout()
        .lock()
        .write_all(&script)
        .context("cannot write the completion script to standard output")?;
    Ok(ExitCode::SUCCESS)
}

/// The main page's description (`--help` keeps the short one); the list of
/// pages is completed from the subcommands.
const MAN_DESCRIPTION: &str = "\
Forms an LXD + MicroOVN + MicroCeph cluster from one declarative preseed file \
(MicroCloud's preseed format, checked strictly).

Every machine of the cluster runs `microcloud preseed FILE` with the same file; \
each works out its own part from it. `microcloud validate FILE` checks a file \
and reports every problem at once, changing nothing; `microcloud plan` shows \
what a run would do.

Each subcommand has its own page, with its options and exit statuses: ";

/// The command line as the man pages describe it: no `help` subcommand (it
/// gets no page) and a longer description on the main page.
fn man_command(cmd: clap::Command) -> clap::Command {
    let cmd = cmd.disable_help_subcommand(true);
    let pages: Vec<String> = cmd
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| format!("{BIN_NAME}-{}(1)", sub.get_name()))
        .collect();
    let description = format!("{MAN_DESCRIPTION}{}.", pages.join(", "));
    cmd.long_about(description)
}

/// Prints the roff man page on standard output, or writes every page into
/// `args.dir`; `cmd` is the whole command line, as `main` parses it.
pub fn man(args: &ManArgs, cmd: clap::Command) -> Result<ExitCode> {
    let cmd = man_command(cmd);
    match &args.dir {
        Some(dir) => write_pages(cmd, dir)?,
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .source(source())
                .render(&mut page)
                .context("cannot render the man page")?;
            io::stdout()
                .lock()
                .write_all(&page)
                .context("cannot write the man page to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `microcloud.1` and a page for every (visible) subcommand into `dir`.
fn write_pages(mut cmd: clap::Command, dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "cannot write the man pages into {}: not a directory (create it first)",
            dir.display()
        );
    }
    // Building gives every subcommand its display name (`microcloud-plan`).
    cmd.build();
    write_page(&cmd, dir)
}

/// Writes the page of `cmd` and of its subcommands, each page's footer
/// naming this version (clap_mangen would name the subcommand instead).
fn write_page(cmd: &clap::Command, dir: &Path) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_page(sub, dir)?;
    }
    clap_mangen::Man::new(cmd.clone())
        .source(source())
        .generate_to(dir)
        .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
    Ok(())
}

/// The footer of every page: the program and its version.
fn source() -> String {
    format!("{BIN_NAME} {}", env!("CARGO_PKG_VERSION"))
}
