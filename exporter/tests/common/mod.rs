//! Shared helpers for the exporter's integration tests: start real processes
//! on free loopback ports, fetch over plain HTTP/1.1, parse the exposition.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (through its own handle) when the test ends.
pub struct RunningServer {
    pub child: Child,
    pub address: SocketAddr,
}

impl RunningServer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_loopback_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("read the ephemeral port")
}

/// Starts `program` with `--web.listen-address=<free loopback port>` plus
/// `extra_arguments`, and waits until it answers HTTP. Retries on a port race.
pub fn start_server(program: &str, extra_arguments: &[&str]) -> RunningServer {
    for _attempt in 0..3 {
        let address = free_loopback_address();
        let child = Command::new(program)
            .arg(format!("--web.listen-address={address}"))
            .args(extra_arguments)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {program}: {error}"));
        let mut server = RunningServer { child, address };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                break; // exited: most likely someone took the port; try another
            }
            if http_get(address, "/").is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    panic!("{program} did not start serving on loopback");
}

/// Starts the exporter built by this package.
pub fn start_exporter(extra_arguments: &[&str]) -> RunningServer {
    start_server(env!("CARGO_BIN_EXE_promshard-exporter"), extra_arguments)
}

/// The status code, the headers (lowercased names) and the body of a response.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header_name, _)| header_name == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A minimal HTTP/1.1 GET (no client library needed), decoding chunked bodies.
pub fn http_get(address: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAccept: text/plain\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let header_end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..header_end]).into_owned();
    let mut head_lines = head.split("\r\n");
    let status = head_lines
        .next()
        .and_then(|status_line| status_line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = head_lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = raw[header_end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = decode_chunked(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8(body).map_err(|_| invalid("body is not UTF-8"))?,
    })
}

fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut decoded = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|window| window == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(decoded);
        }
        decoded.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// One sample: its label set (without `__name__`) and value.
#[derive(Debug, Clone)]
pub struct ParsedSample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One metric family as parsed: its type (`counter`, `gauge`, `untyped`, ...) and samples.
#[derive(Debug, Clone, Default)]
pub struct ParsedFamily {
    pub kind: String,
    pub help: Option<String>,
    pub samples: Vec<ParsedSample>,
}

impl ParsedFamily {
    /// The union of the label names over the family's samples.
    pub fn label_names(&self) -> BTreeSet<String> {
        self.samples
            .iter()
            .flat_map(|sample| sample.labels.keys().cloned())
            .collect()
    }

    /// The value of the sample whose labels include every pair of `selector`.
    pub fn value_where(&self, selector: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|sample| {
                selector.iter().all(|(name, value)| {
                    sample.labels.get(*name).map(String::as_str) == Some(*value)
                })
            })
            .map(|sample| sample.value)
    }

    /// The sum of all the family's sample values.
    pub fn sum(&self) -> f64 {
        self.samples.iter().map(|sample| sample.value).sum()
    }
}

/// Parses an exposition body with promshard's own text-format parser into
/// families keyed by family name (a histogram's or summary's `_sum`,
/// `_count` and `_bucket` samples go to their family). Panics, naming the
/// line, on a body the parser rejects.
pub fn parse_exposition(body: &str) -> BTreeMap<String, ParsedFamily> {
    use promshard::model::ScratchBuilder;
    use promshard::model::textparse::{Entry, Format, Parser};

    let mut parser = Parser::new(body.as_bytes(), Format::PrometheusText);
    let mut builder = ScratchBuilder::with_capacity(8);
    let mut families: BTreeMap<String, ParsedFamily> = BTreeMap::new();
    let mut declared_family = String::new();
    loop {
        let entry = match parser.next() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(error) => panic!("promshard's parser rejects the exposition: {error}"),
        };
        match entry {
            Entry::Type {
                family,
                metric_type,
            } => {
                declared_family = family.to_owned();
                families.entry(family.to_owned()).or_default().kind =
                    metric_type.as_str().to_owned();
            }
            Entry::Help { family, help } => {
                families.entry(family.to_owned()).or_default().help = Some(help.into_owned());
            }
            Entry::Series { value, .. } => {
                parser.series_labels(&mut builder);
                let labels = builder.labels();
                let name = labels.metric_name().unwrap_or_default().to_owned();
                let family_name =
                    if name.starts_with(declared_family.as_str()) && !declared_family.is_empty() {
                        declared_family.clone()
                    } else {
                        name
                    };
                families
                    .entry(family_name)
                    .or_default()
                    .samples
                    .push(ParsedSample {
                        labels: labels
                            .without_metric_name()
                            .to_pairs()
                            .into_iter()
                            .collect(),
                        value,
                    });
            }
            Entry::Unit { .. } | Entry::Comment => {}
        }
    }
    families.retain(|_, family| !family.samples.is_empty());
    families
}

/// The families the issue requires, with node_exporter's type and label names.
pub const REQUIRED_FAMILIES: &[(&str, &str, &[&str])] = &[
    ("node_cpu_seconds_total", "counter", &["cpu", "mode"]),
    ("node_memory_MemTotal_bytes", "gauge", &[]),
    ("node_memory_MemAvailable_bytes", "gauge", &[]),
    ("node_memory_MemFree_bytes", "gauge", &[]),
    ("node_memory_Buffers_bytes", "gauge", &[]),
    ("node_memory_Cached_bytes", "gauge", &[]),
    ("node_memory_SwapTotal_bytes", "gauge", &[]),
    ("node_memory_SwapFree_bytes", "gauge", &[]),
    (
        "node_filesystem_size_bytes",
        "gauge",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "node_filesystem_avail_bytes",
        "gauge",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "node_filesystem_free_bytes",
        "gauge",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "node_filesystem_files",
        "gauge",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "node_filesystem_files_free",
        "gauge",
        &["device", "fstype", "mountpoint"],
    ),
    (
        "node_filesystem_readonly",
        "gauge",
        &["device", "fstype", "mountpoint"],
    ),
    ("node_disk_read_bytes_total", "counter", &["device"]),
    ("node_disk_written_bytes_total", "counter", &["device"]),
    ("node_disk_reads_completed_total", "counter", &["device"]),
    ("node_disk_writes_completed_total", "counter", &["device"]),
    ("node_disk_io_time_seconds_total", "counter", &["device"]),
    ("node_network_receive_bytes_total", "counter", &["device"]),
    ("node_network_receive_packets_total", "counter", &["device"]),
    ("node_network_receive_errs_total", "counter", &["device"]),
    ("node_network_receive_drop_total", "counter", &["device"]),
    ("node_network_transmit_bytes_total", "counter", &["device"]),
    (
        "node_network_transmit_packets_total",
        "counter",
        &["device"],
    ),
    ("node_network_transmit_errs_total", "counter", &["device"]),
    ("node_network_transmit_drop_total", "counter", &["device"]),
    ("node_load1", "gauge", &[]),
    ("node_load5", "gauge", &[]),
    ("node_load15", "gauge", &[]),
    ("node_boot_time_seconds", "gauge", &[]),
    ("node_time_seconds", "gauge", &[]),
    (
        "node_uname_info",
        "gauge",
        &[
            "domainname",
            "machine",
            "nodename",
            "release",
            "sysname",
            "version",
        ],
    ),
];

/// Reads a field of `/proc/<pid>/status` in kB (e.g. `VmRSS`).
pub fn process_status_kilobytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// User plus system CPU seconds consumed so far by process `pid`.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_ascii_whitespace();
    let user_ticks: f64 = fields.nth(11)?.parse().ok()?;
    let system_ticks: f64 = fields.next()?.parse().ok()?;
    Some((user_ticks + system_ticks) / 100.0)
}
