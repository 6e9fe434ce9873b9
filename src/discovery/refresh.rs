//! The loop of the polling mechanisms (HTTP, DNS), as Prometheus's
//! `refresh.Discovery`: refresh now and every interval, and publish only
//! when the groups changed.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::TargetGroup;

/// A mechanism that is polled.
#[async_trait::async_trait]
pub trait Refresh: Send {
    /// The current groups (a failing mechanism returns its last good ones).
    async fn refresh(&mut self) -> Vec<TargetGroup>;
}

/// Refreshes `provider` now and every `interval` (at least 10 ms) until
/// `cancel`, calling `publish` when the groups differ from the last
/// published.
pub async fn run<R: Refresh>(
    mut provider: R,
    interval: Duration,
    publish: impl Fn(Vec<TargetGroup>) + Send,
    cancel: CancellationToken,
) {
    let interval = interval.max(Duration::from_millis(10));
    let mut published: Option<Vec<TargetGroup>> = None;
    loop {
        let groups = tokio::select! {
            _ = cancel.cancelled() => return,
            groups = provider.refresh() => groups,
        };
        if published.as_ref() != Some(&groups) {
            publish(groups.clone());
            published = Some(groups);
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
