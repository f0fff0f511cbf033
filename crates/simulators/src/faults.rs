//! Fault injection.
//!
//! A [`FaultRule`] matches requests by service, HTTP method, path pattern
//! and transport, and applies one [`FaultAction`]: added latency (fixed or
//! uniformly random, multiplied by the simulation's time scale), an error
//! status with a real-looking error envelope, a dropped connection, a hang
//! (no answer until the client gives up or the node crashes), or a crash of
//! the whole node (every listener of every service closes, open
//! connections are cut, state is kept for a later restart).
//!
//! `after` skips the first N matching requests and `times` limits how often
//! the rule fires, so "crash after 3 calls" is
//! `FaultRule::any().after(3).action(FaultAction::Crash)`.
//!
//! Path patterns: `*` matches within one path segment, `**` matches any
//! number of characters including `/`; everything else is literal. The
//! query string is not part of the match.
//!
//! Scripts for the `microcloud-sim` binary are JSON or YAML
//! ([`FaultScript::parse`]):
//!
//! ```yaml
//! rules:
//!   - node: node1
//!     service: lxd
//!     method: POST
//!     path: /1.0/cluster/members
//!     action: { kind: error, status: 503, message: "Service unavailable" }
//!   - node: node2
//!     service: microceph
//!     path: /1.0/disks
//!     action: { kind: latency, min_ms: 100, max_ms: 400 }
//!   - node: node3
//!     after: 20
//!     action: { kind: crash }
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::error::SimError;

/// Which simulated daemon.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// LXD.
    Lxd,
    /// MicroCeph.
    Microceph,
    /// MicroOVN.
    Microovn,
}

impl Service {
    /// Lowercase name (`lxd`, `microceph`, `microovn`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Lxd => "lxd",
            Service::Microceph => "microceph",
            Service::Microovn => "microovn",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Over which transport a request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Unix socket or HTTPS.
    #[default]
    Any,
    /// Only the local unix socket.
    Unix,
    /// Only HTTPS (this includes member-to-member traffic).
    Https,
}

/// What happens to a matching request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Delay, then handle normally. Either `ms` or `min_ms` + `max_ms`.
    Latency {
        /// Fixed delay in milliseconds.
        #[serde(default)]
        ms: Option<u64>,
        /// Lower bound of a uniform random delay.
        #[serde(default)]
        min_ms: Option<u64>,
        /// Upper bound of a uniform random delay.
        #[serde(default)]
        max_ms: Option<u64>,
    },
    /// Answer with an error envelope of this status.
    Error {
        /// HTTP status (and `error_code`).
        status: u16,
        /// Error text; defaults to the service's text for the status.
        #[serde(default)]
        message: Option<String>,
    },
    /// Close the connection without answering.
    Drop,
    /// Never answer.
    Hang,
    /// Crash the whole node (all three services) without answering.
    Crash,
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Node the rule applies to (required in scripts, set by the API).
    #[serde(default)]
    pub node: Option<String>,
    /// Service; `None` matches all three.
    #[serde(default)]
    pub service: Option<Service>,
    /// HTTP method; `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path pattern (`*` within a segment, `**` across segments).
    #[serde(default = "any_path")]
    pub path: String,
    /// Transport filter.
    #[serde(default)]
    pub transport: Transport,
    /// Matching requests to let through before the rule fires.
    #[serde(default)]
    pub after: u32,
    /// How many times the rule fires; `None` = forever.
    #[serde(default)]
    pub times: Option<u32>,
    /// The fault.
    pub action: FaultAction,
}

fn any_path() -> String {
    "**".to_string()
}

impl FaultRule {
    /// A rule matching every request of every service (action: 0 ms
    /// latency until [`FaultRule::action`] sets one).
    pub fn any() -> Self {
        Self {
            node: None,
            service: None,
            method: None,
            path: any_path(),
            transport: Transport::Any,
            after: 0,
            times: None,
            action: FaultAction::Latency {
                ms: Some(0),
                min_ms: None,
                max_ms: None,
            },
        }
    }
    /// A rule for one endpoint (`method` like `"POST"`, `path` a pattern).
    pub fn on(service: Service, method: &str, path: &str) -> Self {
        Self {
            service: Some(service),
            method: Some(method.to_ascii_uppercase()),
            path: path.to_string(),
            ..Self::any()
        }
    }
    /// Sets the action.
    pub fn action(mut self, action: FaultAction) -> Self {
        self.action = action;
        self
    }
    /// Error status with the service's default text for it.
    pub fn error(self, status: u16) -> Self {
        self.action(FaultAction::Error {
            status,
            message: None,
        })
    }
    /// Error status with an explicit message.
    pub fn error_with(self, status: u16, message: &str) -> Self {
        self.action(FaultAction::Error {
            status,
            message: Some(message.to_string()),
        })
    }
    /// Drop the connection.
    pub fn drop_connection(self) -> Self {
        self.action(FaultAction::Drop)
    }
    /// Never answer.
    pub fn hang(self) -> Self {
        self.action(FaultAction::Hang)
    }
    /// Crash the node.
    pub fn crash_node(self) -> Self {
        self.action(FaultAction::Crash)
    }
    /// Fixed latency.
    pub fn latency(self, d: Duration) -> Self {
        self.action(FaultAction::Latency {
            ms: Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            min_ms: None,
            max_ms: None,
        })
    }
    /// Uniformly random latency in `[min, max]`.
    pub fn latency_between(self, min: Duration, max: Duration) -> Self {
        self.action(FaultAction::Latency {
            ms: None,
            min_ms: Some(u64::try_from(min.as_millis()).unwrap_or(u64::MAX)),
            max_ms: Some(u64::try_from(max.as_millis()).unwrap_or(u64::MAX)),
        })
    }
    /// Let the first `n` matches through.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }
    /// Fire at most `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    /// Only over this transport.
    pub fn over(mut self, t: Transport) -> Self {
        self.transport = t;
        self
    }

    fn validate(&self) -> Result<(), String> {
        match &self.action {
            FaultAction::Latency { ms, min_ms, max_ms } => match (ms, min_ms, max_ms) {
                (Some(_), None, None) => Ok(()),
                (None, Some(a), Some(b)) if a <= b => Ok(()),
                (None, Some(_), Some(_)) => Err("latency: min_ms must not exceed max_ms".into()),
                _ => Err("latency: give either `ms` or both `min_ms` and `max_ms`".into()),
            },
            FaultAction::Error { status, .. } if !(400..=599).contains(status) => Err(format!(
                "error: status {status} is not an HTTP error status (400-599)"
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn matches(&self, service: Service, method: &str, path: &str, unix: bool) -> bool {
        if self.service.is_some_and(|s| s != service) {
            return false;
        }
        if self
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method))
        {
            return false;
        }
        match self.transport {
            Transport::Unix if !unix => return false,
            Transport::Https if unix => return false,
            _ => {}
        }
        glob_match(self.path.as_bytes(), path.as_bytes())
    }
}

/// `*` = any run of non-`/` characters, `**` = any run of characters.
pub(crate) fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    match pat.first() {
        None => s.is_empty(),
        Some(b'*') => {
            let deep = pat.get(1) == Some(&b'*');
            let rest = if deep {
                &pat[2.min(pat.len())..]
            } else {
                &pat[1..]
            };
            let mut i = 0;
            loop {
                if glob_match(rest, s.get(i..).unwrap_or_default()) {
                    return true;
                }
                match s.get(i) {
                    None => return false,
                    Some(b'/') if !deep => return false,
                    Some(_) => i += 1,
                }
            }
        }
        Some(c) => s.first() == Some(c) && glob_match(&pat[1..], &s[1..]),
    }
}

/// A parsed fault script: rules, each naming its node.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultScript {
    /// The rules, in order (the first matching rule that fires wins).
    pub rules: Vec<FaultRule>,
}

impl FaultScript {
    /// Parses a JSON or YAML script (JSON is tried first when the text
    /// starts with `{`).
    pub fn parse(text: &str, origin: &str) -> Result<Self, SimError> {
        let err = |detail: String| SimError::FaultScript {
            origin: origin.to_string(),
            detail,
        };
        let script: FaultScript = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| err(e.to_string()))?
        } else {
            serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?
        };
        for (i, rule) in script.rules.iter().enumerate() {
            rule.validate()
                .map_err(|d| err(format!("rules[{i}].action: {d}")))?;
            if rule.node.is_none() {
                return Err(err(format!(
                    "rules[{i}]: `node` is required in a script (which node does the rule apply to?)"
                )));
            }
        }
        Ok(script)
    }
}

/// Rules installed on one node, with their counters.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    rules: Vec<(FaultRule, u32, u32)>,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    Delay(Duration),
    Error(u16, Option<String>),
    Drop,
    Hang,
    Crash,
}

impl FaultSet {
    pub(crate) fn add(&mut self, rule: FaultRule) -> Result<(), SimError> {
        rule.validate().map_err(|detail| SimError::FaultScript {
            origin: "api".to_string(),
            detail,
        })?;
        self.rules.push((rule, 0, 0));
        Ok(())
    }
    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }
    /// Decides for one request. Latency rules accumulate; the first
    /// terminal rule (error, drop, hang, crash) that fires ends the search.
    pub(crate) fn decide(
        &mut self,
        service: Service,
        method: &str,
        path: &str,
        unix: bool,
        time_scale: f64,
    ) -> Vec<Decision> {
        let mut out = Vec::new();
        for (rule, seen, fired) in &mut self.rules {
            if !rule.matches(service, method, path, unix) {
                continue;
            }
            *seen += 1;
            if *seen <= rule.after {
                continue;
            }
            if rule.times.is_some_and(|t| *fired >= t) {
                continue;
            }
            *fired += 1;
            let d = match &rule.action {
                FaultAction::Latency { ms, min_ms, max_ms } => {
                    let ms = match (ms, min_ms, max_ms) {
                        (Some(ms), _, _) => *ms,
                        (None, Some(a), Some(b)) => uniform(*a, *b),
                        _ => 0,
                    };
                    Decision::Delay(Duration::from_millis(ms).mul_f64(time_scale.max(0.0)))
                }
                FaultAction::Error { status, message } => Decision::Error(*status, message.clone()),
                FaultAction::Drop => Decision::Drop,
                FaultAction::Hang => Decision::Hang,
                FaultAction::Crash => Decision::Crash,
            };
            let terminal = !matches!(d, Decision::Delay(_));
            out.push(d);
            if terminal {
                break;
            }
        }
        out
    }
}

fn uniform(a: u64, b: u64) -> u64 {
    if b <= a {
        return a;
    }
    let mut buf = [0u8; 8];
    let r = crate::util::fill_random(&mut buf);
    let x = if r { u64::from_le_bytes(buf) } else { 0 };
    a + x % (b - a + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match(b"**", b"/1.0/anything/at/all"));
        assert!(glob_match(
            b"/1.0/storage-pools/*",
            b"/1.0/storage-pools/local"
        ));
        assert!(!glob_match(
            b"/1.0/storage-pools/*",
            b"/1.0/storage-pools/local/volumes"
        ));
        assert!(glob_match(
            b"/1.0/operations/*/wait",
            b"/1.0/operations/abc/wait"
        ));
        assert!(glob_match(b"/core/**", b"/core/1.0/cluster"));
        assert!(!glob_match(b"/1.0", b"/1.0/cluster"));
    }

    #[test]
    fn after_and_times() {
        let mut set = FaultSet::default();
        set.add(
            FaultRule::on(Service::Lxd, "GET", "/1.0")
                .error(500)
                .after(1)
                .times(1),
        )
        .unwrap();
        let d = |s: &mut FaultSet| s.decide(Service::Lxd, "GET", "/1.0", true, 1.0);
        assert_eq!(d(&mut set), vec![]);
        assert_eq!(d(&mut set), vec![Decision::Error(500, None)]);
        assert_eq!(d(&mut set), vec![]);
    }

    #[test]
    fn script_requires_node_and_valid_latency() {
        let e = FaultScript::parse("rules:\n  - action: { kind: drop }\n", "f.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "fault script f.yaml: rules[0]: `node` is required in a script (which node does the rule apply to?)"
        );
        let e = FaultScript::parse(
            r#"{"rules":[{"node":"n1","action":{"kind":"latency","min_ms":5}}]}"#,
            "f.json",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "fault script f.json: rules[0].action: latency: give either `ms` or both `min_ms` and `max_ms`"
        );
        let ok = FaultScript::parse(
            "rules:\n  - node: n1\n    service: lxd\n    method: POST\n    path: /1.0/cluster/members\n    action: { kind: error, status: 503 }\n",
            "f.yaml",
        )
        .unwrap();
        assert_eq!(
            ok.rules[0].action,
            FaultAction::Error {
                status: 503,
                message: None
            }
        );
    }
}
