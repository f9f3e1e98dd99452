//! Name resolution: `getaddrinfo` blocks, so it runs inside [`runtime::syscall`] (the
//! goroutine's P is handed to another M if it takes long, as Go's cgo resolver does).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr` to socket addresses (std's `ToSocketAddrs`, off the P while it blocks).
pub(crate) fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    runtime::syscall(|| addr.to_socket_addrs().map(Iterator::collect))
}

/// Which address families a Go network name allows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Family {
    Any,
    V4,
    V6,
}

impl Family {
    pub(crate) fn allows(self, a: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        }
    }
}

/// Resolves a Go-style `host:port` address for `family`: an empty host (`":8080"`) means
/// every local address for a listener (`0.0.0.0`, or `[::]` for the 6 networks) and the
/// local host for a dialer, as in Go.
pub(crate) fn resolve_go(
    address: &str,
    family: Family,
    listening: bool,
) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = split_host_port(address)?;
    let host = if host.is_empty() {
        match (family, listening) {
            (Family::V6, true) => "::",
            (_, true) => "0.0.0.0",
            (Family::V6, false) => "::1",
            (_, false) => "127.0.0.1",
        }
    } else {
        host
    };
    let port: u16 = port.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("address {address}: invalid port"),
        )
    })?;
    let addrs: Vec<SocketAddr> = resolve((host, port))?
        .into_iter()
        .filter(|a| family.allows(a))
        .collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("address {address}: no suitable address found"),
        ));
    }
    Ok(addrs)
}

/// Go's `net.SplitHostPort`: `host:port`, `[v6host]:port`.
fn split_host_port(address: &str) -> io::Result<(&str, &str)> {
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("address {address}: {why}"),
        )
    };
    let colon = address
        .rfind(':')
        .ok_or_else(|| bad("missing port in address"))?;
    let (host, port) = (&address[..colon], &address[colon + 1..]);
    if let Some(rest) = host.strip_prefix('[') {
        let inner = rest
            .strip_suffix(']')
            .ok_or_else(|| bad("missing ']' in address"))?;
        return Ok((inner, port));
    }
    if host.contains(':') {
        return Err(bad("too many colons in address"));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_go_addresses() {
        assert_eq!(
            split_host_port("localhost:80").unwrap(),
            ("localhost", "80")
        );
        assert_eq!(split_host_port(":8080").unwrap(), ("", "8080"));
        assert_eq!(split_host_port("[::1]:53").unwrap(), ("::1", "53"));
        assert!(split_host_port("::1:53").is_err());
        assert!(split_host_port("localhost").is_err());
    }

    #[test]
    fn an_empty_host_listens_everywhere_and_dials_locally() {
        let l = resolve_go(":0", Family::V4, true).unwrap();
        assert_eq!(l[0].ip().to_string(), "0.0.0.0");
        let d = resolve_go(":9", Family::Any, false).unwrap();
        assert!(d[0].ip().is_loopback());
    }
}
