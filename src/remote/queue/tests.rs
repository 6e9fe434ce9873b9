use super::*;
use crate::remote::codec;
use crate::remote::proto::WriteRequest;
use async_trait::async_trait;
use std::collections::VecDeque;

/// A recording client that answers from a script of outcomes, then Ok.
struct ScriptedClient {
    script: Mutex<VecDeque<Result<(), WriteClientError>>>,
    received: Mutex<Vec<WriteRequest>>,
    attempts: AtomicU64,
}

impl ScriptedClient {
    fn new(script: Vec<Result<(), WriteClientError>>) -> Arc<Self> {
        Arc::new(ScriptedClient {
            script: Mutex::new(script.into()),
            received: Mutex::new(Vec::new()),
            attempts: AtomicU64::new(0),
        })
    }

    fn samples_of(&self, name: &str) -> Vec<(i64, f64)> {
        self.received
            .lock()
            .iter()
            .flat_map(|r| r.timeseries.iter())
            .filter(|s| {
                s.labels
                    .iter()
                    .any(|l| l.name == "__name__" && l.value == name)
            })
            .flat_map(|s| s.samples.iter().map(|p| (p.timestamp, p.value)))
            .collect()
    }
}

#[async_trait]
impl WriteClient for ScriptedClient {
    async fn store(&self, body: Vec<u8>, _attempt: u32) -> Result<(), WriteClientError> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let outcome = self.script.lock().pop_front().unwrap_or(Ok(()));
        if outcome.is_ok() {
            self.received
                .lock()
                .push(codec::decode(&body).expect("valid body"));
        }
        outcome
    }
    fn name(&self) -> &str {
        "test"
    }
    fn endpoint(&self) -> &str {
        "http://test"
    }
}

fn settings() -> QueueSettings {
    QueueSettings {
        capacity: 100,
        min_shards: 2,
        max_shards: 4,
        max_samples_per_send: 10,
        batch_send_deadline: Duration::from_millis(20),
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

fn queue(client: Arc<ScriptedClient>, relabel: Vec<RelabelConfig>) -> Arc<QueueManager> {
    let metrics = RemoteMetrics::new(&prometheus::Registry::new()).unwrap();
    let external = Labels::from_pairs(&[("cluster", "eu"), ("job", "ignored")]);
    QueueManager::new(client, settings(), relabel, external, metrics)
}

fn pos(offset: u64) -> WalPosition {
    WalPosition { segment: 0, offset }
}

async fn drained(queue: &QueueManager) {
    for _ in 0..500 {
        if queue.pending() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("queue did not drain: {} pending", queue.pending());
}

#[tokio::test]
async fn delivers_in_order_with_external_labels_across_reshards() {
    let client = ScriptedClient::new(vec![]);
    let queue = queue(client.clone(), vec![]);
    let names: Vec<(u64, Labels)> = (0..20)
        .map(|i| {
            (
                i,
                Labels::from_pairs(&[("__name__", format!("m{i}").as_str()), ("job", "j")]),
            )
        })
        .collect();
    queue.store_series(&names, 0);
    for step in 0..50i64 {
        let samples: Vec<RefSample> = (0..20)
            .map(|i| RefSample {
                series: i,
                t: step,
                v: step as f64,
            })
            .collect();
        queue
            .append(
                &samples,
                pos(step as u64 * 100),
                pos(step as u64 * 100 + 99),
            )
            .await;
        if step == 20 {
            queue.reshard(4).await;
        }
        if step == 35 {
            queue.reshard(1).await;
        }
    }
    drained(&queue).await;
    for i in 0..20 {
        let got = client.samples_of(&format!("m{i}"));
        let want: Vec<(i64, f64)> = (0..50).map(|s| (s, s as f64)).collect();
        assert_eq!(got, want, "series m{i} complete and in order");
    }
    let request = &client.received.lock()[0];
    let labels = &request.timeseries[0].labels;
    assert!(
        labels
            .iter()
            .any(|l| l.name == "cluster" && l.value == "eu"),
        "external label added"
    );
    assert!(
        labels.iter().any(|l| l.name == "job" && l.value == "j"),
        "the series' own label wins"
    );
    assert_eq!(queue.resume_position(), Some(pos(49 * 100 + 99)));
}

#[tokio::test]
async fn recoverable_errors_are_retried_and_non_recoverable_dropped() {
    let client = ScriptedClient::new(vec![
        Err(WriteClientError::Recoverable {
            message: "500".into(),
            retry_after: None,
        }),
        Err(WriteClientError::Recoverable {
            message: "429".into(),
            retry_after: Some(Duration::from_millis(30)),
        }),
        Ok(()),
        Err(WriteClientError::NonRecoverable {
            message: "400".into(),
        }),
    ]);
    let queue = queue(client.clone(), vec![]);
    queue.store_series(&[(1, Labels::from_pairs(&[("__name__", "x")]))], 0);
    let started = Instant::now();
    queue
        .append(
            &[RefSample {
                series: 1,
                t: 1,
                v: 1.0,
            }],
            pos(0),
            pos(10),
        )
        .await;
    drained(&queue).await;
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "Retry-After honoured"
    );
    assert_eq!(client.samples_of("x"), vec![(1, 1.0)]);
    assert_eq!(client.attempts.load(Ordering::Relaxed), 3);
    queue
        .append(
            &[RefSample {
                series: 1,
                t: 2,
                v: 2.0,
            }],
            pos(10),
            pos(20),
        )
        .await;
    drained(&queue).await;
    assert_eq!(
        client.samples_of("x"),
        vec![(1, 1.0)],
        "the 400 batch is dropped, not retried"
    );
    assert_eq!(client.attempts.load(Ordering::Relaxed), 4);
    assert_eq!(
        queue.resume_position(),
        Some(pos(20)),
        "a dropped batch is done too (counted as failed)"
    );
}

#[tokio::test]
async fn unsent_samples_hold_the_resume_position_back() {
    let failing: Vec<_> = (0..10_000)
        .map(|_| {
            Err(WriteClientError::Recoverable {
                message: "down".into(),
                retry_after: None,
            })
        })
        .collect();
    let client = ScriptedClient::new(failing);
    let queue = queue(client.clone(), vec![]);
    queue.store_series(&[(1, Labels::from_pairs(&[("__name__", "x")]))], 0);
    queue
        .append(
            &[RefSample {
                series: 1,
                t: 1,
                v: 1.0,
            }],
            pos(5),
            pos(9),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        queue.resume_position(),
        Some(pos(5)),
        "record 5 is not done while its sample is unsent"
    );
    queue.stop(Duration::from_millis(20)).await;
    assert_eq!(
        queue.resume_position(),
        Some(pos(5)),
        "after a hard stop it is re-read on restart"
    );
    assert!(client.samples_of("x").is_empty());
}

#[tokio::test]
async fn write_relabel_drops_are_counted() {
    let client = ScriptedClient::new(vec![]);
    let drop_debug = RelabelConfig {
        source_labels: vec!["__name__".into()],
        regex: crate::model::relabel::RelabelRegex::new("debug_.*").unwrap(),
        action: crate::model::relabel::Action::Drop,
        ..Default::default()
    };
    let queue = queue(client.clone(), vec![drop_debug]);
    queue.store_series(
        &[
            (1, Labels::from_pairs(&[("__name__", "debug_x")])),
            (2, Labels::from_pairs(&[("__name__", "kept")])),
        ],
        0,
    );
    queue
        .append(
            &[
                RefSample {
                    series: 1,
                    t: 1,
                    v: 1.0,
                },
                RefSample {
                    series: 2,
                    t: 1,
                    v: 2.0,
                },
                RefSample {
                    series: 3,
                    t: 1,
                    v: 3.0,
                },
            ],
            pos(0),
            pos(1),
        )
        .await;
    drained(&queue).await;
    assert_eq!(client.samples_of("kept"), vec![(1, 2.0)]);
    assert!(client.samples_of("debug_x").is_empty());
    let dropped = queue
        .context
        .metrics
        .samples_dropped
        .with_label_values(&["test", "http://test"])
        .get();
    assert_eq!(dropped, 2.0, "one relabel drop and one unknown series");
}

#[tokio::test]
async fn series_a_checkpoint_dropped_are_forgotten_and_live_ones_still_send() {
    let client = ScriptedClient::new(vec![]);
    let queue = queue(client.clone(), vec![]);
    // Churn: 1,000 short-lived series seen in segment 3, then 10 that live
    // on, seen in segment 7.
    let churned: Vec<(u64, Labels)> = (0..1_000)
        .map(|n| {
            (
                n,
                Labels::from_pairs(&[("__name__", format!("churn_{n}").as_str())]),
            )
        })
        .collect();
    queue.store_series(&churned, 3);
    let live: Vec<(u64, Labels)> = (1_000..1_010)
        .map(|n| {
            (
                n,
                Labels::from_pairs(&[("__name__", format!("live_{n}").as_str())]),
            )
        })
        .collect();
    queue.store_series(&live, 7);
    assert_eq!(queue.known_series(), 1_010);
    // Checkpoint 6 keeps churned series 0 (still in the head); the watcher
    // stores what it kept as seen in it, then forgets the rest.
    queue.store_series(&churned[..1], 6);
    queue.forget_series_before(6);
    assert_eq!(queue.known_series(), 11, "the map shrinks back after churn");
    queue
        .append(
            &[
                RefSample {
                    series: 0,
                    t: 10,
                    v: 1.0,
                },
                RefSample {
                    series: 1_005,
                    t: 10,
                    v: 2.0,
                },
                RefSample {
                    series: 5,
                    t: 10,
                    v: 3.0,
                },
            ],
            pos(0),
            pos(1),
        )
        .await;
    drained(&queue).await;
    assert_eq!(client.samples_of("churn_0"), vec![(10, 1.0)]);
    assert_eq!(client.samples_of("live_1005"), vec![(10, 2.0)]);
    assert!(
        client.samples_of("churn_5").is_empty(),
        "a forgotten series' labels are gone"
    );
}
