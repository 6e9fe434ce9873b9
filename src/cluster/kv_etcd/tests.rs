use super::*;
use crate::cluster::kv_conformance;
use crate::cluster::test_etcd::EtcdServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_kv_passes_the_conformance_suite() {
    let server = EtcdServer::start().await;
    let kv = server.client().await;
    kv_conformance::run_all(&kv, "/conformance").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_as_unavailable_while_etcd_is_down_and_work_after() {
    let mut server = EtcdServer::start().await;
    let kv = server.client().await;
    let mut watch = kv.watch_prefix("/outage/", 0).await.expect("watch");
    server.stop();
    let error = kv.put("/outage/a", b"1".to_vec(), None).await;
    assert!(matches!(error, Err(KvError::Unavailable(_))), "{error:?}");
    // The open watch ends (possibly after one error item).
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(item) = watch.next().await {
            if item.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "watch did not end when etcd went away");
    server.resume().await;
    assert!(kv.put("/outage/a", b"1".to_vec(), None).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_built_while_etcd_is_down_works_once_it_is_up() {
    let mut server = EtcdServer::start().await;
    server.stop();
    let kv = server.client().await;
    assert!(matches!(
        kv.get_prefix("/late/").await,
        Err(KvError::Unavailable(_))
    ));
    server.resume().await;
    assert!(kv.get_prefix("/late/").await.is_ok());
}
