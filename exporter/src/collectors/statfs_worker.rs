//! `statvfs(2)` off the serving thread, with a timeout, as node_exporter's
//! `--collector.filesystem.mount-timeout` does: a hung network mount must not
//! hang every later scrape.
//!
//! One long-lived worker thread makes the calls. When a call does not return
//! in time, its mount point is marked stuck (reported as a device error and
//! not asked again until that call finally returns), the worker is abandoned
//! to finish on its own, and a fresh worker takes over.

use std::collections::HashSet;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::filesystem::FilesystemStats;

type StatFunction = fn(&str) -> std::io::Result<FilesystemStats>;

struct Request {
    mountpoint: String,
    reply: SyncSender<std::io::Result<FilesystemStats>>,
}

/// Runs `statvfs` for the filesystem collector with a per-call timeout.
pub struct StatfsWorker {
    stat_function: StatFunction,
    timeout: Duration,
    requests: Option<SyncSender<Request>>,
    stuck_mountpoints: Arc<Mutex<HashSet<String>>>,
}

impl StatfsWorker {
    /// A worker calling `stat_function` (normally `statvfs_stats`) and giving
    /// up on a call after `timeout`.
    pub fn new(stat_function: StatFunction, timeout: Duration) -> Self {
        Self {
            stat_function,
            timeout,
            requests: None,
            stuck_mountpoints: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Stats `mountpoint`, or fails at once if an earlier call on it is still
    /// hanging, or after the timeout if this one hangs.
    pub fn stat(&mut self, mountpoint: &str) -> std::io::Result<FilesystemStats> {
        let is_stuck = self
            .stuck_mountpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(mountpoint);
        if is_stuck {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "an earlier statvfs on this mount point has not returned",
            ));
        }
        let (reply_sender, reply_receiver) = mpsc::sync_channel(1);
        let request = Request {
            mountpoint: mountpoint.to_owned(),
            reply: reply_sender,
        };
        let requests = self.worker()?;
        if requests.send(request).is_err() {
            self.requests = None;
            return Err(std::io::Error::other("statvfs worker exited"));
        }
        match reply_receiver.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => {
                // Decide under the lock the worker also takes when its call returns,
                // so a late answer either is seen here or clears the mark.
                let mut stuck_mountpoints = self
                    .stuck_mountpoints
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if let Ok(result) = reply_receiver.try_recv() {
                    return result;
                }
                tracing::warn!(mountpoint, timeout = ?self.timeout, "statvfs timed out; mount point marked stuck");
                stuck_mountpoints.insert(mountpoint.to_owned());
                // Abandon the hung worker; the next call starts a fresh one.
                self.requests = None;
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "statvfs timed out",
                ))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.requests = None;
                Err(std::io::Error::other("statvfs worker exited"))
            }
        }
    }

    fn worker(&mut self) -> std::io::Result<&SyncSender<Request>> {
        if self.requests.is_none() {
            let (request_sender, request_receiver) = mpsc::sync_channel(1);
            let stat_function = self.stat_function;
            let stuck_mountpoints = Arc::clone(&self.stuck_mountpoints);
            std::thread::Builder::new()
                .name("statfs-worker".to_owned())
                .stack_size(64 * 1024)
                .spawn(move || {
                    serve_requests(request_receiver, stat_function, stuck_mountpoints)
                })?;
            self.requests = Some(request_sender);
        }
        self.requests
            .as_ref()
            .ok_or_else(|| std::io::Error::other("statvfs worker missing"))
    }
}

fn serve_requests(
    requests: Receiver<Request>,
    stat_function: StatFunction,
    stuck_mountpoints: Arc<Mutex<HashSet<String>>>,
) {
    // Ends when the collector drops its sender (it abandoned us, or it is gone).
    while let Ok(request) = requests.recv() {
        let result = stat_function(&request.mountpoint);
        // The mount point answered: whether or not the caller still waits, it is not stuck.
        let mut stuck = stuck_mountpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        stuck.remove(&request.mountpoint);
        let _ = request.reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant_stat(_mountpoint: &str) -> std::io::Result<FilesystemStats> {
        Ok(FilesystemStats {
            size_bytes: 1.0,
            free_bytes: 1.0,
            avail_bytes: 1.0,
            files: 1.0,
            files_free: 1.0,
        })
    }

    fn stat_hanging_on_slow(mountpoint: &str) -> std::io::Result<FilesystemStats> {
        if mountpoint == "/slow" {
            std::thread::sleep(Duration::from_millis(400));
        }
        instant_stat(mountpoint)
    }

    #[test]
    fn answers_come_back_through_the_worker() {
        let mut worker = StatfsWorker::new(instant_stat, Duration::from_secs(5));
        for _ in 0..3 {
            assert_eq!(worker.stat("/").unwrap().size_bytes, 1.0);
        }
    }

    #[test]
    fn a_hanging_mount_times_out_is_skipped_while_stuck_and_does_not_block_others() {
        let mut worker = StatfsWorker::new(stat_hanging_on_slow, Duration::from_millis(50));
        let error = worker.stat("/slow").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        // While the first call still hangs, the mount point is refused at once...
        let started = std::time::Instant::now();
        assert!(worker.stat("/slow").is_err());
        assert!(started.elapsed() < Duration::from_millis(40));
        // ...and other mount points are served by a fresh worker.
        assert!(worker.stat("/fast").is_ok());
        // Once the hung call returns, the mount point is asked again.
        std::thread::sleep(Duration::from_millis(600));
        assert!(
            !worker
                .stuck_mountpoints
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains("/slow")
        );
    }
}
