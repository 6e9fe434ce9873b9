use std::time::Duration;

use super::*;
use crate::config::{FileSdConfig, StaticConfig};
use crate::model::labels::ADDRESS_LABEL;

fn static_config(targets: &[&str]) -> SdConfig {
    SdConfig::Static(StaticConfig {
        targets: targets.iter().map(|target| target.to_string()).collect(),
        labels: [("team".to_string(), "infra".to_string())]
            .into_iter()
            .collect(),
    })
}

fn file_config(directory: &std::path::Path) -> SdConfig {
    SdConfig::File(FileSdConfig {
        files: vec![directory.join("*.json").to_string_lossy().into_owned()],
        ..FileSdConfig::default()
    })
}

fn addresses(state: &DiscoveryState, job_name: &str) -> Vec<String> {
    let mut found: Vec<String> = state
        .get(job_name)
        .into_iter()
        .flatten()
        .flat_map(|group| {
            group
                .targets
                .iter()
                .filter_map(|target| target.get(ADDRESS_LABEL).map(str::to_string))
        })
        .collect();
    found.sort();
    found
}

async fn wait_for(
    receiver: &mut watch::Receiver<DiscoveryState>,
    condition: impl Fn(&DiscoveryState) -> bool,
) -> DiscoveryState {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let current = receiver.borrow_and_update().clone();
            if condition(&current) {
                return current;
            }
            if receiver.changed().await.is_err() {
                return current;
            }
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("condition not reached; last state {:?}", receiver.borrow()))
}

#[tokio::test]
async fn static_and_file_targets_are_published_per_job_and_follow_file_changes() {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let file_path = directory.path().join("targets.json");
    std::fs::write(&file_path, r#"[{"targets": ["file-a:1"]}]"#)
        .unwrap_or_else(|error| panic!("{error}"));
    let registry = Registry::new();
    let manager = Arc::new(DiscoveryManager::with_intervals(
        &registry,
        Duration::from_millis(50),
        Duration::from_millis(20),
    ));
    let mut receiver = manager.subscribe();
    let cancel = CancellationToken::new();
    let runner = {
        let manager = manager.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { manager.run(cancel).await })
    };
    let configs: HashMap<String, Vec<SdConfig>> = [
        (
            "static-job".to_string(),
            vec![static_config(&["s:1", "s:2"])],
        ),
        ("file-job".to_string(), vec![file_config(directory.path())]),
    ]
    .into_iter()
    .collect();
    manager
        .apply_config(&configs)
        .unwrap_or_else(|error| panic!("{error}"));

    let state = wait_for(&mut receiver, |state| {
        addresses(state, "file-job") == ["file-a:1"]
    })
    .await;
    assert_eq!(addresses(&state, "static-job"), ["s:1", "s:2"]);
    let static_group = &state["static-job"][0];
    assert_eq!(static_group.source, "static-job/static/0");
    assert_eq!(static_group.labels.get("team"), Some("infra"));

    std::fs::write(&file_path, r#"[{"targets": ["file-a:1", "file-b:2"]}]"#)
        .unwrap_or_else(|error| panic!("{error}"));
    wait_for(&mut receiver, |state| {
        addresses(state, "file-job") == ["file-a:1", "file-b:2"]
    })
    .await;

    let metrics = registry.gather();
    let discovered = metrics
        .iter()
        .find(|family| family.name() == "prometheus_sd_discovered_targets")
        .map(|family| family.get_metric().len());
    assert_eq!(discovered, Some(2), "one gauge per job");

    cancel.cancel();
    let _ = runner.await;
}

#[tokio::test]
async fn reload_keeps_unchanged_providers_and_their_targets_without_a_gap() {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        directory.path().join("t.json"),
        r#"[{"targets": ["kept:1"]}]"#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let registry = Registry::new();
    let manager = Arc::new(DiscoveryManager::with_intervals(
        &registry,
        Duration::from_millis(50),
        Duration::from_millis(20),
    ));
    let mut receiver = manager.subscribe();
    let cancel = CancellationToken::new();
    let runner = {
        let manager = manager.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { manager.run(cancel).await })
    };
    let first: HashMap<String, Vec<SdConfig>> = [
        ("files".to_string(), vec![file_config(directory.path())]),
        ("gone".to_string(), vec![static_config(&["g:1"])]),
    ]
    .into_iter()
    .collect();
    manager
        .apply_config(&first)
        .unwrap_or_else(|error| panic!("{error}"));
    wait_for(&mut receiver, |state| {
        addresses(state, "files") == ["kept:1"]
    })
    .await;

    let second: HashMap<String, Vec<SdConfig>> = [
        ("files".to_string(), vec![file_config(directory.path())]),
        ("new".to_string(), vec![static_config(&["n:1"])]),
    ]
    .into_iter()
    .collect();
    manager
        .apply_config(&second)
        .unwrap_or_else(|error| panic!("{error}"));
    // Published synchronously by apply_config: the unchanged file job still
    // has its targets, the removed job is gone, the new one is there.
    let after_reload = receiver.borrow_and_update().clone();
    assert_eq!(addresses(&after_reload, "files"), ["kept:1"]);
    assert!(!after_reload.contains_key("gone"));
    assert_eq!(addresses(&after_reload, "new"), ["n:1"]);

    cancel.cancel();
    let _ = runner.await;
}

#[tokio::test]
async fn a_config_whose_client_cannot_be_built_is_refused_and_changes_nothing() {
    let registry = Registry::new();
    let manager = DiscoveryManager::new(&registry);
    let good: HashMap<String, Vec<SdConfig>> = [("a".to_string(), vec![static_config(&["a:1"])])]
        .into_iter()
        .collect();
    manager
        .apply_config(&good)
        .unwrap_or_else(|error| panic!("{error}"));
    let mut http_config = crate::config::HttpSdConfig {
        url: "http://127.0.0.1:1/sd".to_string(),
        ..Default::default()
    };
    http_config.http_client.tls_config.ca_file = "/nonexistent/ca.pem".to_string();
    let bad: HashMap<String, Vec<SdConfig>> =
        [("b".to_string(), vec![SdConfig::Http(Box::new(http_config))])]
            .into_iter()
            .collect();
    assert!(manager.apply_config(&bad).is_err());
    let state = manager.subscribe().borrow().clone();
    assert_eq!(addresses(&state, "a"), ["a:1"]);
    assert!(!state.contains_key("b"));
}
