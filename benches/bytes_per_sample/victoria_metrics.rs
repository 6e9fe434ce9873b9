//! The same samples stored by a real VictoriaMetrics (Debian's
//! `/usr/bin/victoria-metrics`, skipped if missing): started on a free
//! loopback port with an empty data directory, fed through its
//! `/api/v1/import/prometheus` endpoint, flushed and merged, then measured
//! with its own `vm_data_size_bytes` and `vm_rows` figures.
//!
//! VictoriaMetrics is not lossless: it drops NaN samples (staleness
//! markers included) when it merges, and it keeps floats as a decimal
//! mantissa of at most 64 bits. Its figures are counted per sample it
//! kept.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use promshard::tsdb::chunkenc::dataset::GeneratedSeries;

/// What VictoriaMetrics stored.
pub struct VictoriaMetricsFigures {
    /// Samples it kept (`vm_rows` of its storage parts).
    pub rows: u64,
    /// Bytes of its data parts (`storage/small` and `storage/big`).
    pub storage_bytes: u64,
    /// Bytes of its inverted index (`indexdb`).
    pub index_bytes: u64,
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const BINARY: &str = "/usr/bin/victoria-metrics";

/// Stores `series` in a fresh VictoriaMetrics and measures it; `None` if it
/// is not installed.
pub fn victoria_metrics_bytes(
    series: &[GeneratedSeries],
) -> anyhow::Result<Option<VictoriaMetricsFigures>> {
    if !Path::new(BINARY).exists() {
        return Ok(None);
    }
    let directory = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _server = KillOnDrop(
        Command::new(BINARY)
            .arg(format!("-storageDataPath={}", directory.path().display()))
            .arg("-retentionPeriod=100y")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-loggerLevel=ERROR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let started = Instant::now();
    while client
        .get(format!("{base}/health"))
        .send()
        .map_or(true, |response| !response.status().is_success())
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "victoria-metrics did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut kept = 0u64;
    for chunk in series.chunks(200) {
        let mut body = Vec::new();
        for one in chunk {
            let labels: Vec<String> = one
                .labels
                .iter()
                .map(|(name, value)| format!("{name}=\"{}\"", super::escape_label_value(value)))
                .collect();
            let prefix = format!("{}{{{}}}", one.name, labels.join(","));
            for &(t, v) in &one.samples {
                writeln!(body, "{prefix} {} {t}", super::openmetrics_float(v))?;
                kept += u64::from(!v.is_nan());
            }
        }
        let response = client
            .post(format!("{base}/api/v1/import/prometheus"))
            .body(body)
            .send()?;
        anyhow::ensure!(
            response.status().is_success(),
            "import: {}",
            response.status()
        );
    }

    // Flush what is in memory, merge every partition, and wait until the
    // parts hold every non-NaN sample and no merge is running.
    let figures = |client: &reqwest::blocking::Client| -> anyhow::Result<(u64, u64, u64, u64)> {
        let text = client.get(format!("{base}/metrics")).send()?.text()?;
        let value = |prefix: &str| -> u64 {
            text.lines()
                .filter(|line| line.starts_with(prefix))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        };
        Ok((
            value("vm_rows{type=\"storage/"),
            value("vm_data_size_bytes{type=\"storage/"),
            value("vm_data_size_bytes{type=\"indexdb\"}"),
            value("vm_active_merges{"),
        ))
    };
    let started = Instant::now();
    let mut merged = false;
    let mut stable_polls = 0;
    let mut last = (0, 0, 0, 0);
    loop {
        client.get(format!("{base}/internal/force_flush")).send()?;
        let now = figures(&client)?;
        if now.0 >= kept && !merged {
            client.get(format!("{base}/internal/force_merge")).send()?;
            merged = true;
        }
        if merged && now.3 == 0 && now == last {
            stable_polls += 1;
            if stable_polls >= 3 {
                break;
            }
        } else {
            stable_polls = 0;
        }
        last = now;
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "victoria-metrics did not settle: {now:?}, {kept} samples sent"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(Some(VictoriaMetricsFigures {
        rows: last.0,
        storage_bytes: last.1,
        index_bytes: last.2,
    }))
}
