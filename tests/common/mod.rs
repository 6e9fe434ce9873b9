//! Shared helpers for the integration tests: start the real `promshard`
//! binary (and the bundled exporter) on loopback ports chosen at run time,
//! ask its HTTP API, and stop it when the test ends.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ports [`free_port`] hands out: below Linux's ephemeral range
/// (32768-60999), so no socket bound to port 0 and no outgoing
/// connection takes one in between.
const TEST_PORTS: std::ops::Range<u32> = 20_000..32_000;

/// A free TCP port on 127.0.0.1 for a server a test starts. Ports come
/// from one counter shared by every test process (a file under an
/// exclusive lock in the temp dir), so two tests running in parallel never
/// get the same port, as they could when each bound port 0 and released
/// it; a port something else holds is skipped.
pub fn free_port() -> u16 {
    use std::io::{Read, Seek};
    use std::os::fd::AsRawFd;
    let path = std::env::temp_dir().join("promshard-test-ports");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .expect("open the test port counter");
    // SAFETY: flock on a descriptor this function owns; released on close.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(locked, 0, "lock {}", path.display());
    let mut text = String::new();
    file.read_to_string(&mut text)
        .expect("read the port counter");
    let mut next: u32 = text.trim().parse().unwrap_or_else(|_| std::process::id());
    let span = TEST_PORTS.end - TEST_PORTS.start;
    for _ in 0..span {
        let port = (TEST_PORTS.start + next % span) as u16;
        next = next.wrapping_add(1);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            file.set_len(0).expect("truncate the port counter");
            file.rewind().expect("rewind the port counter");
            file.write_all(next.to_string().as_bytes())
                .expect("write the port counter");
            return port;
        }
    }
    panic!("no free port in {TEST_PORTS:?}");
}

/// The path of a binary built by this workspace.
pub fn workspace_binary(name: &str) -> PathBuf {
    let promshard = PathBuf::from(env!("CARGO_BIN_EXE_promshard"));
    let path = promshard.with_file_name(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--bin", name, "-p", name])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of {name} failed");
    }
    path
}

/// A running child process, killed on drop.
pub struct ChildGuard {
    /// The process.
    pub child: Child,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl ChildGuard {
    /// The log written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGKILL and waits.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal (e.g. "HUP", "TERM") with `kill`.
    pub fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program`, or, with `resolv_conf`, `program` in a private mount
/// namespace where that file is bind-mounted on `/etc/resolv.conf`
/// (`unshare` execs, so the child's PID is the program's).
pub fn private_resolv_conf(program: &Path, resolv_conf: Option<&Path>) -> Command {
    match resolv_conf {
        None => Command::new(program),
        Some(resolv_conf) => {
            let mut command = Command::new("unshare");
            command
                .args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg("mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"")
                .arg(resolv_conf)
                .arg(program);
            command
        }
    }
}

/// A promshard node started for a test.
pub struct Node {
    /// The process.
    pub process: ChildGuard,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    /// Its temporary directory (config, data, log).
    pub dir: PathBuf,
    /// The config file path.
    pub config_path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// Options for [`Node::start`].
pub struct NodeOptions {
    /// Extra flags.
    pub flags: Vec<String>,
    /// Reuse this directory (for restarts) instead of a fresh one.
    pub dir: Option<PathBuf>,
    /// The port; a free one when `None`.
    pub port: Option<u16>,
    /// Run in a private mount namespace (`unshare -m`, as root) where this
    /// file is `/etc/resolv.conf`: the node's resolvers (DNS discovery and
    /// the system's) ask the servers it names.
    pub resolv_conf: Option<PathBuf>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            flags: vec!["--web.enable-lifecycle".into()],
            dir: None,
            port: None,
            resolv_conf: None,
        }
    }
}

impl Node {
    /// Starts the binary with `config` (YAML; `{{PORT}}` is replaced by the
    /// node's own port) and waits until `/-/ready` answers.
    pub fn start(config: &str, options: NodeOptions) -> Node {
        let (tmp, dir) = match options.dir {
            Some(dir) => (None, dir),
            None => {
                let tmp = tempfile::tempdir().expect("tempdir");
                let dir = tmp.path().to_path_buf();
                (Some(tmp), dir)
            }
        };
        let port = options.port.unwrap_or_else(free_port);
        let config_path = dir.join("promshard.yml");
        std::fs::write(&config_path, config.replace("{{PORT}}", &port.to_string()))
            .expect("write config");
        let log = dir.join(format!(
            "promshard-{}.log",
            Instant::now().elapsed().as_nanos()
        ));
        let log_file = std::fs::File::create(&log).expect("create log");
        let mut command = private_resolv_conf(
            env!("CARGO_BIN_EXE_promshard").as_ref(),
            options.resolv_conf.as_deref(),
        );
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(&options.flags)
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = command.spawn().expect("spawn promshard");
        let node = Node {
            process: ChildGuard { child, log },
            url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            config_path,
            _tmp: tmp,
        };
        node.wait_ready(Duration::from_secs(60));
        node
    }

    /// Waits until `/-/ready` answers 200.
    pub fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(response) = blocking_get(&format!("{}/-/ready", self.url))
                && response.0 == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "promshard did not become ready; log:\n{}",
            self.process.log_text()
        );
    }

    /// GET an API path and parse the JSON.
    pub fn get_json(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let (status, body) = blocking_get(&format!("{}{}", self.url, path_and_query)).expect("GET");
        let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
        (status, value)
    }

    /// An instant query at now; returns the `data.result` array.
    pub fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let (status, value) = self.get_json(&format!("/api/v1/query?query={}", urlencode(expr)));
        assert_eq!(status, 200, "query {expr}: {value}");
        value["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Rewrites the config file (same `{{PORT}}` substitution).
    pub fn write_config(&self, config: &str) {
        let mut file = std::fs::File::create(&self.config_path).expect("open config");
        file.write_all(
            config
                .replace("{{PORT}}", &self.port.to_string())
                .as_bytes(),
        )
        .expect("write config");
    }

    /// `POST /-/reload`; returns the status code and body.
    pub fn reload(&self) -> (u16, String) {
        blocking_post(&format!("{}/-/reload", self.url), "").expect("POST /-/reload")
    }

    /// Pushes samples through the remote-write receiver (the node needs
    /// `--web.enable-remote-write-receiver`); returns the status code and
    /// body.
    pub fn remote_write(&self, samples: &[(promshard::model::Labels, i64, f64)]) -> (u16, String) {
        let body = promshard::remote::encode::encode_write_request(
            samples.iter().map(|(labels, t, v)| (labels, *t, *v)),
        );
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/write", self.url))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .body(body)
            .send()
            .unwrap_or_else(|error| panic!("POST /api/v1/write: {error}"));
        let status = response.status().as_u16();
        (status, response.text().unwrap_or_default())
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `limit`.
pub fn eventually<T>(limit: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    eventually_or(limit, what, check, String::new)
}

/// [`eventually`], adding `context()` (a log, the last answer) to the
/// panic message on timeout.
pub fn eventually_or<T>(
    limit: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    context: impl FnOnce() -> String,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {limit:?} waiting for {what}\n{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Percent-encodes a query parameter.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// GET, returning status and body.
pub fn blocking_get(url: &str) -> Result<(u16, String), reqwest::Error> {
    let response = client().get(url).send()?;
    let status = response.status().as_u16();
    Ok((status, response.text()?))
}

/// POST a form body, returning status and body.
pub fn blocking_post(url: &str, form_body: &str) -> Result<(u16, String), reqwest::Error> {
    let response = client()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body.to_string())
        .send()?;
    let status = response.status().as_u16();
    Ok((status, response.text()?))
}

/// Starts the bundled exporter on a free loopback port.
pub fn start_exporter() -> (ChildGuard, u16) {
    let port = free_port();
    let dir = std::env::temp_dir();
    let log = dir.join(format!("promshard-exporter-{port}.log"));
    let log_file = std::fs::File::create(&log).expect("create log");
    let child = Command::new(workspace_binary("promshard-exporter"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("spawn exporter");
    let guard = ChildGuard { child, log };
    eventually(Duration::from_secs(20), "exporter to answer", || {
        blocking_get(&format!("http://127.0.0.1:{port}/metrics"))
            .ok()
            .filter(|r| r.0 == 200)
    });
    (guard, port)
}

/// A hostile (and a well-behaved) scrape target on loopback, served from its
/// own thread and runtime so that blocking tests can use it:
/// `/ok` a small valid body whose gauge `test_value` can be set;
/// `/slow` answers after 5 s; `/huge` a 4 MiB body; `/endless` a body that
/// never ends; `/malformed` a syntax error on line 3; `/flapping` alternates
/// between a valid body and HTTP 500; `/many` 2,000 series.
pub struct TestTarget {
    /// The port.
    pub port: u16,
    value: std::sync::Arc<std::sync::atomic::AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestTarget {
    /// Starts the server.
    pub fn start() -> TestTarget {
        use axum::routing::get;
        use std::sync::atomic::{AtomicU64, Ordering};
        let value = std::sync::Arc::new(AtomicU64::new(1f64.to_bits()));
        let flap = std::sync::Arc::new(AtomicU64::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let served_value = value.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let ok_value = served_value.clone();
                let app = axum::Router::new()
                    .route(
                        "/ok",
                        get(move || {
                            let v = f64::from_bits(ok_value.load(Ordering::Relaxed));
                            async move {
                                format!(
                                    "# HELP test_value A gauge the test sets.\n# TYPE test_value gauge\ntest_value {v}\n# TYPE test_requests_total counter\ntest_requests_total{{path=\"/\"}} 7\n"
                                )
                            }
                        }),
                    )
                    .route(
                        "/slow",
                        get(|| async {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            "slow_metric 1\n"
                        }),
                    )
                    .route("/huge", get(|| async { "huge_metric{pad=\"".to_string() + &"x".repeat(4 << 20) + "\"} 1\n" }))
                    .route(
                        "/endless",
                        get(|| async {
                            let stream = futures::stream::repeat_with(|| {
                                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"endless_metric{a=\"b\"} 1\n"))
                            });
                            axum::body::Body::from_stream(stream)
                        }),
                    )
                    .route("/malformed", get(|| async { "ok_metric 1\nok_metric2 2\nthis is { not valid\n" }))
                    .route(
                        "/flapping",
                        get(move || {
                            let n = flap.fetch_add(1, Ordering::Relaxed);
                            async move {
                                if n.is_multiple_of(2) {
                                    (axum::http::StatusCode::OK, "flapping_metric 1\n".to_string())
                                } else {
                                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down\n".to_string())
                                }
                            }
                        }),
                    )
                    .route(
                        "/many",
                        get(|| async { (0..2000).map(|i| format!("many_metric{{i=\"{i}\"}} {i}\n")).collect::<String>() }),
                    );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = port_tx.send(listener.local_addr().expect("addr").port());
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        let port = port_rx.recv().expect("test target port");
        TestTarget {
            port,
            value,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Sets the value `/ok` serves for `test_value`.
    pub fn set_value(&self, v: f64) {
        self.value
            .store(v.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Not joined: a connection that streams forever may outlive the
        // graceful shutdown; the thread ends with the test process.
        drop(self.thread.take());
    }
}

/// Starts the real Prometheus (Debian's `prometheus`) on a free loopback
/// port with the remote-write receiver on, storing into `data`.
pub fn start_prometheus(data: &Path, port: u16) -> ChildGuard {
    let config = data.with_extension("yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
    )
    .expect("write prometheus config");
    let log = data.with_extension("log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("log");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("spawn prometheus (install Debian's prometheus: scripts/setup-system --test)");
    let guard = ChildGuard { child, log };
    eventually(Duration::from_secs(60), "prometheus to be ready", || {
        blocking_get(&format!("http://127.0.0.1:{port}/-/ready"))
            .ok()
            .filter(|r| r.0 == 200)
    });
    guard
}

/// An instant query against any Prometheus-compatible API at time `at`
/// (seconds); returns `data.result`.
pub fn query_at(base_url: &str, expr: &str, at: f64) -> Vec<serde_json::Value> {
    let (status, body) = blocking_get(&format!(
        "{base_url}/api/v1/query?query={}&time={at}",
        urlencode(expr)
    ))
    .expect("GET");
    assert_eq!(status, 200, "{expr}: {body}");
    let value: serde_json::Value = serde_json::from_str(&body).expect("json");
    value["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A gauge's value on a node's own `/metrics` page (summed over label sets).
pub fn self_metric(node_url: &str, name: &str) -> f64 {
    let (_, body) = blocking_get(&format!("{node_url}/metrics")).expect("GET /metrics");
    body.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with([' ', '{']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A real etcd server (Debian's `etcd-server`) on free loopback ports with
/// a temporary data dir; stoppable and restartable on the same ports and
/// data (an outage), killed on drop.
pub struct Etcd {
    /// The client URL, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    peer_url: String,
    dir: tempfile::TempDir,
    process: Option<ChildGuard>,
}

impl Etcd {
    /// Starts etcd and waits until `/health` says so.
    pub fn start() -> Etcd {
        let mut etcd = Etcd {
            endpoint: format!("http://127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
            dir: tempfile::tempdir().expect("etcd tempdir"),
            process: None,
        };
        etcd.restart();
        etcd
    }

    /// Kills the process (as a crash or outage would), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill9();
        }
    }

    /// Sends a signal (`STOP`, `CONT`) to the running process: a paused
    /// etcd hangs its clients instead of refusing them.
    pub fn signal(&self, name: &str) {
        if let Some(process) = &self.process {
            process.signal(name);
        }
    }

    /// Starts the process again on the same ports and data dir.
    pub fn restart(&mut self) {
        let log = self.dir.path().join("etcd.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("etcd log");
        let child = Command::new("/usr/bin/etcd")
            .arg("--name=test")
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={}", self.endpoint))
            .arg(format!("--advertise-client-urls={}", self.endpoint))
            .arg(format!("--listen-peer-urls={}", self.peer_url))
            .arg(format!("--initial-advertise-peer-urls={}", self.peer_url))
            .arg(format!("--initial-cluster=test={}", self.peer_url))
            .arg("--initial-cluster-state=new")
            .arg("--log-outputs=stderr")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn /usr/bin/etcd (Debian's etcd-server: scripts/setup-system --test)");
        let process = ChildGuard { child, log };
        let health = format!("{}/health", self.endpoint);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, body)) = blocking_get(&health)
                && body.contains("true")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not become healthy; log:\n{}",
                process.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.process = Some(process);
    }
}

/// Many small scrape targets on loopback: one server runtime listening on
/// `count` ports, each answering `/metrics` with a gauge naming its port.
/// Targets differ by address, as real ones do.
pub struct ManyTargets {
    /// `127.0.0.1:PORT` of every target.
    pub addresses: Vec<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ManyTargets {
    /// Starts `count` targets.
    pub fn start(count: usize) -> ManyTargets {
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addresses_tx, addresses_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Several threads: hundreds of targets scraped every second
            // must not queue behind one another on one thread.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut addresses = Vec::new();
                for _ in 0..count {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind a target port");
                    let port = listener.local_addr().expect("addr").port();
                    addresses.push(format!("127.0.0.1:{port}"));
                    let body = format!(
                        "# TYPE test_target_port gauge\ntest_target_port{{port=\"{port}\"}} {port}\n"
                    );
                    let app = axum::Router::new().route(
                        "/metrics",
                        axum::routing::get(move || {
                            let body = body.clone();
                            async move { body }
                        }),
                    );
                    tokio::spawn(async move { axum::serve(listener, app).await });
                }
                let _ = addresses_tx.send(addresses);
                let _ = stopped.await;
            });
        });
        ManyTargets {
            addresses: addresses_rx.recv().expect("target addresses"),
            shutdown: Some(shutdown),
        }
    }
}

impl Drop for ManyTargets {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
