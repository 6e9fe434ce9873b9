//! Receivers for notification tests, on loopback ports chosen at run time:
//! an HTTP server recording every JSON body POSTed to it (webhook, Slack,
//! PagerDuty paths alike), and a tiny SMTP server accepting messages.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request received: its path, JSON body and arrival time.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path (`/webhook`, `/slack`, ...).
    pub path: String,
    /// The body, parsed.
    pub body: serde_json::Value,
    /// When it arrived.
    pub at: Instant,
    /// Its `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// An HTTP server recording POSTs; stopped on drop.
pub struct RecordingServer {
    /// The port.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingServer {
    /// Starts the server.
    pub fn start() -> RecordingServer {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let recorder = received.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(
                    move |uri: axum::http::Uri,
                          headers: axum::http::HeaderMap,
                          body: axum::body::Bytes| {
                        let recorder = recorder.clone();
                        async move {
                            let body =
                                serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                            let path = uri.path().to_string();
                            let mut received = recorder.lock().expect("lock");
                            let earlier = received.iter().filter(|r| r.path == path).count();
                            received.push(Received {
                                path: path.clone(),
                                body,
                                at: Instant::now(),
                                authorization: headers
                                    .get("authorization")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_string),
                            });
                            // `/flaky...` paths fail their first request.
                            if path.starts_with("/flaky") && earlier == 0 {
                                return (
                                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                                    "try again",
                                );
                            }
                            (axum::http::StatusCode::OK, "ok")
                        }
                    },
                );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                port_tx
                    .send(listener.local_addr().expect("addr").port())
                    .expect("send port");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        let port = port_rx.recv().expect("port");
        RecordingServer {
            port,
            received,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Everything received on `path` so far.
    pub fn received(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has received at least `count` requests.
    pub fn wait_for(&self, path: &str, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received(path);
            if got.len() >= count {
                return got;
            }
            if Instant::now() > deadline {
                panic!("{path}: expected {count} requests within {limit:?}, got {got:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A minimal SMTP server: accepts every message and keeps its DATA.
pub struct SmtpSink {
    /// The port.
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    /// Starts the sink on its own thread (it lives as long as the test).
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let store = messages.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let store = store.clone();
                std::thread::spawn(move || {
                    let _ = serve_smtp(stream, &store);
                });
            }
        });
        SmtpSink { port, messages }
    }

    /// The messages received so far (headers and body).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("lock").clone()
    }
}

fn serve_smtp(stream: std::net::TcpStream, store: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 sink ESMTP ready\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            writer.write_all(b"250-sink\r\n250 8BITMIME\r\n")?;
        } else if command.starts_with("HELO")
            || command.starts_with("MAIL")
            || command.starts_with("RCPT")
            || command.starts_with("RSET")
            || command.starts_with("NOOP")
        {
            writer.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("DATA") {
            writer.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().expect("lock").push(data);
            writer.write_all(b"250 queued\r\n")?;
        } else if command.starts_with("QUIT") {
            writer.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"502 not implemented\r\n")?;
        }
    }
}

/// POSTs JSON with optional basic auth; returns status and body.
pub fn post_json(url: &str, body: &serde_json::Value, auth: Option<(&str, &str)>) -> (u16, String) {
    let client = reqwest::blocking::Client::new();
    let mut request = client.post(url).json(body);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().expect("POST");
    let status = response.status().as_u16();
    (status, response.text().unwrap_or_default())
}

/// DELETE with optional basic auth; returns the status.
pub fn delete(url: &str, auth: Option<(&str, &str)>) -> u16 {
    let client = reqwest::blocking::Client::new();
    let mut request = client.delete(url);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    request.send().expect("DELETE").status().as_u16()
}

/// An alert for `POST /api/v2/alerts`.
pub fn alert(labels: &[(&str, &str)], resolved: bool) -> serde_json::Value {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    let now = chrono::Utc::now();
    let mut alert = serde_json::json!({
        "labels": labels,
        "annotations": {"summary": "test alert"},
        "generatorURL": "http://prometheus/graph",
    });
    if resolved {
        alert["endsAt"] = serde_json::Value::String(now.to_rfc3339());
    }
    alert
}

/// An alert that started at `started` (as a sender re-sends it).
pub fn alert_started(
    labels: &[(&str, &str)],
    started: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let mut alert = alert(labels, false);
    alert["startsAt"] = serde_json::Value::String(started.to_rfc3339());
    alert
}
