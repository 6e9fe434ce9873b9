//! The HTTP client factory's TLS settings against a real TLS server
//! (Python's `ssl` module) with certificates the test makes with the
//! `openssl` command: a CA, a server certificate for 127.0.0.1 and
//! `metrics.internal`, and a client certificate, used through
//! `remote_write` and `scrape_configs` entries as a user writes them.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ChildGuard, eventually, free_port};
use promshard::remote::client::{HttpWriteClient, WriteClient};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl (scripts/setup-system --test installs it)");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, and server and client certificates it signed, in `dir`.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    // Extensions make X.509 v3 certificates (webpki refuses v1 ones).
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:metrics.internal\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for name in ["server", "client"] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        let mut args = vec![
            "x509".to_string(),
            "-req".into(),
            "-in".into(),
            format!("{name}.csr"),
            "-CA".into(),
            "ca.crt".into(),
            "-CAkey".into(),
            "ca.key".into(),
            "-CAcreateserial".into(),
            "-days".into(),
            "2".into(),
            "-out".into(),
            format!("{name}.crt"),
        ];
        args.extend(["-extfile".into(), format!("{name}.ext")]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(dir, &args);
    }
}

const SERVER: &str = r#"
import http.server, ssl, sys
port, certs, max_version = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()
    def do_GET(self):
        body = b"up_test 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(certs + "/server.crt", certs + "/server.key")
context.load_verify_locations(certs + "/ca.crt")
context.verify_mode = ssl.CERT_REQUIRED
if max_version == "1.2":
    context.maximum_version = ssl.TLSVersion.TLSv1_2
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

/// An HTTPS server on a free port that requires a client certificate from
/// the test CA; `max_version` "1.2" caps its TLS version.
fn start_server(certs: &Path, max_version: &str) -> (ChildGuard, u16) {
    let port = free_port();
    let log = certs.join(format!("server-{port}.log"));
    let child = Command::new("python3")
        .args(["-c", SERVER, &port.to_string()])
        .arg(certs)
        .arg(max_version)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn python3");
    let guard = ChildGuard { child, log };
    eventually(Duration::from_secs(20), "the TLS server to listen", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    (guard, port)
}

/// A remote-write client for the entry written as `tls` (YAML lines under
/// `tls_config:`), loaded from a config file beside the certificates.
fn client(certs: &Path, port: u16, tls: &str) -> HttpWriteClient {
    let config_path = certs.join("prometheus.yml");
    std::fs::write(
        &config_path,
        format!(
            "remote_write:\n  - url: https://127.0.0.1:{port}/api/v1/write\n    remote_timeout: 5s\n    tls_config:\n{tls}"
        ),
    )
    .unwrap();
    let config = promshard::config::load_file(&config_path).expect("config loads");
    let settings = promshard::remote::write::client_settings(&config.remote_write[0]).unwrap();
    HttpWriteClient::new(settings).expect("client builds")
}

fn body() -> Vec<u8> {
    promshard::remote::codec::encode(&promshard::remote::proto::WriteRequest::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_settings_are_applied_against_a_real_tls_server() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    make_certificates(certs);
    let (_server, port) = start_server(certs, "1.3");

    let trusted_with_certificate =
        "      ca_file: ca.crt\n      cert_file: client.crt\n      key_file: client.key\n";
    client(certs, port, trusted_with_certificate)
        .store(body(), 0)
        .await
        .expect("the CA, the client certificate and its key are used");

    let error = client(
        certs,
        port,
        "      cert_file: client.crt\n      key_file: client.key\n",
    )
    .store(body(), 0)
    .await
    .expect_err("a server signed by an unknown CA is refused");
    assert!(error.is_retryable(), "{error:?}");

    client(
        certs,
        port,
        "      insecure_skip_verify: true\n      cert_file: client.crt\n      key_file: client.key\n",
    )
    .store(body(), 0)
    .await
    .expect("insecure_skip_verify accepts the unknown CA");

    client(certs, port, "      ca_file: ca.crt\n")
        .store(body(), 0)
        .await
        .expect_err("without the client certificate the server refuses the handshake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_version_limits_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    make_certificates(certs);
    let (_server, port) = start_server(certs, "1.2");
    let base = "      ca_file: ca.crt\n      cert_file: client.crt\n      key_file: client.key\n";
    client(certs, port, &format!("{base}      max_version: TLS12\n"))
        .store(body(), 0)
        .await
        .expect("TLS 1.2 is allowed on both sides");
    client(certs, port, &format!("{base}      min_version: TLS13\n"))
        .store(body(), 0)
        .await
        .expect_err("a server capped at TLS 1.2 is refused when 1.3 is the minimum");
}

/// A scrape client for a job whose `tls_config` is written as `tls`.
fn scrape_client(certs: &Path, tls: &str) -> promshard::scrape::client::ScrapeClient {
    let config_path = certs.join("scrape.yml");
    std::fs::write(
        &config_path,
        format!(
            "scrape_configs:\n  - job_name: tls\n    scheme: https\n    tls_config:\n{tls}    static_configs:\n      - targets: [x]\n"
        ),
    )
    .unwrap();
    let config = promshard::config::load_file(&config_path).expect("config loads");
    let settings =
        promshard::scrape::ScrapeSettings::try_from(config.scrape_config("tls").unwrap()).unwrap();
    promshard::scrape::client::ScrapeClient::new(&settings.http_client, &settings.scrape_protocols)
        .expect("client builds")
}

/// `server_name` is the name the certificate is checked against, as
/// kube-prometheus uses it to scrape the API server by IP; the scrape
/// client takes the same TLS settings as remote write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_name_is_the_name_verified() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    make_certificates(certs);
    let (_server, port) = start_server(certs, "1.3");
    let base = "      ca_file: ca.crt\n      cert_file: client.crt\n      key_file: client.key\n";
    let url = format!("https://127.0.0.1:{port}/metrics");
    let timeout = Duration::from_secs(5);

    let scraped = scrape_client(
        certs,
        &format!("{base}      server_name: metrics.internal\n"),
    )
    .scrape(&url, timeout, 0)
    .await
    .expect("the certificate names metrics.internal");
    assert_eq!(scraped.body, b"up_test 1\n");
    let error = scrape_client(certs, &format!("{base}      server_name: other.internal\n"))
        .scrape(&url, timeout, 0)
        .await
        .expect_err("the certificate does not name other.internal, though it names the IP");
    assert!(error.to_string().contains("certificate"), "{error}");
    scrape_client(certs, base)
        .scrape(&url, timeout, 0)
        .await
        .expect("without server_name the URL's IP is verified");

    client(
        certs,
        port,
        &format!("{base}      server_name: metrics.internal\n"),
    )
    .store(body(), 0)
    .await
    .expect("remote write verifies server_name too");
    client(
        certs,
        port,
        &format!("{base}      server_name: other.internal\n"),
    )
    .store(body(), 0)
    .await
    .expect_err("remote write refuses a name the certificate lacks");
}
