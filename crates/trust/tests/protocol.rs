//! The trust protocol, driven message by message: honest runs, wrong
//! passphrases, machines in the middle, replays, tampering, limits, and a
//! property test over random populations of joiners and interleavings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use trust::protocol::{CloseReason, PROTOCOL_VERSION};
use trust::*;

const INITIATOR_CERT: Fingerprint = Fingerprint::from_bytes([0xaa; 32]);
const MITM_CERT: Fingerprint = Fingerprint::from_bytes([0xee; 32]);

fn cert(n: u8) -> Fingerprint {
    Fingerprint::from_bytes([n; 32])
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn services() -> BTreeMap<String, String> {
    [("LXD", "5.0.2"), ("MicroCeph", "19.2.0")]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

fn initiator(joiners: &[&str], rng: &mut ChaCha20Rng) -> Initiator {
    let mut config = InitiatorConfig::new(
        "micro01".into(),
        INITIATOR_CERT,
        Passphrase::new("correct horse"),
        joiners.iter().map(|s| s.to_string()).collect(),
    );
    config.required_services = services();
    Initiator::new(config, rng)
}

fn joiner(name: &str, fp: Fingerprint, passphrase: &str) -> JoinerConfig {
    JoinerConfig {
        name: name.into(),
        certificate: fp,
        passphrase: Passphrase::new(passphrase),
        intent: Intent {
            address: format!("10.0.0.{}", fp.as_bytes()[0]),
            services: services(),
        },
    }
}

/// Runs one honest exchange over direct (non-intercepted) TLS connections.
fn exchange(
    i: &mut Initiator,
    config: JoinerConfig,
    rng: &mut ChaCha20Rng,
) -> Result<Trusted, JoinError> {
    let fp = config.certificate;
    let (mut j, hello) = Joiner::start(config, rng);
    let challenge = match i.on_hello(fp, &hello, rng) {
        Ok(c) => c,
        Err(r) => return Err(j.on_rejection(r)),
    };
    let proof = j.on_challenge(INITIATOR_CERT, &challenge)?;
    match i.on_proof(fp, &proof) {
        Ok(verdict) => j.on_verdict(&verdict),
        Err(r) => Err(j.on_rejection(r)),
    }
}

#[test]
fn honest_joiners_are_admitted_and_learn_each_others_certificates() {
    let mut r = rng(1);
    let mut i = initiator(&["micro02", "micro03"], &mut r);
    let t2 = exchange(&mut i, joiner("micro02", cert(2), "correct horse"), &mut r).unwrap();
    assert_eq!(
        t2,
        Trusted {
            initiator_name: "micro01".into(),
            initiator_certificate: INITIATOR_CERT
        }
    );
    assert_eq!(i.missing(), vec!["micro03"]);
    assert_eq!(i.closed(), None);
    exchange(&mut i, joiner("micro03", cert(3), "correct horse"), &mut r).unwrap();
    assert_eq!(i.admitted()["micro02"].certificate, cert(2));
    assert_eq!(i.admitted()["micro03"].intent.address, "10.0.0.3");
    assert_eq!(i.closed(), Some(&CloseReason::Complete));
    assert_eq!(i.failures(), 0);
}

#[test]
fn wrong_passphrase_is_detected_by_the_joiner_before_it_proves_anything() {
    let mut r = rng(2);
    let mut i = initiator(&["micro02"], &mut r);
    let err = exchange(&mut i, joiner("micro02", cert(2), "wrong horse"), &mut r).unwrap_err();
    assert_eq!(err, JoinError::InitiatorNotAuthenticated);
    assert_eq!(
        err.to_string(),
        "the initiator did not prove that it knows the passphrase: the passphrases differ, or someone is intercepting the connection"
    );
    assert!(i.admitted().is_empty());
}

#[test]
fn a_joiner_that_abandons_an_attempt_is_counted_at_once_and_named() {
    let mut r = rng(20);
    let mut i = initiator(&["micro02"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "wrong horse"), &mut r);
    let challenge = i.on_hello(cert(2), &hello, &mut r).unwrap();
    assert_eq!(i.attempt_joiner(&challenge.attempt), Some("micro02"));
    assert_eq!(
        j.on_challenge(INITIATOR_CERT, &challenge),
        Err(JoinError::InitiatorNotAuthenticated)
    );
    let abandon = Abandon {
        attempt: challenge.attempt,
    };
    // Only the certificate that opened the attempt can abandon it.
    assert_eq!(
        i.on_abandon(cert(3), &abandon),
        Err(Rejection::UnknownAttempt)
    );
    assert_eq!(i.failures(), 0);
    assert_eq!(i.on_abandon(cert(2), &abandon), Ok("micro02".to_owned()));
    assert_eq!(i.failures(), 1);
    assert_eq!(i.attempt_joiner(&challenge.attempt), None);
    // The attempt is gone: abandoning it again changes nothing.
    assert_eq!(
        i.on_abandon(cert(2), &abandon),
        Err(Rejection::UnknownAttempt)
    );
    assert_eq!(i.failures(), 1);
}

#[test]
fn an_abandon_from_a_stranger_leaves_the_honest_attempt_intact() {
    let mut r = rng(21);
    let mut i = initiator(&["micro02"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let challenge = i.on_hello(cert(2), &hello, &mut r).unwrap();
    let abandon = Abandon {
        attempt: challenge.attempt,
    };
    assert_eq!(
        i.on_abandon(MITM_CERT, &abandon),
        Err(Rejection::UnknownAttempt)
    );
    let proof = j.on_challenge(INITIATOR_CERT, &challenge).unwrap();
    let verdict = i.on_proof(cert(2), &proof).unwrap();
    assert!(j.on_verdict(&verdict).is_ok());
    assert_eq!(i.failures(), 0);
    // Once closed, abandons are rejected like every other message.
    assert_eq!(
        i.on_abandon(cert(2), &abandon),
        Err(Rejection::SessionClosed {
            reason: "every listed system has joined".to_owned()
        })
    );
}

#[test]
fn a_guessing_joiner_is_refused_and_counted() {
    let mut r = rng(3);
    let mut i = initiator(&["micro02"], &mut r);
    // An attacker that ignores the failed confirmation and sends a proof anyway.
    let (_, hello) = Joiner::start(joiner("micro02", cert(9), "guess"), &mut r);
    let challenge = i.on_hello(cert(9), &hello, &mut r).unwrap();
    let forged = Proof {
        attempt: challenge.attempt,
        confirmation: [0; 32],
        intent: Intent {
            address: "10.0.0.9".into(),
            services: services(),
        },
        mac: [0; 32],
    };
    assert_eq!(i.on_proof(cert(9), &forged), Err(Rejection::ProofFailed));
    assert_eq!(i.failures(), 1);
    assert_eq!(
        Rejection::ProofFailed.to_string(),
        "the initiator rejected the passphrase proof: the passphrases differ, or the connection is intercepted"
    );
}

#[test]
fn a_machine_in_the_middle_cannot_complete_either_side() {
    let mut r = rng(4);
    let mut i = initiator(&["micro02"], &mut r);
    // The relay terminates TLS on both sides with its own certificate, and
    // forwards the messages unchanged.
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let challenge = i.on_hello(MITM_CERT, &hello, &mut r).unwrap();
    assert_eq!(
        j.on_challenge(MITM_CERT, &challenge),
        Err(JoinError::InitiatorNotAuthenticated)
    );
    assert!(i.admitted().is_empty());
}

#[test]
fn a_relay_that_keeps_the_initiator_certificate_still_fails_at_the_initiator() {
    let mut r = rng(5);
    let mut i = initiator(&["micro02"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    // Toward the initiator the relay presents its own client certificate.
    let challenge = i.on_hello(MITM_CERT, &hello, &mut r).unwrap();
    // Even if the joiner somehow saw the real initiator certificate, its
    // transcript has its own certificate where the initiator has the relay's.
    assert_eq!(
        j.on_challenge(INITIATOR_CERT, &challenge),
        Err(JoinError::InitiatorNotAuthenticated)
    );
}

#[test]
fn a_proof_on_another_connection_is_refused() {
    let mut r = rng(6);
    let mut i = initiator(&["micro02"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let challenge = i.on_hello(cert(2), &hello, &mut r).unwrap();
    let proof = j.on_challenge(INITIATOR_CERT, &challenge).unwrap();
    assert_eq!(i.on_proof(MITM_CERT, &proof), Err(Rejection::ProofFailed));
}

#[test]
fn replayed_proofs_match_no_attempt() {
    let mut r = rng(7);
    let mut i = initiator(&["micro02", "micro03"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let challenge = i.on_hello(cert(2), &hello, &mut r).unwrap();
    let proof = j.on_challenge(INITIATOR_CERT, &challenge).unwrap();
    i.on_proof(cert(2), &proof).unwrap();
    assert_eq!(i.on_proof(cert(2), &proof), Err(Rejection::UnknownAttempt));
    // In a later session the same proof means nothing either.
    let mut later = initiator(&["micro02"], &mut r);
    assert_eq!(
        later.on_proof(cert(2), &proof),
        Err(Rejection::UnknownAttempt)
    );
}

#[test]
fn tampered_intent_and_verdict_are_detected() {
    let mut r = rng(8);
    let mut i = initiator(&["micro02"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let challenge = i.on_hello(cert(2), &hello, &mut r).unwrap();
    let mut proof = j.on_challenge(INITIATOR_CERT, &challenge).unwrap();
    proof.intent.address = "203.0.113.66".into();
    assert_eq!(i.on_proof(cert(2), &proof), Err(Rejection::ProofFailed));

    let mut i = initiator(&["micro03"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let challenge = i.on_hello(cert(2), &hello, &mut r).unwrap();
    let proof = j.on_challenge(INITIATOR_CERT, &challenge).unwrap();
    let mut verdict = i.on_proof(cert(2), &proof).unwrap();
    assert!(matches!(verdict.outcome, Outcome::Refused { .. }));
    verdict.outcome = Outcome::Admitted;
    assert_eq!(
        j.on_verdict(&verdict),
        Err(JoinError::Protocol(
            "the verdict is not authenticated by the session key".into()
        ))
    );
}

#[test]
fn unlisted_and_incompatible_joiners_are_refused_with_reasons() {
    let mut r = rng(9);
    let mut i = initiator(&["micro02"], &mut r);
    let err = exchange(&mut i, joiner("stranger", cert(7), "correct horse"), &mut r).unwrap_err();
    let JoinError::Refused(reason) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        reason.to_string(),
        "system \"stranger\" is not listed in the initiator's preseed; add it to `systems` or run the file meant for it"
    );

    let mut old = joiner("micro02", cert(2), "correct horse");
    old.intent.services.insert("LXD".into(), "5.0.1".into());
    let JoinError::Refused(reason) = exchange(&mut i, old, &mut r).unwrap_err() else {
        panic!()
    };
    assert_eq!(
        reason.to_string(),
        "system \"micro02\" has LXD 5.0.1, but the initiator has 5.0.2; install the same version on every machine"
    );

    let mut bare = joiner("micro02", cert(2), "correct horse");
    bare.intent.services.remove("MicroCeph");
    let JoinError::Refused(reason) = exchange(&mut i, bare, &mut r).unwrap_err() else {
        panic!()
    };
    assert_eq!(
        reason.to_string(),
        "system \"micro02\" is missing MicroCeph; install it (version 19.2.0) before joining"
    );
    // Refusals of authenticated joiners are not passphrase failures.
    assert_eq!(i.failures(), 0);
    assert!(i.admitted().is_empty());
}

#[test]
fn one_certificate_per_name_and_idempotent_retries() {
    let mut r = rng(10);
    let mut i = initiator(&["micro02", "micro03"], &mut r);
    exchange(&mut i, joiner("micro02", cert(2), "correct horse"), &mut r).unwrap();
    // The same machine retrying (say, its verdict was lost) is admitted again.
    exchange(&mut i, joiner("micro02", cert(2), "correct horse"), &mut r).unwrap();
    // Another machine with the same name is not.
    let err = exchange(&mut i, joiner("micro02", cert(5), "correct horse"), &mut r).unwrap_err();
    assert!(
        matches!(err, JoinError::Refused(Refusal::NameTaken { .. })),
        "{err:?}"
    );
    assert_eq!(i.admitted()["micro02"].certificate, cert(2));
}

#[test]
fn too_many_failures_close_the_session_for_everyone() {
    let mut r = rng(11);
    let mut i = initiator(&["micro02"], &mut r);
    for n in 0..10 {
        let (_, hello) = Joiner::start(joiner("micro02", cert(100 + n), "guess"), &mut r);
        let challenge = i.on_hello(cert(100 + n), &hello, &mut r).unwrap();
        let forged = Proof {
            attempt: challenge.attempt,
            confirmation: [n; 32],
            intent: Intent {
                address: String::new(),
                services: BTreeMap::new(),
            },
            mac: [0; 32],
        };
        assert_eq!(
            i.on_proof(cert(100 + n), &forged),
            Err(Rejection::ProofFailed)
        );
    }
    assert_eq!(
        i.closed(),
        Some(&CloseReason::TooManyFailures { failures: 10 })
    );
    let err = exchange(&mut i, joiner("micro02", cert(2), "correct horse"), &mut r).unwrap_err();
    assert_eq!(
        err,
        JoinError::Rejected(Rejection::SessionClosed {
            reason: "stopped after 10 failed passphrase attempts".into()
        })
    );
}

#[test]
fn abandoned_attempts_are_capped_and_count_as_failures() {
    let mut r = rng(12);
    let mut i = initiator(&["micro02"], &mut r); // 1 joiner + 8 open attempts allowed
    // A guesser that only ever sends Hello (it learns one guess from each Challenge).
    for n in 0..18u8 {
        let (_, hello) = Joiner::start(joiner("micro02", cert(n), "guess"), &mut r);
        let _ = i.on_hello(cert(n), &hello, &mut r);
    }
    // 9 open, 9 evicted as failures so far; one more eviction reaches the limit.
    assert_eq!(i.failures(), 9);
    // Each eviction is reported once, oldest first, with the name and
    // certificate of its hello, so the shell can name the source.
    let evicted: Vec<(String, Fingerprint)> = i
        .take_evicted()
        .into_iter()
        .map(|e| (e.joiner_name, e.peer))
        .collect();
    let expected: Vec<(String, Fingerprint)> =
        (0..9u8).map(|n| ("micro02".to_owned(), cert(n))).collect();
    assert_eq!(evicted, expected);
    assert!(i.take_evicted().is_empty());
    let (_, hello) = Joiner::start(joiner("micro02", cert(50), "guess"), &mut r);
    let _ = i.on_hello(cert(50), &hello, &mut r);
    assert!(
        matches!(i.closed(), Some(CloseReason::TooManyFailures { .. })),
        "{:?}",
        i.closed()
    );
}

#[test]
fn version_mismatch_and_malformed_messages_are_rejected() {
    let mut r = rng(13);
    let mut i = initiator(&["micro02"], &mut r);
    let (_, mut hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    hello.version = PROTOCOL_VERSION + 1;
    assert_eq!(
        i.on_hello(cert(2), &hello, &mut r),
        Err(Rejection::WrongVersion {
            expected: PROTOCOL_VERSION,
            found: PROTOCOL_VERSION + 1
        })
    );
    hello.version = PROTOCOL_VERSION;
    hello.pake.truncate(5);
    assert!(matches!(
        i.on_hello(cert(2), &hello, &mut r),
        Err(Rejection::Malformed { .. })
    ));
    hello.joiner_name.clear();
    assert!(matches!(
        i.on_hello(cert(2), &hello, &mut r),
        Err(Rejection::Malformed { .. })
    ));
}

#[test]
fn messages_travel_as_json_with_hex_bytes() {
    let mut r = rng(14);
    let mut i = initiator(&["micro02"], &mut r);
    let (mut j, hello) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let wire = serde_json::to_string(&hello).unwrap();
    assert!(
        wire.starts_with("{\"version\":1,\"joiner_name\":\"micro02\",\"pake\":\""),
        "{wire}"
    );
    let challenge = i
        .on_hello(cert(2), &serde_json::from_str(&wire).unwrap(), &mut r)
        .unwrap();
    let challenge: Challenge =
        serde_json::from_str(&serde_json::to_string(&challenge).unwrap()).unwrap();
    let proof = j.on_challenge(INITIATOR_CERT, &challenge).unwrap();
    let proof: Proof = serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
    let verdict = i.on_proof(cert(2), &proof).unwrap();
    let json = serde_json::to_value(&verdict).unwrap();
    assert_eq!(json["outcome"], serde_json::json!({"result": "admitted"}));
    let verdict: Verdict = serde_json::from_value(json).unwrap();
    j.on_verdict(&verdict).unwrap();
    // Unknown fields are refused.
    assert!(
        serde_json::from_str::<Hello>(r#"{"version":1,"joiner_name":"a","pake":"00","x":1}"#)
            .is_err()
    );
}

#[test]
fn the_passphrase_is_never_in_debug_output() {
    let mut r = rng(15);
    let i = initiator(&["micro02"], &mut r);
    let (j, _) = Joiner::start(joiner("micro02", cert(2), "correct horse"), &mut r);
    let config = joiner("micro02", cert(2), "correct horse");
    for text in [format!("{i:?}"), format!("{j:?}"), format!("{config:?}")] {
        assert!(!text.contains("correct horse"), "{text}");
    }
}

/// One simulated joiner in the property test.
#[derive(Clone, Debug)]
struct Actor {
    knows: bool,
    listed: bool,
    intercepted: bool,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the population and the order of delivery, exactly the listed
    /// joiners that know the passphrase and are not intercepted are admitted,
    /// each under its own certificate, and each of them pins the initiator's.
    #[test]
    fn admission_is_exactly_the_honest_listed_joiners(
        actors in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 1..8),
        order in proptest::collection::vec(0usize..64, 0..64),
        seed in any::<u64>(),
    ) {
        let actors: Vec<Actor> = actors.into_iter().map(|(knows, listed, intercepted)| Actor { knows, listed, intercepted }).collect();
        let mut r = rng(seed);
        let listed: BTreeSet<String> = actors.iter().enumerate().filter(|(_, a)| a.listed).map(|(n, _)| format!("node{n}")).collect();
        let mut config = InitiatorConfig::new("micro01".into(), INITIATOR_CERT, Passphrase::new("correct horse"), listed);
        config.max_failed_attempts = 1000;
        let mut i = Initiator::new(config, &mut r);

        // Each actor advances one step when scheduled: hello → proof → verdict.
        type Progress = (Joiner, Option<Challenge>, Option<Proof>, Option<Result<Trusted, JoinError>>);
        let mut joiners: Vec<Progress> = Vec::new();
        let mut hellos: Vec<Option<Hello>> = Vec::new();
        for (n, a) in actors.iter().enumerate() {
            let pass = if a.knows { "correct horse" } else { "nope" };
            let (j, h) = Joiner::start(joiner(&format!("node{n}"), cert(n as u8 + 1), pass), &mut r);
            joiners.push((j, None, None, None));
            hellos.push(Some(h));
        }
        let schedule: Vec<usize> = order.iter().map(|o| o % actors.len()).chain((0..actors.len()).flat_map(|n| [n, n, n])).collect();
        for n in schedule {
            let a = &actors[n];
            let (seen_by_initiator, seen_by_joiner) = if a.intercepted { (MITM_CERT, MITM_CERT) } else { (cert(n as u8 + 1), INITIATOR_CERT) };
            let (j, challenge, proof, done) = &mut joiners[n];
            if done.is_some() { continue; }
            if let Some(hello) = hellos[n].take() {
                match i.on_hello(seen_by_initiator, &hello, &mut r) {
                    Ok(c) => *challenge = Some(c),
                    Err(e) => *done = Some(Err(j.on_rejection(e))),
                }
            } else if let Some(c) = challenge.take() {
                match j.on_challenge(seen_by_joiner, &c) {
                    Ok(p) => *proof = Some(p),
                    Err(e) => *done = Some(Err(e)),
                }
            } else if let Some(p) = proof.take() {
                *done = Some(match i.on_proof(seen_by_initiator, &p) {
                    Ok(v) => j.on_verdict(&v),
                    Err(e) => Err(j.on_rejection(e)),
                });
            }
        }
        for (n, a) in actors.iter().enumerate() {
            let name = format!("node{n}");
            let honest = a.knows && a.listed && !a.intercepted;
            prop_assert_eq!(i.admitted().contains_key(&name), honest, "{} {:?}", name, a);
            let result = joiners[n].3.clone().expect("every actor finished");
            if honest {
                prop_assert_eq!(i.admitted()[&name].certificate, cert(n as u8 + 1));
                prop_assert_eq!(result.map(|t| t.initiator_certificate), Ok(INITIATOR_CERT));
            } else {
                prop_assert!(result.is_err());
            }
        }
        let expected_complete = actors.iter().all(|a| !a.listed || (a.knows && !a.intercepted));
        prop_assert_eq!(i.closed() == Some(&CloseReason::Complete), expected_complete);
    }
}
