//! A deterministic, node-exporter-like data set for the size benchmarks
//! and tests of the chunk encodings.
//!
//! Per host (target `host-N:9100`, job `node`), about 560 series, shaped
//! after what node_exporter 1.x exposes on an 8-CPU Linux machine:
//! - CPU seconds counters per CPU and mode (two decimals, USER_HZ), guest
//!   CPU (constant 0), scheduling stats in nanoseconds (`/1e9` floats),
//!   softnet counters, CPU frequency gauges (kHz × 1000);
//! - memory gauges in bytes (kB × 1024), some constant, some walking;
//! - disk counters (ops, bytes as 512-byte sectors, milliseconds as three
//!   decimals) for three devices, network counters and constants for four
//!   interfaces, filesystem gauges (4096-byte blocks) for five mounts;
//! - load averages (two decimals), context switches, interrupts, forks,
//!   procs, file descriptors, sockstat / netstat / vmstat counters and
//!   gauges at very different rates, many rarely changing;
//! - `node_time_seconds` (a wall clock with nanoseconds, not decimal-exact),
//!   hwmon temperatures (millidegrees), per-collector scrape durations and
//!   successes, Go runtime and process metrics, info metrics (constant 1);
//! - the scrape's own `up`, `scrape_duration_seconds`,
//!   `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`,
//!   `scrape_series_added`.
//!
//! Every series of a host shares its scrape timestamps: a 15 s grid with a
//! per-host phase, plus scrape jitter (mostly 0–3 ms, sometimes up to 8 ms,
//! rarely 10–60 ms). A seeded SplitMix64 makes it reproducible everywhere.

/// What to generate.
#[derive(Debug, Clone)]
pub struct DatasetConfig {
    /// Number of scraped hosts (about 560 series each).
    pub hosts: usize,
    /// How long, in hours.
    pub hours: u32,
    /// The scrape interval in milliseconds.
    pub interval_ms: i64,
    /// The first scrape's nominal time, in milliseconds since the epoch.
    pub start_ms: i64,
    /// The random seed.
    pub seed: u64,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        DatasetConfig {
            hosts: 2,
            hours: 6,
            interval_ms: 15_000,
            start_ms: 1_700_000_000_000,
            seed: 42,
        }
    }
}

/// One generated series.
#[derive(Debug, Clone)]
pub struct GeneratedSeries {
    /// The metric name.
    pub name: String,
    /// The other labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The samples, in timestamp order.
    pub samples: Vec<(i64, f64)>,
    /// An estimate of the generator's entropy per sample of this series'
    /// values, in bits, given its timestamps (from the generator's parameters):
    /// on average no lossless encoding of the values can be smaller.
    pub value_entropy_bits: f64,
}

/// A small, fast, seedable generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal with mean 0 and deviation 1 (sum of uniforms).
    pub fn normal(&mut self) -> f64 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.732
    }
}

/// How a series' values evolve, in integer units divided by `scale`.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Constant(f64),
    /// A counter: each scrape adds about `mean` units (± `noise` × mean),
    /// in multiples of `granularity`, or nothing with probability `idle`.
    Counter {
        scale: f64,
        mean: f64,
        noise: f64,
        granularity: u64,
        idle: f64,
    },
    /// A gauge walking by about `step` units with probability `change`.
    Gauge {
        scale: f64,
        start: f64,
        step: f64,
        granularity: u64,
        change: f64,
    },
    /// A duration in seconds from nanoseconds, around `mean_ns`.
    Duration {
        mean_ns: f64,
    },
    /// The host's wall clock with nanoseconds.
    WallClock,
}

/// A series to generate: name, labels, how its values evolve.
type SeriesShape = (String, Vec<(String, String)>, Kind);

struct HostBuilder<'a> {
    random: &'a mut SplitMix64,
    series: Vec<SeriesShape>,
}

impl HostBuilder<'_> {
    fn add(&mut self, name: &str, labels: &[(&str, &str)], kind: Kind) {
        let labels = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.series.push((name.to_string(), labels, kind));
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)], scale: f64, mean: f64, idle: f64) {
        let noise = 0.2 + self.random.unit() * 0.6;
        let kind = Kind::Counter {
            scale,
            mean,
            noise,
            granularity: 1,
            idle,
        };
        self.add(name, labels, kind);
    }

    fn gauge(&mut self, name: &str, labels: &[(&str, &str)], scale: f64, start: f64, step: f64) {
        let kind = Kind::Gauge {
            scale,
            start,
            step,
            granularity: 1,
            change: 0.9,
        };
        self.add(name, labels, kind);
    }
}

fn host_series(random: &mut SplitMix64) -> Vec<SeriesShape> {
    let mut host = HostBuilder {
        random,
        series: Vec::new(),
    };
    let cpus: Vec<String> = (0..8).map(|c| c.to_string()).collect();
    // (mode, mean hundredths of a second per 15 s, idle probability)
    let modes = [
        ("idle", 1380.0, 0.0),
        ("iowait", 3.0, 0.5),
        ("irq", 0.0, 1.0),
        ("nice", 0.3, 0.9),
        ("softirq", 4.0, 0.3),
        ("steal", 0.0, 1.0),
        ("system", 35.0, 0.0),
        ("user", 80.0, 0.0),
    ];
    for cpu in &cpus {
        for (mode, mean, idle) in modes {
            let labels = [("cpu", cpu.as_str()), ("mode", mode)];
            host.counter("node_cpu_seconds_total", &labels, 100.0, mean, idle);
        }
        for mode in ["nice", "user"] {
            let labels = [("cpu", cpu.as_str()), ("mode", mode)];
            host.add("node_cpu_guest_seconds_total", &labels, Kind::Constant(0.0));
        }
        let labels = [("cpu", cpu.as_str())];
        host.counter(
            "node_schedstat_running_seconds_total",
            &labels,
            1e9,
            1.6e9,
            0.0,
        );
        host.counter(
            "node_schedstat_waiting_seconds_total",
            &labels,
            1e9,
            2.0e8,
            0.0,
        );
        host.counter("node_schedstat_timeslices_total", &labels, 1.0, 9000.0, 0.0);
        host.counter("node_softnet_processed_total", &labels, 1.0, 400.0, 0.05);
        host.counter("node_softnet_dropped_total", &labels, 1.0, 0.0, 1.0);
        host.counter("node_softnet_times_squeezed_total", &labels, 1.0, 0.2, 0.95);
        host.add(
            "node_cpu_scaling_frequency_hertz",
            &labels,
            Kind::Gauge {
                scale: 1.0,
                start: 2.2e9,
                step: 4.0e8,
                granularity: 1000,
                change: 0.8,
            },
        );
    }
    let memory = [
        ("MemTotal", 0.0),
        ("MemFree", 4.0e6),
        ("MemAvailable", 3.0e6),
        ("Buffers", 2.0e4),
        ("Cached", 1.0e6),
        ("SwapCached", 0.0),
        ("Active", 2.0e6),
        ("Inactive", 1.0e6),
        ("Active_anon", 1.5e6),
        ("Inactive_anon", 2.0e5),
        ("Active_file", 5.0e5),
        ("Inactive_file", 8.0e5),
        ("Unevictable", 0.0),
        ("Mlocked", 0.0),
        ("SwapTotal", 0.0),
        ("SwapFree", 0.0),
        ("Dirty", 3.0e5),
        ("Writeback", 1.0e4),
        ("AnonPages", 1.5e6),
        ("Mapped", 1.0e5),
        ("Shmem", 2.0e4),
        ("KReclaimable", 5.0e4),
        ("Slab", 6.0e4),
        ("SReclaimable", 5.0e4),
        ("SUnreclaim", 1.0e4),
        ("KernelStack", 4.0e3),
        ("PageTables", 2.0e4),
        ("Committed_AS", 3.0e6),
        ("VmallocTotal", 0.0),
        ("VmallocUsed", 1.0e3),
        ("Percpu", 0.0),
        ("HugePages_Total", 0.0),
        ("HugePages_Free", 0.0),
        ("Hugepagesize", 0.0),
        ("DirectMap4k", 0.0),
        ("DirectMap2M", 0.0),
    ];
    for (field, step) in memory {
        let name = format!("node_memory_{field}_bytes");
        let start = (1u64 << 20) as f64 * (1.0 + host.random.unit() * 8000.0);
        let kind = if step == 0.0 {
            Kind::Constant((start / 1024.0).round() * 1024.0)
        } else {
            Kind::Gauge {
                scale: 1.0,
                start,
                step: step * 0.05,
                granularity: 1024,
                change: 0.95,
            }
        };
        host.add(&name, &[], kind);
    }
    for device in ["nvme0n1", "sda", "dm-0"] {
        let labels = [("device", device)];
        host.counter("node_disk_reads_completed_total", &labels, 1.0, 30.0, 0.3);
        host.counter("node_disk_reads_merged_total", &labels, 1.0, 2.0, 0.7);
        host.add(
            "node_disk_read_bytes_total",
            &labels,
            Kind::Counter {
                scale: 1.0,
                mean: 1.5e6,
                noise: 0.8,
                granularity: 512,
                idle: 0.3,
            },
        );
        host.counter(
            "node_disk_read_time_seconds_total",
            &labels,
            1000.0,
            40.0,
            0.3,
        );
        host.counter(
            "node_disk_writes_completed_total",
            &labels,
            1.0,
            120.0,
            0.05,
        );
        host.counter("node_disk_writes_merged_total", &labels, 1.0, 60.0, 0.1);
        host.add(
            "node_disk_written_bytes_total",
            &labels,
            Kind::Counter {
                scale: 1.0,
                mean: 4.0e6,
                noise: 0.8,
                granularity: 512,
                idle: 0.05,
            },
        );
        host.counter(
            "node_disk_write_time_seconds_total",
            &labels,
            1000.0,
            150.0,
            0.05,
        );
        host.counter(
            "node_disk_io_time_seconds_total",
            &labels,
            1000.0,
            200.0,
            0.05,
        );
        host.counter(
            "node_disk_io_time_weighted_seconds_total",
            &labels,
            1000.0,
            300.0,
            0.05,
        );
        host.counter(
            "node_disk_discards_completed_total",
            &labels,
            1.0,
            1.0,
            0.95,
        );
        host.counter(
            "node_disk_discarded_sectors_total",
            &labels,
            1.0,
            100.0,
            0.95,
        );
        host.counter("node_disk_flush_requests_total", &labels, 1.0, 5.0, 0.3);
        host.add(
            "node_disk_io_now",
            &labels,
            Kind::Gauge {
                scale: 1.0,
                start: 0.0,
                step: 1.0,
                granularity: 1,
                change: 0.1,
            },
        );
        host.add(
            "node_disk_info",
            &[("device", device), ("major", "8")],
            Kind::Constant(1.0),
        );
    }
    for (device, rate) in [
        ("lo", 2.0e4),
        ("eth0", 8.0e5),
        ("docker0", 1.0e4),
        ("veth1a2b", 5.0e3),
    ] {
        let labels = [("device", device)];
        for direction in ["receive", "transmit"] {
            host.counter(
                &format!("node_network_{direction}_bytes_total"),
                &labels,
                1.0,
                rate,
                0.02,
            );
            host.counter(
                &format!("node_network_{direction}_packets_total"),
                &labels,
                1.0,
                rate / 700.0,
                0.02,
            );
            host.counter(
                &format!("node_network_{direction}_errs_total"),
                &labels,
                1.0,
                0.0,
                1.0,
            );
            host.counter(
                &format!("node_network_{direction}_drop_total"),
                &labels,
                1.0,
                0.1,
                0.97,
            );
            host.counter(
                &format!("node_network_{direction}_multicast_total"),
                &labels,
                1.0,
                0.0,
                1.0,
            );
            host.counter(
                &format!("node_network_{direction}_fifo_total"),
                &labels,
                1.0,
                0.0,
                1.0,
            );
            host.counter(
                &format!("node_network_{direction}_compressed_total"),
                &labels,
                1.0,
                0.0,
                1.0,
            );
        }
        host.add("node_network_mtu_bytes", &labels, Kind::Constant(1500.0));
        host.add("node_network_up", &labels, Kind::Constant(1.0));
        host.add("node_network_carrier", &labels, Kind::Constant(1.0));
        host.add("node_network_speed_bytes", &labels, Kind::Constant(1.25e8));
        host.add(
            "node_network_transmit_queue_length",
            &labels,
            Kind::Constant(1000.0),
        );
        host.add(
            "node_network_info",
            &[("device", device), ("operstate", "up")],
            Kind::Constant(1.0),
        );
    }
    for mount in ["/", "/boot", "/home", "/var", "/run"] {
        let labels = [("mountpoint", mount), ("fstype", "ext4")];
        let size = 4096.0 * (1.0e6 + host.random.unit() * 5.0e7).round();
        host.add("node_filesystem_size_bytes", &labels, Kind::Constant(size));
        for name in ["node_filesystem_free_bytes", "node_filesystem_avail_bytes"] {
            host.add(
                name,
                &labels,
                Kind::Gauge {
                    scale: 1.0,
                    start: size * 0.4,
                    step: 40.0 * 4096.0,
                    granularity: 4096,
                    change: 0.6,
                },
            );
        }
        host.add(
            "node_filesystem_files",
            &labels,
            Kind::Constant((size / 16384.0).round()),
        );
        host.gauge(
            "node_filesystem_files_free",
            &labels,
            1.0,
            (size / 40000.0).round(),
            8.0,
        );
        host.add("node_filesystem_readonly", &labels, Kind::Constant(0.0));
        host.add("node_filesystem_device_error", &labels, Kind::Constant(0.0));
    }
    for (name, step) in [
        ("node_load1", 12.0),
        ("node_load5", 5.0),
        ("node_load15", 2.0),
    ] {
        host.gauge(name, &[], 100.0, 150.0, step);
    }
    host.counter("node_context_switches_total", &[], 1.0, 60000.0, 0.0);
    host.counter("node_intr_total", &[], 1.0, 45000.0, 0.0);
    host.counter("node_forks_total", &[], 1.0, 40.0, 0.0);
    host.gauge("node_procs_running", &[], 1.0, 3.0, 2.0);
    host.gauge("node_procs_blocked", &[], 1.0, 0.0, 0.5);
    host.gauge("node_filefd_allocated", &[], 1.0, 9000.0, 30.0);
    host.add("node_filefd_maximum", &[], Kind::Constant(9.2e18));
    host.gauge("node_entropy_available_bits", &[], 1.0, 256.0, 0.0);
    host.add(
        "node_boot_time_seconds",
        &[],
        Kind::Constant(1_699_000_000.0),
    );
    host.add("node_time_seconds", &[], Kind::WallClock);
    host.add(
        "node_timex_offset_seconds",
        &[],
        Kind::Duration { mean_ns: 2.0e5 },
    );
    host.add("node_timex_sync_status", &[], Kind::Constant(1.0));
    host.add(
        "node_timex_maxerror_seconds",
        &[],
        Kind::Gauge {
            scale: 1e6,
            start: 5.0e5,
            step: 3000.0,
            granularity: 1,
            change: 0.9,
        },
    );
    for sensor in 0..8 {
        let sensor = format!("temp{}", sensor + 1);
        let labels = [("chip", "platform_coretemp_0"), ("sensor", sensor.as_str())];
        host.add(
            "node_hwmon_temp_celsius",
            &labels,
            Kind::Gauge {
                scale: 1000.0,
                start: 45_000.0,
                step: 1500.0,
                granularity: 1000,
                change: 0.7,
            },
        );
        host.add(
            "node_hwmon_temp_crit_celsius",
            &labels,
            Kind::Constant(100.0),
        );
    }
    for index in 0..24 {
        let name = format!("node_sockstat_field{index}");
        host.gauge(&name, &[], 1.0, 50.0 + f64::from(index) * 40.0, 3.0);
    }
    for index in 0..40 {
        let name = format!("node_netstat_field{index}");
        let rate = 10f64.powf(host.random.unit() * 5.0 - 1.0);
        host.counter(&name, &[], 1.0, rate, if rate < 1.0 { 0.9 } else { 0.1 });
    }
    for index in 0..30 {
        let name = format!("node_vmstat_field{index}");
        let rate = 10f64.powf(host.random.unit() * 6.0 - 1.0);
        host.counter(&name, &[], 1.0, rate, if rate < 1.0 { 0.9 } else { 0.05 });
    }
    for collector in 0..40 {
        let collector = format!("collector{collector}");
        let labels = [("collector", collector.as_str())];
        let mean_ns = 10f64.powf(4.0 + host.random.unit() * 3.0);
        host.add(
            "node_scrape_collector_duration_seconds",
            &labels,
            Kind::Duration { mean_ns },
        );
        host.add(
            "node_scrape_collector_success",
            &labels,
            Kind::Constant(1.0),
        );
    }
    for quantile in ["0", "0.25", "0.5", "0.75", "1"] {
        let labels = [("quantile", quantile)];
        host.add(
            "go_gc_duration_seconds",
            &labels,
            Kind::Gauge {
                scale: 1e9,
                start: 3.0e4,
                step: 5.0e3,
                granularity: 1,
                change: 0.3,
            },
        );
    }
    host.counter("go_gc_duration_seconds_count", &[], 1.0, 2.0, 0.3);
    host.counter("go_gc_duration_seconds_sum", &[], 1e9, 1.0e5, 0.3);
    host.gauge("go_goroutines", &[], 1.0, 9.0, 1.0);
    for index in 0..25 {
        let name = format!("go_memstats_field{index}_bytes");
        host.add(
            &name,
            &[],
            Kind::Gauge {
                scale: 1.0,
                start: 2.0e6,
                step: 6.0e4,
                granularity: 8,
                change: 0.9,
            },
        );
    }
    host.counter("process_cpu_seconds_total", &[], 100.0, 2.0, 0.3);
    host.gauge("process_open_fds", &[], 1.0, 10.0, 0.5);
    host.add(
        "process_resident_memory_bytes",
        &[],
        Kind::Gauge {
            scale: 1.0,
            start: 2.4e7,
            step: 8.0e4,
            granularity: 4096,
            change: 0.8,
        },
    );
    host.add(
        "process_start_time_seconds",
        &[],
        Kind::Constant(1_699_000_100.37),
    );
    for code in ["200", "500", "503"] {
        let mean = if code == "200" { 1.0 } else { 0.0 };
        let idle = if code == "200" { 0.0 } else { 1.0 };
        host.counter(
            "promhttp_metric_handler_requests_total",
            &[("code", code)],
            1.0,
            mean,
            idle,
        );
    }
    host.add(
        "node_exporter_build_info",
        &[("version", "1.8.2")],
        Kind::Constant(1.0),
    );
    host.add(
        "node_uname_info",
        &[("release", "6.1.0-13-amd64")],
        Kind::Constant(1.0),
    );
    host.add("up", &[], Kind::Constant(1.0));
    host.add(
        "scrape_duration_seconds",
        &[],
        Kind::Duration { mean_ns: 3.0e7 },
    );
    for name in [
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        let value = if name == "scrape_series_added" {
            0.0
        } else {
            560.0
        };
        host.add(name, &[], Kind::Constant(value));
    }
    host.series
}

/// Generates the data set.
pub fn node_exporter_like(config: &DatasetConfig) -> Vec<GeneratedSeries> {
    let mut random = SplitMix64::new(config.seed);
    let scrapes = (i64::from(config.hours) * 3_600_000 / config.interval_ms.max(1)) as usize;
    let mut all = Vec::new();
    for host_index in 0..config.hosts {
        let instance = format!("host-{host_index}:9100");
        let phase = (random.unit() * config.interval_ms as f64) as i64;
        let timestamps: Vec<i64> = (0..scrapes)
            .map(|scrape| {
                let nominal = config.start_ms + phase + scrape as i64 * config.interval_ms;
                nominal + scrape_jitter_ms(&mut random)
            })
            .collect();
        for (name, mut labels, kind) in host_series(&mut random) {
            labels.push(("instance".to_string(), instance.clone()));
            labels.push(("job".to_string(), "node".to_string()));
            labels.sort();
            let samples = generate_values(&mut random, kind, &timestamps);
            all.push(GeneratedSeries {
                name,
                labels,
                samples,
                value_entropy_bits: value_entropy_bits(kind),
            });
        }
    }
    all
}

/// The entropy of one scrape's jitter in bits (each target's timestamps
/// carry it once per scrape, whatever its number of series).
pub fn scrape_jitter_entropy_bits() -> f64 {
    let mut probabilities = [0.0f64; 60];
    for (jitter, probability) in probabilities.iter_mut().enumerate() {
        if jitter < 4 {
            *probability += 0.85 / 4.0;
        }
        if jitter < 9 {
            *probability += 0.14 / 9.0;
        }
        if jitter >= 10 {
            *probability += 0.01 / 50.0;
        }
    }
    entropy(&probabilities)
}

/// Shannon entropy in bits of a distribution (zero terms skipped).
fn entropy(probabilities: &[f64]) -> f64 {
    probabilities
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| -p * p.log2())
        .sum()
}

/// The standard normal distribution function (Abramowitz and Stegun
/// 7.1.26 for erf; absolute error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let polynomial = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - polynomial * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Entropy in bits of `K`, where `K = 0` with probability `still`, and
/// otherwise `K = round(max(0, mean + deviation * Z))` (or without the
/// clamp when `clamp_at_zero` is false) for a standard normal `Z`. The
/// generator's `Z` (a scaled sum of four uniforms) has slightly less
/// entropy than a normal's, so this errs a little high.
fn rounded_normal_entropy(still: f64, mean: f64, deviation: f64, clamp_at_zero: bool) -> f64 {
    let moving = 1.0 - still;
    if deviation <= 0.0 {
        let constant_step = mean.round();
        return if constant_step == 0.0 {
            0.0
        } else {
            entropy(&[still, moving])
        };
    }
    // Bins of one integer, or for wide distributions of `width` integers
    // over which the density is nearly flat (each integer in a bin of
    // probability p then has p / width).
    let width = (deviation / 64.0).floor().max(1.0);
    let low = ((mean - 9.0 * deviation) / width).floor() as i64;
    let high = ((mean + 9.0 * deviation) / width).ceil() as i64;
    let mut zero = still;
    let mut bits = 0.0;
    for bin in low..=high {
        let start = bin as f64 * width - 0.5;
        let upper = normal_cdf((start + width - mean) / deviation);
        let lower = normal_cdf((start - mean) / deviation);
        let probability = moving * (upper - lower).max(0.0);
        let holds_zero = start < 0.0 && start + width > 0.0;
        if clamp_at_zero && start + width <= 0.0 {
            zero += probability;
        } else if probability > 0.0 {
            // The integer 0 joins the "still" mass; the bin's others stay.
            let others = if holds_zero {
                zero += probability / width;
                probability * (width - 1.0) / width
            } else {
                probability
            };
            bits -= others * (probability / width).log2();
        }
    }
    bits + entropy(&[zero])
}

/// An estimate of the entropy per sample of a series' values, in bits,
/// given its timestamps: what its random draws add each scrape (the
/// one-off random start is left out).
fn value_entropy_bits(kind: Kind) -> f64 {
    match kind {
        Kind::Constant(_) => 0.0,
        Kind::Counter {
            mean, noise, idle, ..
        } => {
            if mean < 1.0 {
                entropy(&[idle, 1.0 - idle])
            } else {
                rounded_normal_entropy(idle, mean, mean * noise, true)
            }
        }
        Kind::Gauge {
            step,
            granularity,
            change,
            ..
        } => rounded_normal_entropy(1.0 - change, 0.0, step / granularity as f64, false),
        // nanoseconds = round(mean * (0.5 + 3 U V)): the differential
        // entropy of 3 U V is log2(3) - (1 - Euler's gamma) / ln 2 bits.
        Kind::Duration { mean_ns } => {
            mean_ns.log2() + 3f64.log2() - (1.0 - 0.577_215_664_9) / std::f64::consts::LN_2
        }
        // A millisecond of random nanoseconds, as distinct f64 values near
        // 1.7e9 s (a unit in the last place is 2^-22 s, about 238 ns).
        Kind::WallClock => (1e6f64 / (2f64.powi(-22) * 1e9)).log2(),
    }
}

fn scrape_jitter_ms(random: &mut SplitMix64) -> i64 {
    let draw = random.unit();
    if draw < 0.85 {
        (random.unit() * 4.0) as i64
    } else if draw < 0.99 {
        (random.unit() * 9.0) as i64
    } else {
        10 + (random.unit() * 50.0) as i64
    }
}

fn generate_values(random: &mut SplitMix64, kind: Kind, timestamps: &[i64]) -> Vec<(i64, f64)> {
    let mut samples = Vec::with_capacity(timestamps.len());
    match kind {
        Kind::Constant(value) => samples.extend(timestamps.iter().map(|&t| (t, value))),
        Kind::Counter {
            scale,
            mean,
            noise,
            granularity,
            idle,
        } => {
            let mut units = (random.unit() * mean * 2e4).round() as u64 * granularity;
            for &t in timestamps {
                if random.unit() >= idle {
                    let increment = (mean * (1.0 + noise * random.normal())).max(0.0);
                    let steps = if mean < 1.0 { 1.0 } else { increment.round() };
                    units += steps as u64 * granularity;
                }
                samples.push((t, units as f64 / scale));
            }
        }
        Kind::Gauge {
            scale,
            start,
            step,
            granularity,
            change,
        } => {
            let mut units = (start / granularity as f64).round().max(0.0);
            for &t in timestamps {
                if random.unit() < change {
                    units =
                        (units + (step / granularity as f64 * random.normal()).round()).max(0.0);
                }
                samples.push((t, units * granularity as f64 / scale));
            }
        }
        Kind::Duration { mean_ns } => {
            for &t in timestamps {
                let nanoseconds = (mean_ns * (0.5 + random.unit() * random.unit() * 3.0)).round();
                samples.push((t, nanoseconds / 1e9));
            }
        }
        Kind::WallClock => {
            for &t in timestamps {
                let nanoseconds = t * 1_000_000 + (random.unit() * 999_999.0) as i64;
                samples.push((t, nanoseconds as f64 / 1e9));
            }
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_estimates_agree_with_known_distributions() {
        // A fair coin; normals summed over single integers and over wide
        // bins (log2(σ) + log2(sqrt(2πe)) bits); half a normal clamped to
        // zero (about one bit less, plus the zero's share); one of
        // 4 + 9 + 50 jitter values.
        assert!((entropy(&[0.5, 0.5]) - 1.0).abs() < 1e-12);
        for deviation in [30.0, 1e4, 1e9] {
            let estimated = rounded_normal_entropy(0.0, 0.0, deviation, false);
            let expected = f64::log2(deviation) + 2.047;
            assert!(
                (estimated - expected).abs() < 0.01,
                "{deviation}: {estimated}"
            );
        }
        let clamped = rounded_normal_entropy(0.0, 0.0, 1e6, true);
        let expected = (f64::log2(1e6) + 2.047 + 1.0) / 2.0;
        assert!((clamped - expected).abs() < 0.02, "{clamped} vs {expected}");
        let jitter = scrape_jitter_entropy_bits();
        assert!(jitter > 2.0 && jitter < 3.5, "{jitter}");
        assert_eq!(value_entropy_bits(Kind::Constant(3.0)), 0.0);
    }

    #[test]
    fn a_counter_that_never_moves_has_no_entropy_and_idle_adds_some() {
        let idle = |idle| Kind::Counter {
            scale: 1.0,
            mean: 50.0,
            noise: 0.5,
            granularity: 1,
            idle,
        };
        assert_eq!(value_entropy_bits(idle(1.0)), 0.0);
        assert!(value_entropy_bits(idle(0.5)) > value_entropy_bits(idle(0.0)) * 0.5);
        assert!(value_entropy_bits(idle(0.0)) > value_entropy_bits(idle(0.9)));
    }
}
