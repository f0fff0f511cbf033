//! Multicast discovery over real sockets on the loopback interface.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use session::discovery::{
    Announcement, Channel, Heard, VERSION, classify, cluster_tag, discover, parse_query, respond,
};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn channel(port: u16) -> Channel {
    Channel {
        group: Ipv4Addr::new(239, 100, 100, 100),
        port,
        interface: LOOPBACK,
    }
}

fn announcement(name: &str, address: &str) -> Announcement {
    Announcement {
        version: VERSION.into(),
        name: name.into(),
        address: address.parse().unwrap(),
        cluster: None,
    }
}

#[tokio::test]
async fn a_joiner_finds_the_initiator_and_skips_others() {
    let ch = channel(29444);
    let impostor = tokio::spawn(respond(ch, announcement("someone-else", "10.9.9.9")));
    let initiator = tokio::spawn(respond(ch, announcement("micro01", "10.0.0.1")));
    let found = discover(
        ch,
        "micro01",
        &BTreeSet::new(),
        Duration::from_secs(10),
        Duration::from_millis(100),
    )
    .await;
    assert_eq!(found.unwrap(), announcement("micro01", "10.0.0.1"));
    impostor.abort();
    initiator.abort();
}

#[tokio::test]
async fn excluded_addresses_and_silence_end_in_a_timeout_that_says_what_was_heard() {
    let ch = channel(29445);
    let other = tokio::spawn(respond(ch, announcement("micro01", "10.0.0.66")));
    let exclude: BTreeSet<IpAddr> = ["10.0.0.66".parse().unwrap()].into();
    let err = discover(
        ch,
        "micro01",
        &exclude,
        Duration::from_millis(600),
        Duration::from_millis(100),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no announcement from the initiator \"micro01\" on 239.100.100.100:29445 within 0.6 s; heard only: \"micro01\" at 10.0.0.66 (failed authentication before)"
    );
    other.abort();

    let err = discover(
        channel(29446),
        "micro01",
        &BTreeSet::new(),
        Duration::from_millis(300),
        Duration::from_millis(100),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().ends_with("check that the initiator runs and that both machines share the lookup subnet and allow multicast"), "{err}");
}

#[test]
fn queries_and_announcements_keep_microclouds_shape() {
    assert_eq!(
        parse_query(br#"{"version":"2.0"}"#).map(|q| q.version),
        Some("2.0".into())
    );
    assert_eq!(parse_query(br#"{"version":"1.0"}"#), None);
    assert_eq!(parse_query(&[b' '; 501]), None);
    assert_eq!(
        serde_json::to_string(&announcement("micro01", "10.0.0.1")).unwrap(),
        r#"{"version":"2.0","name":"micro01","address":"10.0.0.1"}"#
    );
    let from: SocketAddr = "10.0.0.5:40000".parse().unwrap();
    let none = BTreeSet::new();
    assert_eq!(
        classify(
            br#"{"version":"2.0","name":"micro01","address":"10.0.0.1"}"#,
            from,
            "micro01",
            None,
            &none
        ),
        Heard::Match(announcement("micro01", "10.0.0.1"))
    );
    assert_eq!(
        classify(
            br#"{"version":"1.0","name":"micro01","address":"10.0.0.1"}"#,
            from,
            "micro01",
            None,
            &none
        ),
        Heard::Other(
            "\"micro01\" at 10.0.0.1 with format version \"1.0\" (expected \"2.0\")".into()
        )
    );
    assert_eq!(
        classify(b"\xff\x00junk", from, "micro01", None, &none),
        Heard::Other("an unreadable datagram from 10.0.0.5".into())
    );
}

#[test]
fn another_cluster_files_initiator_of_the_same_name_is_passed_over() {
    let from: SocketAddr = "10.0.0.5:40000".parse().unwrap();
    let none = BTreeSet::new();
    let ours = cluster_tag("micro01", ["micro01", "micro02", "micro03"]);
    assert_eq!(
        ours,
        cluster_tag("micro01", ["micro03", "micro01", "micro02"])
    );
    let theirs = cluster_tag("micro01", ["micro01", "micro02"]);
    assert_ne!(ours, theirs);
    assert_eq!(ours.len(), 16);
    let datagram = |tag: &str| {
        format!(r#"{{"version":"2.0","name":"micro01","address":"10.0.0.9","cluster":"{tag}"}}"#)
    };
    assert_eq!(
        classify(
            datagram(&theirs).as_bytes(),
            from,
            "micro01",
            Some(&ours),
            &none
        ),
        Heard::Other(format!(
            "\"micro01\" at 10.0.0.9 running another cluster file (tag {theirs}, ours {ours})"
        ))
    );
    let Heard::Match(a) = classify(
        datagram(&ours).as_bytes(),
        from,
        "micro01",
        Some(&ours),
        &none,
    ) else {
        panic!("our own initiator's announcement must match");
    };
    assert_eq!(a.cluster.as_deref(), Some(ours.as_str()));
    // MicroCloud's announcements (and older ones) carry no tag: still tried.
    assert!(matches!(
        classify(
            br#"{"version":"2.0","name":"micro01","address":"10.0.0.1"}"#,
            from,
            "micro01",
            Some(&ours),
            &none
        ),
        Heard::Match(_)
    ));
    // A joiner without a tag takes any.
    assert!(matches!(
        classify(datagram(&theirs).as_bytes(), from, "micro01", None, &none),
        Heard::Match(_)
    ));
    // Ours is not sent when there is none.
    assert_eq!(
        serde_json::to_string(&announcement("micro01", "10.0.0.1")).unwrap(),
        r#"{"version":"2.0","name":"micro01","address":"10.0.0.1"}"#
    );
}
