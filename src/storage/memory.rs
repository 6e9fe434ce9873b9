//! An in-memory store for unit tests of the stages above storage (scrape,
//! PromQL, rules). It follows the [`Appender`] contract exactly but keeps
//! everything in a map and persists nothing. Production uses the TSDB.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use super::{
    AppendError, Appendable, Appender, Querier, Queryable, SeriesRef, SeriesSet, StorageError,
    VecSeries, VecSeriesSet,
};
use crate::model::matcher::matches_all;
use crate::model::{Labels, Matcher};

type SeriesMap = BTreeMap<Labels, Vec<(i64, f64)>>;

/// A map from label set to samples, behind a lock.
#[derive(Default, Clone)]
pub struct MemStorage {
    series: Arc<RwLock<SeriesMap>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every series and its samples, in label order.
    pub fn dump(&self) -> Vec<(Labels, Vec<(i64, f64)>)> {
        self.series
            .read()
            .iter()
            .map(|(l, s)| (l.clone(), s.clone()))
            .collect()
    }

    /// The samples of one series, if present.
    pub fn samples(&self, labels: &Labels) -> Option<Vec<(i64, f64)>> {
        self.series.read().get(labels).cloned()
    }
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(MemAppender {
            store: self.clone(),
            pending: Vec::new(),
        })
    }
}

struct MemAppender {
    store: MemStorage,
    pending: Vec<(Labels, i64, f64)>,
}

impl MemAppender {
    fn newest(&self, labels: &Labels) -> Option<(i64, f64)> {
        let pending = self
            .pending
            .iter()
            .rev()
            .find(|(l, _, _)| l == labels)
            .map(|(_, t, v)| (*t, *v));
        pending.or_else(|| {
            self.store
                .series
                .read()
                .get(labels)
                .and_then(|s| s.last().copied())
        })
    }
}

impl Appender for MemAppender {
    fn append_ref(
        &mut self,
        _cached: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, AppendError> {
        if labels.is_empty() {
            return Err(AppendError::InvalidLabels("empty label set".into()));
        }
        if let Some((last_t, last_v)) = self.newest(labels) {
            if t < last_t {
                return Err(AppendError::OutOfOrder);
            }
            if t == last_t {
                if last_v.to_bits() == v.to_bits() {
                    return Ok(SeriesRef(labels.stable_hash() | 1));
                }
                return Err(AppendError::DuplicateSampleForTimestamp);
            }
        }
        self.pending.push((labels.clone(), t, v));
        Ok(SeriesRef(labels.stable_hash() | 1))
    }

    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        let mut series = self.store.series.write();
        for (labels, t, v) in self.pending {
            series.entry(labels).or_default().push((t, v));
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        Ok(())
    }
}

impl Queryable for MemStorage {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        Ok(Box::new(MemQuerier {
            store: self.clone(),
            mint,
            maxt,
        }))
    }
}

struct MemQuerier {
    store: MemStorage,
    mint: i64,
    maxt: i64,
}

impl MemQuerier {
    fn matching(&self, matchers: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
        self.store
            .series
            .read()
            .iter()
            .filter(|(labels, _)| matches_all(labels, matchers))
            .map(|(labels, samples)| {
                let window: Vec<(i64, f64)> = samples
                    .iter()
                    .copied()
                    .filter(|(t, _)| *t >= self.mint && *t <= self.maxt)
                    .collect();
                (labels.clone(), window)
            })
            .filter(|(_, window)| !window.is_empty())
            .collect()
    }
}

impl Querier for MemQuerier {
    fn select(
        &self,
        _sorted: bool,
        _hints: Option<&super::SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet> {
        let series = self
            .matching(matchers)
            .into_iter()
            .map(|(labels, samples)| {
                Box::new(VecSeries::new(labels, samples)) as Box<dyn super::Series>
            })
            .collect();
        Box::new(VecSeriesSet::new(series))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut values: Vec<String> = self
            .matching(matchers)
            .iter()
            .filter_map(|(labels, _)| labels.get(name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self
            .matching(matchers)
            .iter()
            .flat_map(|(labels, _)| {
                labels
                    .iter()
                    .map(|l| l.name.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appender_contract() {
        let store = MemStorage::new();
        let series = Labels::from_pairs(&[("__name__", "x")]);
        let mut app = store.appender();
        app.append(&series, 10, 1.0).unwrap();
        assert_eq!(app.append(&series, 5, 1.0), Err(AppendError::OutOfOrder));
        assert!(
            app.append(&series, 10, 1.0).is_ok(),
            "same value at same time is accepted"
        );
        assert_eq!(
            app.append(&series, 10, 2.0),
            Err(AppendError::DuplicateSampleForTimestamp)
        );
        assert!(
            store.samples(&series).is_none(),
            "not visible before commit"
        );
        app.commit().unwrap();
        assert_eq!(store.samples(&series), Some(vec![(10, 1.0)]));

        let mut app = store.appender();
        app.append(&series, 20, 3.0).unwrap();
        app.rollback().unwrap();
        assert_eq!(store.samples(&series), Some(vec![(10, 1.0)]));
    }

    #[test]
    fn select_filters_by_matchers_and_window() {
        let store = MemStorage::new();
        let a = Labels::from_pairs(&[("__name__", "x"), ("job", "a")]);
        let b = Labels::from_pairs(&[("__name__", "x"), ("job", "b")]);
        let mut app = store.appender();
        for t in 0..10 {
            app.append(&a, t * 10, t as f64).unwrap();
            app.append(&b, t * 10, t as f64).unwrap();
        }
        app.commit().unwrap();
        let querier = store.querier(20, 40).unwrap();
        let mut set = querier.select(true, None, &[Matcher::equal("job", "a")]);
        let series = set.next().unwrap();
        assert_eq!(series.labels(), &a);
        let mut it = series.iter();
        assert_eq!(it.seek(25), Some((30, 3.0)));
        assert_eq!(it.next(), Some((40, 4.0)));
        assert_eq!(it.next(), None);
        assert!(set.next().is_none());
        assert_eq!(querier.label_values("job", &[]).unwrap(), vec!["a", "b"]);
    }
}
