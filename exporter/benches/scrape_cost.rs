//! Cost of one scrape of the host exporter.
//!
//! Run: `cargo bench -p promshard-exporter --bench scrape_cost`
//!
//! Prints three figures before criterion's timing of collect + render:
//! - in-process CPU time per scrape (`CLOCK_PROCESS_CPUTIME_ID` over many scrapes);
//! - end to end: the built `promshard-exporter` binary scraped over HTTP on
//!   loopback, its CPU time per scrape (from `/proc/<pid>/stat`) and its RSS.
//!
//! Goals (issue 2): under 2 ms of CPU per scrape, RSS under 20 MB.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use promshard_exporter::{CollectorConfig, HostCollector};
use rustix::time::{ClockId, clock_gettime};

fn process_cpu_seconds_now() -> f64 {
    let now = clock_gettime(ClockId::ProcessCPUTime);
    now.tv_sec as f64 + now.tv_nsec as f64 / 1e9
}

fn report_in_process_cpu_per_scrape() {
    let mut collector = HostCollector::new(CollectorConfig::default());
    let mut output = String::new();
    let scrapes = 2000;
    let started = process_cpu_seconds_now();
    for _ in 0..scrapes {
        output.clear();
        collector.collect_into(&mut output);
    }
    let cpu_per_scrape = (process_cpu_seconds_now() - started) / f64::from(scrapes);
    println!(
        "in-process: {:.1} µs CPU per scrape (collect + render, {} bytes, {} samples), over {scrapes} scrapes",
        cpu_per_scrape * 1e6,
        output.len(),
        output.lines().filter(|line| !line.starts_with('#')).count()
    );
}

fn report_end_to_end_cost() {
    let exporter = common::start_exporter(&[]);
    let scrapes = 1000;
    let Some(cpu_before) = common::process_cpu_seconds(exporter.pid()) else {
        println!("end to end: cannot read the exporter's /proc/<pid>/stat");
        return;
    };
    for _ in 0..scrapes {
        match common::http_get(exporter.address, "/metrics") {
            Ok(response) if response.status == 200 => {}
            other => {
                println!(
                    "end to end: scrape failed: {:?}",
                    other.map(|response| response.status)
                );
                return;
            }
        }
    }
    let cpu_after = common::process_cpu_seconds(exporter.pid()).unwrap_or(cpu_before);
    let rss = common::process_status_kilobytes(exporter.pid(), "VmRSS").unwrap_or(0);
    let peak = common::process_status_kilobytes(exporter.pid(), "VmHWM").unwrap_or(0);
    println!(
        "end to end (HTTP on loopback, exporter process): {:.1} µs CPU per scrape over {scrapes} scrapes; \
         VmRSS {rss} kB, VmHWM {peak} kB",
        (cpu_after - cpu_before) * 1e6 / f64::from(scrapes)
    );
}

fn bench_collect_and_render(criterion: &mut Criterion) {
    let mut collector = HostCollector::new(CollectorConfig::default());
    let mut output = String::new();
    criterion.bench_function("scrape_collect_and_render", |bencher| {
        bencher.iter(|| {
            output.clear();
            collector.collect_into(&mut output);
            black_box(output.len())
        })
    });
}

fn main() {
    report_in_process_cpu_per_scrape();
    report_end_to_end_cost();
    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    bench_collect_and_render(&mut criterion);
    criterion.final_summary();
}
