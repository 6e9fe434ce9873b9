//! The remote-read server side (`POST /api/v1/read`, samples response type):
//! each query is answered from a [`Queryable`]. The cluster's global view
//! asks peers with the same protocol.

use crate::model::{Labels, MatchType, Matcher};
use crate::storage::{Queryable, SelectHints, StorageError};

use super::proto::{
    Label, LabelMatcher, MatcherType, Query, QueryResult, ReadRequest, ReadResponse, Sample,
    TimeSeries,
};

/// Why a read request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// A matcher did not compile or had an unknown type.
    #[error("invalid matcher: {0}")]
    BadMatcher(String),
    /// The answer would hold more samples than allowed.
    #[error("exceeded sample limit ({0})")]
    SampleLimit(usize),
    /// The store failed.
    #[error("{0}")]
    Storage(#[from] StorageError),
}

impl ReadError {
    /// The HTTP status Prometheus answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            ReadError::BadMatcher(_) => 400,
            ReadError::SampleLimit(_) | ReadError::Storage(_) => 500,
        }
    }
}

/// Converts protobuf matchers into [`Matcher`]s.
pub fn matchers_from_proto(matchers: &[LabelMatcher]) -> Result<Vec<Matcher>, ReadError> {
    matchers
        .iter()
        .map(|m| {
            let kind = match MatcherType::try_from(m.r#type) {
                Ok(MatcherType::Eq) => MatchType::Equal,
                Ok(MatcherType::Neq) => MatchType::NotEqual,
                Ok(MatcherType::Re) => MatchType::Regex,
                Ok(MatcherType::Nre) => MatchType::NotRegex,
                Err(_) => {
                    return Err(ReadError::BadMatcher(format!(
                        "unknown matcher type {}",
                        m.r#type
                    )));
                }
            };
            Matcher::new(kind, m.name.clone(), m.value.clone())
                .map_err(|e| ReadError::BadMatcher(e.to_string()))
        })
        .collect()
}

/// Converts [`Matcher`]s into protobuf matchers (the client side).
pub fn matchers_to_proto(matchers: &[Matcher]) -> Vec<LabelMatcher> {
    matchers
        .iter()
        .map(|m| LabelMatcher {
            r#type: match m.match_type {
                MatchType::Equal => MatcherType::Eq,
                MatchType::NotEqual => MatcherType::Neq,
                MatchType::Regex => MatcherType::Re,
                MatchType::NotRegex => MatcherType::Nre,
            } as i32,
            name: m.name.clone(),
            value: m.value.clone(),
        })
        .collect()
}

/// Converts a label set into protobuf labels (sorted, as the spec requires).
pub fn labels_to_proto(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|l| Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

/// Converts protobuf labels into a label set.
pub fn labels_from_proto(labels: &[Label]) -> Labels {
    labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

/// Answers every query of `request` with raw samples, refusing answers of
/// more than `sample_limit` samples in total (0 = no limit).
pub fn serve(
    queryable: &dyn Queryable,
    request: &ReadRequest,
    sample_limit: usize,
) -> Result<ReadResponse, ReadError> {
    let mut total = 0usize;
    let mut results = Vec::with_capacity(request.queries.len());
    for query in &request.queries {
        results.push(answer(queryable, query, sample_limit, &mut total)?);
    }
    Ok(ReadResponse { results })
}

fn answer(
    queryable: &dyn Queryable,
    query: &Query,
    sample_limit: usize,
    total: &mut usize,
) -> Result<QueryResult, ReadError> {
    let matchers = matchers_from_proto(&query.matchers)?;
    let hints = query.hints.as_ref().map(|h| SelectHints {
        start: h.start_ms,
        end: h.end_ms,
        step: h.step_ms,
        range: h.range_ms,
        func: (!h.func.is_empty()).then(|| h.func.clone()),
        grouping: h.grouping.clone(),
        by: h.by,
    });
    let querier = queryable.querier(query.start_timestamp_ms, query.end_timestamp_ms)?;
    let mut set = querier.select(true, hints.as_ref(), &matchers);
    let mut timeseries = Vec::new();
    while let Some(series) = set.next() {
        let mut samples = Vec::new();
        let mut iter = series.iter();
        let mut next = iter.seek(query.start_timestamp_ms);
        while let Some((t, v)) = next {
            if t > query.end_timestamp_ms {
                break;
            }
            samples.push(Sample {
                value: v,
                timestamp: t,
            });
            next = iter.next();
        }
        if let Some(error) = iter.err() {
            return Err(error.into());
        }
        if samples.is_empty() {
            continue;
        }
        *total += samples.len();
        if sample_limit > 0 && *total > sample_limit {
            return Err(ReadError::SampleLimit(sample_limit));
        }
        timeseries.push(TimeSeries {
            labels: labels_to_proto(series.labels()),
            samples,
            ..Default::default()
        });
    }
    if let Some(error) = set.err() {
        return Err(error.into());
    }
    Ok(QueryResult { timeseries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Appendable;
    use crate::storage::memory::MemStorage;

    #[test]
    fn answers_queries_with_samples_in_the_window() {
        let store = MemStorage::new();
        let a = Labels::from_pairs(&[("__name__", "m"), ("job", "a")]);
        let b = Labels::from_pairs(&[("__name__", "m"), ("job", "b")]);
        let mut app = store.appender();
        for t in 0..10 {
            app.append(&a, t * 1000, t as f64).unwrap();
            app.append(&b, t * 1000, -(t as f64)).unwrap();
        }
        app.commit().unwrap();
        let request = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 2000,
                end_timestamp_ms: 4000,
                matchers: matchers_to_proto(&[
                    Matcher::new(MatchType::Regex, "job", "a|b").unwrap()
                ]),
                hints: None,
            }],
            accepted_response_types: vec![],
        };
        let response = serve(&store, &request, 0).unwrap();
        let series = &response.results[0].timeseries;
        assert_eq!(series.len(), 2);
        assert_eq!(labels_from_proto(&series[0].labels), a);
        let times: Vec<i64> = series[0].samples.iter().map(|s| s.timestamp).collect();
        assert_eq!(times, vec![2000, 3000, 4000]);
        assert!(matches!(
            serve(&store, &request, 4),
            Err(ReadError::SampleLimit(4))
        ));
    }

    #[test]
    fn bad_matchers_are_bad_requests() {
        let bad = [LabelMatcher {
            r#type: 2,
            name: "x".into(),
            value: "(".into(),
        }];
        assert_eq!(matchers_from_proto(&bad).unwrap_err().http_status(), 400);
        let unknown = [LabelMatcher {
            r#type: 9,
            name: "x".into(),
            value: "a".into(),
        }];
        assert!(matchers_from_proto(&unknown).is_err());
    }
}
