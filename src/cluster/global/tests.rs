use std::time::Instant;

use super::*;
use crate::model::{Labels, Matcher};
use crate::storage::memory::MemStorage;
use crate::storage::{Appendable, Queryable, SeriesSet};
use crate::web::remote_api::{RemoteApiState, router};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A series as label pairs and samples.
type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);
/// Series read back, and the warnings.
type Selected = (Vec<(Labels, Vec<(i64, f64)>)>, Vec<String>);

fn store(series: &[SeriesSpec]) -> MemStorage {
    let store = MemStorage::new();
    let mut appender = store.appender();
    for (labels, samples) in series {
        let labels = Labels::from_pairs(labels);
        for &(t, v) in *samples {
            appender.append(&labels, t, v).expect("append");
        }
    }
    appender.commit().expect("commit");
    store
}

/// Serves remote read on a loopback port: `whole` without `local=true`,
/// `local` with it. Returns `host:port`.
fn serve_peer(runtime: &tokio::runtime::Runtime, whole: MemStorage, local: MemStorage) -> String {
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let app = router(RemoteApiState {
            receiver: None,
            queryable: Arc::new(whole),
            local_queryable: Some(Arc::new(local)),
            read_sample_limit: 0,
            read_concurrency: None,
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        address
    })
}

/// Accepts connections and never answers.
fn serve_silent(runtime: &tokio::runtime::Runtime) -> String {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        address
    })
}

fn view(members: &[(&str, &str)]) -> ClusterView {
    ClusterView::new(
        members
            .iter()
            .map(|(id, address)| Member::new(*id, *address))
            .collect(),
    )
}

fn global_over(
    local: MemStorage,
    runtime: &tokio::runtime::Runtime,
    timeout: Duration,
) -> GlobalQueryView {
    let fanout = Arc::new(FanoutQueryable::new(Arc::new(local), Vec::new()));
    GlobalQueryView::new(fanout, "me", timeout, runtime.handle().clone()).expect("view")
}

/// Every series of the selection with its samples, and the warnings.
fn select_all(queryable: &dyn Queryable, matcher: Matcher) -> Selected {
    let querier = queryable.querier(0, 10_000).expect("querier");
    let mut set: Box<dyn SeriesSet> = querier.select(true, None, &[matcher]);
    let mut out = Vec::new();
    while let Some(series) = set.next() {
        let mut samples = Vec::new();
        let mut it = series.iter();
        while let Some(sample) = it.next() {
            samples.push(sample);
        }
        out.push((series.labels().clone(), samples));
    }
    assert!(set.err().is_none(), "{:?}", set.err());
    (out, set.warnings())
}

#[test]
fn peers_are_merged_with_overlaps_deduplicated_and_asked_for_their_local_shard_only() {
    // The peer's copy of the scrape at 2000 ms came 3 ms later: one sample.
    let runtime = runtime();
    let local = store(&[(
        &[("__name__", "m"), ("t", "1")],
        &[(1000, 1.0), (2000, 2.0)],
    )]);
    let peer_shard: &[SeriesSpec] = &[
        (
            &[("__name__", "m"), ("t", "1")],
            &[(2003, 2.0), (3000, 3.0)],
        ),
        (&[("__name__", "m"), ("t", "2")], &[(10, 5.0)]),
    ];
    let mut peer_whole = peer_shard.to_vec();
    let marker: &[(&str, &str)] = &[("__name__", "m"), ("t", "global-only")];
    peer_whole.push((marker, &[(10, 9.0)]));
    let peer = serve_peer(&runtime, store(&peer_whole), store(peer_shard));
    let global = global_over(local, &runtime, Duration::from_secs(5));
    global.apply_view(&view(&[("me", "127.0.0.1:1"), ("p", &peer)]));
    assert_eq!(
        global.peers(),
        HashMap::from([("p".to_string(), peer.clone())])
    );

    let (series, warnings) = select_all(&global, Matcher::equal("__name__", "m"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        series,
        vec![
            (
                Labels::from_pairs(&[("__name__", "m"), ("t", "1")]),
                vec![(1000, 1.0), (2000, 2.0), (3000, 3.0)]
            ),
            (
                Labels::from_pairs(&[("__name__", "m"), ("t", "2")]),
                vec![(10, 5.0)]
            ),
        ],
        "the peer's global-only series must not come back: the peer is asked with local=true"
    );
}

#[test]
fn a_down_peer_gives_a_partial_answer_with_a_warning() {
    let runtime = runtime();
    let local = store(&[(&[("__name__", "m")], &[(10, 1.0)])]);
    let global = global_over(local, &runtime, Duration::from_secs(5));
    global.apply_view(&view(&[("me", "x:1"), ("gone", "127.0.0.1:1")]));
    let (series, warnings) = select_all(&global, Matcher::equal("__name__", "m"));
    assert_eq!(series.len(), 1);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("cluster peer gone") && w.contains("partial")),
        "{warnings:?}"
    );
    let querier = global.querier(0, 10_000).expect("querier");
    assert_eq!(querier.label_names(&[]).expect("names"), vec!["__name__"]);
    assert!(
        querier
            .label_warnings()
            .iter()
            .any(|w| w.contains("cluster peer gone")),
        "label calls are partial with a warning too: {:?}",
        querier.label_warnings()
    );
}

#[test]
fn a_slow_peer_is_cut_off_at_the_peer_timeout() {
    let runtime = runtime();
    let local = store(&[(&[("__name__", "m")], &[(10, 1.0)])]);
    let silent = serve_silent(&runtime);
    let global = global_over(local, &runtime, Duration::from_millis(300));
    global.apply_view(&view(&[("me", "x:1"), ("slow", &silent)]));
    let started = Instant::now();
    let (series, warnings) = select_all(&global, Matcher::equal("__name__", "m"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(series.len(), 1);
    assert!(
        warnings.iter().any(|w| w.contains("cluster peer slow")),
        "{warnings:?}"
    );
}

#[test]
fn several_slow_peers_are_waited_for_in_parallel() {
    let runtime = runtime();
    let local = store(&[(&[("__name__", "m")], &[(10, 1.0)])]);
    let global = global_over(local, &runtime, Duration::from_millis(400));
    let members: Vec<(String, String)> = (0..5)
        .map(|i| (format!("slow{i}"), serve_silent(&runtime)))
        .chain([("me".to_string(), "x:1".to_string())])
        .collect();
    let members: Vec<(&str, &str)> = members
        .iter()
        .map(|(id, address)| (id.as_str(), address.as_str()))
        .collect();
    global.apply_view(&view(&members));
    let started = Instant::now();
    let (_, warnings) = select_all(&global, Matcher::equal("__name__", "m"));
    assert_eq!(warnings.len(), 5, "{warnings:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "5 peers × 400 ms took {:?}: not asked in parallel",
        started.elapsed()
    );
}

#[test]
fn view_changes_replace_the_peers_and_keep_the_remote_read_sources() {
    let runtime = runtime();
    let global = global_over(MemStorage::new(), &runtime, Duration::from_secs(5))
        .with_departed_retention(Duration::ZERO);
    let archive = store(&[(&[("__name__", "archived")], &[(10, 1.0)])]);
    global.set_remote_read(vec![Secondary {
        queryable: Arc::new(archive),
        name: "archive".to_string(),
        complete_from: None,
    }]);
    let a = serve_peer(
        &runtime,
        MemStorage::new(),
        store(&[(&[("__name__", "from_a")], &[(10, 1.0)])]),
    );
    let b = serve_peer(
        &runtime,
        MemStorage::new(),
        store(&[(&[("__name__", "from_b")], &[(10, 1.0)])]),
    );
    let names = |global: &GlobalQueryView| -> Vec<String> {
        let (series, _) = select_all(
            global,
            Matcher::new(crate::model::MatchType::Regex, "__name__", ".+").expect("regex"),
        );
        series
            .into_iter()
            .map(|(labels, _)| labels.get_or_empty("__name__").to_string())
            .collect()
    };

    global.apply_view(&view(&[("me", "x:1"), ("a", &a), ("b", &b)]));
    assert_eq!(names(&global), vec!["archived", "from_a", "from_b"]);

    global.apply_view(&view(&[("me", "x:1"), ("b", &b)]));
    assert_eq!(names(&global), vec!["archived", "from_b"]);
    assert_eq!(global.peers().len(), 1);

    // A view without this node (its lease expired) still reads the peers.
    global.apply_view(&view(&[("a", &a)]));
    assert_eq!(names(&global), vec!["archived", "from_a"]);
}

#[test]
fn peer_read_urls() {
    let cases = [
        (
            "10.0.0.1:9090",
            "http://10.0.0.1:9090/api/v1/read?local=true",
        ),
        ("http://h:1/", "http://h:1/api/v1/read?local=true"),
        ("https://h:1", "https://h:1/api/v1/read?local=true"),
    ];
    for (address, url) in cases {
        assert_eq!(peer_read_url(address), url, "{address}");
    }
}

#[test]
fn a_peer_that_left_the_view_is_still_asked_for_a_while_best_effort() {
    let runtime = runtime();
    let global = global_over(MemStorage::new(), &runtime, Duration::from_secs(5))
        .with_departed_retention(Duration::from_millis(800));
    let history = store(&[(&[("__name__", "history")], &[(1000, 1.0)])]);
    let away = serve_peer(&runtime, MemStorage::new(), history);
    let dead = format!("127.0.0.1:{}", {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    });
    global.apply_view(&view(&[("me", "x:1"), ("away", &away), ("dead", &dead)]));
    let (_, warnings) = select_all(&global, Matcher::equal("__name__", "history"));
    assert_eq!(warnings.len(), 1, "a dead member warns: {warnings:?}");

    // Both leave the view (leases expired while etcd stalled, say).
    global.apply_view(&view(&[("me", "x:1")]));
    assert!(global.peers().is_empty(), "departed peers are not members");
    let (series, warnings) = select_all(&global, Matcher::equal("__name__", "history"));
    assert_eq!(series.len(), 1, "the departed peer's shard still answers");
    assert!(
        warnings.is_empty(),
        "a departed peer fails silently: {warnings:?}"
    );

    // Back in the view: asked as a member again.
    global.apply_view(&view(&[("me", "x:1"), ("away", &away)]));
    assert_eq!(global.peers().len(), 1);

    // Gone for longer than the retention: no longer asked.
    global.apply_view(&view(&[("me", "x:1")]));
    std::thread::sleep(Duration::from_millis(900));
    let (series, _) = select_all(&global, Matcher::equal("__name__", "history"));
    assert!(series.is_empty(), "{series:?}");
}

/// Serves remote read (counting reads) and the two label endpoints, which
/// answer from `shard` only with `local=true` and record their queries.
fn serve_peer_with_label_api(
    runtime: &tokio::runtime::Runtime,
    shard: MemStorage,
) -> (
    String,
    Arc<parking_lot::Mutex<Vec<String>>>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    use axum::extract::{Path, RawQuery};
    let queries = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let shard = Arc::new(shard);
    let address = runtime.block_on({
        let (queries, reads, shard) = (queries.clone(), reads.clone(), shard.clone());
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let address = listener.local_addr().expect("address").to_string();
            let answer = move |name: Option<String>, query: Option<String>| {
                let query = query.unwrap_or_default();
                queries.lock().push(query.clone());
                if !query.contains("local=true") {
                    return axum::Json(serde_json::json!({"status": "error"}));
                }
                let querier = shard.querier(i64::MIN, i64::MAX).expect("querier");
                let data = match name {
                    Some(name) => querier.label_values(&name, &[]).expect("values"),
                    None => querier.label_names(&[]).expect("names"),
                };
                axum::Json(serde_json::json!({"status": "success", "data": data}))
            };
            let names = answer.clone();
            let app = router(RemoteApiState {
                receiver: None,
                queryable: Arc::new(MemStorage::new()),
                local_queryable: Some(Arc::new(MemStorage::new())),
                read_sample_limit: 0,
                read_concurrency: None,
            })
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let reads = reads.clone();
                    async move {
                        if request.uri().path() == "/api/v1/read" {
                            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        next.run(request).await
                    }
                },
            ))
            .route(
                "/api/v1/labels",
                axum::routing::get(move |RawQuery(query): RawQuery| {
                    let names = names.clone();
                    async move { names(None, query) }
                }),
            )
            .route(
                "/api/v1/label/{name}/values",
                axum::routing::get(move |Path(name): Path<String>, RawQuery(query): RawQuery| {
                    let answer = answer.clone();
                    async move { answer(Some(name), query) }
                }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
            address
        }
    });
    (address, queries, reads)
}

#[test]
fn label_queries_ask_the_peers_label_endpoints_not_their_samples() {
    let runtime = runtime();
    let local = store(&[(&[("__name__", "m"), ("here", "1")], &[(2_000, 1.0)])]);
    let shard = store(&[(&[("__name__", "peer_metric"), ("there", "2")], &[(10, 1.0)])]);
    let (peer, queries, reads) = serve_peer_with_label_api(&runtime, shard);
    let global = global_over(local, &runtime, Duration::from_secs(5));
    global.apply_view(&view(&[("me", "127.0.0.1:1"), ("p", &peer)]));

    let querier = global.querier(1_000, 5_500).expect("querier");
    assert_eq!(
        querier.label_names(&[]).expect("names"),
        vec!["__name__", "here", "there"]
    );
    assert_eq!(
        querier
            .label_values("__name__", &[Matcher::equal("there", "2")])
            .expect("values"),
        vec!["peer_metric"],
        "the local series lacks there=\"2\""
    );
    assert!(
        querier.label_warnings().is_empty(),
        "{:?}",
        querier.label_warnings()
    );
    assert_eq!(
        reads.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no remote read for labels"
    );
    let queries = queries.lock().clone();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert_eq!(queries[0], "start=1.000&end=5.500&local=true");
    assert!(
        queries[1].contains("match%5B%5D=%7Bthere%3D%222%22%7D"),
        "the matchers go as match[]: {queries:?}"
    );
}
