//! The fan-out [`Queryable`]: a primary store (the local TSDB) and any
//! number of secondaries (`remote_read` endpoints; later the cluster's
//! peers), merged into one view. Series held by several sources are merged
//! with duplicate samples removed ([`super::merge`]). A secondary that fails
//! makes the answer partial, with a warning, as Prometheus does; a failing
//! primary is an error.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::merge::merge_series_sets;
use super::{Querier, Queryable, SelectHints, Series, SeriesSet, StorageError};
use crate::model::Matcher;

/// A secondary source and the newest time it should be asked about.
#[derive(Clone)]
pub struct Secondary {
    /// The source.
    pub queryable: Arc<dyn Queryable>,
    /// A name for warnings.
    pub name: String,
    /// When set, returns the time from which the primary holds complete
    /// data; the secondary is then asked only about earlier times
    /// (Prometheus's `read_recent: false`).
    pub complete_from: Option<Arc<dyn Fn() -> i64 + Send + Sync>>,
}

/// The primary merged with its secondaries.
pub struct FanoutQueryable {
    primary: Arc<dyn Queryable>,
    secondaries: parking_lot::RwLock<Arc<Vec<Secondary>>>,
}

impl FanoutQueryable {
    /// A view over `primary` and `secondaries`.
    pub fn new(primary: Arc<dyn Queryable>, secondaries: Vec<Secondary>) -> Self {
        FanoutQueryable {
            primary,
            secondaries: parking_lot::RwLock::new(Arc::new(secondaries)),
        }
    }

    /// Replaces the secondaries (on config reload); queriers already handed
    /// out keep the old ones.
    pub fn set_secondaries(&self, secondaries: Vec<Secondary>) {
        *self.secondaries.write() = Arc::new(secondaries);
    }
}

impl Queryable for FanoutQueryable {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        let primary = self.primary.querier(mint, maxt)?;
        let mut secondaries = Vec::new();
        let mut warnings = Vec::new();
        let current = self.secondaries.read().clone();
        for secondary in current.iter() {
            let upper = match &secondary.complete_from {
                Some(complete_from) => maxt.min(complete_from().saturating_sub(1)),
                None => maxt,
            };
            if upper < mint {
                continue;
            }
            match secondary.queryable.querier(mint, upper) {
                Ok(querier) => secondaries.push((secondary.name.clone(), querier)),
                Err(error) => warnings.push(format!("remote read {}: {error}", secondary.name)),
            }
        }
        Ok(Box::new(FanoutQuerier {
            primary,
            secondaries,
            warnings,
            label_warnings: parking_lot::Mutex::new(Vec::new()),
        }))
    }
}

struct FanoutQuerier {
    primary: Box<dyn Querier>,
    secondaries: Vec<(String, Box<dyn Querier>)>,
    warnings: Vec<String>,
    /// Secondaries that failed a label call.
    label_warnings: parking_lot::Mutex<Vec<String>>,
}

impl FanoutQuerier {
    /// Runs a label call on every secondary, collecting what answers and
    /// a warning for what fails.
    fn secondary_labels(
        &self,
        into: &mut BTreeSet<String>,
        call: impl Fn(&dyn Querier) -> Result<Vec<String>, StorageError>,
    ) {
        for (name, querier) in &self.secondaries {
            match call(querier.as_ref()) {
                Ok(more) => into.extend(more),
                Err(error) => self.label_warnings.lock().push(format!(
                    "remote read {name}: {error}; the result may be partial"
                )),
            }
        }
    }
}

/// A secondary's set whose failure becomes a warning.
struct PartialOnError {
    name: String,
    inner: Box<dyn SeriesSet>,
}

impl SeriesSet for PartialOnError {
    fn next(&mut self) -> Option<Box<dyn Series>> {
        self.inner.next()
    }

    fn warnings(&self) -> Vec<String> {
        let mut warnings = self.inner.warnings();
        if let Some(error) = self.inner.err() {
            warnings.push(format!(
                "remote read {}: {error}; the result may be partial",
                self.name
            ));
        }
        warnings
    }
}

/// An empty set carrying warnings.
struct WarningsOnly(Vec<String>);

impl SeriesSet for WarningsOnly {
    fn next(&mut self) -> Option<Box<dyn Series>> {
        None
    }

    fn warnings(&self) -> Vec<String> {
        self.0.clone()
    }
}

impl Querier for FanoutQuerier {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet> {
        if self.secondaries.is_empty() && self.warnings.is_empty() {
            return self.primary.select(sorted, hints, matchers);
        }
        // Merging needs every input in label order. Secondaries (remote
        // reads, cluster peers) each wait on the network: ask them at once.
        let mut sets = vec![self.primary.select(true, hints, matchers)];
        let select_secondary = |(name, querier): &(String, Box<dyn Querier>)| {
            Box::new(PartialOnError {
                name: name.clone(),
                inner: querier.select(true, hints, matchers),
            }) as Box<dyn SeriesSet>
        };
        if self.secondaries.len() == 1 {
            sets.extend(self.secondaries.iter().map(select_secondary));
        } else {
            std::thread::scope(|scope| {
                let pending: Vec<_> = self
                    .secondaries
                    .iter()
                    .map(|secondary| scope.spawn(move || select_secondary(secondary)))
                    .collect();
                for (handle, (name, _)) in pending.into_iter().zip(&self.secondaries) {
                    sets.push(handle.join().unwrap_or_else(|_| {
                        Box::new(WarningsOnly(vec![format!(
                            "remote read {name}: the select failed; the result may be partial"
                        )]))
                    }));
                }
            });
        }
        if !self.warnings.is_empty() {
            sets.push(Box::new(WarningsOnly(self.warnings.clone())));
        }
        merge_series_sets(sets)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut values: BTreeSet<String> = self
            .primary
            .label_values(name, matchers)?
            .into_iter()
            .collect();
        self.secondary_labels(&mut values, |querier| querier.label_values(name, matchers));
        Ok(values.into_iter().collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut names: BTreeSet<String> = self.primary.label_names(matchers)?.into_iter().collect();
        self.secondary_labels(&mut names, |querier| querier.label_names(matchers));
        Ok(names.into_iter().collect())
    }

    fn label_warnings(&self) -> Vec<String> {
        let mut warnings = self.warnings.clone();
        warnings.extend(self.primary.label_warnings());
        warnings.extend(self.label_warnings.lock().iter().cloned());
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::storage::memory::MemStorage;
    use crate::storage::{Appendable, VecSeriesSet};

    struct Failing;
    impl Queryable for Failing {
        fn querier(&self, _: i64, _: i64) -> Result<Box<dyn Querier>, StorageError> {
            Ok(Box::new(FailingQuerier))
        }
    }
    struct FailingQuerier;
    impl Querier for FailingQuerier {
        fn select(&self, _: bool, _: Option<&SelectHints>, _: &[Matcher]) -> Box<dyn SeriesSet> {
            Box::new(VecSeriesSet::failed(StorageError::Remote(
                "connection refused".into(),
            )))
        }
        fn label_values(&self, _: &str, _: &[Matcher]) -> Result<Vec<String>, StorageError> {
            Err(StorageError::Remote("connection refused".into()))
        }
        fn label_names(&self, _: &[Matcher]) -> Result<Vec<String>, StorageError> {
            Err(StorageError::Remote("connection refused".into()))
        }
    }

    fn store(samples: &[(i64, f64)]) -> MemStorage {
        let store = MemStorage::new();
        let mut app = store.appender();
        for &(t, v) in samples {
            app.append(&Labels::from_pairs(&[("__name__", "m")]), t, v)
                .unwrap();
        }
        app.commit().unwrap();
        store
    }

    fn collect(set: &mut Box<dyn SeriesSet>) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        while let Some(series) = set.next() {
            let mut it = series.iter();
            while let Some(sample) = it.next() {
                out.push(sample);
            }
        }
        out
    }

    #[test]
    fn merges_and_dedups_overlapping_sources() {
        let local = store(&[(30, 3.0), (40, 4.0)]);
        let remote = store(&[(10, 1.0), (20, 2.0), (30, 3.0)]);
        let fanout = FanoutQueryable::new(
            Arc::new(local),
            vec![Secondary {
                queryable: Arc::new(remote),
                name: "r".into(),
                complete_from: None,
            }],
        );
        let querier = fanout.querier(0, 100).unwrap();
        let mut set = querier.select(true, None, &[Matcher::equal("__name__", "m")]);
        assert_eq!(
            collect(&mut set),
            vec![(10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0)]
        );
    }

    #[test]
    fn read_recent_false_asks_only_before_local_data() {
        let local = store(&[(30, 3.0)]);
        let remote = store(&[(10, 1.0), (30, 99.0), (40, 99.0)]);
        let fanout = FanoutQueryable::new(
            Arc::new(local),
            vec![Secondary {
                queryable: Arc::new(remote),
                name: "r".into(),
                complete_from: Some(Arc::new(|| 30)),
            }],
        );
        let querier = fanout.querier(0, 100).unwrap();
        let mut set = querier.select(true, None, &[Matcher::equal("__name__", "m")]);
        assert_eq!(collect(&mut set), vec![(10, 1.0), (30, 3.0)]);
    }

    #[test]
    fn a_failing_secondary_gives_a_partial_result_with_a_warning() {
        let fanout = FanoutQueryable::new(
            Arc::new(store(&[(1, 1.0)])),
            vec![Secondary {
                queryable: Arc::new(Failing),
                name: "down".into(),
                complete_from: None,
            }],
        );
        let querier = fanout.querier(0, 100).unwrap();
        let mut set = querier.select(true, None, &[Matcher::equal("__name__", "m")]);
        assert_eq!(collect(&mut set), vec![(1, 1.0)]);
        assert!(set.err().is_none());
        assert!(
            set.warnings()
                .iter()
                .any(|w| w.contains("down") && w.contains("partial")),
            "{:?}",
            set.warnings()
        );
        assert_eq!(querier.label_values("__name__", &[]).unwrap(), vec!["m"]);
        assert!(
            querier
                .label_warnings()
                .iter()
                .any(|w| w.contains("down") && w.contains("partial")),
            "{:?}",
            querier.label_warnings()
        );
    }
}
