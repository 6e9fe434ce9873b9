//! The conformance suite every [`KvStore`] passes: run against the in-memory
//! twin and a real etcd, so the twin cannot drift from what etcd does.

use std::time::Duration;

use futures::StreamExt;

use super::kv::{KvError, KvStore, WatchEvent, WatchEventStream};

const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every case, each under its own sub-prefix of `prefix`.
pub async fn run_all<K: KvStore>(kv: &K, prefix: &str) {
    put_get_and_delete_by_prefix(kv, &format!("{prefix}/crud/")).await;
    leased_keys_go_with_their_lease(kv, &format!("{prefix}/lease/")).await;
    unrefreshed_lease_expires_and_refreshed_one_stays(kv, &format!("{prefix}/expiry/")).await;
    watch_delivers_history_then_live_changes_in_order(kv, &format!("{prefix}/watch/")).await;
    watch_from_a_compacted_revision_fails_and_resync_works(kv, &format!("{prefix}/compact/")).await;
}

async fn next_event(stream: &mut WatchEventStream) -> WatchEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected a watch event, got {other:?}"),
    }
}

async fn put_get_and_delete_by_prefix<K: KvStore>(kv: &K, prefix: &str) {
    let first = kv
        .put(&format!("{prefix}b"), b"2".to_vec(), None)
        .await
        .expect("put b");
    let second = kv
        .put(&format!("{prefix}a"), b"1".to_vec(), None)
        .await
        .expect("put a");
    assert!(second > first, "revisions grow: {first} then {second}");
    kv.put(&format!("{prefix}x"), b"3".to_vec(), None)
        .await
        .expect("put x");
    // A key that shares the prefix text only up to its last character.
    kv.put(&prefix[..prefix.len() - 1], b"outside".to_vec(), None)
        .await
        .expect("put outside");

    let snapshot = kv.get_prefix(prefix).await.expect("get prefix");
    let keys: Vec<&str> = snapshot.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            format!("{prefix}a"),
            format!("{prefix}b"),
            format!("{prefix}x")
        ]
    );
    assert_eq!(snapshot.entries[0].value, b"1");
    assert_eq!(snapshot.entries[0].mod_revision, second);
    assert!(snapshot.revision >= second);

    kv.put(&format!("{prefix}a"), b"updated".to_vec(), None)
        .await
        .expect("update a");
    assert!(kv.delete(&format!("{prefix}x")).await.expect("delete x"));
    assert!(
        !kv.delete(&format!("{prefix}x"))
            .await
            .expect("delete x again")
    );
    let snapshot = kv.get_prefix(prefix).await.expect("get prefix again");
    let values: Vec<(&str, &[u8])> = snapshot
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_slice()))
        .collect();
    assert_eq!(
        values,
        vec![
            (format!("{prefix}a").as_str(), b"updated".as_slice()),
            (format!("{prefix}b").as_str(), b"2".as_slice())
        ]
    );
}

async fn leased_keys_go_with_their_lease<K: KvStore>(kv: &K, prefix: &str) {
    let lease = kv.grant_lease(Duration::from_secs(5)).await.expect("grant");
    kv.put(&format!("{prefix}held"), b"v".to_vec(), Some(lease))
        .await
        .expect("put with lease");
    kv.put(&format!("{prefix}free"), b"v".to_vec(), None)
        .await
        .expect("put without lease");
    let snapshot = kv.get_prefix(prefix).await.expect("get");
    assert_eq!(snapshot.entries.len(), 2);
    let held = snapshot
        .entries
        .iter()
        .find(|e| e.key.ends_with("held"))
        .expect("held key present");
    assert_eq!(held.lease, lease);
    let ttl = kv.keep_alive(lease).await.expect("keep alive");
    assert!(ttl >= Duration::from_secs(1), "ttl {ttl:?}");

    let mut watch = kv.watch_prefix(prefix, 0).await.expect("watch");
    kv.revoke_lease(lease).await.expect("revoke");
    match next_event(&mut watch).await {
        WatchEvent::Delete { key, .. } => assert_eq!(key, format!("{prefix}held")),
        other => panic!("expected the leased key's deletion, got {other:?}"),
    }
    let keys: Vec<String> = kv
        .get_prefix(prefix)
        .await
        .expect("get after revoke")
        .entries
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, vec![format!("{prefix}free")]);
    assert_eq!(
        kv.keep_alive(lease).await,
        Err(KvError::LeaseNotFound(lease))
    );
    assert_eq!(
        kv.put(&format!("{prefix}late"), b"v".to_vec(), Some(lease))
            .await,
        Err(KvError::LeaseNotFound(lease))
    );
}

async fn unrefreshed_lease_expires_and_refreshed_one_stays<K: KvStore>(kv: &K, prefix: &str) {
    let lapsing = kv
        .grant_lease(Duration::from_secs(2))
        .await
        .expect("grant lapsing");
    let kept = kv
        .grant_lease(Duration::from_secs(2))
        .await
        .expect("grant kept");
    kv.put(&format!("{prefix}lapsing"), b"v".to_vec(), Some(lapsing))
        .await
        .expect("put lapsing");
    kv.put(&format!("{prefix}kept"), b"v".to_vec(), Some(kept))
        .await
        .expect("put kept");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    loop {
        kv.keep_alive(kept).await.expect("keep alive kept lease");
        let keys: Vec<String> = kv
            .get_prefix(prefix)
            .await
            .expect("get")
            .entries
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert!(keys.contains(&format!("{prefix}kept")), "kept key lost");
        if !keys.contains(&format!("{prefix}lapsing")) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lease without keep-alive did not expire"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        kv.keep_alive(lapsing).await,
        Err(KvError::LeaseNotFound(lapsing))
    );
    kv.revoke_lease(kept).await.expect("revoke kept");
}

async fn watch_delivers_history_then_live_changes_in_order<K: KvStore>(kv: &K, prefix: &str) {
    let first = kv
        .put(&format!("{prefix}one"), b"1".to_vec(), None)
        .await
        .expect("put one");
    kv.put("/elsewhere/not-watched", b"x".to_vec(), None)
        .await
        .expect("put elsewhere");
    kv.put(&format!("{prefix}two"), b"2".to_vec(), None)
        .await
        .expect("put two");
    let mut watch = kv.watch_prefix(prefix, first).await.expect("watch");
    let replayed_one = next_event(&mut watch).await;
    let replayed_two = next_event(&mut watch).await;
    assert_eq!(replayed_one.key(), format!("{prefix}one"));
    assert_eq!(replayed_one.revision(), first);
    assert_eq!(replayed_two.key(), format!("{prefix}two"));

    kv.delete(&format!("{prefix}one"))
        .await
        .expect("delete one");
    let deleted_at = kv
        .put(&format!("{prefix}three"), b"3".to_vec(), None)
        .await
        .expect("put three");
    match next_event(&mut watch).await {
        WatchEvent::Delete { key, revision } => {
            assert_eq!(key, format!("{prefix}one"));
            assert!(revision > replayed_two.revision());
        }
        other => panic!("expected delete, got {other:?}"),
    }
    match next_event(&mut watch).await {
        WatchEvent::Put(entry) => {
            assert_eq!(entry.key, format!("{prefix}three"));
            assert_eq!(entry.value, b"3");
            assert_eq!(entry.mod_revision, deleted_at);
        }
        other => panic!("expected put, got {other:?}"),
    }
}

async fn watch_from_a_compacted_revision_fails_and_resync_works<K: KvStore>(kv: &K, prefix: &str) {
    let old = kv
        .put(&format!("{prefix}a"), b"1".to_vec(), None)
        .await
        .expect("put a");
    kv.put(&format!("{prefix}b"), b"2".to_vec(), None)
        .await
        .expect("put b");
    let latest = kv
        .put(&format!("{prefix}c"), b"3".to_vec(), None)
        .await
        .expect("put c");
    kv.compact(latest).await.expect("compact");
    match kv.watch_prefix(prefix, old).await {
        Err(error) => assert!(matches!(error, KvError::Compacted { .. }), "{error:?}"),
        Ok(mut stream) => match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
            Ok(Some(Err(KvError::Compacted { compact_revision }))) => {
                assert_eq!(compact_revision, latest);
            }
            other => panic!("expected a compaction error, got {other:?}"),
        },
    }
    // Resync: a fresh read, then a watch from the revision after it.
    let snapshot = kv.get_prefix(prefix).await.expect("resync get");
    assert_eq!(snapshot.entries.len(), 3);
    let mut watch = kv
        .watch_prefix(prefix, snapshot.revision + 1)
        .await
        .expect("watch after resync");
    kv.put(&format!("{prefix}d"), b"4".to_vec(), None)
        .await
        .expect("put d");
    assert_eq!(next_event(&mut watch).await.key(), format!("{prefix}d"));
}
