//! Default local socket paths (snap installs) and LXD's non-snap rules.
//!
//! Every path is only a default: clients take any path through
//! [`Transport::unix`](crate::Transport::unix). Nothing here touches the
//! file system; [`lxd_socket`] only reads the environment through the given
//! lookup function.

use std::path::PathBuf;

/// LXD snap: `/var/snap/lxd/common/lxd/unix.socket`.
pub const LXD_SNAP_SOCKET: &str = "/var/snap/lxd/common/lxd/unix.socket";
/// LXD without the snap (for example Debian's package): `/var/lib/lxd/unix.socket`.
pub const LXD_DEFAULT_DIR: &str = "/var/lib/lxd";
/// MicroCloud snap control socket.
pub const MICROCLOUD_SOCKET: &str = "/var/snap/microcloud/common/state/control.socket";
/// MicroCeph snap control socket.
pub const MICROCEPH_SOCKET: &str = "/var/snap/microceph/common/state/control.socket";
/// MicroOVN snap control socket.
pub const MICROOVN_SOCKET: &str = "/var/snap/microovn/common/state/control.socket";

/// HTTPS port LXD listens on in a MicroCloud.
pub const LXD_PORT: u16 = 8443;
/// HTTPS port of the MicroCloud agent.
pub const MICROCLOUD_PORT: u16 = 9443;
/// HTTPS port MicroCloud gives MicroCeph.
pub const MICROCEPH_PORT: u16 = 7443;
/// HTTPS port MicroCloud gives MicroOVN (MicroOVN's own CLI default is 6686).
pub const MICROOVN_PORT: u16 = 6443;

/// The microcluster control socket inside a state directory.
pub fn control_socket(state_dir: &str) -> PathBuf {
    PathBuf::from(state_dir).join("control.socket")
}

/// Where a non-snap LXD client looks for the socket, as LXD does:
/// `$LXD_SOCKET`, else `$LXD_DIR/unix.socket`, else
/// `/var/lib/lxd/unix.socket`. Use [`LXD_SNAP_SOCKET`] for the snap.
pub fn lxd_socket(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(socket) = env("LXD_SOCKET").filter(|s| !s.is_empty()) {
        return PathBuf::from(socket);
    }
    let dir = env("LXD_DIR")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| LXD_DEFAULT_DIR.to_owned());
    PathBuf::from(dir).join("unix.socket")
}
