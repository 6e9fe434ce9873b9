use std::path::Path;

use super::*;

fn load_fixture(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name);
    match load_file(&path) {
        Ok(config) => config,
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn prometheus_example_config_loads_unchanged() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/promtool/prometheus.example.yml");
    let config = load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.global.scrape_interval, PromDuration::from_secs(15));
    assert_eq!(
        config.global.evaluation_interval,
        PromDuration::from_secs(15)
    );
    assert_eq!(config.global.scrape_timeout, PromDuration::from_secs(10));
    let job = config
        .scrape_config("prometheus")
        .unwrap_or_else(|| panic!("job prometheus missing"));
    assert_eq!(
        job.static_configs[0].targets,
        vec!["localhost:9090".to_string()]
    );
    assert_eq!(
        job.static_configs[0].labels.get("app").map(String::as_str),
        Some("prometheus")
    );
    assert_eq!(job.scrape_interval, PromDuration::from_secs(15));
    assert_eq!(job.metrics_path, "/metrics");
    assert_eq!(config.alerting.alertmanagers.len(), 1);
    assert!(
        config.alerting.alertmanagers[0].static_configs[0]
            .targets
            .is_empty()
    );
    assert!(config.rule_files.is_empty());
    assert!(config.original_yaml.contains("my global config"));
}

#[test]
fn empty_config_is_the_default_config() {
    for text in ["", "# only a comment\n", "---\n"] {
        let config = load_str(text, "empty.yml").unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(config.global.scrape_interval, PromDuration::from_secs(60));
        assert_eq!(config.global.scrape_timeout, PromDuration::from_secs(10));
        assert_eq!(
            config.global.evaluation_interval,
            PromDuration::from_secs(60)
        );
        assert!(config.scrape_configs.is_empty());
        assert_eq!(config.cluster.mode, ClusterMode::None);
    }
}

#[test]
fn scrape_configs_inherit_global_values_and_defaults() {
    let text = "\
global:
  scrape_interval: 5s
  sample_limit: 100
  body_size_limit: 1MB
scrape_configs:
  - job_name: inherits
  - job_name: overrides
    scrape_interval: 1m
    sample_limit: 7
  - job_name: short
    scrape_interval: 2s
";
    let config = load_str(text, "inherit.yml").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        config.global.scrape_timeout,
        PromDuration::from_secs(5),
        "min(10s, interval)"
    );
    let inherits = &config.scrape_configs[0];
    assert_eq!(inherits.scrape_interval, PromDuration::from_secs(5));
    assert_eq!(inherits.scrape_timeout, PromDuration::from_secs(5));
    assert_eq!(inherits.sample_limit, 100);
    assert_eq!(inherits.body_size_limit, ByteSize(1 << 20));
    assert!(inherits.honor_timestamps);
    assert!(inherits.enable_compression);
    assert_eq!(inherits.scheme, "http");
    assert!(inherits.http_client.follow_redirects);
    assert!(inherits.http_client.enable_http2);
    assert_eq!(
        inherits.scrape_protocols,
        ScrapeProtocol::DEFAULT_PROTOCOLS.to_vec()
    );
    let overrides = &config.scrape_configs[1];
    assert_eq!(overrides.scrape_interval, PromDuration::from_secs(60));
    assert_eq!(
        overrides.scrape_timeout,
        PromDuration::from_secs(5),
        "global timeout kept when below the interval"
    );
    assert_eq!(overrides.sample_limit, 7);
    let short = &config.scrape_configs[2];
    assert_eq!(
        short.scrape_timeout,
        PromDuration::from_secs(2),
        "timeout capped at the job's interval"
    );
}

#[test]
fn every_supported_field_loads_with_its_value() {
    let config = load_fixture("every_field.yml");
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
    let in_directory = |relative: &str| directory.join(relative).to_string_lossy().into_owned();

    assert_eq!(config.global.external_labels.get("region"), Some("eu-west"));
    assert_eq!(config.global.body_size_limit, ByteSize(10 << 20));
    assert_eq!(config.global.rule_query_offset, PromDuration::from_secs(10));
    assert_eq!(
        config.rule_files,
        vec![
            in_directory("rules/*.yml"),
            "/etc/promshard/extra.yml".to_string()
        ]
    );

    let node = config
        .scrape_config("node")
        .unwrap_or_else(|| panic!("job node missing"));
    assert!(node.honor_labels && !node.honor_timestamps && node.track_timestamps_staleness);
    assert_eq!(
        (node.scrape_interval, node.scrape_timeout),
        (PromDuration::from_secs(15), PromDuration::from_secs(5))
    );
    assert_eq!(
        node.scrape_protocols,
        vec![ScrapeProtocol::PrometheusText0_0_4]
    );
    assert_eq!(node.metrics_path, "/probe");
    assert_eq!(node.scheme, "https");
    assert_eq!(
        node.params.get("module"),
        Some(&vec!["http_2xx".to_string()])
    );
    assert_eq!(node.body_size_limit, ByteSize((1 << 20) + (512 << 10)));
    assert_eq!(
        (
            node.sample_limit,
            node.target_limit,
            node.label_limit,
            node.label_name_length_limit,
            node.label_value_length_limit
        ),
        (1000, 10, 30, 100, 1000)
    );
    let basic_auth = node
        .http_client
        .basic_auth
        .as_ref()
        .unwrap_or_else(|| panic!("basic_auth missing"));
    assert_eq!(basic_auth.username, "prometheus");
    assert_eq!(basic_auth.password_file, in_directory("secrets/password"));
    assert_eq!(
        node.http_client.tls_config.ca_file,
        in_directory("tls/ca.pem")
    );
    assert_eq!(
        node.http_client.tls_config.min_version,
        Some(TlsVersion::TLS12)
    );
    assert!(!node.http_client.follow_redirects && !node.http_client.enable_http2);
    assert_eq!(node.relabel_configs.len(), 3);
    assert_eq!(node.metric_relabel_configs.len(), 1);
    assert_eq!(
        node.file_sd_configs[0].refresh_interval,
        PromDuration::from_secs(120)
    );
    assert_eq!(
        node.file_sd_configs[0].files[0],
        in_directory("targets/*.json")
    );
    assert_eq!(
        node.http_sd_configs[0].url,
        "http://sd.internal:8080/targets"
    );
    let sd_authorization = node.http_sd_configs[0].http_client.authorization.as_ref();
    assert_eq!(
        sd_authorization.map(|authorization| authorization.credentials_file.clone()),
        Some(in_directory("secrets/sd-token"))
    );

    let bearer = config
        .scrape_config("bearer")
        .unwrap_or_else(|| panic!("job bearer missing"));
    let bearer_authorization = bearer
        .http_client
        .authorization
        .as_ref()
        .unwrap_or_else(|| panic!("bearer_token_file not folded"));
    assert_eq!(bearer_authorization.auth_type, "Bearer");
    assert_eq!(
        bearer_authorization.credentials_file,
        in_directory("secrets/token")
    );

    let alertmanager = &config.alerting.alertmanagers[0];
    assert_eq!(
        (alertmanager.path_prefix.as_str(), alertmanager.timeout),
        ("/am", PromDuration::from_secs(5))
    );

    let remote_write = &config.remote_write[0];
    assert_eq!(
        remote_write
            .headers
            .get("X-Scope-OrgID")
            .map(String::as_str),
        Some("tenant-1")
    );
    assert_eq!(remote_write.queue_config.max_shards, 100);
    assert_eq!(
        remote_write.queue_config.min_backoff,
        PromDuration::from_millis(50)
    );
    assert!(!remote_write.queue_config.retry_on_http_429);
    assert!(!remote_write.metadata_config.send);
    assert!(remote_write.send_exemplars);

    let remote_read = &config.remote_read[0];
    assert!(remote_read.read_recent && !remote_read.filter_external_labels);
    assert_eq!(
        remote_read
            .required_matchers
            .get("cluster")
            .map(String::as_str),
        Some("eu")
    );

    assert_eq!(config.cluster.mode, ClusterMode::Etcd);
    assert_eq!(config.cluster.etcd.endpoints.len(), 2);
    assert_eq!(config.cluster.etcd.lease_ttl, PromDuration::from_secs(15));
    assert_eq!(
        (
            config.cluster.replication_factor,
            config.cluster.virtual_nodes
        ),
        (2, 512)
    );

    let remaining = config
        .scrape_config("remaining-fields")
        .unwrap_or_else(|| panic!("job remaining-fields missing"));
    assert_eq!(remaining.native_histogram_bucket_limit, 160);
    assert_eq!(remaining.metric_name_escaping_scheme, "underscores");
    assert_eq!(remaining.always_scrape_classic_histograms, Some(true));
    assert!(remaining.http_client.proxy_from_environment);
    assert!(
        remaining
            .http_client
            .tls_config
            .ca
            .contains("BEGIN CERTIFICATE")
    );
    assert_eq!(
        remaining.scrape_failure_log_file,
        in_directory("job-failures.log")
    );
    assert_eq!(
        config.remote_write[0].queue_config.sample_age_limit,
        PromDuration::from_secs(3600)
    );
    assert_eq!(config.remote_read[0].chunked_read_limit, 1_000_000);
    assert_eq!(config.alerting.alertmanagers[0].http_sd_configs.len(), 1);
    assert!(config.global.extra_scrape_metrics);
    assert_eq!(
        config
            .scrape_config("node")
            .and_then(|node| node.extra_scrape_metrics),
        Some(true),
        "inherited"
    );

    let sd_configs = config.scrape_sd_configs();
    assert_eq!(sd_configs["node"].len(), 3);
}

#[test]
fn remote_and_cluster_defaults_are_prometheus_defaults() {
    let text = "\
remote_write:
  - url: http://localhost:9009/api/v1/push
remote_read:
  - url: http://localhost:9009/api/v1/read
cluster:
  mode: static
  peers: [a:9090, b:9090]
";
    let config = load_str(text, "defaults.yml").unwrap_or_else(|error| panic!("{error}"));
    let remote_write = &config.remote_write[0];
    assert_eq!(remote_write.remote_timeout, PromDuration::from_secs(30));
    assert_eq!(remote_write.queue_config, QueueConfig::default());
    assert_eq!(remote_write.queue_config.capacity, 10_000);
    assert!(remote_write.queue_config.retry_on_http_429);
    assert_eq!(
        remote_write.metadata_config.send_interval,
        PromDuration::from_secs(60)
    );
    assert!(!remote_write.http_client.enable_http2);
    let remote_read = &config.remote_read[0];
    assert_eq!(remote_read.remote_timeout, PromDuration::from_secs(60));
    assert!(remote_read.filter_external_labels);
    assert_eq!(config.cluster.etcd.prefix, "/promshard");
    assert_eq!(config.cluster.virtual_nodes, 512);
    assert!(
        !config.cluster.node_id.is_empty(),
        "node_id defaults to the host name"
    );
}

#[test]
fn redacted_yaml_hides_secrets() {
    let config = load_fixture("every_field.yml");
    let yaml = config.to_redacted_yaml();
    assert!(!yaml.contains("mimir-password"), "{yaml}");
    assert!(!yaml.contains("s3cr3t"));
    assert!(yaml.contains("<secret>"));
    assert!(yaml.contains("job_name: node"));
}

/// Each bad config must be refused with an error naming the file, the line
/// and the field.
#[test]
fn bad_configs_name_file_line_and_field() {
    let cases: &[(&str, &str, usize, &str, &str)] = &[
        // (name, yaml, line, field, part of the message)
        (
            "unknown top-level field",
            "global:\n  scrape_interval: 1m\nscrape_config:\n  - job_name: a\n",
            3,
            "scrape_config",
            "unknown field",
        ),
        (
            "unknown nested field",
            "scrape_configs:\n  - job_name: a\n    scrape_intervall: 1m\n",
            3,
            "scrape_intervall",
            "unknown field",
        ),
        (
            "bad duration",
            "global:\n  scrape_interval: 1m\n  scrape_timeout: 10x\n",
            3,
            "scrape_timeout",
            "not a valid duration",
        ),
        (
            "timeout above interval",
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
            4,
            "scrape_timeout",
            "greater than scrape interval",
        ),
        (
            "global timeout above interval",
            "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
            3,
            "scrape_timeout",
            "greater than scrape interval",
        ),
        (
            "missing job name",
            "scrape_configs:\n  - scrape_interval: 5s\n",
            2,
            "job_name",
            "job_name is empty",
        ),
        (
            "duplicate job name",
            "scrape_configs:\n  - job_name: a\n  - job_name: b\n  - job_name: a\n",
            4,
            "job_name",
            "multiple scrape configs",
        ),
        (
            "kubernetes sd",
            "scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - role: pod\n",
            3,
            "kubernetes_sd_configs",
            "unsupported service discovery",
        ),
        (
            "consul sd",
            "scrape_configs:\n  - job_name: c\n    consul_sd_configs: []\n",
            3,
            "consul_sd_configs",
            "unsupported service discovery",
        ),
        (
            "dns sd type",
            "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n      - names: [x]\n        type: TXT\n",
            5,
            "type",
            "invalid DNS-SD records type TXT",
        ),
        (
            "dns sd without names",
            "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n      - type: SRV\n",
            4,
            "names",
            "at least one SRV record name",
        ),
        (
            "dns sd A without port",
            "scrape_configs:\n  - job_name: d\n    dns_sd_configs:\n      - names: [x]\n        type: A\n",
            4,
            "port",
            "a port is required",
        ),
        (
            "sigv4",
            "remote_write:\n  - url: http://x/\n    sigv4:\n      region: x\n",
            3,
            "sigv4",
            "unsupported field",
        ),
        (
            "oauth2 without token_url",
            "scrape_configs:\n  - job_name: o\n    oauth2:\n      client_id: x\n",
            3,
            "oauth2",
            "oauth2 token_url must be configured",
        ),
        (
            "oauth2 jwt bearer grant",
            "scrape_configs:\n  - job_name: o\n    oauth2:\n      grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\n      client_id: x\n      token_url: http://t/\n",
            3,
            "oauth2",
            "not supported",
        ),
        (
            "oauth2 with basic_auth",
            "scrape_configs:\n  - job_name: o\n    basic_auth:\n      username: u\n    oauth2:\n      client_id: x\n      token_url: http://t/\n",
            5,
            "oauth2",
            "at most one of basic_auth, oauth2 & authorization",
        ),
        (
            "bad scheme",
            "scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
            3,
            "scheme",
            "invalid scheme",
        ),
        (
            "bad body size",
            "scrape_configs:\n  - job_name: a\n    body_size_limit: 10XB\n",
            3,
            "body_size_limit",
            "invalid byte size",
        ),
        (
            "bad scrape protocol",
            "global:\n  scrape_protocols: [Foo]\n",
            2,
            "scrape_protocols",
            "unknown variant",
        ),
        (
            "two auth methods",
            "scrape_configs:\n  - job_name: a\n    bearer_token: x\n    basic_auth:\n      username: u\n",
            4,
            "basic_auth",
            "at most one",
        ),
        (
            "hashmod without modulus",
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        source_labels: [a]\n        target_label: b\n",
            4,
            "modulus",
            "non-zero modulus",
        ),
        (
            "bad relabel regex",
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - regex: \"(\"\n",
            4,
            "regex",
            "",
        ),
        (
            "bad relabel action",
            "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: explode\n",
            4,
            "action",
            "unknown variant",
        ),
        (
            "target with path",
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [\"host:80/metrics\"]\n",
            4,
            "targets",
            "not a valid hostname",
        ),
        (
            "file sd without files",
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - refresh_interval: 1m\n",
            4,
            "files",
            "at least one path",
        ),
        (
            "file sd bad extension",
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [targets.txt]\n",
            4,
            "files",
            "not valid for file discovery",
        ),
        (
            "http sd without url",
            "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - refresh_interval: 1m\n",
            4,
            "url",
            "URL is missing",
        ),
        (
            "http sd bad scheme",
            "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - url: ftp://x/y\n",
            4,
            "url",
            "scheme",
        ),
        (
            "rule file glob in directory",
            "rule_files:\n  - \"rules/*/x.yml\"\n",
            2,
            "rule_files",
            "invalid rule file path",
        ),
        (
            "remote write without url",
            "remote_write:\n  - name: a\n",
            2,
            "url",
            "remote_write is empty",
        ),
        (
            "remote write reserved header",
            "remote_write:\n  - url: http://a/b\n    headers:\n      User-Agent: me\n",
            4,
            "User-Agent",
            "reserved header",
        ),
        (
            "remote write duplicate name",
            "remote_write:\n  - url: http://a/b\n    name: x\n  - url: http://c/d\n    name: x\n",
            5,
            "name",
            "multiple remote write",
        ),
        (
            "queue config unknown field",
            "remote_write:\n  - url: http://a/b\n    queue_config:\n      max_shard: 3\n",
            4,
            "max_shard",
            "unknown field",
        ),
        (
            "remote read without url",
            "remote_read:\n  - read_recent: true\n",
            2,
            "url",
            "remote_read is empty",
        ),
        (
            "alertmanager v1",
            "alerting:\n  alertmanagers:\n    - api_version: v1\n",
            3,
            "api_version",
            "no longer supported",
        ),
        (
            "etcd without endpoints",
            "cluster:\n  mode: etcd\n",
            1,
            "endpoints",
            "at least one endpoint",
        ),
        (
            "static without peers",
            "cluster:\n  mode: static\n",
            1,
            "peers",
            "at least one peer",
        ),
        (
            "replication factor zero",
            "cluster:\n  replication_factor: 0\n",
            2,
            "replication_factor",
            "at least 1",
        ),
        (
            "unknown cluster mode",
            "cluster:\n  mode: gossip\n",
            2,
            "mode",
            "unknown variant",
        ),
        (
            "duplicate key",
            "global:\n  scrape_interval: 1m\n  scrape_interval: 2m\n",
            3,
            "scrape_interval",
            "duplicate",
        ),
        (
            "tracing section",
            "tracing:\n  endpoint: x\n",
            1,
            "tracing",
            "unsupported field",
        ),
        (
            "wrong type",
            "scrape_configs:\n  - job_name: a\n    sample_limit: lots\n",
            3,
            "sample_limit",
            "",
        ),
    ];
    let mut failures = Vec::new();
    for (name, yaml, line, field, message_part) in cases {
        match load_str(yaml, "bad.yml") {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(error) => {
                let rendered = error.to_string();
                let expected_prefix = format!("bad.yml:{line}: field {field}: ");
                if !rendered.starts_with(&expected_prefix) || !rendered.contains(message_part) {
                    failures.push(format!("{name}: got {rendered:?}, want prefix {expected_prefix:?} and {message_part:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn url_targets_are_allowed_when_relabeling_may_rewrite_them() {
    // The blackbox exporter pattern.
    let text = "\
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    static_configs:
      - targets: [https://example.com/health]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - target_label: __address__
        replacement: blackbox:9115
";
    let config = load_str(text, "blackbox.yml").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        config.scrape_configs[0].static_configs[0].targets[0],
        "https://example.com/health"
    );
}

#[test]
fn missing_file_is_a_read_error_naming_the_file() {
    let error = load_file(Path::new("/nonexistent/promshard.yml")).err();
    let rendered = error.map(|error| error.to_string()).unwrap_or_default();
    assert!(
        rendered.starts_with("/nonexistent/promshard.yml: cannot read config file"),
        "{rendered}"
    );
}

#[test]
fn scalar_label_values_are_read_as_strings_as_prometheus_does() {
    let text = "\
global:
  external_labels:
    replica: 1
    primary: true
scrape_configs:
  - job_name: 1234
    static_configs:
      - targets: [10.0.0.1:9100]
        labels:
          rack: 7
";
    let config = load_str(text, "scalars.yml").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.global.external_labels.get("replica"), Some("1"));
    assert_eq!(config.global.external_labels.get("primary"), Some("true"));
    assert_eq!(config.scrape_configs[0].job_name, "1234");
    assert_eq!(
        config.scrape_configs[0].static_configs[0]
            .labels
            .get("rack")
            .map(String::as_str),
        Some("7")
    );
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/config/every_field.yml");

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Arbitrary text is an error or a config, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = load_str(&text, "fuzz.yml");
        }

        /// The full fixture with a slice cut out or a byte replaced: errors
        /// keep naming the file.
        #[test]
        fn damaged_fixture_never_panics(start in 0usize..FIXTURE.len(), length in 0usize..40, replacement in "[ :\\-\\[\\]{}a-z0-9\"'#\\t\\n]{0,3}") {
            let end = (start + length).min(FIXTURE.len());
            if FIXTURE.is_char_boundary(start) && FIXTURE.is_char_boundary(end) {
                let damaged = format!("{}{}{}", &FIXTURE[..start], replacement, &FIXTURE[end..]);
                if let Err(error) = load_str(&damaged, "damaged.yml") {
                    prop_assert!(error.to_string().starts_with("damaged.yml"), "{}", error);
                }
            }
        }
    }
}

#[test]
fn embedded_default_loads_and_matches_the_shipped_file() {
    let config = load_embedded_default().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(config.scrape_configs.len(), 2);
    assert_eq!(config.rule_files, vec!["config/../rules/*.yml".to_string()]);
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/promshard.yml"))
            .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(shipped, EMBEDDED_DEFAULT_YAML);
}

#[test]
fn scrape_config_files_add_their_jobs_with_the_global_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    std::fs::write(
        jobs.join("b.yml"),
        "scrape_configs:\n  - job_name: from-b\n    file_sd_configs:\n      - files: [targets/*.json]\n",
    )
    .unwrap();
    std::fs::write(
        jobs.join("a.yml"),
        "scrape_configs:\n  - job_name: from-a\n    scrape_interval: 5s\n    static_configs: [{targets: ['h:1']}]\n",
    )
    .unwrap();
    let main = dir.path().join("prometheus.yml");
    std::fs::write(
        &main,
        "global:\n  scrape_interval: 30s\nscrape_config_files: [jobs/*.yml]\nscrape_configs:\n  - job_name: main\n",
    )
    .unwrap();
    let config = load_file(&main).unwrap();
    let names: Vec<&str> = config
        .scrape_configs
        .iter()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(names, ["main", "from-a", "from-b"]);
    let b = config.scrape_config("from-b").unwrap();
    assert_eq!(b.scrape_interval, PromDuration::from_millis(30_000));
    assert_eq!(
        b.file_sd_configs[0].files,
        [jobs.join("targets/*.json").display().to_string()],
        "relative to the including file's directory"
    );
    assert_eq!(
        config.scrape_config("from-a").unwrap().scrape_interval,
        PromDuration::from_millis(5_000)
    );
}

#[test]
fn scrape_config_files_errors_name_the_included_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("prometheus.yml");
    let included = dir.path().join("jobs.yml");
    std::fs::write(
        &main,
        "scrape_config_files: [jobs.yml]\nscrape_configs:\n  - job_name: main\n",
    )
    .unwrap();

    std::fs::write(
        &included,
        "scrape_configs:\n  - job_name: x\n    scrape_timeout: 1m\n    scrape_interval: 10s\n",
    )
    .unwrap();
    let error = load_file(&main).unwrap_err().to_string();
    assert!(
        error.starts_with(&included.display().to_string()),
        "{error}"
    );
    assert!(error.contains("line 3") || error.contains(":3:"), "{error}");

    std::fs::write(&included, "scrape_configs:\n  - job_name: main\n").unwrap();
    let error = load_file(&main).unwrap_err().to_string();
    assert!(
        error.contains("found multiple scrape configs with job name \"main\""),
        "{error}"
    );
    assert!(
        error.starts_with(&included.display().to_string()),
        "{error}"
    );

    std::fs::write(&included, "scrape_configs: []\nrule_files: [x]\n").unwrap();
    let error = load_file(&main).unwrap_err().to_string();
    assert!(error.contains("rule_files"), "{error}");
}
