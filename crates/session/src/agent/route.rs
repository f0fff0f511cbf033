//! The IPv4 default route, from the text of `/proc/net/route`.
//!
//! Pure: the caller reads the file and passes its text. Two callers: the
//! agent, for [`SystemFacts`](super::SystemFacts) (a joiner's route), and
//! the binary, for the machine it runs on (it reads the same file).

/// The interface of the first IPv4 default route in `/proc/net/route`
/// text: the first line whose destination and mask are both `00000000`,
/// as LXD's `DefaultGatewaySubnetV4` (used by MicroCloud's Fan check)
/// picks it. The header and lines with too few fields never match. `None`
/// when there is no default route.
pub fn default_route_interface_from_proc(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match (fields.first(), fields.get(1), fields.get(7)) {
            (Some(iface), Some(&"00000000"), Some(&"00000000")) => Some((*iface).to_owned()),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    #[test]
    fn a_default_route_is_found() {
        let text = format!(
            "{HEADER}enp5s0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
             enp5s0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
        );
        assert_eq!(
            default_route_interface_from_proc(&text).as_deref(),
            Some("enp5s0")
        );
    }

    #[test]
    fn no_default_route_gives_none() {
        let text = format!(
            "{HEADER}enp5s0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
             lxdbr0\t00007B0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        );
        assert_eq!(default_route_interface_from_proc(&text), None);
        assert_eq!(default_route_interface_from_proc(HEADER), None);
        assert_eq!(default_route_interface_from_proc(""), None);
        // A zero destination with a non-zero mask is not a default route,
        // and truncated lines never match.
        let text = format!(
            "{HEADER}eth9\t00000000\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\neth8\t00000000\n"
        );
        assert_eq!(default_route_interface_from_proc(&text), None);
    }

    #[test]
    fn with_several_default_routes_the_first_listed_wins() {
        let text = format!(
            "{HEADER}wlan0\t0000000A\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n\
             eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n\
             eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        );
        assert_eq!(
            default_route_interface_from_proc(&text).as_deref(),
            Some("eth1")
        );
    }
}
