//! Multicast discovery of the initiator, in the shape MicroCloud uses.
//!
//! A joiner sends `{"version":"2.0"}` to 239.100.100.100:9444 from the
//! interface holding its lookup address, once a second, until an
//! announcement from the initiator it expects arrives or `lookup_timeout`
//! passes. The initiator's responder answers by unicast with
//! `{"version":"2.0","name":...,"address":...}`. Datagrams are at most 500
//! bytes.
//!
//! Discovery is not authenticated (nothing on a LAN can be, without the
//! passphrase): anyone can answer. That is safe because the trust protocol
//! runs next and fails against an impostor; the joiner then looks again,
//! excluding the addresses that failed. Unlike MicroCloud, replies with
//! another name or version are skipped (and reported if nothing else comes),
//! not taken blindly.

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::net::UdpSocket;

/// MicroCloud's discovery group.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 100, 100, 100);
/// MicroCloud's discovery port.
pub const PORT: u16 = 9444;
/// MicroCloud's discovery format version.
pub const VERSION: &str = "2.0";
/// Largest datagram read or sent.
pub const MAX_DATAGRAM: usize = 500;
/// Other announcements remembered for the timeout message.
pub const MAX_HEARD: usize = 16;

/// A joiner's query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Format version.
    pub version: String,
}

/// The initiator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// Format version.
    pub version: String,
    /// The initiator's host name.
    pub name: String,
    /// The address its session listens on.
    pub address: IpAddr,
    /// Which cluster file the initiator runs ([`cluster_tag`]); an
    /// extension, absent from MicroCloud's announcements (whose decoder
    /// ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// A short, non-secret tag of a cluster file: the first 8 bytes of the
/// SHA-256 of the initiator's name and the names of the systems, in hex.
/// Every machine running the same file computes the same tag, so a joiner
/// can pass over the announcement of another team's initiator of the same
/// name without trying it (which would cost that team's session a failed
/// attempt, and give that initiator a guess at this team's passphrase). It
/// proves nothing (anyone can copy it): impostors are still stopped by the
/// trust protocol.
pub fn cluster_tag<'a>(initiator: &str, systems: impl IntoIterator<Item = &'a str>) -> String {
    use sha2::{Digest, Sha256};
    let mut names: Vec<&str> = systems.into_iter().collect();
    names.sort_unstable();
    names.dedup();
    let mut hash = Sha256::new();
    hash.update(initiator.as_bytes());
    for name in names {
        hash.update([0]);
        hash.update(name.as_bytes());
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where discovery happens; the defaults are MicroCloud's group and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    /// Multicast group.
    pub group: Ipv4Addr,
    /// UDP port.
    pub port: u16,
    /// Local address whose interface sends and receives.
    pub interface: Ipv4Addr,
}

impl Channel {
    /// MicroCloud's group and port on the interface holding `interface`.
    pub fn microcloud(interface: Ipv4Addr) -> Channel {
        Channel {
            group: GROUP,
            port: PORT,
            interface,
        }
    }
}

/// Why no initiator was found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// Nothing matching arrived in time.
    #[error(
        "no announcement from the initiator {expected:?} on {group}:{port} within {}{}",
        seconds(timeout),
        heard_suffix(heard)
    )]
    Timeout {
        /// The initiator name looked for.
        expected: String,
        /// Group and port used.
        group: Ipv4Addr,
        /// Port.
        port: u16,
        /// How long it looked.
        timeout: Duration,
        /// Other announcements heard meanwhile, described.
        heard: Vec<String>,
    },
    /// A socket operation failed.
    #[error("multicast discovery on {interface} failed while {action}")]
    Socket {
        /// The local interface address.
        interface: Ipv4Addr,
        /// What it was doing.
        action: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },
}

fn seconds(d: &Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn heard_suffix(heard: &[String]) -> String {
    if heard.is_empty() {
        "; check that the initiator runs and that both machines share the lookup subnet and allow multicast".to_owned()
    } else {
        format!("; heard only: {}", heard.join(", "))
    }
}

/// Parses a query; `None` for anything that is not a current query.
pub fn parse_query(datagram: &[u8]) -> Option<Query> {
    if datagram.len() > MAX_DATAGRAM {
        return None;
    }
    serde_json::from_slice::<Query>(datagram)
        .ok()
        .filter(|q| q.version == VERSION)
}

/// What an announcement means to a joiner looking for `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The initiator (unless its address is excluded).
    Match(Announcement),
    /// Something else, described for the timeout message.
    Other(String),
}

/// Classifies a datagram received by a joiner.
pub fn classify(
    datagram: &[u8],
    from: SocketAddr,
    expected: &str,
    cluster: Option<&str>,
    exclude: &BTreeSet<IpAddr>,
) -> Heard {
    if datagram.len() > MAX_DATAGRAM {
        return Heard::Other(format!("an oversized datagram from {}", from.ip()));
    }
    match serde_json::from_slice::<Announcement>(datagram) {
        Ok(a) if a.version != VERSION => Heard::Other(format!(
            "{:?} at {} with format version {:?} (expected {VERSION:?})",
            a.name, a.address, a.version
        )),
        Ok(a) if a.name != expected => Heard::Other(format!("{:?} at {}", a.name, a.address)),
        Ok(Announcement {
            name,
            address,
            cluster: Some(theirs),
            ..
        }) if cluster.is_some_and(|ours| ours != theirs) => Heard::Other(format!(
            "{name:?} at {address} running another cluster file (tag {theirs}, ours {})",
            cluster.unwrap_or_default()
        )),
        Ok(a) if exclude.contains(&a.address) => Heard::Other(format!(
            "{:?} at {} (failed authentication before)",
            a.name, a.address
        )),
        Ok(a) => Heard::Match(a),
        Err(_) => Heard::Other(format!("an unreadable datagram from {}", from.ip())),
    }
}

fn socket_error(
    interface: Ipv4Addr,
    action: &'static str,
) -> impl FnOnce(io::Error) -> DiscoveryError {
    move |source| DiscoveryError::Socket {
        interface,
        action,
        source,
    }
}

/// A joiner's discovery socket: sends queries to the group and receives
/// the unicast answers.
#[derive(Debug)]
pub struct Listener {
    socket: UdpSocket,
    channel: Channel,
    query: Vec<u8>,
    buf: Box<[u8; MAX_DATAGRAM + 1]>,
    cluster: Option<String>,
}

impl Listener {
    /// Opens a socket on `channel.interface`.
    pub fn open(channel: Channel) -> Result<Listener, DiscoveryError> {
        let err = |action| socket_error(channel.interface, action);
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(err("creating a socket"))?;
        socket
            .set_multicast_if_v4(&channel.interface)
            .map_err(err("selecting the multicast interface"))?;
        socket
            .set_multicast_ttl_v4(2)
            .map_err(err("setting the multicast TTL"))?;
        socket
            .set_nonblocking(true)
            .map_err(err("configuring the socket"))?;
        socket
            .bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).into())
            .map_err(err("binding"))?;
        let socket = UdpSocket::from_std(socket.into()).map_err(err("registering the socket"))?;
        let query = serde_json::to_vec(&Query {
            version: VERSION.to_owned(),
        })
        .unwrap_or_default();
        Ok(Listener {
            socket,
            channel,
            query,
            buf: Box::new([0u8; MAX_DATAGRAM + 1]),
            cluster: None,
        })
    }

    /// Passes over announcements that carry another [`cluster_tag`] than
    /// `tag` (those without one are still taken).
    #[must_use]
    pub fn for_cluster(mut self, tag: Option<String>) -> Listener {
        self.cluster = tag;
        self
    }

    /// The channel it uses.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// Sends one query to the group.
    pub async fn query(&self) -> Result<(), DiscoveryError> {
        let target = SocketAddr::V4(SocketAddrV4::new(self.channel.group, self.channel.port));
        self.socket
            .send_to(&self.query, target)
            .await
            .map(|_| ())
            .map_err(socket_error(self.channel.interface, "sending a query"))
    }

    /// Receives the next datagram and classifies it (cancel-safe).
    pub async fn receive(
        &mut self,
        expected: &str,
        exclude: &BTreeSet<IpAddr>,
    ) -> Result<Heard, DiscoveryError> {
        let (len, from) = self
            .socket
            .recv_from(&mut self.buf[..])
            .await
            .map_err(socket_error(self.channel.interface, "receiving"))?;
        Ok(classify(
            self.buf.get(..len).unwrap_or_default(),
            from,
            expected,
            self.cluster.as_deref(),
            exclude,
        ))
    }
}

/// Looks for the initiator named `expected`, skipping announcements from
/// `exclude`, for at most `timeout`, querying every `interval`.
pub async fn discover(
    channel: Channel,
    expected: &str,
    exclude: &BTreeSet<IpAddr>,
    timeout: Duration,
    interval: Duration,
) -> Result<Announcement, DiscoveryError> {
    let mut listener = Listener::open(channel)?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut heard = BTreeSet::new();
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(DiscoveryError::Timeout {
                expected: expected.to_owned(),
                group: channel.group,
                port: channel.port,
                timeout,
                heard: heard.into_iter().collect(),
            });
        }
        listener.query().await?;
        let next_query = (now + interval).min(deadline);
        while let Ok(received) =
            tokio::time::timeout_at(next_query, listener.receive(expected, exclude)).await
        {
            match received? {
                Heard::Match(a) => return Ok(a),
                Heard::Other(what) => {
                    if heard.len() < MAX_HEARD {
                        heard.insert(what);
                    }
                }
            }
        }
    }
}

/// Answers queries on `channel` with `announcement` until the task is
/// dropped or cancelled.
pub async fn respond(channel: Channel, announcement: Announcement) -> Result<(), DiscoveryError> {
    let err = |action| socket_error(channel.interface, action);
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(err("creating a socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(err("configuring the socket"))?;
    socket
        .set_nonblocking(true)
        .map_err(err("configuring the socket"))?;
    socket
        .bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, channel.port)).into())
        .map_err(err("binding the discovery port"))?;
    socket
        .join_multicast_v4(&channel.group, &channel.interface)
        .map_err(err("joining the multicast group"))?;
    socket
        .set_multicast_if_v4(&channel.interface)
        .map_err(err("selecting the multicast interface"))?;
    let socket = UdpSocket::from_std(socket.into()).map_err(err("registering the socket"))?;
    let reply = serde_json::to_vec(&announcement).unwrap_or_default();
    let mut buf = [0u8; MAX_DATAGRAM + 1];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await.map_err(err("receiving"))?;
        if parse_query(buf.get(..len).unwrap_or_default()).is_some() {
            // A failed reply (the joiner went away) is not the responder's problem.
            let _ = socket.send_to(&reply, from).await;
        }
    }
}
