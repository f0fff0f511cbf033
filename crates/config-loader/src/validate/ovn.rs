//! The `ovn` section: uplink interface, IPv4 gateway and range, IPv6
//! gateway and DNS servers, each checked where MicroCloud checks them only
//! after every joiner has joined.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr};

use super::{Checker, Seen, inside_value};
use crate::diagnostic::Diagnostic;
use crate::model::{Ipv4Range, Ipv4Uplink, Ovn};
use crate::node::KeyPath;
use crate::raw::RawOvn;

pub(super) fn ovn(c: &mut Checker<'_>, raw: Option<&RawOvn>) -> Ovn {
    let Some(raw) = raw else {
        return Ovn::default();
    };
    let path = KeyPath::root().key("ovn");
    let gateway4 = raw
        .ipv4_gateway
        .as_deref()
        .and_then(|t| ipv4_gateway(c, &path.key("ipv4_gateway"), t));
    let range = raw
        .ipv4_range
        .as_deref()
        .and_then(|t| ipv4_range(c, &path.key("ipv4_range"), t));
    let ipv4 = match (&raw.ipv4_gateway, &raw.ipv4_range) {
        (Some(_), None) => {
            c.error_help(
                &path.key("ipv4_gateway"),
                "`ipv4_gateway` needs `ipv4_range`",
                "add `ipv4_range: <first>-<last>` with the addresses OVN may use on the uplink",
            );
            None
        }
        (None, Some(_)) => {
            c.error_help(
                &path.key("ipv4_range"),
                "`ipv4_range` needs `ipv4_gateway`",
                "add `ipv4_gateway` with the uplink's gateway in CIDR form, e.g. 192.0.2.1/24",
            );
            None
        }
        _ => gateway4.zip(range).and_then(|(gateway, range)| {
            let subnet = gateway.trunc();
            let range_path = path.key("ipv4_range");
            if !subnet.contains(&range.first()) || !subnet.contains(&range.last()) {
                c.error_help(
                    &range_path,
                    format!("range {range} is not inside the gateway's subnet {subnet}"),
                    "choose addresses of the uplink subnet",
                );
                return None;
            }
            if range.contains(gateway.addr()) {
                c.error_help(
                    &range_path,
                    format!("range {range} contains the gateway {}", gateway.addr()),
                    "leave the gateway out of the range",
                );
            }
            if subnet.prefix_len() < 31
                && (range.contains(subnet.network()) || range.contains(subnet.broadcast()))
            {
                c.error_help(
                    &range_path,
                    format!("range {range} contains the network or broadcast address of {subnet}"),
                    "use only host addresses",
                );
            }
            Some(Ipv4Uplink { gateway, range })
        }),
    };
    let ipv6_gateway = raw
        .ipv6_gateway
        .as_deref()
        .and_then(|t| ipv6_gateway(c, &path.key("ipv6_gateway"), t));
    let mut dns_servers = Vec::new();
    if let Some(text) = &raw.dns_servers {
        let p = path.key("dns_servers");
        let mut seen = Seen::new();
        let mut offset = 0;
        for piece in text.split(',') {
            let start = offset + piece.chars().take_while(|ch| ch.is_whitespace()).count();
            offset += piece.chars().count() + 1;
            let item = piece.trim();
            let width = item.chars().count();
            let d = if item.is_empty() {
                Diagnostic::error(p.clone(), "empty entry in `dns_servers`")
                    .with_help("separate addresses with single commas: 1.1.1.1,8.8.8.8")
            } else {
                match item.parse::<IpAddr>() {
                    Ok(ip) if seen.insert(ip, &p).is_some() => {
                        Diagnostic::warning(p.clone(), format!("DNS server {ip} is listed twice"))
                            .with_help("remove the repeated entry")
                    }
                    Ok(ip) => {
                        dns_servers.push(ip);
                        continue;
                    }
                    Err(_) => Diagnostic::error(p.clone(), format!("DNS server {item:?} is not an IP address"))
                        .with_help("give a comma-separated list of IP addresses, e.g. 1.1.1.1,2606:4700:4700::1111"),
                }
            };
            let d = inside_value(c, &p, d, start, width);
            c.push(d);
        }
        if raw.ipv4_gateway.is_none() && raw.ipv6_gateway.is_none() {
            c.warning_help(
                &p,
                "`dns_servers` has no effect without an uplink gateway",
                "set `ipv4_gateway` or `ipv6_gateway`",
            );
        }
    }
    Ovn {
        ipv4,
        ipv6_gateway,
        dns_servers,
    }
}

fn ipv4_gateway(c: &mut Checker<'_>, path: &KeyPath, text: &str) -> Option<Ipv4Net> {
    let text = text.trim();
    let Ok(net) = text.parse::<IpNet>() else {
        let help = if text.parse::<IpAddr>().is_ok() {
            format!("add the subnet's prefix length, e.g. {text}/24")
        } else {
            "write the gateway address with the subnet's prefix length, e.g. 192.0.2.1/24"
                .to_owned()
        };
        c.error_help(
            path,
            format!("{text:?} is not an address in CIDR form"),
            help,
        );
        return None;
    };
    let IpNet::V4(net) = net else {
        c.error_help(
            path,
            format!("{net} is not an IPv4 address"),
            "put an IPv6 gateway in `ipv6_gateway`",
        );
        return None;
    };
    if net.prefix_len() >= 31 {
        c.error_help(
            path,
            format!("{net} leaves no room for a subnet"),
            "give the uplink subnet's prefix length, e.g. /24",
        );
        return None;
    }
    if net.addr() == net.network() || net.addr() == net.broadcast() {
        let which = if net.addr() == net.network() {
            "network"
        } else {
            "broadcast"
        };
        c.error_help(
            path,
            format!("{net} is the {which} address of its subnet, not a usable gateway"),
            format!(
                "give the gateway's own address, e.g. {}/{}",
                next_host(net.network()),
                net.prefix_len()
            ),
        );
        return None;
    }
    Some(net)
}

fn next_host(addr: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr).saturating_add(1))
}

fn ipv4_range(c: &mut Checker<'_>, path: &KeyPath, text: &str) -> Option<Ipv4Range> {
    let help = "write the range as <first>-<last>, e.g. 192.0.2.100-192.0.2.254";
    let Some((first, last)) = text.split_once('-') else {
        c.error_help(path, format!("{text:?} is not a range"), help);
        return None;
    };
    let parse = |t: &str| t.trim().parse::<Ipv4Addr>().ok();
    match (parse(first), parse(last)) {
        (Some(a), Some(b)) => match Ipv4Range::new(a, b) {
            Some(r) => Some(r),
            None => {
                c.error_help(path, format!("range {text:?} ends before it starts"), help);
                None
            }
        },
        _ => {
            c.error_help(
                path,
                format!("{text:?} is not a range of two IPv4 addresses"),
                help,
            );
            None
        }
    }
}

fn ipv6_gateway(c: &mut Checker<'_>, path: &KeyPath, text: &str) -> Option<Ipv6Net> {
    let text = text.trim();
    match text.parse::<IpNet>() {
        Ok(IpNet::V6(net)) => {
            if net.prefix_len() >= 127 {
                c.error_help(
                    path,
                    format!("{net} leaves no room for a subnet"),
                    "give the uplink subnet's prefix length, e.g. /64",
                );
                None
            } else if net.addr() == net.network() {
                c.error_help(
                    path,
                    format!("{net} is the network address of its subnet, not a usable gateway"),
                    "give the gateway's own address, e.g. 2001:db8::1/64",
                );
                None
            } else {
                Some(net)
            }
        }
        Ok(IpNet::V4(net)) => {
            c.error_help(
                path,
                format!("{net} is not an IPv6 address"),
                "put an IPv4 gateway in `ipv4_gateway`",
            );
            None
        }
        Err(_) => {
            c.error_help(
                path,
                format!("{text:?} is not an address in CIDR form"),
                "write the gateway address with the subnet's prefix length, e.g. 2001:db8::1/64",
            );
            None
        }
    }
}
