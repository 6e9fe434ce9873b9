//! The remote-read client, as a [`Queryable`]: `remote_read` entries (Mimir
//! or Prometheus holding history this node lacks) and the cluster's peers
//! (each node serves `POST /api/v1/read`) are read through it.
//!
//! The storage traits are synchronous (the engine runs on blocking
//! threads); each select runs its HTTP request on the async runtime it was
//! given and waits for the answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{Labels, Matcher};
use crate::storage::{
    Querier, Queryable, SelectHints, Series, SeriesSet, StorageError, VecSeries, VecSeriesSet,
};

use super::codec;
use super::proto::{Query, ReadHints, ReadRequest, ReadResponse, ResponseType};
use super::read::{labels_from_proto, matchers_to_proto};
use crate::config::http_client::HttpClientConfig;

/// Settings of one remote-read endpoint.
#[derive(Debug, Clone)]
pub struct ReadClientSettings {
    /// A name for logs.
    pub name: String,
    /// `.../api/v1/read`.
    pub url: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// Every `http_client` setting, applied by the crate's client factory.
    pub http_client: HttpClientConfig,
    /// Matchers every query must carry for this endpoint to be asked
    /// (`required_matchers`); empty = always asked.
    pub required_matchers: BTreeMap<String, String>,
    /// The external labels to filter by (`filter_external_labels`, with
    /// `global.external_labels`); empty = none.
    pub external_labels: Labels,
}

/// Reads from one remote-read endpoint.
pub struct RemoteReadClient {
    settings: ReadClientSettings,
    client: crate::http_client::HttpClient,
}

impl RemoteReadClient {
    /// Builds the client.
    pub fn new(settings: ReadClientSettings) -> Result<Self, String> {
        let client = crate::http_client::HttpClient::new(
            &settings.http_client,
            &crate::http_client::ClientOptions::with_timeout(Some(settings.timeout)),
        )
        .map_err(|e| e.to_string())?;
        Ok(RemoteReadClient { settings, client })
    }

    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Sends one read request.
    pub async fn read(&self, request: &ReadRequest) -> Result<ReadResponse, StorageError> {
        let mut http = self
            .client
            .post(&self.settings.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("Accept-Encoding", "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0");
        for (name, value) in &self.settings.headers {
            http = http.header(name, value);
        }
        http = self
            .client
            .authorize(http)
            .await
            .map_err(|e| StorageError::Remote(format!("{}: {e}", self.settings.name)))?;
        let response = http
            .body(codec::encode(request))
            .send()
            .await
            .map_err(|e| StorageError::Remote(format!("{}: {e}", self.settings.name)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| StorageError::Remote(format!("{}: {e}", self.settings.name)))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(StorageError::Remote(format!(
                "{}: remote read returned HTTP {status}: {}",
                self.settings.name,
                text.lines().next().unwrap_or("")
            )));
        }
        codec::decode(&body)
            .map_err(|e| StorageError::Remote(format!("{}: {e}", self.settings.name)))
    }

    /// `matchers` plus an equality matcher for each external label they
    /// do not name, and the names added (removed again from the answer),
    /// as Prometheus's remote read does with `filter_external_labels`.
    fn with_external_labels(&self, matchers: &[Matcher]) -> (Vec<Matcher>, Vec<String>) {
        let mut all = matchers.to_vec();
        let mut added = Vec::new();
        for label in self.settings.external_labels.iter() {
            if matchers.iter().any(|m| m.name == label.name) {
                continue;
            }
            all.push(Matcher::equal(label.name, label.value));
            added.push(label.name.to_string());
        }
        (all, added)
    }

    fn asked_for(&self, matchers: &[Matcher]) -> bool {
        self.settings.required_matchers.iter().all(|(name, value)| {
            matchers.iter().any(|m| {
                m.name == *name
                    && m.match_type == crate::model::MatchType::Equal
                    && m.value == *value
            })
        })
    }
}

/// A [`Queryable`] over a [`RemoteReadClient`].
#[derive(Clone)]
pub struct RemoteReadQueryable {
    client: Arc<RemoteReadClient>,
    runtime: tokio::runtime::Handle,
}

impl RemoteReadQueryable {
    /// Requests run on `runtime` (a multi-threaded runtime; selects wait on
    /// a blocking thread for them).
    pub fn new(client: Arc<RemoteReadClient>, runtime: tokio::runtime::Handle) -> Self {
        RemoteReadQueryable { client, runtime }
    }
}

impl Queryable for RemoteReadQueryable {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>, StorageError> {
        Ok(Box::new(RemoteReadQuerier {
            queryable: self.clone(),
            mint,
            maxt,
        }))
    }
}

struct RemoteReadQuerier {
    queryable: RemoteReadQueryable,
    mint: i64,
    maxt: i64,
}

/// Runs `future` on `runtime` and waits for it from a synchronous caller
/// (`None` when the runtime dropped it).
pub(crate) fn wait_on<T: Send + 'static>(
    runtime: &tokio::runtime::Handle,
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv().ok()
}

impl Querier for RemoteReadQuerier {
    fn select(
        &self,
        _sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet> {
        let client = self.queryable.client.clone();
        if !client.asked_for(matchers) {
            return Box::new(VecSeriesSet::new(Vec::new()));
        }
        let (matchers, added) = client.with_external_labels(matchers);
        let request = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: self.mint,
                end_timestamp_ms: self.maxt,
                matchers: matchers_to_proto(&matchers),
                hints: hints.map(|h| ReadHints {
                    step_ms: h.step,
                    func: h.func.clone().unwrap_or_default(),
                    start_ms: h.start,
                    end_ms: h.end,
                    grouping: h.grouping.clone(),
                    by: h.by,
                    range_ms: h.range,
                }),
            }],
            accepted_response_types: vec![ResponseType::Samples as i32],
        };
        let outcome = wait_on(&self.queryable.runtime, async move {
            client.read(&request).await
        });
        let response = match outcome {
            Some(Ok(response)) => response,
            Some(Err(error)) => return Box::new(VecSeriesSet::failed(error)),
            None => return Box::new(VecSeriesSet::failed(StorageError::Closed)),
        };
        let mut series: Vec<(Labels, Vec<(i64, f64)>)> = response
            .results
            .into_iter()
            .flat_map(|r| r.timeseries)
            .map(|ts| {
                let samples = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
                let labels = labels_from_proto(&ts.labels);
                let labels = if added.is_empty() {
                    labels
                } else {
                    labels.without(&added)
                };
                (labels, samples)
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let boxed = series
            .into_iter()
            .map(|(labels, samples)| Box::new(VecSeries::new(labels, samples)) as Box<dyn Series>)
            .collect();
        Box::new(VecSeriesSet::new(boxed))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut set = self.select(false, None, matchers);
        let mut values = std::collections::BTreeSet::new();
        while let Some(series) = set.next() {
            if let Some(value) = series.labels().get(name) {
                values.insert(value.to_string());
            }
        }
        if let Some(error) = set.err() {
            return Err(error);
        }
        Ok(values.into_iter().collect())
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError> {
        let mut set = self.select(false, None, matchers);
        let mut names = std::collections::BTreeSet::new();
        while let Some(series) = set.next() {
            for label in series.labels().iter() {
                names.insert(label.name.to_string());
            }
        }
        if let Some(error) = set.err() {
            return Err(error);
        }
        Ok(names.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Appendable;
    use crate::storage::memory::MemStorage;
    use crate::web::remote_api::{RemoteApiState, router};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Serves remote read over `store` on a loopback port.
    fn serve(runtime: &tokio::runtime::Runtime, store: MemStorage) -> std::net::SocketAddr {
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            let app = router(RemoteApiState {
                receiver: None,
                queryable: Arc::new(store),
                local_queryable: None,
                read_sample_limit: 0,
                read_concurrency: None,
            });
            tokio::spawn(async move { axum::serve(listener, app).await });
            address
        })
    }

    /// A queryable reading `url` with `external_labels` filtered.
    fn read_queryable(
        runtime: &tokio::runtime::Runtime,
        url: &str,
        external_labels: Labels,
    ) -> RemoteReadQueryable {
        let client = RemoteReadClient::new(ReadClientSettings {
            name: "remote".into(),
            url: url.to_string(),
            timeout: Duration::from_secs(2),
            headers: BTreeMap::new(),
            http_client: HttpClientConfig::default(),
            required_matchers: BTreeMap::new(),
            external_labels,
        })
        .unwrap();
        RemoteReadQueryable::new(Arc::new(client), runtime.handle().clone())
    }

    #[test]
    fn external_labels_filter_the_read_and_leave_the_answer() {
        let runtime = runtime();
        let store = MemStorage::new();
        let mut app = store.appender();
        for region in ["eu", "us"] {
            let labels = Labels::from_pairs(&[("__name__", "m"), ("region", region)]);
            app.append(&labels, 1000, 1.0).unwrap();
        }
        app.commit().unwrap();
        let address = serve(&runtime, store);
        let queryable = read_queryable(
            &runtime,
            &format!("http://{address}/api/v1/read"),
            Labels::from_pairs(&[("region", "eu")]),
        );
        let querier = queryable.querier(0, 2000).unwrap();
        let names = |matchers: &[Matcher]| {
            let mut set = querier.select(true, None, matchers);
            let mut out = Vec::new();
            while let Some(series) = set.next() {
                out.push(series.labels().clone());
            }
            out
        };
        assert_eq!(
            names(&[Matcher::equal("__name__", "m")]),
            vec![Labels::from_pairs(&[("__name__", "m")])],
            "only this node's region is read, and its label is taken off"
        );
        assert_eq!(
            names(&[
                Matcher::equal("__name__", "m"),
                Matcher::equal("region", "us")
            ]),
            vec![Labels::from_pairs(&[("__name__", "m"), ("region", "us")])],
            "a query naming the label is sent as written"
        );
    }

    #[test]
    fn reads_back_over_real_http() {
        let runtime = runtime();
        let store = MemStorage::new();
        let labels = Labels::from_pairs(&[("__name__", "remote_metric"), ("job", "far")]);
        let mut app = store.appender();
        for t in 0..5 {
            app.append(&labels, t * 1000, t as f64).unwrap();
        }
        app.commit().unwrap();
        let address = serve(&runtime, store.clone());
        let queryable = read_queryable(
            &runtime,
            &format!("http://{address}/api/v1/read"),
            Labels::empty(),
        );
        let querier = queryable.querier(1000, 3000).unwrap();
        let mut set = querier.select(true, None, &[Matcher::equal("job", "far")]);
        let series = set.next().expect("one series");
        assert_eq!(series.labels(), &labels);
        let mut it = series.iter();
        let mut got = Vec::new();
        while let Some(sample) = it.next() {
            got.push(sample);
        }
        assert_eq!(got, vec![(1000, 1.0), (2000, 2.0), (3000, 3.0)]);
        assert_eq!(
            querier
                .label_values("job", &[Matcher::equal("__name__", "remote_metric")])
                .unwrap(),
            vec!["far"]
        );

        // A dead endpoint is an error of the series set, not a panic.
        let dead = read_queryable(&runtime, "http://127.0.0.1:1/api/v1/read", Labels::empty());
        let mut set = dead
            .querier(0, 1)
            .unwrap()
            .select(true, None, &[Matcher::equal("a", "b")]);
        assert!(set.next().is_none());
        assert!(matches!(set.err(), Some(StorageError::Remote(_))));
    }
}
