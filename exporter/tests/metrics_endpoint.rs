//! The built exporter, started on loopback: `/metrics` carries every family a
//! node_exporter dashboard needs, with the right labels and sane values.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use common::{REQUIRED_FAMILIES, http_get, parse_exposition, start_exporter};

#[test]
fn metrics_has_every_required_family_with_node_exporter_types_and_labels() {
    let exporter = start_exporter(&[]);
    let response = http_get(exporter.address, "/metrics").unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let families = parse_exposition(&response.body);
    let mut problems = Vec::new();
    for (name, kind, label_names) in REQUIRED_FAMILIES {
        let Some(family) = families.get(*name) else {
            problems.push(format!("{name}: missing"));
            continue;
        };
        if family.kind != *kind {
            problems.push(format!("{name}: type {} instead of {kind}", family.kind));
        }
        let expected: BTreeSet<String> =
            label_names.iter().map(|label| label.to_string()).collect();
        if family.label_names() != expected {
            problems.push(format!(
                "{name}: labels {:?} instead of {expected:?}",
                family.label_names()
            ));
        }
        if family.samples.is_empty() {
            problems.push(format!("{name}: no samples"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn values_are_sane_for_this_host() {
    let exporter = start_exporter(&[]);
    let families = parse_exposition(&http_get(exporter.address, "/metrics").unwrap().body);
    let value = |name: &str, selector: &[(&str, &str)]| -> f64 {
        families
            .get(name)
            .and_then(|family| family.value_where(selector))
            .unwrap_or_else(|| panic!("{name} {selector:?} missing"))
    };

    let memory_total = value("node_memory_MemTotal_bytes", &[]);
    assert!(memory_total > 0.0);
    assert!(value("node_memory_MemAvailable_bytes", &[]) <= memory_total);
    assert!(value("node_memory_MemFree_bytes", &[]) <= memory_total);
    assert!(value("node_memory_SwapFree_bytes", &[]) <= value("node_memory_SwapTotal_bytes", &[]));

    let cpu_count = std::thread::available_parallelism()
        .map(|count| count.get())
        .unwrap_or(1);
    let cpu_family = &families["node_cpu_seconds_total"];
    let cpus: HashSet<&str> = cpu_family
        .samples
        .iter()
        .map(|sample| sample.labels["cpu"].as_str())
        .collect();
    assert!(
        cpus.len() >= cpu_count,
        "{} cpus reported, {cpu_count} usable",
        cpus.len()
    );
    let modes: BTreeSet<&str> = cpu_family
        .samples
        .iter()
        .map(|sample| sample.labels["mode"].as_str())
        .collect();
    assert_eq!(
        modes,
        BTreeSet::from([
            "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"
        ])
    );

    let root_size = value("node_filesystem_size_bytes", &[("mountpoint", "/")]);
    assert!(root_size > 0.0);
    assert!(value("node_filesystem_avail_bytes", &[("mountpoint", "/")]) <= root_size);
    assert!(value("node_filesystem_free_bytes", &[("mountpoint", "/")]) <= root_size);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((value("node_time_seconds", &[]) - now).abs() < 60.0);
    let boot_time = value("node_boot_time_seconds", &[]);
    assert!(boot_time > 1.0e9 && boot_time < now);
    assert!(value("node_load1", &[]) >= 0.0);
    assert_eq!(value("node_uname_info", &[("sysname", "Linux")]), 1.0);

    // Loopback is excluded, as node_exporter does by default.
    let network_devices = families["node_network_receive_bytes_total"].samples.len();
    assert!(
        families["node_network_receive_bytes_total"]
            .value_where(&[("device", "lo")])
            .is_none()
    );
    assert!(network_devices > 0);

    for collector_success in &families["node_scrape_collector_success"].samples {
        assert_eq!(
            collector_success.value, 1.0,
            "{:?}",
            collector_success.labels
        );
    }
}

#[test]
fn cpu_seconds_increase_between_two_scrapes() {
    let exporter = start_exporter(&[]);
    let total_cpu_seconds = || {
        parse_exposition(&http_get(exporter.address, "/metrics").unwrap().body)["node_cpu_seconds_total"].sum()
    };
    let first = total_cpu_seconds();
    std::thread::sleep(Duration::from_millis(200));
    let second = total_cpu_seconds();
    assert!(second > first, "cpu seconds went from {first} to {second}");
}

#[test]
fn every_family_is_declared_once_and_every_series_is_unique() {
    let exporter = start_exporter(&[]);
    let body = http_get(exporter.address, "/metrics").unwrap().body;
    let mut declared: BTreeMap<&str, usize> = BTreeMap::new();
    let mut current_family = "";
    let mut series = HashSet::new();
    for line in body.lines() {
        if let Some(type_line) = line.strip_prefix("# TYPE ") {
            let name = type_line.split(' ').next().unwrap();
            *declared.entry(name).or_default() += 1;
            current_family = name;
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series_key, _value) = line.rsplit_once(' ').unwrap();
        let name = series_key.split('{').next().unwrap();
        assert_eq!(name, current_family, "sample outside its family: {line}");
        assert!(
            series.insert(series_key.to_owned()),
            "duplicate series {series_key}"
        );
    }
    let redeclared: Vec<_> = declared.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        redeclared.is_empty(),
        "families declared twice: {redeclared:?}"
    );
}

#[test]
fn telemetry_path_flag_moves_the_endpoint_and_unknown_paths_are_not_found() {
    let exporter = start_exporter(&["--web.telemetry-path=/node"]);
    let moved = http_get(exporter.address, "/node").unwrap();
    assert_eq!(moved.status, 200);
    assert!(moved.body.contains("node_load1 "));
    assert_eq!(http_get(exporter.address, "/metrics").unwrap().status, 404);
    let landing = http_get(exporter.address, "/").unwrap();
    assert!(landing.body.contains("href=\"/node\""));
}

#[test]
fn bad_flags_are_refused_with_a_nonzero_exit() {
    for arguments in [
        &["--collector.netdev.device-exclude=("][..],
        &["--web.listen-address=nonsense"][..],
        &["--log.level=loud"][..],
        &["--no-such-flag"][..],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_promshard-exporter"))
            .args(arguments)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{arguments:?} was accepted");
        assert!(
            !output.stderr.is_empty(),
            "{arguments:?}: no explanation on stderr"
        );
    }
}

#[test]
fn sigterm_stops_the_exporter_cleanly() {
    let mut exporter = start_exporter(&[]);
    let pid = rustix::process::Pid::from_raw(exporter.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = exporter.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
}
