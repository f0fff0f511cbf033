//! A small program run inside lab hosts by the lab tests: multicast
//! discovery responder and query, using the session crate's discovery.
//!
//! `lab-probe respond <interface-ip> <name> <port> [announced-ip]`: answers
//! until killed, announcing `announced-ip` (a liar's dead address) or its own.
//! `lab-probe discover <interface-ip> <name> <port> <timeout-ms>`: prints
//! the announcement as JSON, or the error, and exits 0 or 1.
//! `lab-probe impostor <interface-ip> <name> <port> <passphrase> <seconds>`:
//! a second initiator of the same name (another team, another passphrase):
//! a trust session on `<interface-ip>:9443` listing node2 and node3, and
//! announcements on `<port>`, for `<seconds>`; prints the session's end.
//! `lab-probe flood <interface-ip> <initiator-ip> <bad> <good>`: a hello
//! flood from an unlisted machine: `<bad>` hellos of an unknown protocol
//! version, then `<good>` valid hellos never completed, each on its own
//! connection, all under one certificate whose fingerprint it prints first.

use session::discovery::{Announcement, Channel, GROUP, VERSION, discover, respond};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

fn parse<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("argument {i} must be {what}"))
}

async fn impostor(
    channel: Channel,
    name: String,
    passphrase: String,
    lasting: Duration,
) -> Result<(), String> {
    use session::net::{SessionSettings, serve_session};
    let address = IpAddr::V4(channel.interface);
    let identity =
        clients::Identity::generate(&name, &[address.to_string()]).map_err(|e| e.to_string())?;
    let mut settings = SessionSettings::new(
        SocketAddr::new(address, 9443),
        identity,
        name.clone(),
        session::Passphrase::new(passphrase.into_bytes()),
        ["node2".to_owned(), "node3".to_owned()].into(),
    );
    settings.session_timeout = lasting;
    let handle = serve_session(settings).await.map_err(|e| e.to_string())?;
    let announcer = tokio::spawn(respond(
        channel,
        Announcement {
            version: VERSION.into(),
            name,
            address,
            cluster: None,
        },
    ));
    println!("impostor listening on {}", handle.local_addr());
    let ended = handle.wait().await;
    announcer.abort();
    match ended {
        Ok(admitted) => println!("impostor admitted {}", admitted.len()),
        Err(e) => println!("impostor session ended: {e}"),
    }
    Ok(())
}

/// Writes one HTTP/1.1 POST on a fresh TLS connection and returns the status line.
async fn post_once(
    connector: &tokio_rustls::TlsConnector,
    to: SocketAddr,
    body: &[u8],
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let tcp = tokio::net::TcpStream::connect(to)
        .await
        .map_err(|e| format!("connect {to}: {e}"))?;
    let name = rustls::pki_types::ServerName::IpAddress(to.ip().into());
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS to {to}: {e}"))?;
    let head = format!(
        "POST /1.0/trust/hello HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(body).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    Ok(String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

async fn flood(to: SocketAddr, bad: u32, good: u32) -> Result<(), String> {
    let identity = clients::Identity::generate("intruder", &[]).map_err(|e| e.to_string())?;
    println!("certificate {}", identity.fingerprint());
    let connector = tokio_rustls::TlsConnector::from(
        session::net::tls::joiner_client_config(&identity).map_err(|e| e.to_string())?,
    );
    let wrong = br#"{"version":99,"joiner_name":"intruder","pake":"00"}"#;
    for _ in 0..bad {
        println!("{}", post_once(&connector, to, wrong).await?);
    }
    for _ in 0..good {
        let config = session::JoinerConfig {
            name: "intruder".into(),
            certificate: identity.fingerprint(),
            passphrase: session::Passphrase::new(*b"a guess"),
            intent: session::Intent {
                address: String::new(),
                services: Default::default(),
            },
        };
        let (_joiner, hello) = session::Joiner::start(config, &mut rand_core::OsRng);
        let body = serde_json::to_vec(&hello).map_err(|e| e.to_string())?;
        println!("{}", post_once(&connector, to, &body).await?);
    }
    Ok(())
}

async fn main_inner(args: Vec<String>) -> Result<(), String> {
    let interface: Ipv4Addr = parse(&args, 2, "an IPv4 address")?;
    let name: String = parse(&args, 3, "a name")?;
    let port: u16 = parse(&args, 4, "a port")?;
    let channel = Channel {
        group: GROUP,
        port,
        interface,
    };
    match args.get(1).map(String::as_str) {
        Some("respond") => {
            let address: IpAddr = match args.get(5) {
                Some(_) => parse(&args, 5, "an IP address")?,
                None => interface.into(),
            };
            let announcement = Announcement {
                version: VERSION.into(),
                name,
                address,
                cluster: None,
            };
            respond(channel, announcement)
                .await
                .map_err(|e| e.to_string())
        }
        Some("discover") => {
            let timeout: u64 = parse(&args, 5, "a timeout in ms")?;
            let found = discover(
                channel,
                &name,
                &BTreeSet::new(),
                Duration::from_millis(timeout),
                Duration::from_millis(200),
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string(&found).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Some("impostor") => {
            let passphrase: String = parse(&args, 5, "a passphrase")?;
            let seconds: u64 = parse(&args, 6, "seconds")?;
            impostor(channel, name, passphrase, Duration::from_secs(seconds)).await
        }
        Some("flood") => {
            let initiator: IpAddr = parse(&args, 3, "the initiator's IP address")?;
            let bad: u32 = parse(&args, 4, "a count")?;
            let good: u32 = parse(&args, 5, "a count")?;
            flood(SocketAddr::new(initiator, 9443), bad, good).await
        }
        _ => Err(
            "usage: lab-probe respond|discover|impostor|flood <interface-ip> ... (see the source)"
                .into(),
        ),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match main_inner(std::env::args().collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
