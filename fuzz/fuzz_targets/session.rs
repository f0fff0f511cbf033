//! The trust protocol's state machines under arbitrary message sequences:
//! honest and dishonest joiners (wrong passphrase, unlisted name, another
//! certificate, a relay's certificate on either side), messages delivered
//! in any order, replayed, tampered with, or made up from raw JSON.
//!
//! After every step: only a listed name is admitted, and only under the
//! certificate of a joiner that knows the passphrase and used that name;
//! a joiner trusts only the initiator's certificate, and only after the
//! initiator admitted it under its own certificate; failures never pass
//! the limit. Nothing may panic.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use trust::{
    Abandon, Challenge, Fingerprint, Hello, Initiator, InitiatorConfig, Intent, Joiner,
    JoinerConfig, Passphrase, Proof, Rejection, Trusted, Verdict,
};

const PASSPHRASE: &str = "correct horse";
const MAX_FAILURES: u32 = 5;
const NAMES: [&str; 3] = ["micro02", "micro03", "micro09"];
const POOL: usize = 16;

fn cert(n: u8) -> Fingerprint {
    Fingerprint::from_bytes([n; 32])
}

/// The initiator's certificate; 1–3 are joiners', 4 a relay's.
const INITIATOR: u8 = 0;

fn services(right: bool) -> BTreeMap<String, String> {
    let version = if right { "5.0.2" } else { "6.1" };
    BTreeMap::from([("LXD".to_owned(), version.to_owned())])
}

struct Slot {
    name: &'static str,
    cert: Fingerprint,
    knows: bool,
    joiner: Joiner,
    trusted: Option<Trusted>,
}

#[derive(Default)]
struct World {
    slots: Vec<Slot>,
    hellos: Vec<Hello>,
    challenges: Vec<Challenge>,
    proofs: Vec<Proof>,
    verdicts: Vec<Verdict>,
}

fn push<T>(pool: &mut Vec<T>, item: T) {
    if pool.len() < POOL {
        pool.push(item);
    }
}

fn pick<'a, T>(pool: &'a [T], u: &mut Unstructured<'_>) -> Option<&'a T> {
    if pool.is_empty() {
        return None;
    }
    let i = usize::from(u.arbitrary::<u8>().unwrap_or(0)) % pool.len();
    pool.get(i)
}

fn peer(u: &mut Unstructured<'_>) -> Fingerprint {
    cert(u.arbitrary::<u8>().unwrap_or(0) % 5)
}

fn raw<'a>(u: &mut Unstructured<'a>) -> &'a [u8] {
    let len = usize::from(u.arbitrary::<u8>().unwrap_or(0));
    u.bytes(len.min(u.len())).unwrap_or(&[])
}

/// A recorded message as JSON with one byte changed.
fn tampered<T: serde::Serialize + serde::de::DeserializeOwned>(
    message: &T,
    u: &mut Unstructured<'_>,
) -> Option<T> {
    let mut bytes = serde_json::to_vec(message).ok()?;
    let at = usize::from(u.arbitrary::<u16>().unwrap_or(0)) % bytes.len().max(1);
    let with = u.arbitrary::<u8>().unwrap_or(0);
    *bytes.get_mut(at)? = with;
    serde_json::from_slice(&bytes).ok()
}

fn check(initiator: &Initiator, world: &World) {
    assert!(initiator.failures() <= MAX_FAILURES, "{initiator:?}");
    for (name, admitted) in initiator.admitted() {
        assert!(NAMES[..2].contains(&name.as_str()), "admitted unlisted {name}");
        assert!(
            world
                .slots
                .iter()
                .any(|s| s.name == name && s.knows && s.cert == admitted.certificate),
            "{name} admitted under {} without a joiner that knows the passphrase",
            admitted.certificate
        );
    }
    for s in &world.slots {
        if let Some(trusted) = &s.trusted {
            assert_eq!(trusted.initiator_certificate, cert(INITIATOR));
            assert!(s.knows);
            let admitted = initiator.admitted().get(s.name);
            assert_eq!(admitted.map(|a| a.certificate), Some(s.cert), "{}", s.name);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let mut config = InitiatorConfig::new(
        "micro01".into(),
        cert(INITIATOR),
        Passphrase::new(PASSPHRASE),
        NAMES[..2].iter().map(|s| (*s).to_owned()).collect(),
    );
    config.required_services = services(true);
    config.max_failed_attempts = MAX_FAILURES;
    config.max_open_attempts = 4;
    let mut initiator = Initiator::new(config, &mut rng);
    let mut world = World::default();

    for _ in 0..48 {
        let Ok(op) = u.arbitrary::<u8>() else {
            break;
        };
        match op % 14 {
            // A joiner starts an attempt.
            0 => {
                let b = u.arbitrary::<u8>().unwrap_or(0);
                let name = NAMES[usize::from(b % 3)];
                let c = cert(1 + (b >> 2) % 4);
                let knows = b & 0x40 == 0;
                let right = b & 0x80 == 0;
                let passphrase = if knows { PASSPHRASE } else { "wrong horse" };
                let (joiner, hello) = Joiner::start(
                    JoinerConfig {
                        name: name.to_owned(),
                        certificate: c,
                        passphrase: Passphrase::new(passphrase),
                        intent: Intent {
                            address: "10.0.0.2".into(),
                            services: services(right),
                        },
                    },
                    &mut rng,
                );
                if world.slots.len() < POOL {
                    world.slots.push(Slot {
                        name,
                        cert: c,
                        knows,
                        joiner,
                        trusted: None,
                    });
                }
                push(&mut world.hellos, hello);
            }
            // The initiator gets a recorded hello over some connection.
            1 => {
                let p = peer(&mut u);
                if let Some(hello) = pick(&world.hellos, &mut u).cloned()
                    && let Ok(challenge) = initiator.on_hello(p, &hello, &mut rng)
                {
                    push(&mut world.challenges, challenge);
                }
            }
            // A joiner gets a recorded challenge, seeing some server certificate.
            2 => {
                let p = peer(&mut u);
                let challenge = pick(&world.challenges, &mut u).cloned();
                let slot = u.arbitrary::<u8>().unwrap_or(0);
                let n = world.slots.len();
                if let (Some(challenge), Some(s)) =
                    (challenge, world.slots.get_mut(usize::from(slot) % n.max(1)))
                    && let Ok(proof) = s.joiner.on_challenge(p, &challenge)
                {
                    push(&mut world.proofs, proof);
                }
            }
            // The initiator gets a recorded proof.
            3 => {
                let p = peer(&mut u);
                if let Some(proof) = pick(&world.proofs, &mut u).cloned()
                    && let Ok(verdict) = initiator.on_proof(p, &proof)
                {
                    push(&mut world.verdicts, verdict);
                }
            }
            // A joiner gets a recorded verdict.
            4 => {
                let verdict = pick(&world.verdicts, &mut u).cloned();
                let slot = u.arbitrary::<u8>().unwrap_or(0);
                let n = world.slots.len();
                if let (Some(verdict), Some(s)) =
                    (verdict, world.slots.get_mut(usize::from(slot) % n.max(1)))
                    && let Ok(trusted) = s.joiner.on_verdict(&verdict)
                {
                    s.trusted = Some(trusted);
                }
            }
            // Someone abandons a recorded attempt.
            5 => {
                let p = peer(&mut u);
                if let Some(challenge) = pick(&world.challenges, &mut u) {
                    let abandon = Abandon {
                        attempt: challenge.attempt,
                    };
                    let _ = initiator.on_abandon(p, &abandon);
                }
            }
            // Made-up messages from raw bytes.
            6 => {
                let p = peer(&mut u);
                if let Ok(hello) = serde_json::from_slice::<Hello>(raw(&mut u))
                    && let Ok(challenge) = initiator.on_hello(p, &hello, &mut rng)
                {
                    push(&mut world.challenges, challenge);
                }
            }
            7 => {
                let p = peer(&mut u);
                if let Ok(proof) = serde_json::from_slice::<Proof>(raw(&mut u))
                    && let Ok(verdict) = initiator.on_proof(p, &proof)
                {
                    push(&mut world.verdicts, verdict);
                }
            }
            8 => {
                let p = peer(&mut u);
                if let Ok(abandon) = serde_json::from_slice::<Abandon>(raw(&mut u)) {
                    let _ = initiator.on_abandon(p, &abandon);
                }
            }
            9 => {
                let p = peer(&mut u);
                let slot = u.arbitrary::<u8>().unwrap_or(0);
                let challenge = serde_json::from_slice::<Challenge>(raw(&mut u));
                let n = world.slots.len();
                if let (Ok(challenge), Some(s)) =
                    (challenge, world.slots.get_mut(usize::from(slot) % n.max(1)))
                    && let Ok(proof) = s.joiner.on_challenge(p, &challenge)
                {
                    push(&mut world.proofs, proof);
                }
            }
            10 => {
                let slot = u.arbitrary::<u8>().unwrap_or(0);
                let verdict = serde_json::from_slice::<Verdict>(raw(&mut u));
                let n = world.slots.len();
                if let (Ok(verdict), Some(s)) =
                    (verdict, world.slots.get_mut(usize::from(slot) % n.max(1)))
                    && let Ok(trusted) = s.joiner.on_verdict(&verdict)
                {
                    s.trusted = Some(trusted);
                }
            }
            // Tampered copies of recorded messages.
            11 => {
                let p = peer(&mut u);
                match u.arbitrary::<u8>().unwrap_or(0) % 3 {
                    0 => {
                        if let Some(proof) = pick(&world.proofs, &mut u).cloned()
                            && let Some(proof) = tampered(&proof, &mut u)
                            && let Ok(verdict) = initiator.on_proof(p, &proof)
                        {
                            push(&mut world.verdicts, verdict);
                        }
                    }
                    1 => {
                        let slot = u.arbitrary::<u8>().unwrap_or(0);
                        let verdict = pick(&world.verdicts, &mut u).cloned();
                        let verdict = verdict.and_then(|v| tampered(&v, &mut u));
                        let n = world.slots.len();
                        if let (Some(verdict), Some(s)) =
                            (verdict, world.slots.get_mut(usize::from(slot) % n.max(1)))
                            && let Ok(trusted) = s.joiner.on_verdict(&verdict)
                        {
                            s.trusted = Some(trusted);
                        }
                    }
                    _ => {
                        let slot = u.arbitrary::<u8>().unwrap_or(0);
                        let challenge = pick(&world.challenges, &mut u).cloned();
                        let challenge = challenge.and_then(|c| tampered(&c, &mut u));
                        let n = world.slots.len();
                        if let (Some(challenge), Some(s)) =
                            (challenge, world.slots.get_mut(usize::from(slot) % n.max(1)))
                            && let Ok(proof) = s.joiner.on_challenge(p, &challenge)
                        {
                            push(&mut world.proofs, proof);
                        }
                    }
                }
            }
            12 => initiator.close("fuzz".into()),
            _ => {
                let slot = u.arbitrary::<u8>().unwrap_or(0);
                let rejection = serde_json::from_slice::<Rejection>(raw(&mut u));
                let n = world.slots.len();
                if let (Ok(rejection), Some(s)) =
                    (rejection, world.slots.get_mut(usize::from(slot) % n.max(1)))
                {
                    let _ = s.joiner.on_rejection(rejection).to_string();
                }
            }
        }
        check(&initiator, &world);
    }
});
