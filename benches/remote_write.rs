//! Remote-write sending throughput, end to end through the sender: samples
//! are queued as the WAL watcher queues them, spread over shards, batched
//! (2,000 samples a request, Prometheus's default), encoded, snappy-compressed
//! and POSTed over real HTTP on loopback to a receiver that discards the body.
//!
//! Run: cargo bench --bench remote_write
//!
//! Prints samples/s and the process CPU time per million samples sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use promshard::model::Labels;
use promshard::remote::client::{HttpClientSettings, HttpWriteClient};
use promshard::remote::metrics::RemoteMetrics;
use promshard::remote::queue::{QueueManager, QueueSettings, RefSample, WalPosition};

const SERIES: u64 = 10_000;
const SCRAPES: i64 = 100;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc/self/stat (clock ticks).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = runtime.block_on(async {
        let app = axum::Router::new().route(
            "/api/v1/write",
            axum::routing::post(|_body: axum::body::Bytes| async {
                axum::http::StatusCode::NO_CONTENT
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}/api/v1/write")
    });
    let client = HttpWriteClient::new(HttpClientSettings {
        name: "bench".into(),
        url,
        timeout: Duration::from_secs(30),
        headers: Default::default(),
        http_client: Default::default(),
        retry_on_http_429: true,
    })
    .expect("client");
    let _runtime_context = runtime.enter();
    let metrics = RemoteMetrics::new(&prometheus::Registry::new()).expect("metrics");
    let settings = QueueSettings {
        min_shards: 4,
        max_shards: 4,
        ..QueueSettings::default()
    };
    let queue = QueueManager::new(Arc::new(client), settings, vec![], Labels::empty(), metrics);
    let series: Vec<(u64, Labels)> = (0..SERIES)
        .map(|i| {
            let instance = format!("10.0.{}.{}:9100", i / 250, i % 250);
            let cpu = (i % 8).to_string();
            (
                i,
                Labels::from_pairs(&[
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", cpu.as_str()),
                    ("instance", instance.as_str()),
                    ("job", "node"),
                    ("mode", "idle"),
                ]),
            )
        })
        .collect();
    queue.store_series(&series, 0);

    let total = SERIES * SCRAPES as u64;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    runtime.block_on(async {
        for scrape in 0..SCRAPES {
            let samples: Vec<RefSample> = (0..SERIES)
                .map(|i| RefSample {
                    series: i,
                    t: 1_700_000_000_000 + scrape * 15_000,
                    v: (scrape as f64) * 1.5 + i as f64,
                })
                .collect();
            let position = WalPosition {
                segment: 0,
                offset: scrape as u64,
            };
            queue.append(&samples, position, position).await;
        }
        // Flush as shutdown does: partial batches go out at once instead of
        // waiting for batch_send_deadline (5s).
        queue.stop(Duration::from_secs(60)).await;
        assert_eq!(queue.pending(), 0, "everything was delivered");
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    println!(
        "remote write: {total} samples over HTTP in {elapsed:.2}s = {:.2}M samples/s",
        total as f64 / elapsed / 1e6
    );
    println!(
        "remote write: CPU {cpu:.2}s (sender + discarding receiver, same process) = {:.2} CPU-seconds per million samples",
        cpu / (total as f64 / 1e6)
    );
}
