//! From a config file on disk to discovered targets: static, file and HTTP
//! SD through the discovery manager, and a reload that keeps unchanged
//! providers running (no re-discovery) while applying changed ones.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use promshard::config::load_file;
use promshard::discovery::{DiscoveryManager, DiscoveryState};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// An HTTP SD endpoint on loopback; returns its URL and a request counter.
async fn serve_http_sd() -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let app = Router::new().route(
        "/sd",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"[{"targets": ["http-target:9100"], "labels": {"source": "inventory"}}]"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let address = listener
        .local_addr()
        .unwrap_or_else(|error| panic!("{error}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/sd"), requests)
}

fn addresses(state: &DiscoveryState, job: &str) -> BTreeSet<String> {
    state
        .get(job)
        .into_iter()
        .flatten()
        .flat_map(|group| {
            group
                .targets
                .iter()
                .filter_map(|target| target.get("__address__").map(str::to_string))
        })
        .collect()
}

async fn wait_until(
    receiver: &mut watch::Receiver<DiscoveryState>,
    condition: impl Fn(&DiscoveryState) -> bool,
) -> DiscoveryState {
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let state = receiver.borrow_and_update().clone();
            if condition(&state) || receiver.changed().await.is_err() {
                return state;
            }
        }
    })
    .await;
    result.unwrap_or_else(|_| panic!("not reached; state: {:?}", receiver.borrow()))
}

fn config_text(http_sd_url: &str, file_pattern: &str) -> String {
    format!(
        "\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: static
    static_configs:
      - targets: [static-target:9100]
  - job_name: files
    file_sd_configs:
      - files: [{file_pattern}]
  - job_name: inventory
    http_sd_configs:
      - url: {http_sd_url}
        refresh_interval: 1m
"
    )
}

#[tokio::test]
async fn config_file_to_targets_and_reload_keeps_unchanged_providers() {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let targets_directory = directory.path().join("targets");
    std::fs::create_dir(&targets_directory).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        targets_directory.join("a.yml"),
        "- targets: [file-a:9100]\n",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        targets_directory.join("b.json"),
        r#"[{"targets": ["file-b:9100"]}]"#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let (http_sd_url, http_requests) = serve_http_sd().await;
    let config_path = directory.path().join("prometheus.yml");
    // A relative SD path: resolved against the config file's directory.
    std::fs::write(&config_path, config_text(&http_sd_url, "targets/*.yml"))
        .unwrap_or_else(|error| panic!("{error}"));
    let config = load_file(&config_path).unwrap_or_else(|error| panic!("{error}"));

    let registry = prometheus::Registry::new();
    let manager = Arc::new(DiscoveryManager::with_intervals(
        &registry,
        Duration::from_millis(50),
        Duration::from_millis(20),
    ));
    let mut receiver = manager.subscribe();
    let cancel = CancellationToken::new();
    let run = {
        let manager = manager.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { manager.run(cancel).await })
    };
    manager
        .apply_config(&config.scrape_sd_configs())
        .unwrap_or_else(|error| panic!("{error}"));
    let state = wait_until(&mut receiver, |state| {
        !addresses(state, "files").is_empty() && !addresses(state, "inventory").is_empty()
    })
    .await;
    assert_eq!(
        addresses(&state, "static"),
        BTreeSet::from(["static-target:9100".to_string()])
    );
    assert_eq!(
        addresses(&state, "files"),
        BTreeSet::from(["file-a:9100".to_string()])
    );
    assert_eq!(
        addresses(&state, "inventory"),
        BTreeSet::from(["http-target:9100".to_string()])
    );
    let inventory_group = &state["inventory"][0];
    assert_eq!(
        inventory_group.labels.get("__meta_url"),
        Some(http_sd_url.as_str())
    );
    assert_eq!(inventory_group.labels.get("source"), Some("inventory"));
    assert_eq!(http_requests.load(Ordering::SeqCst), 1);

    // Reload: the file job now also reads JSON; the HTTP job is unchanged.
    std::fs::write(&config_path, config_text(&http_sd_url, "targets/*"))
        .unwrap_or_else(|error| panic!("{error}"));
    let reloaded = load_file(&config_path);
    assert!(
        reloaded.is_err(),
        "a pattern without .json/.yml/.yaml is refused, as Prometheus does"
    );
    let new_text = config_text(&http_sd_url, "targets/*.yml").replace(
        "      - files: [targets/*.yml]",
        "      - files: [targets/*.yml, targets/*.json]",
    );
    std::fs::write(&config_path, new_text).unwrap_or_else(|error| panic!("{error}"));
    let reloaded = load_file(&config_path).unwrap_or_else(|error| panic!("{error}"));
    manager
        .apply_config(&reloaded.scrape_sd_configs())
        .unwrap_or_else(|error| panic!("{error}"));
    let immediately = receiver.borrow_and_update().clone();
    assert_eq!(
        addresses(&immediately, "inventory"),
        BTreeSet::from(["http-target:9100".to_string()]),
        "the unchanged HTTP job keeps its targets through the reload"
    );
    wait_until(&mut receiver, |state| addresses(state, "files").len() == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        http_requests.load(Ordering::SeqCst),
        1,
        "the unchanged HTTP provider was not restarted"
    );

    cancel.cancel();
    let _ = run.await;
}
