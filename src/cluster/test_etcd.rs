//! A real etcd server for tests: started on free loopback ports with a
//! temporary data dir, stoppable and restartable on the same ports and
//! data (to simulate an outage), killed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::kv::KvStore;
use super::kv_etcd::EtcdKv;

/// Where Debian's `etcd-server` package installs the server.
const ETCD_BINARY: &str = "/usr/bin/etcd";

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

/// One etcd process owned by a test.
pub struct EtcdServer {
    data_dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

impl EtcdServer {
    /// Starts etcd and waits until it serves requests.
    pub async fn start() -> Self {
        assert!(
            std::path::Path::new(ETCD_BINARY).exists(),
            "{ETCD_BINARY} is missing: run scripts/setup-system --test (installs etcd-server)"
        );
        let mut server = Self {
            data_dir: tempfile::tempdir().expect("temp dir for etcd"),
            client_port: free_port(),
            peer_port: free_port(),
            child: None,
        };
        server.resume().await;
        server
    }

    /// The client URL (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// A client for this server with short timeouts.
    pub async fn client(&self) -> EtcdKv {
        EtcdKv::connect(
            &[self.endpoint()],
            Duration::from_secs(1),
            Duration::from_secs(2),
        )
        .await
        .expect("etcd client")
    }

    /// Kills the process (as an outage would), keeping the data dir.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same ports and data.
    pub async fn resume(&mut self) {
        let client_url = self.endpoint();
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.data_dir.path().join("etcd.log")).expect("etcd log");
        let child = Command::new(ETCD_BINARY)
            .arg("--name=test")
            .arg(format!(
                "--data-dir={}",
                self.data_dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .arg("--initial-cluster-state=new")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn etcd");
        self.child = Some(child);
        let client = self.client().await;
        for _ in 0..100 {
            if client.get_prefix("/ready-check").await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log =
            std::fs::read_to_string(self.data_dir.path().join("etcd.log")).unwrap_or_default();
        panic!("etcd did not become ready; its log:\n{log}");
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
    }
}
