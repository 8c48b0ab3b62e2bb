//! Builds everything the server needs (database, keys, admin) and binds the listener.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::clock;
use crate::config::Config;
use crate::crypto::keys::{KeySet, KeyStore, KeyVault};
use crate::db::{self, Db};
use crate::manage;
use crate::state::AppState;

/// How long a stopping server (SIGTERM, SIGINT) lets requests in flight finish.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the database, applies migrations, creates the first signing key and the bootstrap
/// admin. Answers the admin password when one was generated, to be shown once.
pub fn prepare(config: &Config) -> anyhow::Result<(Db, Option<String>)> {
    let db = Db::connect_with(&config.database, config.database_busy_timeout)
        .context("cannot open the database")?;
    let applied = db.migrate().context("cannot apply migrations")?;
    if applied > 0 {
        tracing::info!(applied, "Applied database migrations.");
    }
    let mut conn = db.conn()?;
    let now = clock::now();
    let vault = KeyVault::from_config(config);
    if manage::ensure_signing_key(&mut conn, &vault, now)? {
        if vault.in_database() {
            tracing::info!("Created the first signing key, encrypted in the database.");
        } else {
            tracing::info!(dir = %config.keys_dir.display(), "Created the first signing key.");
        }
    }
    let generated = manage::bootstrap_admin(
        &mut conn,
        config.admin_password.as_ref().map(|s| s.expose()),
        now,
    )?;
    Ok((db, generated))
}

/// The key set in force now and its fingerprint; `None` when `current` already holds it.
fn keys_in_force(
    config: &Config,
    db: &Db,
    current: Option<&KeyStore>,
) -> anyhow::Result<Option<(String, KeySet)>> {
    let mut conn = db.conn()?;
    let rows = db::keys::all(&mut conn)?;
    let now = clock::now();
    let window = config.key_publish_window();
    let fingerprint = KeySet::fingerprint(&rows, now, window);
    if current.is_some_and(|keys| !keys.is_stale(&fingerprint)) {
        return Ok(None);
    }
    let set = KeySet::build(&KeyVault::from_config(config), &rows, now, window)?;
    Ok(Some((fingerprint, set)))
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    db: Db,
}

impl Application {
    /// Prepares storage and keys, then binds `listener` (or `config.bind` when `None`).
    pub fn build(config: Config, listener: Option<TcpListener>) -> anyhow::Result<Self> {
        let (db, generated) = prepare(&config)?;
        if let Some(password) = generated {
            println!(
                "Created the bootstrap admin user `admin` with password: {password}\n\
                 (shown only this once; set TESSERA_ADMIN_PASSWORD to choose it yourself)"
            );
        }
        let (fingerprint, set) =
            keys_in_force(&config, &db, None)?.context("no signing key set could be built")?;
        let keys = KeyStore::new(fingerprint, set);
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind(config.bind)
                .with_context(|| format!("cannot listen on {}", config.bind))?,
        };
        let port = listener.local_addr()?.port();
        let audit = match config.audit_webhook.clone() {
            Some(hook) => crate::audit::Auditor::with_webhook(hook),
            None => crate::audit::Auditor::log_only(),
        };
        let hashing = crate::hashing::Hashing::new(
            config.password_hashing_threads,
            config.password_hashing_queue,
        )
        .context("cannot start the password hashing threads")?;
        let state = web::Data::new(AppState {
            config,
            db: db.clone(),
            keys,
            audit,
            metrics: crate::metrics::Metrics::new().context("cannot register the metrics")?,
            hashing,
            published: crate::oidc::published::Published::new(),
        });
        spawn_key_reloader(state.clone());
        crate::cleanup::spawn(db.clone(), state.config.cleanup_interval);
        crate::db::spawn_checkpoints(db.clone());
        // One async worker per core; database calls run on each worker's small blocking pool.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let server = HttpServer::new({
            let state = state.clone();
            move || {
                App::new()
                    .wrap(crate::web::hsts(state.config.is_https()))
                    .wrap(actix_web::middleware::from_fn(crate::metrics::track))
                    .app_data(state.clone())
                    .configure(crate::web::configure_app)
            }
        })
        .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
        .workers(workers)
        .worker_max_blocking_threads(db.blocking_threads_per_worker(workers))
        .listen(listener)?
        .run();
        tracing::info!(port, issuer = %state.config.issuer, "Tessera is listening.");
        Ok(Self { port, server, db })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> Db {
        self.db.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Picks up keys rotated or retired by `tessera keys …` in another process, and drops retired
/// keys from the JWKS once their publication window has passed.
fn spawn_key_reloader(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.key_reload_interval);
        loop {
            tick.tick().await;
            let st = state.clone();
            let outcome = db::run_blocking(move || -> anyhow::Result<()> {
                if let Some((fingerprint, set)) = keys_in_force(&st.config, &st.db, Some(&st.keys))?
                {
                    st.keys.replace(fingerprint, set);
                    tracing::info!("Reloaded the signing keys.");
                }
                Ok(())
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|reloaded| reloaded);
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "Could not reload the signing keys.");
            }
        }
    });
}
