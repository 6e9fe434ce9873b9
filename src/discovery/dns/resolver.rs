//! The resolver Prometheus's DNS discovery uses (its own, not the
//! system's): `/etc/resolv.conf` read on every lookup (`nameserver`,
//! `search`/`domain`, `options ndots:`), each search-path permutation of
//! the name asked of each server in turn, over UDP with EDNS0 and again
//! over TCP when the answer is truncated.
//!
//! Outcomes, as Prometheus's `lookupWithSearchPath`:
//! - a permutation answered with success: that answer (possibly empty);
//! - every permutation answered NXDOMAIN: an empty answer;
//! - otherwise (timeouts, SERVFAIL, REFUSED for some permutation): an
//!   error, and the caller keeps what it had.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::message::{
    RCODE_NAME_ERROR, RCODE_SUCCESS, Record, RecordType, Response, decode_response, encode_query,
};

/// How long one exchange with one server may take (Go's `dns.Client`
/// default of 2 s per dial, write and read).
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(2);

/// The parts of `resolv.conf` the lookup uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` addresses, in order.
    pub servers: Vec<IpAddr>,
    /// The search list (`search`, or `domain`; the last line wins).
    pub search: Vec<String>,
    /// `options ndots:N` (default 1, at most 15).
    pub ndots: usize,
}

impl ResolvConf {
    /// Parses the file's text; unknown lines are ignored, as resolvers do.
    pub fn parse(text: &str) -> Self {
        let mut conf = ResolvConf {
            servers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
        };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(server) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                        conf.servers.push(server);
                    }
                }
                Some("domain") => {
                    conf.search = words.next().map(|d| vec![fqdn(d)]).unwrap_or_default()
                }
                Some("search") => conf.search = words.map(fqdn).collect(),
                Some("options") => {
                    for option in words {
                        if let Some(value) = option.strip_prefix("ndots:")
                            && let Ok(ndots) = value.parse::<usize>()
                        {
                            conf.ndots = ndots.min(15);
                        }
                    }
                }
                _ => {}
            }
        }
        conf
    }

    /// The names to try for `name`, as Go's `dns.ClientConfig.NameList`:
    /// a rooted name as it is; otherwise the name first when it has more
    /// labels than `ndots`, each search suffix, and the name last when it
    /// has not.
    pub fn name_list(&self, name: &str) -> Vec<String> {
        if name.ends_with('.') {
            return vec![name.to_string()];
        }
        let labels = name.split('.').filter(|label| !label.is_empty()).count();
        let has_ndots = labels > self.ndots;
        let rooted = fqdn(name);
        let mut names = Vec::with_capacity(self.search.len() + 1);
        if has_ndots {
            names.push(rooted.clone());
        }
        for suffix in &self.search {
            names.push(format!("{rooted}{suffix}"));
        }
        if !has_ndots {
            names.push(rooted);
        }
        names
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// Where the resolver's settings are (Prometheus reads this file too).
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The port every `nameserver` is asked on (resolv.conf cannot name one).
const DNS_PORT: u16 = 53;

/// The answer records for `name`, trying its search-path
/// permutations; `Ok(empty)` when every one is NXDOMAIN.
pub async fn lookup(name: &str, record_type: RecordType) -> Result<Vec<Record>, String> {
    let text = tokio::fs::read_to_string(RESOLV_CONF)
        .await
        .map_err(|error| format!("could not load resolv.conf: {error}"))?;
    let conf = ResolvConf::parse(&text);
    let mut all_valid = true;
    for candidate in conf.name_list(name) {
        match lookup_from_any_server(&candidate, record_type, &conf).await {
            Err(_) => all_valid = false,
            Ok(response) if response.rcode == RCODE_SUCCESS => return Ok(response.answers),
            Ok(_) => {}
        }
    }
    if all_valid {
        return Ok(Vec::new());
    }
    Err(format!(
        "could not resolve {name:?}: all servers responded with errors to at least one search domain"
    ))
}

async fn lookup_from_any_server(
    name: &str,
    record_type: RecordType,
    conf: &ResolvConf,
) -> Result<Response, String> {
    for server in &conf.servers {
        let address = SocketAddr::new(*server, DNS_PORT);
        match ask(address, name, record_type).await {
            Ok(response)
                if response.rcode == RCODE_SUCCESS || response.rcode == RCODE_NAME_ERROR =>
            {
                return Ok(response);
            }
            Ok(response) => {
                tracing::warn!(server = %server, name, rcode = response.rcode, "DNS resolution failed");
            }
            Err(error) => {
                tracing::warn!(server = %server, name, err = %error, "DNS resolution failed");
            }
        }
    }
    Err(format!(
        "could not resolve {name}: no servers returned a viable answer"
    ))
}

/// One question to one server: UDP with EDNS0, then TCP (without) when the
/// answer is truncated.
async fn ask(server: SocketAddr, name: &str, record_type: RecordType) -> Result<Response, String> {
    let id: u16 = rand::random();
    let query = encode_query(id, name, record_type, true)?;
    let bind = if server.is_ipv4() {
        SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    socket.send(&query).await.map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; 65_535];
    let response = tokio::time::timeout(EXCHANGE_TIMEOUT, async {
        loop {
            let length = socket.recv(&mut buffer).await.map_err(|e| e.to_string())?;
            match decode_response(&buffer[..length]) {
                Ok(response) if response.id == id => return Ok::<Response, String>(response),
                // A stray or late datagram: keep waiting for ours.
                _ => continue,
            }
        }
    })
    .await
    .map_err(|_| format!("read udp {server}: i/o timeout"))??;
    if !response.truncated {
        return Ok(response);
    }
    ask_tcp(server, name, record_type).await
}

async fn ask_tcp(
    server: SocketAddr,
    name: &str,
    record_type: RecordType,
) -> Result<Response, String> {
    let id: u16 = rand::random();
    let query = encode_query(id, name, record_type, false)?;
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(server)
            .await
            .map_err(|e| e.to_string())?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&query);
        stream.write_all(&framed).await.map_err(|e| e.to_string())?;
        let length = stream.read_u16().await.map_err(|e| e.to_string())?;
        let mut body = vec![0u8; usize::from(length)];
        stream
            .read_exact(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        let response = decode_response(&body)?;
        if response.id != id {
            return Err("DNS response id mismatch".to_string());
        }
        if response.truncated {
            return Err("got truncated message on TCP (64kiB limit exceeded?)".to_string());
        }
        Ok(response)
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT * 2, exchange)
        .await
        .map_err(|_| format!("tcp {server}: i/o timeout"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_and_name_lists_follow_go() {
        let conf = ResolvConf::parse(
            "# comment\nnameserver 10.0.0.1\nnameserver ::1\nnameserver bogus\ndomain old.example\nsearch svc.cluster.local cluster.local\noptions ndots:5 timeout:1\n",
        );
        assert_eq!(
            conf.servers,
            vec![
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(conf.search, ["svc.cluster.local.", "cluster.local."]);
        assert_eq!(conf.ndots, 5);
        assert_eq!(
            conf.name_list("web.ns"),
            [
                "web.ns.svc.cluster.local.",
                "web.ns.cluster.local.",
                "web.ns."
            ]
        );
        assert_eq!(conf.name_list("rooted.example."), ["rooted.example."]);
        let one_dot = ResolvConf::parse("search corp\n");
        assert_eq!(one_dot.ndots, 1);
        assert_eq!(one_dot.name_list("a.b"), ["a.b.", "a.b.corp."]);
        assert_eq!(one_dot.name_list("host"), ["host.corp.", "host."]);
    }
}
