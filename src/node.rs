//! Wiring of a running node: constructs the stages, lists their
//! reloaders and runs them until SIGTERM, SIGINT or `/-/quit`. No stage
//! logic lives here: each stage owns its config conversion (its
//! `Reloader`), its run loop and its stop (its `Stage`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use parking_lot::RwLock;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use promshard::cluster::global::GlobalQueryView;
use promshard::cluster::membership::Membership;
use promshard::cluster::metrics::ClusterMetrics;
use promshard::cluster::ownership::Ownership;
use promshard::cluster::ring::Member;
use promshard::cluster::routing::{SystemClock, TargetRouting};
use promshard::cluster::settings::{ClusterMode, ClusterOverrides, ClusterSettings};
use promshard::cluster::stages::{GlobalViewStage, MembershipStage, RoutingStage};
use promshard::config::{self, ByteSize, Config, PromDuration};
use promshard::discovery::DiscoveryManager;
use promshard::lifecycle::{ConfigReload, Reloader, Stages};
use promshard::notify::alertmanager::GroupOwner;
use promshard::notify::silence_sync::SilenceSync;
use promshard::notify::stage::{NotifyStage, StageOptions};
use promshard::promql::{Engine, EngineOptions};
use promshard::remote::read_sources::RemoteReadReloader;
use promshard::remote::write::RemoteWriteManager;
use promshard::rules::{RuleManager, RuleManagerOptions};
use promshard::scrape::{ScrapeManager, ScrapeOptions, TargetGroup};
use promshard::storage::fanout::FanoutQueryable;
use promshard::storage::{Appendable, Queryable};
use promshard::tsdb::stage::TsdbStage;
use promshard::tsdb::{Db, DbOptions};
use promshard::web::{self, Lifecycle, ReloadRequest, StatusInfo, WebState};

use crate::flags::{ClusterFlags, ImportCommand, ServerFlags, TsdbCommand};

/// Runs the server until SIGTERM, SIGINT or `/-/quit`.
pub async fn run(flags: ServerFlags) -> Result<()> {
    for (flag, why) in flags.notices() {
        warn!(flag = %flag, why = %why, "flag accepted but not fully in effect");
    }
    let remote_write_receiver =
        flags.web_enable_remote_write_receiver || flags.feature("remote-write-receiver");
    if flags.feature("remote-write-receiver") {
        warn!(
            "remote write receiver enabled via feature flag remote-write-receiver; this is deprecated, use --web.enable-remote-write-receiver"
        );
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
    let db = open_storage(&flags, &config, &registry).await?;
    let status = Arc::new(StatusInfo {
        config_yaml: RwLock::new(String::new()),
        flags: flags.to_map(),
        start_time: chrono::Utc::now().to_rfc3339(),
        reload_success: AtomicBool::new(true),
        last_config_time: RwLock::new(String::new()),
        storage_retention: retention_text(&flags),
        ready: AtomicBool::new(false),
    });
    let cancel = CancellationToken::new();
    let runtime = tokio::runtime::Handle::current();

    // Cluster: membership and ownership; routing sits between discovery
    // and scrape.
    let cluster_settings =
        cluster_settings_with_flags(&config, flags.first_listen_address(), &flags.cluster)?;
    let cluster_metrics =
        ClusterMetrics::register(&registry).context("register cluster metrics")?;
    let membership = Arc::new(MembershipStage::new(
        Membership::start(&cluster_settings, cluster_metrics.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cluster membership: {e}"))?,
    ));
    let ownership = Arc::new(Ownership::new(&cluster_settings, cluster_metrics.clone()));
    let routing = Arc::new(TargetRouting::new(
        ownership.clone(),
        Arc::new(SystemClock),
        cluster_metrics.handovers_total.clone(),
    ));

    // Queries read the local TSDB merged with any `remote_read` endpoints
    // and, in a cluster, every live peer's shard (the global view).
    let global = Arc::new(
        GlobalQueryView::new(
            Arc::new(FanoutQueryable::new(db.clone(), Vec::new())),
            cluster_settings.node_id.clone(),
            cluster_settings.peer_timeout,
            runtime.clone(),
        )
        .map_err(|e| anyhow::anyhow!("building the peer client: {e}"))?,
    );
    let queryable: Arc<dyn Queryable> = global.clone();
    let remote_read = {
        let min_time_db = db.clone();
        let global = global.clone();
        Arc::new(RemoteReadReloader::new(
            Arc::new(move || min_time_db.min_time()),
            Arc::new(move |sources| global.set_remote_read(sources)),
            runtime.clone(),
        ))
    };

    let appendable: Arc<dyn Appendable> = db.clone();
    let discovery = Arc::new(DiscoveryManager::new(&registry));
    let scrape = Arc::new(
        ScrapeManager::new(appendable, &registry, ScrapeOptions::default())
            .map_err(|e| anyhow::anyhow!("starting scrape manager: {e}"))?,
    );
    let remote_write = Arc::new(remote_write_manager(&flags, &db, &scrape, &registry)?);

    // Notifications: external Alertmanagers and the built-in one; the
    // owner of a group key is looked up on the ring. The rule manager
    // sends its alerts to `notify.sink()` (a fan-out to both).
    let notify = Arc::new(
        NotifyStage::start(
            &config,
            StageOptions {
                queue_capacity: flags.alertmanager_notification_queue_capacity.max(1) as usize,
                batch_size: flags.alertmanager_notification_batch_size.max(1) as usize,
                drain_on_shutdown: flags.alertmanager_drain_notification_queue_on_shutdown,
                data_dir: flags.storage_tsdb_path.join("notify"),
                external_url: external_url(&flags),
                owner: group_owner_lookup(
                    ownership.clone(),
                    cluster_settings.advertise_address.clone(),
                ),
            },
            &registry,
            cancel.clone(),
        )
        .map_err(|e| anyhow::anyhow!("starting notifications: {e}"))?,
    );
    let engine_metrics = promshard::promql::metrics::EngineMetrics::new()
        .and_then(|metrics| metrics.register(&registry).map(|()| metrics))
        .context("register engine metrics")?;
    let engine = Arc::new(Engine::with_metrics(
        EngineOptions {
            lookback_delta: parse_duration(&flags.query_lookback_delta)
                .map_err(|e| anyhow::anyhow!("--query.lookback-delta: {e}"))?,
            timeout: parse_duration(&flags.query_timeout)
                .map_err(|e| anyhow::anyhow!("--query.timeout: {e}"))?,
            max_samples: flags.query_max_samples.max(0) as usize,
            max_concurrency: flags.query_max_concurrency.max(1) as usize,
        },
        engine_metrics,
    ));
    // Rule evaluation reads the global view, writes to the TSDB and hands
    // its alerts to the notification stage; groups follow their ring owner.
    let rules = rule_manager(&flags, &engine, &queryable, &db, notify.sink(), &registry)?;
    {
        let ownership = ownership.clone();
        rules.set_ownership(Arc::new(move |file: &str, group: &str| {
            ownership.owns_rule_group(file, group)
        }));
        let rules = rules.clone();
        routing.on_ring_change(move || {
            let rules = rules.clone();
            tokio::task::spawn_blocking(move || rules.resync());
        });
    }
    let tsdb = Arc::new(TsdbStage::new(
        db.clone(),
        parse_duration(&flags.storage_tsdb_block_reload_interval)
            .map_err(|e| anyhow::anyhow!("--storage.tsdb.block-reload-interval: {e}"))?
            .max(Duration::from_millis(100)),
    ));

    // The reloaders, in the order they apply: a reload checks every one
    // first, then applies every one, or nothing.
    let reloaders: Vec<Arc<dyn Reloader>> = vec![
        tsdb.clone(),
        rules.clone(),
        routing.clone(),
        discovery.clone(),
        scrape.clone(),
        remote_write.clone(),
        remote_read,
        notify.clone(),
        status.clone(),
    ];
    let mut config_reload = ConfigReload::new(flags.config_file.clone(), reloaders, &registry)
        .context("register reload metrics")?;
    {
        let status = status.clone();
        config_reload.on_outcome(move |success| status.set_reload_success(success));
    }
    let config_reload = Arc::new(config_reload);
    config_reload
        .apply(&config)
        .map_err(|e| anyhow::anyhow!("applying config: {e}"))?;

    // Node-to-node calls ask the global view's live members.
    let peer_client = global.peer_client();
    // In a cluster, silences made here reach every peer.
    let silence_sync = match (&notify.builtin, cluster_settings.mode) {
        (Some(builtin), mode) if mode != ClusterMode::None => Some(
            SilenceSync::new(builtin.clone(), peer_client.clone(), &registry)
                .context("register silence sync metrics")?,
        ),
        _ => None,
    };

    // The stages, stopped in reverse order: storage closes last.
    let mut stages = Stages::new();
    stages.start(tsdb, &cancel);
    stages.start(remote_write.clone(), &cancel);
    stages.start(membership.clone(), &cancel);
    stages.start(
        Arc::new(GlobalViewStage::new(global.clone(), membership.subscribe())),
        &cancel,
    );
    if let Some(sync) = &silence_sync {
        stages.start(sync.clone(), &cancel);
    }
    stages.start(discovery.clone(), &cancel);
    stages.start(
        Arc::new(RoutingStage::new(
            routing.clone(),
            membership.subscribe(),
            discovery.subscribe(),
            scrape.clone(),
        )),
        &cancel,
    );

    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(4);
    let auto_reload = flags.feature("auto-reload-config").then(|| {
        ServerFlags::duration(&flags.config_auto_reload_interval).max(Duration::from_secs(1))
    });
    let reload_task = tokio::spawn(serve_reloads(
        config_reload.clone(),
        flags.config_file.clone(),
        auto_reload,
        reload_rx,
        cancel.clone(),
    ));

    let silence_admins = match flags.web_config_file.as_str() {
        "" => None,
        path => promshard::web::auth::BasicAuthUsers::load(Path::new(path))
            .map_err(|e| anyhow::anyhow!("--web.config.file: {e}"))?
            .map(Arc::new),
    };
    let stats_db = db.clone();
    let mut query_state = web::query_api::QueryApiState::new(queryable.clone(), engine);
    query_state.tsdb_stats = Some(Arc::new(move |limit| {
        serde_json::to_value(stats_db.stats(limit)).unwrap_or_default()
    }));
    query_state.external_labels = config.global.external_labels.clone();
    query_state.local_queryable = Some(db.clone());
    let mut routers = vec![
        web::query_api::router(query_state),
        web::targets_api::router(scrape.clone()),
        web::remote_api::router(web::remote_api::RemoteApiState {
            receiver: remote_write_receiver.then(|| db.clone() as Arc<dyn Appendable>),
            queryable,
            local_queryable: Some(db.clone()),
            read_sample_limit: flags.storage_remote_read_sample_limit.max(0) as usize,
            read_concurrency: (flags.storage_remote_read_concurrent_limit > 0).then(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    flags.storage_remote_read_concurrent_limit as usize,
                ))
            }),
        }),
        {
            let ownership = ownership.clone();
            let discovery = discovery.subscribe();
            web::cluster_api::router(Arc::new(move || {
                let discovered = discovery.borrow().clone();
                promshard::cluster::status::status_json_for_discovered(&ownership, &discovered)
            }))
        },
        {
            // In a cluster, every node's groups and alerts, as the global view.
            let peers = (cluster_settings.mode != ClusterMode::None).then(|| peer_client.clone());
            web::rules_api::router(rules.clone(), peers)
        },
        web::admin_api::router(web::admin_api::AdminApiState {
            storage: db.clone(),
            enabled: flags.web_enable_admin_api,
        }),
        web::alertmanager_api::alertmanagers_router(notify.sender.clone()),
    ];
    if let Some(builtin) = &notify.builtin {
        routers.push(web::alertmanager_api::router(
            web::alertmanager_api::AlertmanagerApiState {
                alertmanager: builtin.clone(),
                silence_admins,
                start_time: status.start_time.clone(),
                cluster_status: if cluster_settings.mode == ClusterMode::None {
                    "disabled".into()
                } else {
                    "ready".into()
                },
                silence_sync: silence_sync.clone(),
            },
        ));
    }
    let web_state = WebState {
        status: status.clone(),
        lifecycle: Lifecycle {
            enabled: flags.web_enable_lifecycle,
            reload: reload_tx,
            quit: cancel.clone(),
        },
        registry: registry.clone(),
        page_title: flags.web_page_title.clone(),
        cors_origin: web::serving::CorsOrigin::new(&flags.web_cors_origin)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let app = web::router(web_state, routers).context("register HTTP metrics")?;
    // Every --web.listen-address, sharing one --web.max-connections limit.
    let permits = web::serving::LimitedListener::permits(flags.web_max_connections.max(0) as usize);
    let mut servers = tokio::task::JoinSet::new();
    for address in &flags.web_listen_address {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        info!(address = %address, "listening");
        let listener = web::serving::LimitedListener::new(listener, permits.clone());
        let shutdown = cancel.clone();
        let app = app.clone();
        servers.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
        });
    }
    status.ready.store(true, Ordering::Relaxed);
    info!("server is ready to receive web requests");
    tokio::spawn(cancel_on_signal(cancel.clone()));

    // The first server to end (all end at shutdown) ends the process.
    let served = match servers.join_next().await {
        Some(Ok(outcome)) => outcome.map_err(anyhow::Error::from),
        Some(Err(error)) => Err(anyhow::anyhow!("web server task: {error}")),
        None => Ok(()),
    };
    cancel.cancel();
    while servers.join_next().await.is_some() {}
    scrape.stop().await;
    rules.stop().await;
    notify.wait_sent().await;
    let _ = reload_task.await;
    stages.stop().await;
    info!("see you next time!");
    served.context("web server")?;
    Ok(())
}

/// Opens the TSDB at `--storage.tsdb.path` with the flags' settings and
/// the config's `storage` section.
async fn open_storage(
    flags: &ServerFlags,
    config: &Config,
    registry: &prometheus::Registry,
) -> Result<Arc<Db>> {
    let retention_time = flags.retention_time();
    let retention_size = flags.retention_size();
    let wal_segment_size = parse_byte_size(&flags.storage_tsdb_wal_segment_size)
        .map_err(|e| anyhow::anyhow!("--storage.tsdb.wal-segment-size: {e}"))?;
    let block_range = parse_duration(&flags.storage_tsdb_min_block_duration)
        .map_err(|e| anyhow::anyhow!("--storage.tsdb.min-block-duration: {e}"))?;
    let options = DbOptions {
        retention_time,
        retention_size: (retention_size > 0).then_some(retention_size),
        block_range_ms: block_range.as_millis() as i64,
        max_block_duration_ms: Some(flags.max_block_duration().as_millis() as i64),
        // 0B, the default, is Prometheus's 128MiB.
        wal_segment_size: match wal_segment_size {
            0 => DbOptions::default().wal_segment_size,
            size => size as usize,
        },
        no_lockfile: flags.storage_tsdb_no_lockfile,
        out_of_order_time_window_ms: config.storage.out_of_order_time_window_ms(),
    };
    let data_dir = flags.storage_tsdb_path.clone();
    let registry = registry.clone();
    tokio::task::spawn_blocking(move || Db::open(&data_dir, options, &registry))
        .await
        .context("opening storage")?
        .map_err(|e| {
            anyhow::anyhow!(
                "opening storage at {}: {e}",
                flags.storage_tsdb_path.display()
            )
        })
}

/// The remote-write sender over the TSDB's WAL, holding segments for its
/// queues, with the scrape targets' metadata to send.
fn remote_write_manager(
    flags: &ServerFlags,
    db: &Arc<Db>,
    scrape: &Arc<ScrapeManager>,
    registry: &prometheus::Registry,
) -> Result<RemoteWriteManager> {
    let retention_time = flags.retention_time();
    let hold_db = db.clone();
    let remote_write = RemoteWriteManager::new(
        db.wal_dir(),
        flags.storage_tsdb_path.join("remote"),
        retention_time,
        Arc::new(move |name: &str, segment| hold_db.set_min_wal_segment_to_keep(name, segment)),
        registry,
        tokio::runtime::Handle::current(),
    )
    .map_err(|e| anyhow::anyhow!("starting remote write: {e}"))?;
    remote_write.set_flush_deadline(ServerFlags::duration(&flags.storage_remote_flush_deadline));
    let scrape = scrape.clone();
    remote_write.set_metadata_source(Arc::new(move || {
        scrape
            .target_metadata()
            .into_iter()
            .map(|m| (m.metric, m.metadata))
            .collect()
    }));
    Ok(remote_write)
}

/// Reloads on `/-/reload` (answering its request), on SIGHUP and, with
/// `auto_reload`, when the checksum of the config and rule files changes
/// (checked at that interval), one at a time, off the async workers, until
/// `cancel`.
async fn serve_reloads(
    config_reload: Arc<ConfigReload>,
    config_file: std::path::PathBuf,
    auto_reload: Option<Duration>,
    mut requests: mpsc::Receiver<ReloadRequest>,
    cancel: CancellationToken,
) {
    let checksum = |path: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || promshard::lifecycle::config_checksum(&path))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    };
    let mut loaded_checksum = match auto_reload {
        Some(_) => checksum(config_file.clone()).await.ok(),
        None => None,
    };
    let mut ticker = auto_reload.map(|every| {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    });
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            warn!(err = %error, "cannot install the SIGHUP handler; reload with /-/reload");
            None
        }
    };
    loop {
        let hangup_received = async {
            match hangup.as_mut() {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        let tick = async {
            match ticker.as_mut() {
                Some(ticker) => ticker.tick().await,
                None => std::future::pending().await,
            }
        };
        let answer = tokio::select! {
            _ = cancel.cancelled() => return,
            request = requests.recv() => match request {
                Some(answer) => Some(answer),
                None => return,
            },
            _ = hangup_received => None,
            _ = tick => {
                match checksum(config_file.clone()).await {
                    Ok(now) if Some(now) == loaded_checksum => continue,
                    Ok(_) => info!("configuration file change detected, reloading the configuration"),
                    Err(error) => {
                        warn!(err = %error, "cannot checksum the configuration files; not reloading");
                        continue;
                    }
                }
                None
            }
        };
        let reload = config_reload.clone();
        let outcome = tokio::task::spawn_blocking(move || reload.reload_file())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        if auto_reload.is_some() && outcome.is_ok() {
            loaded_checksum = checksum(config_file.clone()).await.ok();
        }
        if let Some(answer) = answer {
            let _ = answer.send(outcome);
        }
    }
}

/// Cancels `cancel` on SIGINT or SIGTERM.
async fn cancel_on_signal(cancel: CancellationToken) {
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
    let mut settings = ClusterSettings::from_config(&config.cluster, listen_address);
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
                config::SdConfig::Dns(_) => eprintln!(
                    "promshard cluster ring: job {job}: dns_sd_configs targets are not listed"
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

/// The URL notifications link back to: `--web.external-url`, or the
/// listen address.
fn external_url(flags: &ServerFlags) -> String {
    if !flags.web_external_url.is_empty() {
        return flags.web_external_url.clone();
    }
    format!(
        "http://{}",
        flags.first_listen_address().replace("0.0.0.0", "localhost")
    )
}

/// The retention as `/api/v1/status/runtimeinfo` shows it: the time, the
/// size, or `time or size`.
fn retention_text(flags: &ServerFlags) -> String {
    let time = flags.retention_time();
    let mut parts = Vec::new();
    if !time.is_zero() {
        parts.push(PromDuration::from_millis(time.as_millis() as u64).to_string());
    }
    if flags.retention_size() > 0 {
        parts.push(flags.storage_tsdb_retention_size.clone());
    }
    parts.join(" or ")
}

/// Who notifies for a group key: its primary owner on the ring (this
/// node when it owns it or there is no cluster).
fn group_owner_lookup(
    ownership: Arc<Ownership>,
    advertise_address: String,
) -> promshard::notify::alertmanager::GroupOwnerLookup {
    Arc::new(move |group_key: &str| {
        let key = xxhash_rust::xxh64::xxh64(group_key.as_bytes(), 0);
        match ownership.remote_owner_of(key, &advertise_address) {
            Some(address) => GroupOwner::Remote(address),
            None => GroupOwner::Local,
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
