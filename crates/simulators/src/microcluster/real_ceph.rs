//! MicroCeph's pool calls answered by a real Ceph cluster.
//!
//! MicroCeph lists pools and sets replication through the `ceph` CLI of
//! the cluster it runs. When a simulation stands next to real consumers of
//! Ceph (a real LXD creating its `ceph` pool in a real cluster), the
//! simulated MicroCeph must see that cluster's pools, or the planner would
//! never find the `lxd_remote` pool LXD made. With a [`CephCli`]
//! ([`crate::SimBuilder::ceph_cli`]), `GET /1.0/pools` and
//! `PUT /1.0/pools-op` run the same `ceph` commands as MicroCeph's
//! `GetOSDPools` and `SetReplicationFactor` (microceph/ceph/osd.go,
//! v19.2.0+squid), with their error texts; everything else (members,
//! OSDs, disks, configs) stays simulated.

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

    /// Runs `ceph ARGS`; its stdout, or the error text of LXD's
    /// `shared.RunCommand` that MicroCeph uses (`RunError`:
    /// `Failed to run: ceph ARGS: exit status N (STDERR)`).
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
            // Go's `exec.ExitError` says `exit status N`.
            let status = out.status.code().map_or_else(
                || out.status.to_string(),
                |code| format!("exit status {code}"),
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim();
            return Err(if stderr.is_empty() {
                format!("Failed to run: ceph {}: {status}", args.join(" "))
            } else {
                format!(
                    "Failed to run: ceph {}: {status} ({stderr})",
                    args.join(" ")
                )
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The pool names (`ceph osd pool ls --format json`).
    async fn pool_names(&self) -> Result<Vec<String>, String> {
        let out = self
            .run(&["osd", "pool", "ls", "--format", "json"])
            .await
            .map_err(|e| format!("failed to list pools: {e}"))?;
        serde_json::from_str(&out).map_err(|e| format!("Failed to parse OSD pool names: {e}"))
    }

    /// The pools as MicroCeph's `GET /1.0/pools` lists them: `GetOSDPools`
    /// (microceph/ceph/osd.go, v19.2.0+squid and HEAD) runs `ceph osd pool
    /// ls` and, per pool, `ceph osd pool get NAME all`, whose `pool`,
    /// `pool_id`, `size`, `min_size` and `crush_rule` (the rule's name)
    /// are `types.Pool`.
    pub(crate) async fn pools(&self) -> Result<Vec<Value>, String> {
        #[derive(Deserialize)]
        struct Get {
            pool: String,
            pool_id: u64,
            size: u64,
            min_size: u64,
            crush_rule: String,
        }
        let mut pools = Vec::new();
        for name in self.pool_names().await? {
            let out = self
                .run(&["osd", "pool", "get", &name, "all", "--format", "json"])
                .await
                .map_err(|e| format!("Failed to fetch configuration for OSD pool {name:?}: {e}"))?;
            let p: Get = serde_json::from_str(&out)
                .map_err(|e| format!("Failed to parse {name:?} OSD pool configuration: {e}"))?;
            pools.push(json!({"pool": p.pool, "pool_id": p.pool_id, "size": p.size,
                              "min_size": p.min_size, "crush_rule": p.crush_rule}));
        }
        Ok(pools)
    }

    /// MicroCeph's `SetReplicationFactor` (microceph/ceph/osd.go,
    /// v19.2.0+squid and HEAD), in its order: the default size of new
    /// pools, whether size 1 is allowed, then the size of each named pool
    /// (`*`: every pool; empty names are skipped).
    pub(crate) async fn set_replication(&self, pools: &[String], size: u64) -> Result<(), String> {
        let size = size.to_string();
        self.run(&["config", "set", "global", "osd_pool_default_size", &size])
            .await
            .map_err(|e| format!("failed to set pool size default: {e}"))?;
        let one = if size == "1" { "true" } else { "false" };
        self.run(&["config", "set", "global", "mon_allow_pool_size_one", one])
            .await
            .map_err(|e| format!("failed to set size one pool config option: {e}"))?;
        let names: Vec<String> = if pools == ["*"] {
            self.pool_names().await?
        } else {
            pools.to_vec()
        };
        for pool in names.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
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
            .map_err(|e| format!("failed to set pool size for {pool}: {e}"))?;
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
                 'osd pool ls --format json') echo '[\"lxd_remote\"]';;\n\
                 'osd pool get lxd_remote all --format json') echo '{{\"pool\":\"lxd_remote\",\"pool_id\":2,\"size\":1,\"min_size\":1,\"pg_num\":32,\"crush_rule\":\"microceph_auto_osd\"}}';;\n\
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
                json!({"pool": "lxd_remote", "pool_id": 2, "size": 1, "min_size": 1, "crush_rule": "microceph_auto_osd"})
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
            e == "failed to set pool size for nope: Failed to run: ceph osd pool set nope size 1 --yes-i-really-mean-it: exit status 2 (Error ENOENT: unrecognized pool 'nope')",
            "{e}"
        );
        let logged = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            logged.lines().collect::<Vec<_>>(),
            [
                "osd pool ls --format json",
                "osd pool get lxd_remote all --format json",
                "config set global osd_pool_default_size 3",
                "config set global mon_allow_pool_size_one false",
                "osd pool set lxd_remote size 3 --yes-i-really-mean-it",
                "config set global osd_pool_default_size 1",
                "config set global mon_allow_pool_size_one true",
                "osd pool set nope size 1 --yes-i-really-mean-it",
            ]
        );
    }
}
