//! The example configuration and rule files the project ships load and
//! pass `check config` / `check rules`, as users will run them.

use std::path::{Path, PathBuf};

use promshard::config::check::{SUCCESS_EXIT_CODE, check_config_files, check_rule_files};
use promshard::config::{ClusterMode, PromDuration, load_file};

fn repository_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

#[test]
fn embedded_default_is_a_single_node_scraping_itself_and_the_exporter() {
    let config = load_file(&repository_path("config/promshard.yml"))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.cluster.mode, ClusterMode::None);
    assert_eq!(config.global.scrape_interval, PromDuration::from_secs(15));
    let targets = |job: &str| {
        config
            .scrape_config(job)
            .map(|scrape_config| scrape_config.static_configs[0].targets.clone())
            .unwrap_or_default()
    };
    assert_eq!(targets("promshard"), vec!["localhost:9090".to_string()]);
    assert_eq!(targets("node"), vec!["localhost:9100".to_string()]);
    let rule_glob = &config.rule_files[0];
    let rule_files: Vec<_> = glob::glob(rule_glob)
        .unwrap_or_else(|error| panic!("{error}"))
        .collect();
    assert!(
        !rule_files.is_empty(),
        "{rule_glob} finds the example rules"
    );
}

#[test]
fn every_example_config_passes_check_config() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repository_path("config"))
        .unwrap_or_else(|error| panic!("{error}"))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 3, "{paths:?}");
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = check_config_files(&paths, &mut out, &mut err);
    assert_eq!(
        code,
        SUCCESS_EXIT_CODE,
        "{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
}

#[test]
fn every_example_rule_file_passes_check_rules() {
    let paths: Vec<PathBuf> = glob::glob(&repository_path("rules/*.yml").to_string_lossy())
        .unwrap_or_else(|error| panic!("{error}"))
        .filter_map(Result::ok)
        .collect();
    assert!(!paths.is_empty());
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = check_rule_files(&paths, &mut out, &mut err);
    let err = String::from_utf8_lossy(&err);
    assert_eq!(code, SUCCESS_EXIT_CODE, "{err}");
    assert!(err.is_empty(), "{err}");
}
