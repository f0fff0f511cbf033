//! The incident log: aggregation by source, bounds, per-source live lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use session::incidents::{Incident, IncidentKind, IncidentLog, LIVE_EVERY, MAX_SOURCES};
use session::{Fingerprint, Rejection};

fn from(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)), port)
}

fn cert(n: u8) -> Fingerprint {
    Fingerprint::from_bytes([n; 32])
}

fn incident(host: u8, port: u16, name: &str, c: u8, kind: IncidentKind) -> Incident {
    Incident {
        joiner: name.to_owned(),
        from: from(host, port),
        certificate: cert(c),
        kind,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_flood_is_one_source_and_does_not_hide_another() {
    let mut log = IncidentLog::new();
    let mut shown = Vec::new();
    // 100 rejected hellos from one host, each from a new port, within 5 s.
    for n in 0..100u16 {
        let i = incident(
            9,
            40_000 + n,
            "intruder",
            9,
            IncidentKind::Rejected(Rejection::UnknownAttempt),
        );
        shown.extend(log.record(&i, Duration::from_millis(u64::from(n) * 50)));
    }
    // Then an eviction (a new reason from the same source: shown at once),
    // and a listed machine with a wrong passphrase (a new source: shown).
    let evicted = incident(9, 41_000, "intruder", 9, IncidentKind::Evicted);
    shown.extend(log.record(&evicted, secs(6)));
    let wrong = incident(3, 50_000, "node3", 3, IncidentKind::ConfirmationNotVerified);
    shown.extend(log.record(&wrong, secs(7)));
    assert_eq!(
        shown,
        [
            incident(
                9,
                40_000,
                "intruder",
                9,
                IncidentKind::Rejected(Rejection::UnknownAttempt)
            )
            .to_string(),
            format!("{evicted} (and 99 earlier incidents from this source not shown)"),
            format!("{wrong}"),
        ]
    );
    // The flood's next line, after the interval, says how many were not shown.
    let later = incident(9, 42_000, "intruder", 9, IncidentKind::Evicted);
    assert_eq!(log.record(&later, secs(7)), None);
    let line = log.record(&later, secs(6) + LIVE_EVERY).unwrap();
    assert_eq!(
        line,
        format!("{later} (and 1 earlier incident from this source not shown)")
    );

    let summary = log.summary();
    assert_eq!(summary.total, 104);
    assert_eq!(summary.sources.len(), 2);
    let flood = &summary.sources[0];
    assert_eq!(flood.incidents, 103);
    assert_eq!(flood.first_seen, Duration::ZERO);
    assert_eq!(flood.last_seen, secs(16));
    assert_eq!(flood.certificates, [cert(9)]);
    assert_eq!(
        flood.reasons,
        [
            ("was rejected: the initiator does not know this attempt (it expired or was already used); start again".to_owned(), 100),
            ("opened an attempt and never completed it (evicted when too many were open: a flood of hellos, or a joiner that stopped half-way)".to_owned(), 3),
        ]
    );
    assert_eq!(
        summary.to_string(),
        format!(
            "104 incidents from 2 sources; 10.0.0.9: 103 incidents between 0.0 s and 16.0 s into the session, certificate {}, as \"intruder\": 100× was rejected: the initiator does not know this attempt (it expired or was already used); start again; 3× opened an attempt and never completed it (evicted when too many were open: a flood of hellos, or a joiner that stopped half-way); 10.0.0.3: 1 incident between 7.0 s and 7.0 s into the session, certificate {}, as \"node3\": 1× could not verify this initiator's passphrase confirmation: its passphrase differs, or the connection is intercepted",
            cert(9),
            cert(3)
        )
    );
}

#[test]
fn sources_certificates_and_names_are_bounded() {
    let mut log = IncidentLog::new();
    // One source rotating certificates and names.
    for n in 0..10u8 {
        let name = format!("n{n}");
        log.record(
            &incident(1, 1, &name, n, IncidentKind::ProofFailed),
            secs(1),
        );
    }
    // More sources than kept, each shown at most once per interval in all.
    let mut shown = 0;
    for host in 2..=(u8::try_from(MAX_SOURCES).unwrap() + 11) {
        let i = incident(host, 1, "x", 0, IncidentKind::ProofFailed);
        shown += usize::from(log.record(&i, secs(2)).is_some());
        log.record(&i, secs(2));
    }
    let summary = log.summary();
    assert_eq!(summary.sources.len(), MAX_SOURCES);
    assert_eq!(summary.more_sources, 11);
    assert_eq!(summary.more_incidents, 22);
    assert!(!summary.more_sources_at_least);
    // 63 kept sources shown at once, then one line for the rest.
    assert_eq!(shown, MAX_SOURCES - 1 + 1);
    let first = &summary.sources[0];
    assert_eq!(first.certificates.len(), 4);
    assert_eq!(first.other_certificates, 6);
    assert_eq!(first.names, ["n0", "n1", "n2", "n3"]);
    assert_eq!(first.other_names, 6);
    assert!(
        summary
            .to_string()
            .ends_with("; and 11 more sources (22 incidents)"),
        "{summary}"
    );
    assert!(
        first.to_string().contains(", 6 incidents with others, as \"n0\", \"n1\", \"n2\", \"n3\", 6 incidents with others: 10× sent a passphrase proof that does not verify"),
        "{first}"
    );
}

#[test]
fn an_empty_log_summarises_to_nothing() {
    let summary = IncidentLog::new().summary();
    assert!(summary.is_empty());
    assert_eq!(summary.to_string(), "0 incidents from 0 sources");
}
