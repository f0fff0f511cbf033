//! MicroCeph's pool calls answered by a real Ceph cluster.
//!
//! MicroCeph lists pools and sets replication through the `ceph` CLI of
//! the cluster it runs. When a simulation stands next to real consumers of
//! Ceph (a real LXD creating its `ceph` pool in a real cluster), the
//! simulated MicroCeph must see that cluster's pools, or the planner would
//! never find the `lxd_remote` pool LXD made. With a [`CephCli`]
//! ([`crate::SimBuilder::ceph_cli`]), `GET /1.0/pools` and
//! `PUT /1.0/pools-op` run the same `ceph` commands as MicroCeph's
//! `ListPools` and `SetReplicationFactor`; everything else (members, OSDs,
//! disks, configs) stays simulated.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::SimError;

/// The command that runs the real cluster's `ceph` CLI, e.g.
/// `ip netns exec ceph-ns ceph --conf /path/ceph.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CephCli {
    argv: Vec<String>,
}

impl CephCli {
    /// Splits a command line on whitespace (no quoting).
    pub fn parse(command_line: &str) -> Result<Self, SimError> {
        let argv: Vec<String> = command_line.split_whitespace().map(String::from).collect();
        if argv.is_empty() {
            return Err(SimError::Config {
                what: "the ceph command".to_owned(),
                detail: "it is empty".to_owned(),
            });
        }
        Ok(Self { argv })
    }

    /// Runs `ceph ARGS`; its stdout, or MicroCeph's error text.
    async fn run(&self, args: &[&str]) -> Result<String, String> {
        let (program, prefix) = self
            .argv
            .split_first()
            .ok_or_else(|| "no ceph command configured".to_owned())?;
        let out = tokio::process::Command::new(program)
            .args(prefix)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| format!("Failed to run: ceph {}: {e}", args.join(" ")))?;
        if !out.status.success() {
            return Err(format!(
                "Failed to run: ceph {}: {} ({})",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The pools as MicroCeph's `GET /1.0/pools` lists them.
    pub(crate) async fn pools(&self) -> Result<Vec<Value>, String> {
        #[derive(Deserialize)]
        struct Detail {
            pool_name: String,
            pool_id: u64,
            size: u64,
            min_size: u64,
            crush_rule: u64,
        }
        #[derive(Deserialize)]
        struct Rule {
            rule_id: u64,
            rule_name: String,
        }
        let text = self
            .run(&["osd", "pool", "ls", "detail", "--format", "json"])
            .await?;
        let pools: Vec<Detail> =
            serde_json::from_str(&text).map_err(|e| format!("Failed to parse pool list: {e}"))?;
        let text = self
            .run(&["osd", "crush", "rule", "dump", "--format", "json"])
            .await?;
        let rules: Vec<Rule> =
            serde_json::from_str(&text).map_err(|e| format!("Failed to parse CRUSH rules: {e}"))?;
        Ok(pools
            .iter()
            .map(|p| {
                let rule = rules
                    .iter()
                    .find(|r| r.rule_id == p.crush_rule)
                    .map_or_else(|| p.crush_rule.to_string(), |r| r.rule_name.clone());
                json!({"pool": p.pool_name, "pool_id": p.pool_id, "size": p.size,
                       "min_size": p.min_size, "crush_rule": rule})
            })
            .collect())
    }

    /// MicroCeph's `SetReplicationFactor`: the default size of new pools,
    /// whether size 1 is allowed, and the size of each named pool (`*`:
    /// every pool; empty names are skipped).
    pub(crate) async fn set_replication(&self, pools: &[String], size: u64) -> Result<(), String> {
        let one = if size == 1 { "true" } else { "false" };
        self.run(&["config", "set", "global", "mon_allow_pool_size_one", one])
            .await?;
        let size = size.to_string();
        self.run(&["config", "set", "global", "osd_pool_default_size", &size])
            .await?;
        let names: Vec<String> = if pools == ["*"] {
            self.pools()
                .await?
                .iter()
                .filter_map(|p| p["pool"].as_str().map(String::from))
                .collect()
        } else {
            pools.iter().filter(|p| !p.is_empty()).cloned().collect()
        };
        for pool in &names {
            self.run(&[
                "osd",
                "pool",
                "set",
                pool,
                "size",
                &size,
                "--yes-i-really-mean-it",
            ])
            .await
            .map_err(|e| format!("Failed to set pool size: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_is_split_on_whitespace_and_must_not_be_empty() {
        let cli =
            CephCli::parse("ip netns exec x  ceph --conf /c").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cli.argv,
            ["ip", "netns", "exec", "x", "ceph", "--conf", "/c"]
        );
        let e = CephCli::parse("  ").err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid configuration of the ceph command: it is empty")
        );
    }

    #[tokio::test]
    async fn pools_and_replication_run_the_ceph_commands_microceph_runs() {
        // A fake `ceph`: logs its arguments, answers the two listings.
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join("log");
        let script = dir.path().join("ceph");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$*\" >> {log}\ncase \"$*\" in\n\
                 'osd pool ls detail --format json') echo '[{{\"pool_name\":\"lxd_remote\",\"pool_id\":2,\"size\":1,\"min_size\":1,\"crush_rule\":0}}]';;\n\
                 'osd crush rule dump --format json') echo '[{{\"rule_id\":0,\"rule_name\":\"replicated_rule\"}}]';;\n\
                 'osd pool set nope '*) echo \"Error ENOENT: unrecognized pool 'nope'\" >&2; exit 2;;\n\
                 esac\n",
                log = log.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let cli =
            CephCli::parse(&format!("sh {}", script.display())).unwrap_or_else(|e| panic!("{e}"));
        let pools = cli.pools().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pools,
            [
                json!({"pool": "lxd_remote", "pool_id": 2, "size": 1, "min_size": 1, "crush_rule": "replicated_rule"})
            ]
        );
        cli.set_replication(&["".to_owned(), "lxd_remote".to_owned()], 3)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let e = cli
            .set_replication(&["nope".to_owned()], 1)
            .await
            .err()
            .unwrap_or_default();
        assert!(
            e.starts_with("Failed to set pool size: Failed to run: ceph osd pool set nope size 1 --yes-i-really-mean-it: exit status: 2 (Error ENOENT: unrecognized pool 'nope')"),
            "{e}"
        );
        let logged = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            logged.lines().collect::<Vec<_>>(),
            [
                "osd pool ls detail --format json",
                "osd crush rule dump --format json",
                "config set global mon_allow_pool_size_one false",
                "config set global osd_pool_default_size 3",
                "osd pool set lxd_remote size 3 --yes-i-really-mean-it",
                "config set global mon_allow_pool_size_one true",
                "config set global osd_pool_default_size 1",
                "osd pool set nope size 1 --yes-i-really-mean-it",
            ]
        );
    }
}
