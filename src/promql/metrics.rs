//! The engine's self-metrics under Prometheus's names:
//! `prometheus_engine_query_duration_seconds{slice}` (a summary with the
//! 0.5, 0.9 and 0.99 quantiles over a sliding window, as Prometheus's) and
//! `prometheus_engine_queries` (queries running or waiting now).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};

/// The phases of a query that are timed, as Prometheus's `slice` label;
/// the discriminant is the phase's index in `Slice::ALL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// Evaluating it.
    InnerEval = 0,
    /// Parsing and checking the query.
    PrepareTime = 1,
    /// Waiting for a concurrency slot.
    QueueTime = 2,
    /// Shaping (and sorting) the result.
    ResultSort = 3,
}

impl Slice {
    const ALL: [Slice; 4] = [
        Slice::InnerEval,
        Slice::PrepareTime,
        Slice::QueueTime,
        Slice::ResultSort,
    ];

    fn label(self) -> &'static str {
        match self {
            Slice::QueueTime => "queue_time",
            Slice::PrepareTime => "prepare_time",
            Slice::InnerEval => "inner_eval",
            Slice::ResultSort => "result_sort",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Quantiles are over the observations of the last ten minutes (at most
/// this many of them), as Prometheus's summary `MaxAge`.
const WINDOW: Duration = Duration::from_secs(600);
const MAX_KEPT: usize = 4096;
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

#[derive(Default)]
struct SliceState {
    count: u64,
    sum: f64,
    recent: VecDeque<(Instant, f64)>,
}

/// The engine's metrics; cheap to clone, register once.
#[derive(Clone)]
pub struct EngineMetrics {
    slices: Arc<[Mutex<SliceState>; 4]>,
    queries: prometheus::IntGauge,
    desc: Vec<Desc>,
}

impl EngineMetrics {
    /// Metrics not yet registered anywhere.
    pub fn new() -> Result<Self, prometheus::Error> {
        let queries = prometheus::IntGauge::new(
            "prometheus_engine_queries",
            "The current number of queries being executed or waiting.",
        )?;
        let desc = Desc::new(
            "prometheus_engine_query_duration_seconds".into(),
            "Query timings".into(),
            vec!["slice".into()],
            Default::default(),
        )?;
        Ok(EngineMetrics {
            slices: Arc::new(Default::default()),
            queries,
            desc: vec![desc],
        })
    }

    /// Registers both metrics on `registry`.
    pub fn register(&self, registry: &prometheus::Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.clone()))?;
        registry.register(Box::new(self.queries.clone()))
    }

    /// Records that `slice` of one query took `elapsed`.
    pub fn observe(&self, slice: Slice, elapsed: Duration) {
        let now = Instant::now();
        let seconds = elapsed.as_secs_f64();
        let mut state = self.slices[slice.index()].lock();
        state.count += 1;
        state.sum += seconds;
        state.recent.push_back((now, seconds));
        while state.recent.len() > MAX_KEPT
            || state
                .recent
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
        {
            state.recent.pop_front();
        }
    }

    /// The gauge of queries running or waiting.
    pub fn queries(&self) -> &prometheus::IntGauge {
        &self.queries
    }
}

impl Collector for EngineMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.desc.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let now = Instant::now();
        let mut family = MetricFamily::default();
        family.set_name("prometheus_engine_query_duration_seconds".into());
        family.set_help("Query timings".into());
        family.set_field_type(MetricType::SUMMARY);
        for slice in Slice::ALL {
            let state = self.slices[slice.index()].lock();
            let mut values: Vec<f64> = state
                .recent
                .iter()
                .filter(|(at, _)| now.duration_since(*at) <= WINDOW)
                .map(|(_, v)| *v)
                .collect();
            values.sort_by(f64::total_cmp);
            let mut summary = Summary::default();
            summary.set_sample_count(state.count);
            summary.set_sample_sum(state.sum);
            let quantiles = QUANTILES
                .iter()
                .map(|q| {
                    let mut quantile = Quantile::default();
                    quantile.set_quantile(*q);
                    quantile.set_value(match values.len() {
                        0 => f64::NAN,
                        n => values[((q * n as f64).ceil() as usize).clamp(1, n) - 1],
                    });
                    quantile
                })
                .collect();
            summary.set_quantile(quantiles);
            let mut label = LabelPair::default();
            label.set_name("slice".into());
            label.set_value(slice.label().into());
            let mut metric = Metric::default();
            metric.set_label(vec![label]);
            metric.set_summary(summary);
            family.mut_metric().push(metric);
        }
        vec![family]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_exposed_with_prometheus_names_and_quantiles() {
        let registry = prometheus::Registry::new();
        let metrics = EngineMetrics::new().unwrap();
        metrics.register(&registry).unwrap();
        for millis in 1..=100 {
            metrics.observe(Slice::InnerEval, Duration::from_millis(millis));
        }
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(text.contains("# TYPE prometheus_engine_query_duration_seconds summary"));
        assert!(text.contains(
            "prometheus_engine_query_duration_seconds{slice=\"inner_eval\",quantile=\"0.9\"} 0.09"
        ), "{text}");
        assert!(
            text.contains(
                "prometheus_engine_query_duration_seconds_count{slice=\"inner_eval\"} 100"
            )
        );
        assert!(text.contains(
            "prometheus_engine_query_duration_seconds{slice=\"queue_time\",quantile=\"0.5\"} NaN"
        ));
        assert!(text.contains("prometheus_engine_queries 0"));
    }
}
