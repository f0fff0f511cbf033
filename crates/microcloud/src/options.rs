//! Options of `microcloud preseed` about how a run behaves and what it
//! leaves behind: step deadlines (`--timeout`), the report file
//! (`--report`) and the wait for the services (`--wait-ready`); and this
//! machine's service sockets, shared with `microcloud wait-ready`.

use config_loader::model::{StepClass, Timeouts, format_duration, parse_step_timeout};
use std::path::PathBuf;
use std::time::Duration;

use crate::machine::Sockets;

/// Parses a wait: `0` (do not wait) or a duration as `--timeout` takes
/// it (`90`, `45s`, `5m`, `1h30m`, up to 24h).
pub fn parse_wait(text: &str) -> Result<Duration, String> {
    if text.trim().trim_end_matches('s') == "0" {
        return Ok(Duration::ZERO);
    }
    parse_step_timeout(text)
}

/// This machine's service sockets.
#[derive(Debug, Clone, clap::Args)]
pub struct SocketOptions {
    /// Directory holding this machine's service sockets as
    /// `lxd/unix.socket`, `microceph/control.socket` and
    /// `microovn/control.socket` (one node of `microcloud-sim`); replaces
    /// the three socket options.
    #[arg(long, value_name = "DIR", conflicts_with = "lxd_socket")]
    pub sockets: Option<PathBuf>,
    /// LXD's unix socket (default: $LXD_SOCKET, $LXD_DIR/unix.socket, then the snap's).
    #[arg(long, value_name = "PATH")]
    pub lxd_socket: Option<PathBuf>,
    /// MicroCeph's control socket; MicroCeph counts as absent without it.
    #[arg(long, value_name = "PATH", default_value = clients::paths::MICROCEPH_SOCKET)]
    pub microceph_socket: PathBuf,
    /// MicroOVN's control socket; MicroOVN counts as absent without it.
    #[arg(long, value_name = "PATH", default_value = clients::paths::MICROOVN_SOCKET)]
    pub microovn_socket: PathBuf,
}

impl SocketOptions {
    /// LXD's socket when given (`--sockets` or `--lxd-socket`), else `None`
    /// (the environment decides: [`clients::paths::lxd_socket`]).
    pub fn lxd(&self) -> Option<PathBuf> {
        match &self.sockets {
            Some(dir) => Some(Sockets::in_dir(dir).lxd),
            None => self.lxd_socket.clone(),
        }
    }

    /// LXD's socket, falling back on the environment and the snap's.
    pub fn lxd_or_default(&self) -> PathBuf {
        self.lxd()
            .unwrap_or_else(|| clients::paths::lxd_socket(|k| std::env::var(k).ok()))
    }

    /// MicroCeph's control socket.
    pub fn microceph(&self) -> PathBuf {
        match &self.sockets {
            Some(dir) => Sockets::in_dir(dir).microceph,
            None => self.microceph_socket.clone(),
        }
    }

    /// MicroOVN's control socket.
    pub fn microovn(&self) -> PathBuf {
        match &self.sockets {
            Some(dir) => Sockets::in_dir(dir).microovn,
            None => self.microovn_socket.clone(),
        }
    }
}

/// `--timeout CLASS=DURATION` (repeatable), `--report FILE` and
/// `--wait-ready DURATION`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunOptions {
    /// Deadline of one class of steps, retries included: CLASS=DURATION,
    /// e.g. `--timeout join=20m` (repeatable; overrides the preseed's
    /// `timeouts:`). DURATION is seconds or a number with a unit (90, 45s,
    /// 5m, 1h30m), between 1s and 24h. Classes and defaults: bootstrap 5m
    /// (bootstrapping MicroCeph, MicroOVN, LXD clustering), token 1m (join
    /// tokens), join 10m (joining a service's cluster), ceph 10m (OSDs,
    /// replication), storage 10m (pools, volumes), network 5m (networks),
    /// settings 2m (server settings, OVN northbound, the profile).
    #[arg(long = "timeout", value_name = "CLASS=DURATION", value_parser = parse_timeout_override)]
    pub timeouts: Vec<(StepClass, Duration)>,
    /// Also write the final report as JSON to FILE (replaced atomically).
    #[arg(long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Before reading anything, wait up to DURATION for this machine's
    /// services to answer (LXD always; MicroCeph and MicroOVN when the
    /// preseed needs them or their sockets exist), saying what it waits
    /// for; exit 6 if they are not ready by then. `0` does not wait. Not
    /// with --sim-dir.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_wait)]
    pub wait_ready: Duration,
}

impl RunOptions {
    /// The preseed's deadlines with the command line's on top.
    pub fn timeouts(&self, from_preseed: &Timeouts) -> Timeouts {
        let mut timeouts = from_preseed.clone();
        for (class, deadline) in &self.timeouts {
            timeouts.set(*class, *deadline);
        }
        timeouts
    }
}

/// Parses `CLASS=DURATION`.
fn parse_timeout_override(text: &str) -> Result<(StepClass, Duration), String> {
    let classes = || {
        StepClass::ALL
            .iter()
            .map(|c| format!("{c} ({})", format_duration(c.default_timeout())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((name, duration)) = text.split_once('=') else {
        return Err(format!(
            "expected CLASS=DURATION, e.g. join=20m; classes (and defaults): {}",
            classes()
        ));
    };
    let class = StepClass::from_name(name.trim()).ok_or_else(|| {
        format!(
            "unknown step class `{}`; classes (and defaults): {}",
            name.trim(),
            classes()
        )
    })?;
    let deadline = parse_step_timeout(duration)?;
    Ok((class, deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_win_over_the_preseed() {
        assert_eq!(
            parse_timeout_override("join=20m"),
            Ok((StepClass::Join, Duration::from_secs(1200)))
        );
        assert_eq!(
            parse_timeout_override("joins=20m").unwrap_err(),
            "unknown step class `joins`; classes (and defaults): bootstrap (5m), token (1m), \
             join (10m), ceph (10m), storage (10m), network (5m), settings (2m)"
        );
        assert!(
            parse_timeout_override("join")
                .unwrap_err()
                .starts_with("expected CLASS=DURATION, e.g. join=20m")
        );
        assert_eq!(
            parse_timeout_override("join=0").unwrap_err(),
            "0 is out of range: a step timeout must be between 1s and 24h"
        );
        let mut preseed = Timeouts::default();
        preseed.set(StepClass::Join, Duration::from_secs(60));
        preseed.set(StepClass::Ceph, Duration::from_secs(70));
        let options = RunOptions {
            timeouts: vec![(StepClass::Join, Duration::from_secs(5))],
            report: None,
            wait_ready: Duration::ZERO,
        };
        let t = options.timeouts(&preseed);
        assert_eq!(t.get(StepClass::Join), Duration::from_secs(5));
        assert_eq!(t.get(StepClass::Ceph), Duration::from_secs(70));
        assert_eq!(t.get(StepClass::Token), Duration::from_secs(60));
    }

    #[test]
    fn the_help_names_every_class_with_its_default() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Probe {
            #[command(flatten)]
            options: RunOptions,
        }
        let help = Probe::command().render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for c in StepClass::ALL {
            let entry = format!("{c} {}", format_duration(c.default_timeout()));
            assert!(help.contains(&entry), "{entry} missing from:\n{help}");
        }
    }
}
