//! API-faithful simulators of the three daemons MicroCloud drives on each
//! machine: LXD, MicroCeph and MicroOVN. Test-only: never a dependency of
//! the `microcloud` binary.
//!
//! # What a simulated node is
//!
//! A [`Sim`] runs N nodes in one process. Each node serves
//!
//! * LXD on `<state>/<node>/lxd/unix.socket`, and over HTTPS once
//!   `core.https_address`/`cluster.https_address` is set;
//! * MicroCeph on `<state>/<node>/microceph/control.socket`, and over HTTPS
//!   on its bootstrap/join address;
//! * MicroOVN on `<state>/<node>/microovn/control.socket`, likewise.
//!
//! Every service is hyper 1 over tokio; HTTPS is rustls (ring provider),
//! TLS 1.3 only, self-signed ECDSA P-384 certificates, trust decided by
//! client-certificate fingerprint. Nodes live on distinct loopback
//! addresses (`127.x.y.z`); a wildcard listen address binds the node's own
//! address, since all nodes share one machine.
//!
//! Each node has an [`Inventory`] (disks with every LXD resource field,
//! network interfaces with addresses and state) from a JSON fixture;
//! LXD serves it from `GET /1.0/resources` and `GET /1.0/networks`, and
//! disks are claimed across services (an LXD pool's disk cannot become an
//! OSD, and vice versa).
//!
//! # Fidelity
//!
//! Wire format as in `service-apis.md`: the `sync`/`async`/`error`
//! envelope, 201 + `Location` for sync creates, 202 + operation for async
//! ones, Go-style JSON decoding errors (`EOF`, `invalid character …`),
//! unknown fields ignored like Go's decoder, 404/501 for unknown endpoints
//! and methods. LXD behaviour follows the advertised `api_extensions`
//! ([`LxdProfile::Legacy`] = the real 5.0.2 list, [`LxdProfile::Current`] =
//! 6.8+). Messages marked "observed" in the tests were captured from a real
//! LXD 5.0.2 on this machine kind.
//!
//! State shared by members of one cluster (LXD's dqlite database, each
//! microcluster's database) is one in-memory object per cluster, reached
//! by the joiner after an HTTPS handshake that checks the token (secret,
//! fingerprint, expiry, single use, name). Everything a real member does
//! over the network is done over HTTPS here too: joins, `?target=`
//! forwarding, LXD cluster notifications for pool/network creation,
//! MicroCeph/MicroOVN `?target=` proxying. So injected faults on one node
//! affect the others.
//!
//! # Not modelled
//!
//! Instances, images, projects other than `default`, events and
//! websockets, removal of fully joined members (removing a member whose own
//! daemon never finished joining is modelled) and leaving a cluster,
//! certificate rotation,
//! heartbeats and dqlite roles (a crashed node is reported offline at
//! once; roles are assigned statically), Ceph data placement, OVN data
//! plane, MicroCloud's own daemon. Storage-driver error texts (zfs, ceph)
//! and MicroCeph disk errors are approximations, not copies. Simulated
//! clusters cannot span processes.
//!
//! # Failure behaviour
//!
//! A [`LatencyModel`] (a versioned file, every value with its source)
//! sets the operation durations and adds a cost to every request.
//!
//! [`FaultRule`]s inject latency, error envelopes, dropped connections,
//! hangs and whole-node crashes per endpoint; a crashed node keeps its
//! state and can be restarted with [`Sim::restart`]. A crash ends the
//! node's running LXD background operations where they are (what they
//! changed so far stays, as a half-created pool does) and the restarted
//! daemon no longer knows them, as operations live in a daemon's memory.

pub mod clock;
mod error;
pub mod faults;
mod http;
pub mod inventory;
pub mod latency;
mod lxd;
mod microcluster;
mod server;
mod sim;
pub mod tls;
mod util;

pub use error::SimError;
pub use faults::{FaultAction, FaultRule, FaultScript, Service, Transport};
pub use inventory::Inventory;
pub use latency::LatencyModel;
pub use lxd::{LxdProfile, TokenFields};
pub use microcluster::McFamily;
pub use microcluster::ceph::SimOsd;
pub use microcluster::real_ceph::CephCli;
pub use sim::{NodeSpec, Sim, SimBuilder, SimNode, Timings};
