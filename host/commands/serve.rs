//! `medic serve`: runs the engine until SIGINT or SIGTERM, then drains —
//! kills in flight finish (or stay unacknowledged), never half-done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiKeys, AppState};
use crate::config::Config;
use crate::config::raw::{EventBusType, Role};
use crate::engine::{Engine, Parts};
use crate::enrich;
use crate::execute::Links;
use crate::execute::veto::VetoChannel;
use crate::ingest::redis::{RedisConsumer, client};
use crate::plugin::{Registry, ReloadEvent, reload};
use crate::publish::Publisher;
use crate::store::{AuditKind, Store};
use crate::telemetry::Metrics;

/// Runs until stopped; `on_started` is called once the store is open and the
/// engine built, before any kill is taken (`medic` hands back the memory
/// that opening the store freed, host/main.rs).
pub async fn run(config: Config, on_started: impl FnOnce()) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let m = &config.medic;
    let registry = Arc::new(Registry::new(&config)?);
    // Every plugin file loaded, replaced, removed or refused is audited:
    // those of the start once the store is open, the rest as they happen.
    let (started, reloads) = registry.subscribe();
    let _watch = if m.plugins.watch {
        reload::watch(&registry)?
    } else {
        None
    };
    let store = Store::open_configured(&m.learning.database).with_context(|| {
        format!(
            "opening the store at {}",
            Store::describe(&m.learning.database)
        )
    })?;
    // Read before anything the store holds is applied: a change another
    // replica makes from here on is applied by `follow` below.
    let revisions = crate::changes::revisions(&store)?;
    crate::changes::restore_bindings(&registry, &store)?;
    for event in &started {
        audit_reload(&store, event)?;
    }
    let env = |k: &str| std::env::var(k).ok();
    let siem = enrich::from_config(&config, &env)?;
    let metrics = Arc::new(Metrics::default());
    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    // What acting talks to outside is connected before the engine is
    // built: the events stream (with the responses' outbox) and Smith's
    // veto channel.
    let mut publisher = Publisher::none();
    if m.smith.event_bus.kind == EventBusType::Redis {
        match client(&m.smith.event_bus) {
            Ok(client) => {
                let events = match redis::aio::ConnectionManager::new(client.clone()).await {
                    Ok(conn) => Some(conn),
                    Err(e) => {
                        tracing::warn!(error = %e, "Redis not reachable yet: resurrection events will not be published (responses wait in the outbox)");
                        None
                    }
                };
                publisher = Publisher::redis(
                    client,
                    events,
                    &m.smith.event_bus.response_topic,
                    store.clone(),
                    metrics.clone(),
                );
                if let Some(outbox) = publisher.outbox() {
                    tasks.spawn(outbox.run(stop.clone()));
                }
            }
            Err(e) => tracing::warn!(error = %e, "Bad Redis URL"),
        }
    }
    let veto = if m.smith.veto_protocol.enabled {
        let channel =
            VetoChannel::connect(&m.smith.event_bus, &m.smith.veto_protocol, stop.clone())
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "smith.veto_protocol is enabled but Smith's Redis is not reachable: {e}"
                    )
                })?;
        tracing::info!(notices = %m.smith.veto_protocol.notice_topic, answers = %m.smith.veto_protocol.response_topic, "Smith veto protocol on");
        Some(channel)
    } else {
        None
    };
    let engine = Arc::new(
        Engine::acting(
            Parts {
                config: config.clone(),
                registry: registry.clone(),
                store: store.clone(),
                siem,
                metrics,
            },
            Links {
                events: publisher.clone(),
                veto,
            },
            &env,
        )
        .context("building the engine")?,
    );
    // Plugin files loaded above came before the gate: replay them now.
    registry
        .gate_loaded_files()
        .context("plugins.directory: a plugin file serving a phase")?;
    let decider = engine.decider.clone();
    let (Some(resurrector), Some(learning)) = (engine.acting.clone(), engine.learning.clone())
    else {
        anyhow::bail!("the engine was built without execution or learning");
    };
    let active = registry.active();
    tracing::info!(
        mode = ?decider.mode(), phase = %active.phase, risk_scorer = active.scorer.name(),
        strategy = active.strategy.name(), threshold_learner = active.learner.name(),
        siem = decider.siem.kind(), store = %m.learning.database.path.display(), "Medic starting"
    );
    on_started();

    if m.smith.event_bus.kind == EventBusType::Redis {
        let consumer = RedisConsumer::new(&m.smith.event_bus, decider.clone())?;
        tasks.spawn(consumer.run(stop.clone()));
    }
    let resumed = resurrector.resume()?;
    if resumed > 0 {
        tracing::info!(
            resumed,
            "Resumed resurrections left unfinished by the last run"
        );
    }
    let expiry_every = (m.interfaces.approval_queue.timeout / 4)
        .clamp(Duration::from_secs(1), Duration::from_secs(60));
    tasks.spawn(resurrector.clone().expire_queue(expiry_every, stop.clone()));
    // Replicas sharing the store: requests stamped and taken over, and
    // changes made through another replica applied here.
    tasks.spawn(resurrector.clone().share_requests(stop.clone()));
    tasks.spawn(crate::changes::follow(
        decider.clone(),
        revisions,
        stop.clone(),
    ));
    tasks.spawn(audit_reloads(reloads, store.clone(), stop.clone()));
    let sweeper = crate::retention::Sweeper::from_config(
        &config,
        store.clone(),
        engine.fleet.clone(),
        decider.metrics.clone(),
    );
    if let Some(sweeper) = sweeper {
        tasks.spawn(sweeper.run(stop.clone()));
    }
    if m.learning.enabled && m.learning.threshold_adjustment.enabled {
        tasks.spawn(learning.clone().schedule(stop.clone()));
    }
    // The queue CLI talks to the engine over the API, so acting modes serve it.
    let cli_needs_api = m.interfaces.cli.enabled && m.mode.current != crate::config::Mode::Observer;
    if m.smith.event_bus.kind == EventBusType::Http || m.interfaces.web.enabled || cli_needs_api {
        let env_key = std::env::var("MEDIC_API_KEY").ok();
        let mut keys = ApiKeys::new(&m.interfaces.web.api_keys, env_key.as_deref())?;
        if keys.is_empty() {
            let key: String = rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(32)
                .map(char::from)
                .collect();
            tracing::warn!(key = %key, "No API keys configured: generated a one-time admin key for this run (set MEDIC_API_KEY or interfaces.web.api_keys)");
            keys = keys.with("generated", Role::Admin, &key);
        }
        let keys = keys.with_rate_limit(
            m.interfaces.web.rate_limit_per_second,
            m.interfaces.web.rate_limit_burst,
        );
        let state = AppState::new(engine.clone(), keys, publisher);
        let addr: SocketAddr = format!("{}:{}", m.interfaces.web.host, m.interfaces.web.port)
            .parse()
            .with_context(|| {
                format!(
                    "interfaces.web.host/port {}:{} is not an address",
                    m.interfaces.web.host, m.interfaces.web.port
                )
            })?;
        let web_tls = &m.interfaces.web.tls;
        let acceptor = if web_tls.enabled {
            let (Some(cert_file), Some(key_file)) = (&web_tls.cert_file, &web_tls.key_file) else {
                anyhow::bail!("interfaces.web.tls: cert_file and key_file must name PEM files");
            };
            let config =
                crate::tls::server_config(cert_file, key_file).context("interfaces.web.tls")?;
            Some(tokio_rustls::TlsAcceptor::from(config))
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        tracing::info!(address = %addr, scheme, "HTTP API listening (POST /api/v1/kills, /api/v1/queue, GET /health)");
        let stopped = stop.clone();
        tasks.spawn(async move {
            let app = api::router(state);
            match acceptor {
                Some(acceptor) => api::tls::serve(listener, acceptor, app, stopped).await,
                None => {
                    let app = app.into_make_service_with_connect_info::<SocketAddr>();
                    let serve = axum::serve(listener, app)
                        .with_graceful_shutdown(stopped.cancelled_owned());
                    if let Err(e) = serve.await {
                        tracing::error!(error = %e, "HTTP server failed");
                    }
                }
            }
        });
    }

    if m.metrics.enabled {
        let state = AppState::new(engine.clone(), ApiKeys::new(&[], None)?, Publisher::none());
        serve_metrics(
            &m.interfaces.web.host,
            m.metrics.port,
            state,
            &mut tasks,
            &stop,
        )
        .await;
    }

    shutdown_signal().await;
    tracing::info!("Medic stopping: draining in-flight kills");
    stop.cancel();
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("Drain timed out; unacknowledged kills will be redelivered");
    }
    store.flush_all().await?;
    tracing::info!("Medic stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `/metrics` on its own port, for Prometheus. A port that cannot be had
/// is logged, not fatal: Medic's work does not depend on being scraped, and
/// `/metrics` stays on the API port (with a key).
async fn serve_metrics(
    host: &str,
    port: u16,
    state: AppState,
    tasks: &mut tokio::task::JoinSet<()>,
    stop: &CancellationToken,
) {
    let addr = format!("{host}:{port}");
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(address = %addr, error = %e, "Cannot serve metrics.port; /metrics stays on the API port");
            return;
        }
    };
    tracing::info!(address = %addr, "Prometheus metrics listening (GET /metrics)");
    let stopped = stop.clone();
    tasks.spawn(async move {
        let serve = axum::serve(listener, api::metrics_router(state))
            .with_graceful_shutdown(stopped.cancelled_owned());
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "Metrics server failed");
        }
    });
}

fn audit_reload(store: &Store, event: &ReloadEvent) -> Result<(), crate::store::StoreError> {
    store
        .audit(
            AuditKind::PluginChanged,
            None,
            None,
            "plugin-directory",
            serde_json::json!({"action": "reload", "event": event}),
        )
        .map(drop)
}

/// Audits each reload event of the plugin directory as it happens.
pub async fn audit_reloads(
    mut reloads: tokio::sync::broadcast::Receiver<ReloadEvent>,
    store: Store,
    stop: CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            e = reloads.recv() => e,
        };
        match event {
            Ok(event) => {
                if let Err(e) = audit_reload(&store, &event) {
                    tracing::error!(error = %e, path = %event.path.display(), outcome = %event.outcome, "Cannot audit a plugin reload");
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "Plugin reloads came faster than they were audited: {n} not audited"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}
