//! Options of `microcloud preseed` about how a run behaves and what it
//! leaves behind: step deadlines (`--timeout`) and the report file
//! (`--report`).

use config_loader::model::{StepClass, Timeouts, format_duration, parse_step_timeout};
use std::path::PathBuf;
use std::time::Duration;

/// `--timeout CLASS=DURATION` (repeatable) and `--report FILE`.
#[derive(Debug, Clone, Default, clap::Args)]
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
