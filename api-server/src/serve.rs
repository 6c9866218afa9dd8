//! Running the server: storage, engine, background sweeper, HTTP, graceful shutdown.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use seecret_core::blob::BlobStore;
use seecret_core::engine::{Engine, EngineConfig, SweepReport};
use seecret_core::store::StoreOptions;
use seecret_core::webhook::Deliverer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::Settings;
use crate::http::{AppState, app};
use crate::vars::unknown_env_vars;

/// Opens the database (creating the data directory for SQLite) and builds the engine.
pub async fn open_engine(
    data_dir: &Path,
    url: &str,
    options: &StoreOptions,
    cfg: EngineConfig,
) -> anyhow::Result<Engine> {
    if !url.starts_with("postgres") {
        create_private_dir(data_dir)?;
    }
    let store = seecret_core::store::open(url, options)
        .await
        .with_context(|| format!("opening the database {}", redact_url(url)))?;
    Ok(Engine::new(store, cfg))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// A database URL with any password hidden, for messages.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// `seecret serve`.
pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    crate::logging::init_as(&settings.log, settings.log_format);
    for var in unknown_env_vars() {
        warn!(%var, "unknown SEECRET_* environment variable ignored (typo?)");
    }
    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("listening on {}", settings.bind))?;
    let local = listener.local_addr()?;
    let metrics = match settings.metrics_bind {
        Some(addr) => Some(crate::metrics::install(addr, local).await?),
        None => None,
    };
    if !settings.public_url_set {
        // `--bind 127.0.0.1:0` picks a port; links must carry the real one.
        settings.engine.public_url = format!("http://{local}");
    }
    let blobs = BlobStore::open(&settings.blob_store, &settings.data_dir)
        .with_context(|| format!("opening the blob store {:?}", settings.blob_store))?;
    info!(blob_store = ?blobs, "blob store");
    let mut engine = open_engine(
        &settings.data_dir,
        settings.database_url.expose(),
        &settings.database.store_options(),
        settings.engine.clone(),
    )
    .await?
    .with_blobs(blobs);
    let audit = match &settings.audit_log {
        Some(target) => {
            let audit = Arc::new(crate::logging::AuditLog::open(target)?);
            info!(%target, "audit log");
            engine = engine.with_audit(audit.clone());
            Some(audit)
        }
        None => None,
    };
    // Always caught: SIGHUP's default would end the server on a `systemctl reload`.
    tokio::spawn(reopen_on_hangup(audit));
    if let Some(url) = &settings.redis_url {
        engine = engine
            .with_redis_limits(
                url.expose(),
                &settings.redis_prefix,
                settings.redis_fail_open,
            )
            .await
            .context("SEECRET_REDIS_URL")?;
        info!(
            fail_open = settings.redis_fail_open,
            "rate limits shared through Redis"
        );
    }
    let engine = Arc::new(engine);
    if let Some(metrics) = metrics {
        metrics.serve(engine.clone())?;
    }
    if let Some((account, token)) = engine.bootstrap().await? {
        // Shown once, on stdout, so it can be captured; it is never logged.
        println!(
            "Created the first account {:?} ({}). Its API token, shown only this once:",
            account.name, account.id
        );
        println!("{}", token.expose());
    }
    info!(addr = %local, public_url = %settings.engine.public_url, "seecret listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = tokio::spawn(sweep_loop(
        engine.clone(),
        settings.sweep_interval,
        stop_rx.clone(),
    ));
    let deliverer = Deliverer::new(
        engine.store().clone(),
        settings.engine.webhooks.clone(),
        engine.wake(),
    )?;
    let (deliverer, bot_routes) = crate::bots::mount(&engine, deliverer).await?;
    let deliverer = Arc::new(deliverer);
    let delivering = tokio::spawn(deliverer.run(stop_rx));
    let geo = seecret_core::geo::Geo::new(
        settings.geoip_db.as_deref(),
        settings.country_header.as_deref(),
    )?;
    info!(?geo, "country sources");
    let net = Arc::new(crate::http::Net {
        trusted: settings.trusted_proxies.clone(),
        geo,
    });
    let guards = Arc::new(crate::http::Guards::new(settings.http.clone()));
    let sign_in = Arc::new(crate::signin::SignIn::new(
        settings.sign_in.clone(),
        &settings.engine.public_url,
    )?);
    if !settings.sign_in.providers().is_empty() {
        info!(providers = ?settings.sign_in.providers(), "recipients of bound secrets sign in with");
    }
    let public = match &settings.public_create {
        Some((caps, per_minute)) => {
            let account = engine.public_account().await?;
            info!(account = %account.id, "anonymous sharing is on (SEECRET_PUBLIC_CREATE)");
            Some(Arc::new(crate::http::PublicCreate {
                account,
                caps: caps.clone(),
                limiter: seecret_core::limits::Limiter::per_minute(*per_minute),
            }))
        }
        None => None,
    };
    let app = app(
        AppState {
            engine,
            net,
            guards,
            sign_in,
            public,
        },
        bot_routes,
    );
    serve_http(listener, app, settings.header_timeout)
        .await
        .context("serving HTTP")?;
    let _ = stop_tx.send(true);
    let _ = sweeper.await;
    let _ = delivering.await;
    info!("stopped cleanly");
    Ok(())
}

/// Serves HTTP/1.1 with hyper directly: `axum::serve` sets no timer, so a client could take
/// forever to send its headers. Each connection must deliver a request's headers within
/// `header_timeout` or is closed. On SIGTERM/SIGINT no new connection is taken and the open
/// ones finish their requests.
async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
) -> std::io::Result<()> {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let (stop_tx, stop_rx) = watch::channel(());
    // Every connection holds a receiver; `closed()` resolves when the last one is done.
    let (done_tx, done_rx) = watch::channel(());
    let stopping = shutdown_signal();
    tokio::pin!(stopping);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopping => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            },
        );
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(done);
        });
    }
    drop(listener);
    let _ = stop_tx.send(());
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

/// Reopens the audit log's file on each SIGHUP (logrotate's `postrotate`).
async fn reopen_on_hangup(audit: Option<Arc<crate::logging::AuditLog>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "SIGHUP cannot be caught: the audit log will not be reopened");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let Some(audit) = &audit else {
            info!("SIGHUP: no audit log to reopen");
            continue;
        };
        match audit.reopen() {
            Ok(()) => info!("audit log reopened"),
            Err(e) => error!(error = %e, "audit log: reopening failed; still writing the old file"),
        }
    }
}

async fn sweep_loop(
    engine: Arc<Engine>,
    every: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match engine.sweep().await {
            Ok(r) if r != SweepReport::default() => {
                info!(
                    expired = r.expired,
                    purged = r.purged,
                    orphan_blobs = r.orphan_blobs,
                    stale_uploads = r.stale_uploads,
                    "sweep"
                );
            }
            Ok(_) => {}
            Err(e) => error!(error = %e, "sweep failed; will retry"),
        }
    }
}

async fn shutdown_signal() {
    seecret_core::shutdown_signal().await;
    info!("shutting down: finishing in-flight requests");
}
