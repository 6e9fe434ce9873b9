//! Wiring of a running node: storage, discovery, scrape, query engine and
//! web server, the reload loop, signals and shutdown.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use parking_lot::RwLock;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use promshard::cluster::global::GlobalQueryView;
use promshard::cluster::membership::Membership;
use promshard::cluster::metrics::ClusterMetrics;
use promshard::cluster::ownership::{MovedAway, Ownership, discovered_target_labels};
use promshard::cluster::ring::Member;
use promshard::cluster::settings::{ClusterMode, ClusterOverrides, ClusterSettings, EtcdSettings};
use promshard::config::{self, ByteSize, Config, PromDuration};
use promshard::discovery::DiscoveryManager;
use promshard::notify::alertmanager::GroupOwner;
use promshard::notify::stage::{NotifyStage, StageOptions};
use promshard::promql::{Engine, EngineOptions};
use promshard::remote::read_client::{ReadClientSettings, RemoteReadClient, RemoteReadQueryable};
use promshard::remote::write::RemoteWriteManager;
use promshard::rules::{RuleManager, RuleManagerOptions};
use promshard::scrape::{ScrapeManager, ScrapeOptions, ScrapeSettings, TargetGroup};
use promshard::storage::fanout::{FanoutQueryable, Secondary};
use promshard::storage::{Appendable, Queryable};
use promshard::tsdb::{Db, DbOptions};
use promshard::web::{self, Lifecycle, ReloadRequest, StatusInfo, WebState};

use crate::flags::{ClusterFlags, ImportCommand, ServerFlags, TsdbCommand};

/// The parts a reload reconfigures.
struct Components {
    discovery: Arc<DiscoveryManager>,
    global: Arc<GlobalQueryView>,
    db: Arc<Db>,
    remote_write: Arc<RemoteWriteManager>,
    scrape: Arc<ScrapeManager>,
    rules: Arc<RuleManager>,
    status: Arc<StatusInfo>,
    reload_successful: prometheus::IntGauge,
    reload_timestamp: prometheus::Gauge,
    intervals: RwLock<HashMap<String, Duration>>,
    notify: Arc<NotifyStage>,
}

impl Components {
    /// The scrape interval of `job` (the hand-over grace is two of them).
    fn scrape_interval(&self, job: &str) -> Duration {
        self.intervals
            .read()
            .get(job)
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }

    /// When the next hand-over grace ends, over every job's interval (a
    /// job's grace is two of its intervals): re-filter then, so that no
    /// released target waits for a later event (which, from discovery,
    /// would end it with staleness markers).
    fn next_handover_deadline(&self, ownership: &Ownership) -> Option<std::time::SystemTime> {
        let now = std::time::SystemTime::now();
        self.intervals
            .read()
            .values()
            .filter_map(|interval| ownership.handover_deadline(*interval))
            .filter(|deadline| *deadline > now)
            .min()
    }

    /// Applies a freshly loaded config to every stage.
    fn apply(&self, config: &Config) -> Result<(), String> {
        self.rules
            .apply_config(config)
            .map_err(|e| format!("loading rule files: {e}"))?;
        self.discovery
            .apply_config(&config.scrape_sd_configs())
            .map_err(|e| e.to_string())?;
        let pools = config
            .scrape_configs
            .iter()
            .map(ScrapeSettings::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        self.scrape.apply_config(pools).map_err(|e| e.to_string())?;
        *self.intervals.write() = config
            .scrape_configs
            .iter()
            .map(|c| (c.job_name.clone(), c.scrape_interval.as_duration()))
            .collect();
        self.remote_write
            .apply_config(&config.remote_write, &config.global.external_labels)
            .map_err(|e| format!("remote_write: {e}"))?;
        self.global
            .set_remote_read(remote_read_sources(config, &self.db)?);
        self.notify
            .apply_config(config)
            .map_err(|e| e.to_string())?;
        self.db
            .set_out_of_order_time_window(config.storage.out_of_order_time_window_ms());
        if let Some(warning) = config.storage.exemplars_warning() {
            warn!("{warning}");
        }
        *self.status.config_yaml.write() = config.to_redacted_yaml();
        *self.status.last_config_time.write() = chrono::Utc::now().to_rfc3339();
        Ok(())
    }

    /// Loads the config file again and applies it; on failure the running
    /// config stays.
    fn reload(&self, path: &Path) -> Result<(), String> {
        let outcome = config::load_file(path)
            .map_err(|e| e.to_string())
            .and_then(|config| self.apply(&config));
        match &outcome {
            Ok(()) => {
                info!(file = %path.display(), "completed loading of configuration file");
                self.reload_successful.set(1);
                self.reload_timestamp
                    .set(chrono::Utc::now().timestamp() as f64);
                self.status.reload_success.store(true, Ordering::Relaxed);
            }
            Err(message) => {
                error!(file = %path.display(), err = %message, "error reloading config; keeping the running one");
                self.reload_successful.set(0);
                self.status.reload_success.store(false, Ordering::Relaxed);
            }
        }
        outcome
    }
}

/// Runs the server until SIGTERM, SIGINT or `/-/quit`.
pub async fn run(flags: ServerFlags) -> Result<()> {
    for (flag, why) in flags.unavailable() {
        warn!(flag, why, "flag accepted but its feature is not available");
    }
    let registry = prometheus::Registry::new();
    #[cfg(target_os = "linux")]
    registry
        .register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .context("register process metrics")?;

    let config = config::load_file(&flags.config_file)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading config file {}", flags.config_file.display()))?;

    let retention_time = parse_duration(&flags.storage_tsdb_retention_time)
        .map_err(|e| anyhow::anyhow!("--storage.tsdb.retention.time: {e}"))?;
    let retention_size = parse_byte_size(&flags.storage_tsdb_retention_size)
        .map_err(|e| anyhow::anyhow!("--storage.tsdb.retention.size: {e}"))?;
    let block_range = parse_duration(&flags.storage_tsdb_min_block_duration)
        .map_err(|e| anyhow::anyhow!("--storage.tsdb.min-block-duration: {e}"))?;
    let block_reload_interval = parse_duration(&flags.storage_tsdb_block_reload_interval)
        .map_err(|e| anyhow::anyhow!("--storage.tsdb.block-reload-interval: {e}"))?
        .max(Duration::from_millis(100));
    let db_options = DbOptions {
        retention_time,
        retention_size: (retention_size > 0).then_some(retention_size),
        block_range_ms: block_range.as_millis() as i64,
        no_lockfile: flags.storage_tsdb_no_lockfile,
        out_of_order_time_window_ms: config.storage.out_of_order_time_window_ms(),
        ..DbOptions::default()
    };
    let data_dir = flags.storage_tsdb_path.clone();
    let db = {
        let registry = registry.clone();
        tokio::task::spawn_blocking(move || Db::open(&data_dir, db_options, &registry))
            .await
            .context("opening storage")?
            .map_err(|e| {
                anyhow::anyhow!(
                    "opening storage at {}: {e}",
                    flags.storage_tsdb_path.display()
                )
            })?
    };

    let reload_successful = prometheus::IntGauge::new(
        "prometheus_config_last_reload_successful",
        "Whether the last configuration reload attempt was successful.",
    )?;
    let reload_timestamp = prometheus::Gauge::new(
        "prometheus_config_last_reload_success_timestamp_seconds",
        "Timestamp of the last successful configuration reload.",
    )?;
    registry.register(Box::new(reload_successful.clone()))?;
    registry.register(Box::new(reload_timestamp.clone()))?;

    let status = Arc::new(StatusInfo {
        config_yaml: RwLock::new(String::new()),
        flags: flags.to_map(),
        start_time: chrono::Utc::now().to_rfc3339(),
        reload_success: AtomicBool::new(true),
        last_config_time: RwLock::new(String::new()),
        storage_retention: flags.storage_tsdb_retention_time.clone(),
        ready: AtomicBool::new(false),
    });

    let appendable: Arc<dyn Appendable> = db.clone();
    let cluster_settings =
        cluster_settings_with_flags(&config, &flags.web_listen_address, &flags.cluster)?;
    // Queries read the local TSDB merged with any `remote_read` endpoints
    // and, in a cluster, every live peer's shard (the global view).
    let fanout = Arc::new(FanoutQueryable::new(db.clone(), Vec::new()));
    let global = Arc::new(GlobalQueryView::new(
        fanout,
        cluster_settings.node_id.clone(),
        cluster_settings.peer_timeout,
        tokio::runtime::Handle::current(),
    ));
    let queryable: Arc<dyn Queryable> = global.clone();
    let scrape = ScrapeManager::new(appendable, &registry, ScrapeOptions::default())
        .map_err(|e| anyhow::anyhow!("starting scrape manager: {e}"))?;
    let hold_db = db.clone();
    let remote_write = RemoteWriteManager::new(
        db.wal_dir(),
        flags.storage_tsdb_path.join("remote"),
        retention_time,
        Arc::new(move |name: &str, segment| hold_db.set_min_wal_segment_to_keep(name, segment)),
        &registry,
        tokio::runtime::Handle::current(),
    )
    .map_err(|e| anyhow::anyhow!("starting remote write: {e}"))?;
    let scrape = Arc::new(scrape);
    {
        let scrape = scrape.clone();
        remote_write.set_metadata_source(Arc::new(move || {
            scrape
                .target_metadata()
                .into_iter()
                .map(|m| (m.metric, m.metadata))
                .collect()
        }));
    }
    let cancel = CancellationToken::new();
    // Notifications: external Alertmanagers and the built-in one; the
    // owner of a group key is looked up on the ring once it exists. The
    // rule manager sends its alerts to `notify.sink()` (a fan-out to both).
    let group_owners: Arc<std::sync::OnceLock<Arc<Ownership>>> = Arc::default();
    let notify = Arc::new(
        NotifyStage::start(
            &config,
            StageOptions {
                queue_capacity: flags.alertmanager_notification_queue_capacity,
                data_dir: flags.storage_tsdb_path.join("notify"),
                external_url: external_url(&flags),
                owner: group_owner_lookup(
                    group_owners.clone(),
                    cluster_settings.advertise_address.clone(),
                ),
            },
            &registry,
            cancel.clone(),
        )
        .map_err(|e| anyhow::anyhow!("starting notifications: {e}"))?,
    );
    let silence_admins = match flags.web_config_file.as_str() {
        "" => None,
        path => promshard::web::auth::BasicAuthUsers::load(Path::new(path))
            .map_err(|e| anyhow::anyhow!("--web.config.file: {e}"))?
            .map(Arc::new),
    };
    let engine = Arc::new(Engine::new(EngineOptions {
        lookback_delta: parse_duration(&flags.query_lookback_delta)
            .map_err(|e| anyhow::anyhow!("--query.lookback-delta: {e}"))?,
        timeout: parse_duration(&flags.query_timeout)
            .map_err(|e| anyhow::anyhow!("--query.timeout: {e}"))?,
        max_samples: flags.query_max_samples,
        max_concurrency: flags.query_max_concurrency,
    }));
    // Rule evaluation reads the global view, writes to the TSDB and hands
    // its alerts to the notification stage.
    let rules = rule_manager(&flags, &engine, &queryable, &db, notify.sink(), &registry)?;
    let components = Arc::new(Components {
        discovery: Arc::new(DiscoveryManager::new(&registry)),
        global: global.clone(),
        db: db.clone(),
        remote_write: Arc::new(remote_write),
        scrape,
        rules: rules.clone(),
        status: status.clone(),
        reload_successful,
        reload_timestamp,
        intervals: RwLock::new(HashMap::new()),
        notify: notify.clone(),
    });
    components
        .apply(&config)
        .map_err(|e| anyhow::anyhow!("applying config: {e}"))?;
    components.reload_successful.set(1);
    components
        .reload_timestamp
        .set(chrono::Utc::now().timestamp() as f64);

    let mut tasks = tokio::task::JoinSet::new();

    // Cluster membership and ring ownership, between discovery and scrape.
    let cluster_metrics =
        ClusterMetrics::register(&registry).context("register cluster metrics")?;
    let membership = Membership::start(&cluster_settings, cluster_metrics.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cluster membership: {e}"))?;
    let ownership = Arc::new(Ownership::new(&cluster_settings, cluster_metrics));
    {
        let ownership = ownership.clone();
        rules.set_ownership(Arc::new(move |file: &str, group: &str| {
            ownership.owns_rule_group(file, group)
        }));
    }
    {
        let global = global.clone();
        let views = membership.subscribe();
        let cancel = cancel.clone();
        tasks.spawn(async move { global.follow(views, cancel).await });
    }
    let _ = group_owners.set(ownership.clone());
    let (resync_tx, mut resync_rx) = mpsc::channel::<bool>(16);
    {
        let ownership = ownership.clone();
        let views = membership.subscribe();
        let cancel = cancel.clone();
        let resync = resync_tx.clone();
        let rules = rules.clone();
        tasks.spawn(async move {
            ownership
                .follow(views, cancel, move |_, _| {
                    // A ring change: targets that move are handed over, not ended.
                    let _ = resync.try_send(true);
                    // Rule groups follow their owner.
                    let rules = rules.clone();
                    tokio::task::spawn_blocking(move || rules.resync());
                })
                .await
        });
    }
    {
        let discovery = components.discovery.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move { discovery.run(cancel).await });
    }
    {
        let mut updates = components.discovery.subscribe();
        let scrape = components.scrape.clone();
        let ownership = ownership.clone();
        let cancel = cancel.clone();
        let intervals = components.clone();
        tasks.spawn(async move {
            let mut handed_over = false;
            loop {
                let discovered = updates.borrow_and_update().clone();
                let mut groups: HashMap<String, Vec<TargetGroup>> = (*discovered).clone();
                let now = std::time::SystemTime::now();
                let mut owned = 0;
                for (job, job_groups) in groups.iter_mut() {
                    let grace = intervals.scrape_interval(job) * 2;
                    for group in job_groups.iter_mut() {
                        owned += ownership.retain_owned_at(job, &group.labels, &mut group.targets, now, grace);
                    }
                }
                ownership.set_owned_targets(owned);
                // A target leaving the scrape set that another node scrapes
                // now moved: no staleness markers, whatever triggered this
                // sync.
                let release = handed_over;
                let moved_away = MovedAway::new(&discovered, &groups);
                scrape.sync_releasing(groups, &|labels| release || moved_away.contains(labels));
                // Look again when a hand-over grace period ends.
                let deadline = intervals.next_handover_deadline(&ownership);
                let wait_for_deadline = async {
                    match deadline.and_then(|d| d.duration_since(std::time::SystemTime::now()).ok()) {
                        Some(delay) => tokio::time::sleep(delay + Duration::from_millis(50)).await,
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    changed = updates.changed() => { if changed.is_err() { return } handed_over = false; }
                    ring_changed = resync_rx.recv() => { if ring_changed.is_none() { return } handed_over = true; }
                    _ = wait_for_deadline => { handed_over = true; }
                }
            }
        });
    }

    // Storage maintenance: block reload, head cut, compaction, retention.
    {
        let db = db.clone();
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(block_reload_interval);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let db = db.clone();
                match tokio::task::spawn_blocking(move || db.run_maintenance()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => error!(err = %e, "storage maintenance failed"),
                    Err(e) => error!(err = %e, "storage maintenance panicked"),
                }
            }
        });
    }

    // Reload: from /-/reload and SIGHUP.
    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);
    {
        let components = components.clone();
        let path = flags.config_file.clone();
        let cancel = cancel.clone();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("install SIGHUP handler")?;
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    request = reload_rx.recv() => {
                        let Some(answer) = request else { return };
                        let components = components.clone();
                        let path = path.clone();
                        let outcome = tokio::task::spawn_blocking(move || components.reload(&path)).await
                            .unwrap_or_else(|e| Err(e.to_string()));
                        let _ = answer.send(outcome);
                    }
                    _ = hangup.recv() => {
                        let components = components.clone();
                        let path = path.clone();
                        let _ = tokio::task::spawn_blocking(move || components.reload(&path)).await;
                    }
                }
            }
        });
    }

    let stats_db = db.clone();
    let mut query_state = web::query_api::QueryApiState::new(queryable.clone(), engine);
    query_state.tsdb_stats = Some(Arc::new(move |limit| {
        serde_json::to_value(stats_db.stats(limit)).unwrap_or_default()
    }));
    query_state.external_labels = config.global.external_labels.clone();
    query_state.local_queryable = Some(db.clone());
    let query_router = web::query_api::router(query_state);
    let remote_router = web::remote_api::router(web::remote_api::RemoteApiState {
        receiver: flags
            .web_enable_remote_write_receiver
            .then(|| db.clone() as Arc<dyn Appendable>),
        queryable,
        local_queryable: Some(db.clone()),
        read_sample_limit: 50_000_000,
    });
    let web_state = WebState {
        status: status.clone(),
        lifecycle: Lifecycle {
            enabled: flags.web_enable_lifecycle,
            reload: reload_tx,
            quit: cancel.clone(),
        },
        registry: registry.clone(),
    };
    let targets_router = web::targets_api::router(components.scrape.clone());
    let rules_router = {
        // In a cluster, every node's groups and alerts, as the global view.
        let global = global.clone();
        let peers =
            (cluster_settings.mode != ClusterMode::None).then(|| web::rules_api::ClusterPeers {
                addresses: Arc::new(move || global.peers().into_values().collect()),
                timeout: cluster_settings.peer_timeout,
            });
        web::rules_api::router(rules.clone(), peers)
    };
    let cluster_router = {
        let ownership = ownership.clone();
        let discovery = components.discovery.subscribe();
        web::cluster_api::router(Arc::new(move || {
            let discovered = discovery.borrow().clone();
            let mut targets = Vec::new();
            for (job, groups) in discovered.iter() {
                for group in groups {
                    let group = TargetGroup {
                        source: group.source.clone(),
                        targets: group.targets.clone(),
                        labels: group.labels.clone(),
                    };
                    targets.extend(
                        group
                            .targets
                            .iter()
                            .map(|t| discovered_target_labels(job, &group, t)),
                    );
                }
            }
            promshard::cluster::status::status_json(&ownership, &targets)
        }))
    };
    let mut routers = vec![
        query_router,
        targets_router,
        remote_router,
        cluster_router,
        rules_router,
    ];
    routers.push(web::admin_api::router(web::admin_api::AdminApiState {
        storage: db.clone(),
        enabled: flags.web_enable_admin_api,
    }));
    routers.push(web::alertmanager_api::alertmanagers_router(
        notify.sender.clone(),
    ));
    if let Some(builtin) = &notify.builtin {
        routers.push(web::alertmanager_api::router(
            web::alertmanager_api::AlertmanagerApiState {
                alertmanager: builtin.clone(),
                silence_admins,
                start_time: status.start_time.clone(),
                cluster_status: if config.cluster.mode == config::ClusterMode::None {
                    "disabled".into()
                } else {
                    "ready".into()
                },
                peers: {
                    let ownership = ownership.clone();
                    let advertise = cluster_settings.advertise_address.clone();
                    Arc::new(move || {
                        ownership
                            .ring()
                            .members()
                            .iter()
                            .filter(|m| {
                                m.node_id != ownership.local_node_id() && m.address != advertise
                            })
                            .map(|m| m.address.clone())
                            .collect()
                    })
                },
                client: reqwest::Client::new(),
            },
        ));
    }
    let app = web::router(web_state, routers);
    let listener = tokio::net::TcpListener::bind(&flags.web_listen_address)
        .await
        .with_context(|| format!("listening on {}", flags.web_listen_address))?;
    info!(address = %flags.web_listen_address, "listening");
    status.ready.store(true, Ordering::Relaxed);
    info!("server is ready to receive web requests");

    {
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let terminate = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => info!("received SIGINT, exiting gracefully"),
                _ = terminate => info!("received SIGTERM, exiting gracefully"),
                _ = cancel.cancelled() => {}
            }
            cancel.cancel();
        });
    }

    let shutdown = cancel.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    cancel.cancel();
    components.scrape.stop().await;
    rules.stop().await;
    membership.shutdown().await;
    while tasks.join_next().await.is_some() {}
    let remote_write = components.remote_write.clone();
    let _ = tokio::task::spawn_blocking(move || remote_write.stop()).await;
    let db_to_close = db.clone();
    tokio::task::spawn_blocking(move || db_to_close.close())
        .await
        .context("closing storage")?
        .map_err(|e| anyhow::anyhow!("closing storage: {e}"))?;
    info!("see you next time!");
    served.context("web server")?;
    Ok(())
}

/// Runs `promshard tsdb ...` and returns the exit code.
pub fn run_tsdb_command(command: TsdbCommand) -> u8 {
    let mut out = std::io::stdout();
    let outcome: Result<(), String> = match command {
        TsdbCommand::List {
            dir,
            human_readable: _,
        } => promshard::tsdb::cli::list(&dir, &mut out)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        TsdbCommand::Dump {
            dir,
            min_time,
            max_time,
            matchers,
        } => matchers
            .iter()
            .map(|selector| {
                promshard::promql::parse_series_selector(selector)
                    .map_err(|e| format!("--match {selector}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .and_then(|sets| {
                // Each --match selects on its own; dump them in turn.
                for matchers in sets {
                    promshard::tsdb::cli::dump(&dir, min_time, max_time, &matchers, &mut out)
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }),
        TsdbCommand::Import(ImportCommand::Openmetrics {
            file,
            dir,
            max_block_duration,
        }) => parse_duration(&max_block_duration)
            .map_err(|e| format!("--max-block-duration: {e}"))
            .and_then(|duration| {
                promshard::tsdb::cli::import_openmetrics(
                    &file,
                    &dir,
                    duration.as_millis() as i64,
                    &mut out,
                )
                .map(|_| ())
                .map_err(|e| e.to_string())
            }),
    };
    match outcome {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("promshard tsdb: {error}");
            1
        }
    }
}

/// The cluster settings from the config's `cluster` section.
pub fn cluster_settings(config: &Config, listen_address: &str) -> ClusterSettings {
    let section = &config.cluster;
    let advertise = if section.advertise_address.is_empty() {
        listen_address.replace("0.0.0.0", "127.0.0.1")
    } else {
        section.advertise_address.clone()
    };
    let node_id = if section.node_id.is_empty() {
        advertise.clone()
    } else {
        section.node_id.clone()
    };
    ClusterSettings {
        mode: match section.mode {
            config::ClusterMode::None => ClusterMode::None,
            config::ClusterMode::Static => ClusterMode::Static,
            config::ClusterMode::Etcd => ClusterMode::Etcd,
        },
        node_id,
        advertise_address: advertise,
        peers: section
            .peers
            .iter()
            .map(|address| Member::new(address.clone(), address.clone()))
            .collect(),
        etcd: EtcdSettings {
            endpoints: section.etcd.endpoints.clone(),
            prefix: section.etcd.prefix.clone(),
            lease_ttl: section.etcd.lease_ttl.as_duration(),
            dial_timeout: section.etcd.dial_timeout.as_duration(),
        },
        replication_factor: section.replication_factor.max(1) as usize,
        virtual_nodes: section.virtual_nodes.max(1) as usize,
        peer_timeout: section.peer_timeout.as_duration(),
    }
}

/// The cluster settings from the config, overridden by `--cluster.*`.
fn cluster_settings_with_flags(
    config: &Config,
    listen_address: &str,
    flags: &ClusterFlags,
) -> Result<ClusterSettings> {
    let duration = |flag: &str, text: &Option<String>| -> Result<Option<Duration>> {
        text.as_deref()
            .map(|t| parse_duration(t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
            .transpose()
    };
    let overrides = ClusterOverrides {
        mode: flags.mode.as_deref().map(|mode| match mode {
            "static" => ClusterMode::Static,
            "etcd" => ClusterMode::Etcd,
            _ => ClusterMode::None,
        }),
        node_id: flags.node_id.clone(),
        advertise_address: flags.advertise_address.clone(),
        peers: (!flags.peers.is_empty()).then(|| flags.peers.clone()),
        etcd_endpoints: (!flags.etcd_endpoints.is_empty()).then(|| flags.etcd_endpoints.clone()),
        etcd_prefix: flags.etcd_prefix.clone(),
        etcd_lease_ttl: duration("cluster.etcd.lease-ttl", &flags.etcd_lease_ttl)?,
        peer_timeout: duration("cluster.peer-timeout", &flags.peer_timeout)?,
    };
    let mut settings = cluster_settings(config, listen_address);
    overrides.apply(&mut settings, !config.cluster.node_id.is_empty());
    Ok(settings)
}

/// `promshard cluster ring --config F`: who owns which target, for the
/// targets of `static_configs` and `file_sd_configs` (HTTP SD is not asked).
/// In etcd mode the members are the ones registered in etcd now; otherwise
/// the configured ones.
pub fn print_cluster_ring(path: &Path, flags: &ClusterFlags) -> u8 {
    let config = match config::load_file(path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("promshard cluster ring: {error}");
            return 1;
        }
    };
    let mut targets_by_job: HashMap<String, Vec<TargetGroup>> = HashMap::new();
    for (job, sd_configs) in config.scrape_sd_configs() {
        let groups = targets_by_job.entry(job.clone()).or_default();
        for (index, sd) in sd_configs.iter().enumerate() {
            match sd {
                config::SdConfig::Static(static_config) => groups.push(TargetGroup {
                    source: format!("{job}/static/{index}"),
                    targets: static_config
                        .targets
                        .iter()
                        .map(|t| {
                            promshard::model::Labels::from_pairs(&[("__address__", t.as_str())])
                        })
                        .collect(),
                    labels: static_config.labels.iter().collect(),
                }),
                config::SdConfig::File(file_config) => {
                    for file in
                        promshard::discovery::file::matching_files(file_config).unwrap_or_default()
                    {
                        for group in promshard::discovery::file::read_target_group_file(
                            &file.to_string_lossy(),
                        )
                        .unwrap_or_default()
                        {
                            groups.push(TargetGroup {
                                source: group.source,
                                targets: group.targets,
                                labels: group.labels,
                            });
                        }
                    }
                }
                config::SdConfig::Http(_) => eprintln!(
                    "promshard cluster ring: job {job}: http_sd_configs targets are not listed"
                ),
            }
        }
    }
    let settings = match cluster_settings_with_flags(&config, "0.0.0.0:9090", flags) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("promshard cluster ring: {error:#}");
            return 1;
        }
    };
    let members = match settings.mode {
        ClusterMode::Etcd => match live_etcd_members(&settings) {
            Ok(members) => members,
            Err(error) => {
                eprintln!("promshard cluster ring: reading the members from etcd: {error}");
                return 1;
            }
        },
        ClusterMode::None | ClusterMode::Static => settings.configured_members(),
    };
    match promshard::cluster::status::print_ring_for_members(
        &members,
        &settings,
        &targets_by_job,
        &mut std::io::stdout(),
    ) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("promshard cluster ring: {error}");
            1
        }
    }
}

/// The members registered in etcd now.
fn live_etcd_members(settings: &ClusterSettings) -> Result<Vec<Member>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let kv = promshard::cluster::kv_etcd::EtcdKv::connect(
            &settings.etcd.endpoints,
            settings.etcd.dial_timeout,
            settings.etcd.dial_timeout.max(Duration::from_secs(1)),
        )
        .await
        .map_err(|e| e.to_string())?;
        promshard::cluster::membership::live_members(&kv, &settings.etcd.prefix)
            .await
            .map_err(|e| e.to_string())
    })
}

/// The `remote_read` endpoints as secondary sources of the query view.
fn remote_read_sources(config: &Config, db: &Arc<Db>) -> Result<Vec<Secondary>, String> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
    config
        .remote_read
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let name = if entry.name.is_empty() {
                format!("remote_read[{index}]")
            } else {
                entry.name.clone()
            };
            let client = RemoteReadClient::new(ReadClientSettings {
                name: name.clone(),
                url: entry.url.clone(),
                timeout: entry.remote_timeout.as_duration(),
                headers: entry.headers.clone(),
                auth: promshard::remote::write::auth_from_config(&entry.http_client)?,
                required_matchers: entry.required_matchers.clone(),
            })?;
            let complete_from: Option<Arc<dyn Fn() -> i64 + Send + Sync>> = if entry.read_recent {
                None
            } else {
                let db = db.clone();
                Some(Arc::new(move || db.min_time()))
            };
            Ok(Secondary {
                queryable: Arc::new(RemoteReadQueryable::new(Arc::new(client), runtime.clone())),
                name,
                complete_from,
            })
        })
        .collect()
}

/// The URL notifications link back to: `--web.external-url`, or the
/// listen address.
fn external_url(flags: &ServerFlags) -> String {
    if !flags.web_external_url.is_empty() {
        return flags.web_external_url.clone();
    }
    format!(
        "http://{}",
        flags.web_listen_address.replace("0.0.0.0", "localhost")
    )
}

/// Who notifies for a group key: its primary owner on the ring (this
/// node when there is no ring yet or no cluster).
fn group_owner_lookup(
    ownership: Arc<std::sync::OnceLock<Arc<Ownership>>>,
    advertise_address: String,
) -> promshard::notify::alertmanager::GroupOwnerLookup {
    Arc::new(move |group_key: &str| {
        let Some(ownership) = ownership.get() else {
            return GroupOwner::Local;
        };
        let ring = ownership.ring();
        let key = xxhash_rust::xxh64::xxh64(group_key.as_bytes(), 0);
        match ring.primary_owner(key) {
            Some(member)
                if member.node_id != ownership.local_node_id()
                    && member.address != advertise_address =>
            {
                GroupOwner::Remote(member.address.clone())
            }
            _ => GroupOwner::Local,
        }
    })
}

/// The rule manager over the fan-out view, writing to the TSDB.
fn rule_manager(
    flags: &ServerFlags,
    engine: &Arc<Engine>,
    queryable: &Arc<dyn Queryable>,
    db: &Arc<Db>,
    sink: Arc<dyn promshard::notify::AlertSink>,
    registry: &prometheus::Registry,
) -> Result<Arc<RuleManager>> {
    let options = RuleManagerOptions {
        query: promshard::rules::engine_query_fn(engine.clone(), queryable.clone()),
        queryable: queryable.clone(),
        appendable: db.clone(),
        sink,
        external_url: external_url(flags),
        resend_delay: parse_duration(&flags.rules_alert_resend_delay)
            .map_err(|e| anyhow::anyhow!("--rules.alert.resend-delay: {e}"))?,
        restore: promshard::rules::restore::RestoreSettings {
            outage_tolerance: parse_duration(&flags.rules_alert_for_outage_tolerance)
                .map_err(|e| anyhow::anyhow!("--rules.alert.for-outage-tolerance: {e}"))?,
            grace_period: parse_duration(&flags.rules_alert_for_grace_period)
                .map_err(|e| anyhow::anyhow!("--rules.alert.for-grace-period: {e}"))?,
        },
    };
    RuleManager::new(options, registry, tokio::runtime::Handle::current())
        .map_err(|e| anyhow::anyhow!("starting rule manager: {e}"))
}

/// Prometheus's duration syntax (`15d`, `1h30m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    PromDuration::parse(text)
        .map(|d| d.as_duration())
        .map_err(|e| e.to_string())
}

/// Prometheus's byte sizes (`512MB`, `0B`).
fn parse_byte_size(text: &str) -> Result<u64, String> {
    ByteSize::parse(text)
        .map(|b| b.bytes())
        .map_err(|e| e.to_string())
}
