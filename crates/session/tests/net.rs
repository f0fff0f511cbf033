//! The trust session over real TLS on loopback: honest joins, start order,
//! wrong passphrases, refusals, a relay in the middle, timeouts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clients::Identity;
use rustls::pki_types::ServerName;
use session::net::{
    IncidentKind, JoinSettings, NetError, Progress, SessionEnd, SessionSettings, join_session,
    serve_session,
};
use session::protocol::{CloseReason, Refusal, Rejection};
use session::{Intent, JoinError, Passphrase, Trusted};
use tokio::net::{TcpListener, TcpSocket};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const PASSPHRASE: &str = "correct horse battery staple";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn any_port(last: u8) -> SocketAddr {
    SocketAddr::new(ip(last), 0)
}

fn identity(name: &str) -> Identity {
    Identity::generate(name, &[]).unwrap()
}

fn services() -> BTreeMap<String, String> {
    [("LXD", "5.21"), ("MicroCeph", "19.2.0")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn session_settings(listen: SocketAddr, me: &Identity, joiners: &[&str]) -> SessionSettings {
    let mut settings = SessionSettings::new(
        listen,
        me.clone(),
        "micro01".to_owned(),
        Passphrase::new(PASSPHRASE),
        joiners.iter().map(|j| (*j).to_owned()).collect(),
    );
    settings.protocol.required_services = services();
    settings.session_timeout = Duration::from_secs(20);
    settings
}

fn intent(name: &str) -> Intent {
    Intent {
        address: format!("10.0.0.{}", name.trim_start_matches("micro")),
        services: services(),
    }
}

fn join_settings(
    initiator: SocketAddr,
    me: &Identity,
    name: &str,
    passphrase: &str,
) -> JoinSettings {
    let mut settings = JoinSettings::new(
        initiator,
        me.clone(),
        name.to_owned(),
        Passphrase::new(passphrase),
        intent(name),
    );
    settings.session_timeout = Duration::from_secs(10);
    settings.initial_backoff = Duration::from_millis(20);
    settings.max_backoff = Duration::from_millis(200);
    settings
}

/// The error and its sources, as `{:#}` prints them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

async fn progress_until(
    progress: &mut tokio::sync::watch::Receiver<Progress>,
    done: impl Fn(&Progress) -> bool,
) -> Progress {
    progress.wait_for(|p| done(p)).await.unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_joiners_in_parallel_are_admitted_with_their_certificates() {
    let me = identity("micro01");
    let handle = serve_session(session_settings(
        any_port(11),
        &me,
        &["micro02", "micro03", "micro04"],
    ))
    .await
    .unwrap();
    let address = handle.local_addr();
    assert_eq!(address.ip(), ip(11));

    let joiners: Vec<(String, Identity)> = ["micro04", "micro02", "micro03"]
        .into_iter()
        .map(|n| (n.to_owned(), identity(n)))
        .collect();
    let tasks: Vec<_> = joiners
        .iter()
        .map(|(name, id)| tokio::spawn(join_session(join_settings(address, id, name, PASSPHRASE))))
        .collect();
    let admitted = handle.wait().await.unwrap();
    for task in tasks {
        assert_eq!(
            task.await.unwrap().unwrap(),
            Trusted {
                initiator_name: "micro01".to_owned(),
                initiator_certificate: me.fingerprint(),
            }
        );
    }

    let names: Vec<&str> = admitted.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["micro02", "micro03", "micro04"]);
    for a in &admitted {
        let (_, id) = joiners.iter().find(|(n, _)| *n == a.name).unwrap();
        assert_eq!(a.certificate, id.fingerprint(), "{}", a.name);
        assert_eq!(a.intent, intent(&a.name));
        assert_eq!(a.address, intent(&a.name).address);
        assert_eq!(a.connected_from.ip(), ip(1));
    }
}

#[tokio::test]
async fn a_joiner_started_before_the_initiator_retries_until_the_listener_appears() {
    let me = identity("micro01");
    // Find a free port on this address, then leave it unbound for a while.
    let address = {
        let probe = TcpListener::bind(any_port(12)).await.unwrap();
        probe.local_addr().unwrap()
    };
    let joiner = identity("micro02");
    let task = tokio::spawn(join_session(join_settings(
        address, &joiner, "micro02", PASSPHRASE,
    )));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !task.is_finished(),
        "the joiner gave up while nothing listened"
    );

    let handle = serve_session(session_settings(address, &me, &["micro02"]))
        .await
        .unwrap();
    let trusted = task.await.unwrap().unwrap();
    assert_eq!(trusted.initiator_certificate, me.fingerprint());
    let admitted = handle.wait().await.unwrap();
    assert_eq!(admitted.len(), 1);
    assert_eq!(admitted[0].certificate, joiner.fingerprint());
}

#[tokio::test]
async fn a_wrong_passphrase_fails_both_sides_and_the_session_closes_after_the_limit() {
    let me = identity("micro01");
    let mut settings = session_settings(any_port(13), &me, &["micro02", "micro03"]);
    settings.protocol.max_failed_attempts = 2;
    let handle = serve_session(settings).await.unwrap();
    let address = handle.local_addr();
    let mut progress = handle.progress();

    let wrong2 = identity("micro02");
    let error = join_session(join_settings(address, &wrong2, "micro02", "wrong horse"))
        .await
        .unwrap_err();
    assert!(error.is_authentication_failure());
    assert_eq!(
        chain(&error),
        format!(
            "the trust exchange with the initiator at {address} failed: the initiator did not prove that it knows the passphrase: the passphrases differ, or someone is intercepting the connection"
        )
    );
    let seen = progress_until(&mut progress, |p| p.failures == 1).await;
    assert_eq!(seen.closed, None);
    assert_eq!(seen.incidents.len(), 1);
    let incident = &seen.incidents[0];
    assert_eq!(incident.joiner, "micro02");
    assert_eq!(incident.certificate, wrong2.fingerprint());
    assert_eq!(incident.kind, IncidentKind::ConfirmationNotVerified);
    assert_eq!(
        incident.to_string(),
        format!(
            "\"micro02\" from {} (certificate {}) could not verify this initiator's passphrase confirmation: its passphrase differs, or the connection is intercepted",
            incident.from,
            wrong2.fingerprint()
        )
    );

    let wrong3 = identity("micro03");
    let error = join_session(join_settings(address, &wrong3, "micro03", "wrong horse"))
        .await
        .unwrap_err();
    assert!(error.is_authentication_failure());
    let seen = progress_until(&mut progress, |p| p.closed.is_some()).await;
    assert_eq!(
        seen.closed,
        Some(CloseReason::TooManyFailures { failures: 2 })
    );

    // Until the caller collects the result, the listener still answers,
    // and a joiner arriving now is told why the session is closed.
    let late = identity("micro02");
    let error = join_session(join_settings(address, &late, "micro02", PASSPHRASE))
        .await
        .unwrap_err();
    assert_eq!(
        chain(&error),
        format!(
            "the trust exchange with the initiator at {address} failed: the initiator rejected the attempt: the initiator's session is closed (stopped after 2 failed passphrase attempts)"
        )
    );
    assert!(matches!(
        &error,
        NetError::Trust { source, .. }
            if matches!(**source, JoinError::Rejected(Rejection::SessionClosed { .. }))
    ));

    let error = handle.wait().await.unwrap_err();
    let NetError::SessionEnded(failure) = &error else {
        panic!("unexpected: {}", chain(&error));
    };
    assert_eq!(failure.reason, SessionEnd::TooManyFailures { failures: 2 });
    assert_eq!(failure.missing, ["micro02", "micro03"]);
    assert!(failure.admitted.is_empty());
    let incidents = &failure.incidents;
    let who: Vec<_> = incidents
        .iter()
        .map(|i| (i.joiner.as_str(), i.certificate, i.kind.clone()))
        .collect();
    assert_eq!(
        who,
        [
            (
                "micro02",
                wrong2.fingerprint(),
                IncidentKind::ConfirmationNotVerified
            ),
            (
                "micro03",
                wrong3.fingerprint(),
                IncidentKind::ConfirmationNotVerified
            ),
        ]
    );
    // One source (both joiners ran here), both certificates and names.
    let summary = &failure.summary;
    assert_eq!(summary.total, 2);
    assert_eq!(summary.sources.len(), 1);
    let source = &summary.sources[0];
    assert_eq!(source.address, incidents[0].from.ip());
    assert_eq!(
        source.certificates,
        [wrong2.fingerprint(), wrong3.fingerprint()]
    );
    assert_eq!(source.names, ["micro02", "micro03"]);
    assert_eq!(
        error.to_string(),
        format!(
            "the trust session on {address} ended before every system joined: 2 attempts failed to prove the passphrase; check that every machine uses the same session passphrase (or look for someone guessing it); still missing: micro02, micro03; 2 incidents from 1 source; {}: 2 incidents between {:.1} s and {:.1} s into the session, certificates {}, {}, as \"micro02\", \"micro03\": 2× could not verify this initiator's passphrase confirmation: its passphrase differs, or the connection is intercepted",
            source.address,
            source.first_seen.as_secs_f64(),
            source.last_seen.as_secs_f64(),
            wrong2.fingerprint(),
            wrong3.fingerprint()
        )
    );
}

#[tokio::test]
async fn an_unlisted_joiner_is_refused_with_the_reason() {
    let me = identity("micro01");
    let handle = serve_session(session_settings(any_port(14), &me, &["micro02"]))
        .await
        .unwrap();
    let address = handle.local_addr();
    let mut progress = handle.progress();

    let stranger = identity("micro09");
    let error = join_session(join_settings(address, &stranger, "micro09", PASSPHRASE))
        .await
        .unwrap_err();
    assert!(!error.is_authentication_failure());
    assert!(matches!(
        &error,
        NetError::Trust { source, .. }
            if **source == JoinError::Refused(Refusal::NotListed { name: "micro09".to_owned() })
    ));
    assert_eq!(
        chain(&error),
        format!(
            "the trust exchange with the initiator at {address} failed: the initiator refused this machine: system \"micro09\" is not listed in the initiator's preseed; add it to `systems` or run the file meant for it"
        )
    );
    let seen = progress_until(&mut progress, |p| !p.incidents.is_empty()).await;
    assert_eq!(seen.failures, 0, "a refusal is not a failed passphrase");
    assert_eq!(
        seen.incidents[0].kind,
        IncidentKind::Refused(Refusal::NotListed {
            name: "micro09".to_owned()
        })
    );
    assert_eq!(seen.missing, ["micro02"]);

    handle.stopper().stop("the operator pressed Ctrl-C");
    let error = handle.wait().await.unwrap_err();
    let NetError::SessionEnded(failure) = &error else {
        panic!("unexpected: {}", chain(&error));
    };
    assert_eq!(
        failure.reason,
        SessionEnd::Stopped {
            reason: "the operator pressed Ctrl-C".to_owned()
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the trust session on {address} ended before every system joined: stopped: the operator pressed Ctrl-C; still missing: micro02; 1 incident from 1 source; {}",
            failure.summary.sources[0]
        )
    );
}

/// A machine in the middle that terminates TLS on both sides with its own
/// certificate and relays the decrypted bytes; its connections to the
/// initiator come from 127.0.0.9.
async fn relay(listen: SocketAddr, upstream: SocketAddr, own: &Identity) -> SocketAddr {
    let listener = TcpListener::bind(listen).await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(session::net::tls::session_server_config(own).unwrap());
    let connector = TlsConnector::from(session::net::tls::joiner_client_config(own).unwrap());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let connector = connector.clone();
            tokio::spawn(async move {
                let mut downstream = acceptor.accept(tcp).await.unwrap();
                let socket = TcpSocket::new_v4().unwrap();
                socket.bind(SocketAddr::new(ip(9), 0)).unwrap();
                let tcp = socket.connect(upstream).await.unwrap();
                let mut upstream = connector
                    .connect(ServerName::IpAddress(upstream.ip().into()), tcp)
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await;
            });
        }
    });
    address
}

#[tokio::test]
async fn a_relay_that_terminates_tls_fails_to_authenticate() {
    let me = identity("micro01");
    let handle = serve_session(session_settings(any_port(15), &me, &["micro02"]))
        .await
        .unwrap();
    let mut progress = handle.progress();
    let mallory = identity("mallory");
    let relay = relay(any_port(16), handle.local_addr(), &mallory).await;

    let joiner = identity("micro02");
    let error = join_session(join_settings(relay, &joiner, "micro02", PASSPHRASE))
        .await
        .unwrap_err();
    assert!(error.is_authentication_failure());
    assert_eq!(
        chain(&error),
        format!(
            "the trust exchange with the initiator at {relay} failed: the initiator did not prove that it knows the passphrase: the passphrases differ, or someone is intercepting the connection"
        )
    );

    // The abandon went through the relay: the initiator saw the relay's
    // certificate and address, counted a failure and admitted nobody.
    let seen = progress_until(&mut progress, |p| p.failures == 1).await;
    assert_eq!(seen.admitted, Vec::<String>::new());
    assert_eq!(seen.incidents.len(), 1);
    assert_eq!(seen.incidents[0].certificate, mallory.fingerprint());
    assert_eq!(seen.incidents[0].from.ip(), ip(9));
    assert_eq!(
        seen.incidents[0].kind,
        IncidentKind::ConfirmationNotVerified
    );

    // The honest path still works.
    join_session(join_settings(
        handle.local_addr(),
        &joiner,
        "micro02",
        PASSPHRASE,
    ))
    .await
    .unwrap();
    let admitted = handle.wait().await.unwrap();
    assert_eq!(admitted[0].certificate, joiner.fingerprint());
}

#[tokio::test]
async fn the_session_times_out_naming_the_missing_systems() {
    let me = identity("micro01");
    let mut settings = session_settings(any_port(17), &me, &["micro02", "micro03"]);
    settings.session_timeout = Duration::from_millis(300);
    let handle = serve_session(settings).await.unwrap();
    let address = handle.local_addr();
    let error = handle.wait().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the trust session on {address} ended before every system joined: the session timed out after 0.3 s (session_timeout); start `microcloud preseed` with the same file on the missing machines and check that they can reach this address; still missing: micro02, micro03"
        )
    );
}

#[tokio::test]
async fn a_joiner_gives_up_at_its_deadline_with_the_last_failure() {
    let address = {
        let probe = TcpListener::bind(any_port(18)).await.unwrap();
        probe.local_addr().unwrap()
    };
    let joiner = identity("micro02");
    let mut settings = join_settings(address, &joiner, "micro02", PASSPHRASE);
    settings.session_timeout = Duration::from_millis(400);
    let started = std::time::Instant::now();
    let error = join_session(settings).await.unwrap_err();
    let took = started.elapsed();
    let NetError::InitiatorUnreachable {
        attempts, waited, ..
    } = &error
    else {
        panic!("unexpected: {}", chain(&error));
    };
    assert!(*attempts >= 2, "it retried ({attempts} attempts)");
    // The whole timeout, not one backoff less (a limit, not a speed goal:
    // the slack only absorbs a loaded machine).
    assert!(
        *waited >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "waited {waited:?}, took {took:?}"
    );
    assert_eq!(
        chain(&error),
        format!(
            "no trust session answered at {address} in {:.1} s of trying ({attempts} attempts, until the session timeout); check that `microcloud preseed` runs on the initiator with the same file, that it listens on {address}, and that no firewall blocks the port: the last attempt failed while connecting: Connection refused (os error 111)",
            waited.as_secs_f64()
        )
    );
}

#[tokio::test]
async fn settings_with_a_foreign_certificate_are_refused() {
    let me = identity("micro01");
    let mut settings = session_settings(any_port(19), &me, &["micro02"]);
    settings.protocol.certificate = identity("other").fingerprint();
    let error = serve_session(settings).await.unwrap_err();
    assert!(matches!(error, NetError::InvalidSettings { .. }));
}

#[test]
fn the_shell_futures_can_run_on_any_worker_thread() {
    fn send<T: Send>(_: &T) {}
    let me = identity("micro01");
    send(&serve_session(session_settings(any_port(20), &me, &["x"])));
    send(&join_session(join_settings(any_port(20), &me, "x", "p")));
}

/// One raw request to the session listener, as a joiner's TLS client.
async fn raw(
    address: SocketAddr,
    me: &Identity,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, String) {
    use http_body_util::{BodyExt as _, Full};
    let connector = TlsConnector::from(session::net::tls::joiner_client_config(me).unwrap());
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let tls = connector
        .connect(ServerName::IpAddress(address.ip().into()), tcp)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", address.to_string())
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_listener_answers_bad_requests_with_rejections() {
    let me = identity("micro01");
    let handle = serve_session(session_settings(any_port(21), &me, &["micro02"]))
        .await
        .unwrap();
    let address = handle.local_addr();
    let client = identity("micro02");

    let (status, body) = raw(
        address,
        &client,
        "POST",
        "/1.0/trust/hello",
        vec![b' '; 70_000],
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        body,
        r#"{"kind":"malformed","what":"the body of POST /1.0/trust/hello is larger than 65536 bytes"}"#
    );
    let (status, body) = raw(
        address,
        &client,
        "POST",
        "/1.0/trust/hello",
        b"{\"version\":1}".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        r#"{"kind":"malformed","what":"the body of POST /1.0/trust/hello is not a valid Hello: missing field `joiner_name` at line 1 column 13"}"#
    );
    let hello = r#"{"version":2,"joiner_name":"micro02","pake":"00"}"#;
    let (status, body) = raw(address, &client, "POST", "/1.0/trust/hello", hello.into()).await;
    assert_eq!(status, 400);
    assert_eq!(body, r#"{"kind":"wrong_version","expected":1,"found":2}"#);
    let (status, body) = raw(address, &client, "GET", "/1.0/trust/hello", Vec::new()).await;
    assert_eq!(status, 405);
    assert_eq!(
        body,
        r#"{"kind":"malformed","what":"/1.0/trust/hello accepts POST, not GET"}"#
    );
    let (status, body) = raw(address, &client, "GET", "/1.0/services/lxd/1.0", Vec::new()).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        r#"{"kind":"malformed","what":"no endpoint GET /1.0/services/lxd/1.0"}"#
    );
    let proof = format!(
        r#"{{"attempt":"{}","confirmation":"{}","intent":{{"address":"","services":{{}}}},"mac":"{}"}}"#,
        "00".repeat(16),
        "00".repeat(32),
        "00".repeat(32)
    );
    let (status, body) = raw(address, &client, "POST", "/1.0/trust/proof", proof.into()).await;
    assert_eq!(status, 409);
    assert_eq!(body, r#"{"kind":"unknown_attempt"}"#);

    let progress = handle.progress().borrow().clone();
    assert_eq!(progress.failures, 0);
    let kinds: Vec<_> = progress.incidents.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            IncidentKind::Rejected(Rejection::WrongVersion {
                expected: 1,
                found: 2
            }),
            IncidentKind::Rejected(Rejection::UnknownAttempt),
        ]
    );
}

#[tokio::test]
async fn a_server_that_does_not_speak_the_protocol_is_named_as_such() {
    // An agent that happens to trust the joiner's certificate answers the
    // hello with its own 404 envelope.
    let joiner = identity("micro02");
    let agent = session::agent::Agent::bind(any_port(22)).await.unwrap();
    let address = agent.local_addr();
    let settings = session::agent::AgentSettings::new(
        "micro05".to_owned(),
        identity("micro05"),
        joiner.fingerprint(),
    );
    let _agent = tokio::spawn(agent.run(settings));
    let error = join_session(join_settings(address, &joiner, "micro02", PASSPHRASE))
        .await
        .unwrap_err();
    assert!(
        matches!(error, NetError::NotATrustSession { status: 404, .. }),
        "{}",
        chain(&error)
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the server at {address} answered POST /1.0/trust/hello with HTTP 404 ({:?}), which is not the microcloud trust protocol; check the initiator's address and port",
            r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":404,"error":"the agent on micro05 has no endpoint POST /1.0/trust/hello","metadata":null}"#
        )
    );
}

/// One honest exchange made by hand over raw requests, recording the
/// bodies an eavesdropper who could read them would have: the `Hello`
/// and the `Proof`.
async fn recorded_join(
    address: SocketAddr,
    initiator: &Identity,
    me: &Identity,
) -> (String, String) {
    use rand_chacha::rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let (mut joiner, hello) = session::Joiner::start(
        session::JoinerConfig {
            name: "micro02".to_owned(),
            certificate: me.fingerprint(),
            passphrase: Passphrase::new(PASSPHRASE),
            intent: intent("micro02"),
        },
        &mut rng,
    );
    let hello = serde_json::to_string(&hello).unwrap();
    let (status, body) = raw(
        address,
        me,
        "POST",
        "/1.0/trust/hello",
        hello.clone().into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let challenge: session::Challenge = serde_json::from_str(&body).unwrap();
    let proof = joiner
        .on_challenge(initiator.fingerprint(), &challenge)
        .unwrap();
    let proof = serde_json::to_string(&proof).unwrap();
    let (status, body) = raw(
        address,
        me,
        "POST",
        "/1.0/trust/proof",
        proof.clone().into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let verdict: session::Verdict = serde_json::from_str(&body).unwrap();
    let trusted = joiner.on_verdict(&verdict).unwrap();
    assert_eq!(trusted.initiator_certificate, initiator.fingerprint());
    (hello, proof)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_session_messages_are_refused_and_trust_nobody() {
    let me = identity("micro01");
    let handle = serve_session(session_settings(any_port(23), &me, &["micro02", "micro03"]))
        .await
        .unwrap();
    let address = handle.local_addr();
    let micro02 = identity("micro02");
    let (hello, proof) = recorded_join(address, &me, &micro02).await;

    // The same proof again, even over micro02's own certificate: the
    // attempt was used up.
    let unknown = r#"{"kind":"unknown_attempt"}"#;
    let (status, body) = raw(
        address,
        &micro02,
        "POST",
        "/1.0/trust/proof",
        proof.clone().into(),
    )
    .await;
    assert_eq!((status, body.as_str()), (409, unknown));

    // An eavesdropper replays the hello from its own connection: it gets a
    // fresh attempt (new SPAKE2 message and id) it cannot prove. The old
    // proof names an attempt that no longer exists; moved onto the new
    // attempt, its confirmation is for another key and another
    // certificate, and fails (counted).
    let mallory = identity("mallory");
    let (status, body) = raw(
        address,
        &mallory,
        "POST",
        "/1.0/trust/hello",
        hello.clone().into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let fresh: session::Challenge = serde_json::from_str(&body).unwrap();
    let (status, body) = raw(
        address,
        &mallory,
        "POST",
        "/1.0/trust/proof",
        proof.clone().into(),
    )
    .await;
    assert_eq!((status, body.as_str()), (409, unknown));
    let mut moved: serde_json::Value = serde_json::from_str(&proof).unwrap();
    moved["attempt"] = serde_json::to_value(fresh.attempt).unwrap();
    let (status, body) = raw(
        address,
        &mallory,
        "POST",
        "/1.0/trust/proof",
        moved.to_string().into(),
    )
    .await;
    assert_eq!((status, body.as_str()), (403, r#"{"kind":"proof_failed"}"#));

    let progress = handle.progress().borrow().clone();
    assert_eq!(progress.admitted, ["micro02"]);
    assert_eq!(progress.failures, 1);
    assert_eq!(progress.missing, ["micro03"]);
    handle.stopper().stop("the test is over");
    let _ = handle.wait().await;

    // A later session (the initiator run again) knows none of it.
    let handle = serve_session(session_settings(any_port(24), &me, &["micro02"]))
        .await
        .unwrap();
    let address = handle.local_addr();
    let (status, body) = raw(address, &micro02, "POST", "/1.0/trust/proof", proof.into()).await;
    assert_eq!((status, body.as_str()), (409, unknown));
    let progress = handle.progress().borrow().clone();
    assert!(progress.admitted.is_empty());
    assert_eq!(progress.failures, 0);
}
