//! The CareChat server: the `carechat` binary's library.
//!
//! It terminates the protocol (`shared/design/PROTOCOL.md`, implemented in
//! the `protocol` crate), serves the widget and the embed page, and runs the
//! conversation engine for the clinic in its configuration.
//!
//! # Layout
//! - [`config`]: the configuration file, environment overrides and their
//!   validation, and the built-in demo clinic.
//! - [`server_key`]: the identity key file (generated on first start, 0600).
//! - [`transport`]: handshake, WebSocket frames, sync/resume and close codes.
//! - [`sessions`]: live sessions and their idle/absolute limits.
//! - [`rate_limit`]: per-address handshake limits.
//! - [`conversation`]: what happens to each patient message, in order:
//!   consent, safety, understanding, answer.
//! - [`consent`]: the consent states and the record of accepted consents.
//! - [`safety`]: crisis, emergency and medical-advice screening.
//! - [`nlu`]: matching free text (typos, paraphrase) to the clinic's FAQ.
//! - [`knowledge`]: the clinic's FAQ content and its checks.
//! - [`web`]: loader, embed page, static assets, security headers, demo site.
//!
//! Handlers stay thin; `main.rs` only parses arguments and calls [`run`].

pub mod audit;
pub mod clock;
pub mod config;
pub mod consent;
pub mod conversation;
pub mod ehr;
pub mod knowledge;
pub mod nlu;
pub mod phi;
pub mod rate_limit;
pub mod safety;
pub mod server_key;
pub mod sessions;
pub mod store;
pub mod transport;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::IdentityKey;

use crate::config::Config;
use crate::consent::ConsentLedger;
use crate::conversation::Conversation;
use crate::rate_limit::RateLimiter;
use crate::sessions::{Limits, Sessions};

/// How often expired sessions are swept.
const REAP_INTERVAL: Duration = Duration::from_secs(30);

/// Everything the handlers share.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// The identity key that signs handshakes.
    pub identity: IdentityKey,
    /// Live sessions.
    pub sessions: Sessions,
    /// Handshake limits per address.
    pub limiter: RateLimiter,
    /// The clinic's conversation rules.
    pub conversation: Conversation,
}

impl AppState {
    /// Builds the shared state from a configuration and an identity key.
    #[must_use]
    pub fn new(config: Config, identity: IdentityKey) -> Self {
        let sessions = Sessions::new(
            Limits {
                idle: config.idle_timeout,
                absolute: config.absolute_timeout,
            },
            config.max_sessions,
        );
        let limiter = RateLimiter::per_minute(config.handshakes_per_minute);
        let conversation = Conversation::new(
            config.clinic.clone(),
            &config.knowledge,
            ConsentLedger::new(&config.data_dir),
        );
        Self {
            config,
            identity,
            sessions,
            limiter,
            conversation,
        }
    }
}

/// Prepares the data directory and identity key, logging the key's public
/// half when it is new.
///
/// # Errors
/// When the data directory or key file cannot be used.
pub fn open_identity(config: &Config) -> anyhow::Result<IdentityKey> {
    server_key::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let (key, generated) = server_key::load_or_generate(&config.data_dir)?;
    let public = key.public();
    if generated {
        tracing::info!(
            key_id = public.key_id(),
            public_key = public.to_b64u(),
            "generated a new identity key"
        );
    } else {
        tracing::info!(key_id = public.key_id(), "identity key loaded");
    }
    Ok(key)
}

/// Serves the chat on `listener` until `shutdown` completes.
///
/// # Errors
/// When the TLS files cannot be loaded or the server fails.
pub async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if !state.config.assets_dir.join("index.html").exists() {
        tracing::warn!(
            assets_dir = %state.config.assets_dir.display(),
            "the widget is not built here; /embed will answer 503 until it is (scripts/build-widget)"
        );
    }
    let state = Arc::new(state);
    let reaper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REAP_INTERVAL);
            loop {
                tick.tick().await;
                let gone = state.sessions.reap(Instant::now());
                if gone > 0 {
                    tracing::info!(sessions = gone, "expired sessions forgotten");
                }
            }
        })
    };
    let app = web::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let result = if let Some(tls) = &state.config.tls {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls_config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
            .await
            .with_context(|| {
                format!(
                    "cannot load TLS certificate {} and key {}",
                    tls.cert.display(),
                    tls.key.display()
                )
            })?;
        let handle = axum_server::Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.graceful_shutdown(Some(Duration::from_secs(5)));
        });
        axum_server::from_tcp_rustls(listener.into_std()?, tls_config)?
            .handle(handle)
            .serve(app)
            .await
            .context("server failed")
    } else {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .context("server failed")
    };
    reaper.abort();
    result
}

/// Serves the demo clinic web site on `listener`, embedding the chat at
/// `chat_origin`.
///
/// # Errors
/// When the server fails.
pub async fn run_demo_site(
    listener: tokio::net::TcpListener,
    dir: PathBuf,
    chat_origin: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, web::demo_site_router(dir, chat_origin))
        .with_graceful_shutdown(shutdown)
        .await
        .context("demo site failed")
}
