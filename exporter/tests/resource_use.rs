//! The exporter's stated budget: its RSS stays under 20 MB while serving.
//! (CPU per scrape is a figure, measured in `benches/scrape_cost.rs`; this
//! test only prints what it saw.)

mod common;

use common::{http_get, process_cpu_seconds, process_status_kilobytes, start_exporter};

const RSS_LIMIT_KILOBYTES: u64 = 20 * 1024;

#[test]
fn resident_memory_stays_under_twenty_megabytes_after_many_scrapes() {
    let exporter = start_exporter(&[]);
    let scrapes = 200;
    let cpu_before = process_cpu_seconds(exporter.pid()).unwrap();
    for _ in 0..scrapes {
        let response = http_get(exporter.address, "/metrics").unwrap();
        assert_eq!(response.status, 200);
    }
    let cpu_after = process_cpu_seconds(exporter.pid()).unwrap();
    let rss_kilobytes = process_status_kilobytes(exporter.pid(), "VmRSS").unwrap();
    let peak_kilobytes = process_status_kilobytes(exporter.pid(), "VmHWM").unwrap();
    println!(
        "exporter after {scrapes} scrapes: VmRSS {rss_kilobytes} kB, VmHWM {peak_kilobytes} kB, \
         about {:.3} ms CPU per scrape (10 ms tick resolution; unoptimised test build)",
        (cpu_after - cpu_before) * 1000.0 / f64::from(scrapes)
    );
    assert!(
        rss_kilobytes < RSS_LIMIT_KILOBYTES,
        "VmRSS {rss_kilobytes} kB"
    );
    assert!(
        peak_kilobytes < RSS_LIMIT_KILOBYTES,
        "VmHWM {peak_kilobytes} kB"
    );
}
