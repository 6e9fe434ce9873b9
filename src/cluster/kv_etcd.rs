//! [`KvStore`] over a real etcd v3 cluster (the `etcd-client` crate).
//!
//! The client keeps one balanced gRPC channel over all endpoints and
//! reconnects by itself; a call made while etcd is unreachable fails with
//! [`KvError::Unavailable`] after the request timeout, and an open watch
//! ends, so membership resyncs once etcd is back.

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{
    Client, ConnectOptions, EventType, GetOptions, PutOptions, WatchOptions, WatchStream,
};
use futures::StreamExt;

use super::kv::{
    KeyValue, KvError, KvStore, LeaseId, PrefixSnapshot, Revision, WatchEvent, WatchEventStream,
};

/// A [`KvStore`] backed by etcd.
#[derive(Clone)]
pub struct EtcdKv {
    client: Client,
    request_timeout: Duration,
}

impl std::fmt::Debug for EtcdKv {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EtcdKv")
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// gRPC status codes (numeric, as the wire carries them) that mean the
/// request itself was refused; every other failure is worth a retry.
const GRPC_INVALID_ARGUMENT: i32 = 3;
const GRPC_PERMISSION_DENIED: i32 = 7;
const GRPC_UNAUTHENTICATED: i32 = 16;

fn map_error(error: etcd_client::Error) -> KvError {
    // etcd says so in a gRPC status on unary calls and in a keep-alive
    // error on the lease stream.
    if error.to_string().contains("lease not found") {
        return KvError::LeaseNotFound(0);
    }
    match error {
        etcd_client::Error::GRpcStatus(status) => {
            let message = status.message().to_string();
            let code = status.code() as i32;
            if message.contains("compacted") {
                KvError::Compacted {
                    compact_revision: 0,
                }
            } else if [
                GRPC_INVALID_ARGUMENT,
                GRPC_PERMISSION_DENIED,
                GRPC_UNAUTHENTICATED,
            ]
            .contains(&code)
            {
                KvError::Rejected(message)
            } else {
                KvError::Unavailable(message)
            }
        }
        etcd_client::Error::InvalidArgs(_) | etcd_client::Error::InvalidUri(_) => {
            KvError::Rejected(error.to_string())
        }
        other => KvError::Unavailable(other.to_string()),
    }
}

/// Names the lease in a not-found error (etcd's message carries no id).
fn with_lease(error: KvError, lease: LeaseId) -> KvError {
    match error {
        KvError::LeaseNotFound(_) => KvError::LeaseNotFound(lease),
        other => other,
    }
}

impl EtcdKv {
    /// Builds a client for `endpoints` (`http://host:port`). Does not wait
    /// for etcd to be reachable: calls fail with [`KvError::Unavailable`]
    /// until it is, and succeed once it is.
    pub async fn connect(
        endpoints: &[String],
        dial_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, KvError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(dial_timeout)
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3))
            .with_keep_alive_while_idle(true);
        let connecting = Client::connect(endpoints, Some(options));
        let client = match tokio::time::timeout(dial_timeout + request_timeout, connecting).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => return Err(map_error(error)),
            Err(_) => return Err(KvError::Unavailable("connecting to etcd timed out".into())),
        };
        Ok(Self {
            client,
            request_timeout,
        })
    }

    async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, KvError> {
        match tokio::time::timeout(self.request_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(map_error(error)),
            Err(_) => Err(KvError::Unavailable("etcd request timed out".to_string())),
        }
    }
}

fn convert_key_value(entry: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(entry.key()).into_owned(),
        value: entry.value().to_vec(),
        mod_revision: entry.mod_revision(),
        lease: entry.lease(),
    }
}

#[async_trait]
impl KvStore for EtcdKv {
    async fn grant_lease(&self, ttl: Duration) -> Result<LeaseId, KvError> {
        let seconds = ttl.as_secs().max(1) as i64;
        let mut client = self.client.clone();
        let response = self.timed(client.lease_grant(seconds, None)).await?;
        Ok(response.id())
    }

    async fn keep_alive(&self, lease: LeaseId) -> Result<Duration, KvError> {
        let mut client = self.client.clone();
        let once = async move {
            let (mut keeper, mut responses) = client.lease_keep_alive(lease).await?;
            keeper.keep_alive().await?;
            responses.message().await
        };
        match self.timed(once).await {
            Ok(Some(response)) if response.ttl() > 0 => {
                Ok(Duration::from_secs(response.ttl() as u64))
            }
            Ok(Some(_)) => Err(KvError::LeaseNotFound(lease)),
            Ok(None) => Err(KvError::Unavailable("keep-alive stream closed".to_string())),
            Err(error) => Err(with_lease(error, lease)),
        }
    }

    async fn revoke_lease(&self, lease: LeaseId) -> Result<(), KvError> {
        let mut client = self.client.clone();
        self.timed(client.lease_revoke(lease))
            .await
            .map(|_| ())
            .map_err(|error| with_lease(error, lease))
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> Result<Revision, KvError> {
        let mut client = self.client.clone();
        let options = lease.map(|id| PutOptions::new().with_lease(id));
        let response = self
            .timed(client.put(key, value, options))
            .await
            .map_err(|error| with_lease(error, lease.unwrap_or(0)))?;
        Ok(response.header().map(|h| h.revision()).unwrap_or(0))
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let mut client = self.client.clone();
        let response = self.timed(client.delete(key, None)).await?;
        Ok(response.deleted() > 0)
    }

    async fn get_prefix(&self, prefix: &str) -> Result<PrefixSnapshot, KvError> {
        let mut client = self.client.clone();
        let response = self
            .timed(client.get(prefix, Some(GetOptions::new().with_prefix())))
            .await?;
        let mut entries: Vec<KeyValue> = response.kvs().iter().map(convert_key_value).collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(PrefixSnapshot {
            entries,
            revision: response.header().map(|h| h.revision()).unwrap_or(0),
        })
    }

    async fn watch_prefix(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<WatchEventStream, KvError> {
        let mut client = self.client.clone();
        let mut options = WatchOptions::new().with_prefix();
        if start_revision > 0 {
            options = options.with_start_revision(start_revision);
        }
        let stream = self.timed(client.watch(prefix, Some(options))).await?;
        let state = WatchState {
            stream,
            pending: VecDeque::new(),
            finished: false,
        };
        Ok(futures::stream::unfold(state, next_watch_item).boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<(), KvError> {
        let mut client = self.client.clone();
        self.timed(client.compact(revision, None)).await.map(|_| ())
    }
}

struct WatchState {
    stream: WatchStream,
    pending: VecDeque<WatchEvent>,
    finished: bool,
}

/// Yields the next event, reading responses as needed; a compaction, a
/// cancellation or a transport error is yielded once, then the stream ends.
async fn next_watch_item(
    mut state: WatchState,
) -> Option<(Result<WatchEvent, KvError>, WatchState)> {
    loop {
        if let Some(event) = state.pending.pop_front() {
            return Some((Ok(event), state));
        }
        if state.finished {
            return None;
        }
        let response = match state.stream.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return None,
            Err(error) => {
                state.finished = true;
                return Some((Err(map_error(error)), state));
            }
        };
        if response.compact_revision() > 0 {
            state.finished = true;
            let error = KvError::Compacted {
                compact_revision: response.compact_revision(),
            };
            return Some((Err(error), state));
        }
        if response.canceled() {
            state.finished = true;
            let reason = response.cancel_reason().to_string();
            return Some((Err(KvError::Unavailable(reason)), state));
        }
        for event in response.events() {
            let Some(entry) = event.kv() else { continue };
            let converted = match event.event_type() {
                EventType::Put => WatchEvent::Put(convert_key_value(entry)),
                EventType::Delete => WatchEvent::Delete {
                    key: String::from_utf8_lossy(entry.key()).into_owned(),
                    revision: entry.mod_revision(),
                },
            };
            state.pending.push_back(converted);
        }
    }
}

#[cfg(test)]
mod tests;
