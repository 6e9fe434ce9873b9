use super::*;
use crate::model::{Labels, Matcher};
use crate::storage::{Appendable, Queryable};
use crate::tsdb::{Db, DbOptions};

fn open(dir: &std::path::Path) -> Arc<Db> {
    let db = Db::open(dir, DbOptions::default(), &prometheus::Registry::new()).unwrap();
    let mut appender = db.appender();
    for t in 0..10 {
        for job in ["a", "b"] {
            let labels = Labels::from_pairs(&[("__name__", "m"), ("job", job)]);
            appender.append(&labels, t * 1000, t as f64).unwrap();
        }
    }
    appender.commit().unwrap();
    db
}

use crate::web::testing::call_json as call;

fn sample_times(db: &Db, job: &str) -> Vec<i64> {
    let querier = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut set = querier.select(
        true,
        None,
        &[Matcher::equal("__name__", "m"), Matcher::equal("job", job)],
    );
    let mut out = Vec::new();
    while let Some(series) = set.next() {
        let mut iterator = series.iter();
        while let Some((t, _)) = iterator.next() {
            out.push(t);
        }
    }
    out
}

#[tokio::test]
async fn disabled_admin_api_answers_prometheus_unavailable_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(AdminApiState {
        storage: open(dir.path()),
        enabled: false,
    });
    for path in [
        "/api/v1/admin/tsdb/delete_series?match[]=m",
        "/api/v1/admin/tsdb/clean_tombstones",
        "/api/v1/admin/tsdb/snapshot",
    ] {
        let (status, body) = call(&app, "POST", path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            body,
            json!({"status": "error", "errorType": "unavailable", "error": "admin APIs disabled"})
        );
    }
}

#[tokio::test]
async fn delete_series_validates_and_deletes_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let app = router(AdminApiState {
        storage: db.clone(),
        enabled: true,
    });
    let bad = [
        (
            "/api/v1/admin/tsdb/delete_series",
            "no match[] parameter provided",
        ),
        (
            "/api/v1/admin/tsdb/delete_series?match[]=%7B",
            "invalid parameter \"match[]\"",
        ),
        (
            "/api/v1/admin/tsdb/delete_series?match[]=m&start=yesterday",
            "invalid parameter \"start\"",
        ),
    ];
    for (path, message) in bad {
        let (status, body) = call(&app, "POST", path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(body["errorType"], "bad_data");
        let error = body["error"].as_str().unwrap_or("");
        assert!(error.starts_with(message), "{path}: {error}");
    }
    let (status, _) = call(
        &app,
        "PUT",
        "/api/v1/admin/tsdb/delete_series?match[]=m%7Bjob%3D%22a%22%7D&start=2&end=4.5",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        sample_times(&db, "a"),
        vec![0, 1000, 5000, 6000, 7000, 8000, 9000]
    );
    assert_eq!(sample_times(&db, "b").len(), 10);
    // Without start and end: everything.
    let (status, _) = call(&app, "POST", "/api/v1/admin/tsdb/delete_series?match[]=m").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(sample_times(&db, "b").is_empty());
    let (status, _) = call(&app, "GET", "/api/v1/admin/tsdb/delete_series?match[]=m").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn snapshot_names_its_directory_and_checks_skip_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let app = router(AdminApiState {
        storage: db.clone(),
        enabled: true,
    });
    let (status, body) = call(&app, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorType"], "bad_data");

    let (status, body) = call(&app, "POST", "/api/v1/admin/tsdb/snapshot").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "success");
    let name = body["data"]["name"].as_str().unwrap_or("").to_string();
    let snapshot = dir.path().join("snapshots").join(&name);
    assert!(snapshot.is_dir(), "{name}");
    let copy = Db::open(
        &snapshot,
        DbOptions::default(),
        &prometheus::Registry::new(),
    )
    .unwrap();
    assert_eq!(
        sample_times(&copy, "a").len(),
        10,
        "head written as a block"
    );

    let (status, body) = call(&app, "POST", "/api/v1/admin/tsdb/snapshot?skip_head=true").await;
    assert_eq!(status, StatusCode::OK);
    let name = body["data"]["name"].as_str().unwrap_or("").to_string();
    let empty = dir.path().join("snapshots").join(name);
    assert_eq!(
        std::fs::read_dir(empty).unwrap().count(),
        0,
        "no blocks, head skipped"
    );

    let (status, _) = call(&app, "POST", "/api/v1/admin/tsdb/clean_tombstones").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
