//! Recording a data set from a real Prometheus: `-- --export-from URL
//! [--export-seconds N] [--output FILE]` reads every raw sample of the last
//! N seconds (default a day) through the HTTP API, one range-vector
//! selection per job, and writes them as gzip'd OpenMetrics that
//! `--input` (and `promtool tsdb create-blocks-from openmetrics` or
//! `promshard tsdb import openmetrics`, once unzipped) reads.
//!
//! Range-vector selections return raw samples with their exact
//! timestamps, and Prometheus prints floats in their shortest round-trip
//! form, so the file is the stored data bit for bit, except staleness
//! markers, which selections leave out.

use std::io::Write;
use std::path::Path;

use promshard::tsdb::chunkenc::dataset::GeneratedSeries;
use serde_json::Value;

fn query(
    client: &reqwest::blocking::Client,
    base: &str,
    expression: &str,
) -> anyhow::Result<Vec<Value>> {
    let response: Value = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", expression)])
        .send()?
        .error_for_status()?
        .json()?;
    match response["data"]["result"].as_array() {
        Some(result) => Ok(result.clone()),
        None => anyhow::bail!("{expression}: no result in {response}"),
    }
}

/// A sample value as the API prints it (`"NaN"`, `"+Inf"`, `"-Inf"` or a
/// decimal).
fn parse_value(text: &str) -> anyhow::Result<f64> {
    Ok(match text {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text.parse()?,
    })
}

/// Writes every sample of the last `seconds` that the Prometheus at `base`
/// holds to `output`.
pub fn export(base: &str, seconds: u64, output: &Path) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()?;
    let mut jobs: Vec<String> = query(&client, base, r#"count by (job) ({job!=""})"#)?
        .iter()
        .filter_map(|one| one["metric"]["job"].as_str().map(str::to_string))
        .collect();
    jobs.sort();
    let mut series = Vec::new();
    for job in &jobs {
        for one in query(&client, base, &format!(r#"{{job="{job}"}}[{seconds}s]"#))? {
            let mut labels: Vec<(String, String)> = one["metric"]
                .as_object()
                .map(|metric| {
                    metric
                        .iter()
                        .map(|(name, value)| {
                            (name.clone(), value.as_str().unwrap_or_default().to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            labels.sort();
            let name_at = labels.iter().position(|(name, _)| name == "__name__");
            let name = name_at.map_or_else(String::new, |at| labels.remove(at).1);
            let mut samples = Vec::new();
            for pair in one["values"].as_array().into_iter().flatten() {
                let seconds = pair[0].as_f64().unwrap_or_default();
                let value = parse_value(pair[1].as_str().unwrap_or_default())?;
                samples.push(((seconds * 1000.0).round() as i64, value));
            }
            series.push(GeneratedSeries {
                name,
                labels,
                samples,
                value_entropy_bits: f64::NAN,
            });
        }
    }
    series.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    let samples: usize = series.iter().map(|one| one.samples.len()).sum();
    let file = std::fs::File::create(output)?;
    let mut encoder =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::best());
    super::write_openmetrics_to(&series, &mut encoder)?;
    encoder.finish()?.flush()?;
    println!(
        "{}: {} jobs, {} series, {samples} samples",
        output.display(),
        jobs.len(),
        series.len()
    );
    Ok(())
}
