//! The CareChat server: the `carechat` binary's library.
//!
//! It terminates the protocol (`shared/design/PROTOCOL.md`, implemented in
//! the `protocol` crate), serves the widget and the embed page, and runs the
//! conversation engine for the clinic in its configuration.
//!
//! # Layout
//! - [`config`]: the configuration file, environment overrides and their
//!   validation, the built-in demo clinic, and production mode (what
//!   `serve` refuses outside demo mode).
//! - [`server_key`]: the identity key file (generated on first start, 0600).
//! - [`private_files`]: the data directory (0700) and the private files in
//!   it (0600); key files others can read are refused.
//! - [`health`]: liveness (`/healthz`) and readiness (`/readyz`: the store
//!   and the audit log take writes).
//! - [`transport`]: handshake, WebSocket frames, sync/resume and close codes.
//! - [`sessions`]: live sessions and their idle/absolute limits.
//! - [`rate_limit`]: per-address handshake limits (shared by every
//!   instance on one PostgreSQL) and per-session message allowances.
//! - [`conversation`]: what happens to each patient message, in order:
//!   safety, consent, language, verification, understanding, answer.
//! - [`consent`]: the consent states and the record of accepted consents
//!   (in the database; an old `consent.jsonl` is imported at start-up).
//! - [`i18n`]: the message catalog (Project Fluent), English and Spanish:
//!   every word a patient reads, the widget's included.
//! - [`knowledge`]: the clinic's FAQ content and its checks (from the
//!   `carechat-language` crate, which also owns text normalisation, the
//!   safety screen, language detection and the intent model: pure code,
//!   no I/O, in `server/language/`).
//! - [`web`]: loader, embed page, static assets, security headers, demo site.
//! - [`identity`]: verifying who a patient is (details, one-time codes,
//!   lockout) and delivering codes (SMS, email, development outbox).
//! - [`ehr`]: the clinic's EHR (FHIR R4 client, embedded demo EHR).
//! - [`records`]: the one, audited, path from the conversation to the EHR.
//! - [`handoff`]: the staff queue, and who from the clinic owns a chat.
//! - [`console`]: the staff console's backend (sessions, origin, CSRF and
//!   role checks, audit) behind its server functions.
//! - [`booking`]: reading scheduling requests, picking and showing slots.
//! - [`settings`]: the clinic settings admins change in the console
//!   (staffed hours, FAQ entries, canned responses), in force at once.
//! - [`staff`]: clinic staff accounts, roles, password and TOTP sign-in,
//!   sign-in limits and console sessions.
//! - [`audit`]: the append-only, hash-chained, signed audit log.
//! - [`journal`]: the one writer of a turn: transcript lines and session
//!   rows, group-committed together before the reply is sent.
//! - [`store`]: SQLite or PostgreSQL, migrations, envelope encryption.
//! - [`phi`]: the `Phi<T>` wrapper that keeps PHI out of logs.
//! - [`clock`]: time as a dependency.
//!
//! Handlers stay thin; `main.rs` only parses arguments and calls [`run`].

pub mod audit;
pub mod booking;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod consent;
pub mod console;
pub mod conversation;
pub mod ehr;
pub mod handoff;
pub mod health;
pub mod i18n;
pub mod identity;
pub mod journal;
pub mod listener;
pub mod phi;
pub mod private_files;
pub mod rate_limit;
pub mod records;
pub mod server_key;
pub mod sessions;
pub mod settings;
pub mod staff;
pub mod store;
pub mod transport;
pub mod web;

pub use carechat_language::knowledge;

/// Narrow entry points for the fuzz targets in `fuzz/` (see
/// `docs/FUZZING.md`); only with the `fuzzing` feature, not an API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::ehr::fhir::fuzzing as fhir;
}

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use protocol::IdentityKey;

use crate::audit::AuditLog;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::consent::ConsentLedger;
use crate::conversation::Conversation;
use crate::identity::otp::Verifier;
use crate::rate_limit::{HandshakeLimit, RateLimiter};
use crate::records::Records;
use crate::sessions::{Limits, Sessions};
use crate::store::Store;

/// How often expired sessions are swept.
const REAP_INTERVAL: Duration = Duration::from_secs(15);

/// Everything the handlers share.
pub struct AppState {
    /// The validated configuration.
    pub config: Config,
    /// The identity key that signs handshakes (audit checkpoints have a
    /// key of their own, see [`audit`]).
    pub identity: Arc<IdentityKey>,
    /// The same key as the handshake's fast key work signs with it.
    pub key_work: Arc<transport::key_work::RingKeyWork>,
    /// Live sessions.
    pub sessions: Arc<Sessions>,
    /// Handshake limits per address.
    pub limiter: HandshakeLimit,
    /// The clinic's conversation rules.
    pub conversation: Arc<Conversation>,
    /// The database.
    pub store: Store,
    /// The audit log.
    pub audit: AuditLog,
    /// The staff queue: chats waiting for, or owned by, a person.
    pub handoffs: Arc<handoff::Handoffs>,
    /// The staff console's backend.
    pub console: Arc<console::Backend>,
    /// What `/readyz` checks.
    pub readiness: health::Readiness,
}

impl AppState {
    /// Opens the store (running migrations), connects the EHR and builds
    /// the shared state, with the system clock.
    ///
    /// # Errors
    /// When the database, master key or EHR configuration cannot be used.
    pub async fn open(config: Config, identity: IdentityKey) -> anyhow::Result<Self> {
        Self::open_with_clock(config, identity, Arc::new(SystemClock)).await
    }

    /// As [`AppState::open`], with a clock of the caller's.
    ///
    /// # Errors
    /// As [`AppState::open`].
    pub async fn open_with_clock(
        config: Config,
        identity: IdentityKey,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let store = Store::open(&config.storage)
            .await
            .context("cannot open the database")?;
        // The session names every row uses, before any session exists
        // (see store::names for why they are the process's).
        if store::names::install(store.session_names()) == store::names::Installed::OtherKeyKept {
            tracing::warn!("this process already names sessions under another database's key; it keeps that key");
        }
        // A read-only database opens and reads fine, then fails every
        // consent and verification: refuse it now.
        store
            .check_writable("data_keys")
            .await
            .context("cannot use the database")?;
        let ledger = ConsentLedger::new(store.clone());
        ledger
            .import_file(&config.data_dir)
            .await
            .context("the old consent ledger file cannot be moved into the database")?;
        let key_work = transport::key_work::RingKeyWork::new(&identity)
            .map_err(|e| anyhow::anyhow!("the identity key cannot be loaded for signing: {e}"))?;
        let identity = Arc::new(identity);
        let audit = open_audit(&config, &store)?.with_clock(clock.clone());
        audit
            .recover(&audit::RecoveryPolicy {
                end_sessions: config.audit.restart_ends_sessions,
                max_session_age: config.absolute_timeout,
                max_sessions: config.max_sessions,
            })
            .await
            .context("the audit log cannot be brought up to date after the last stop")?;
        let ehr = ehr::connect(&config.ehr, clock.clone(), config.timezone)
            .context("cannot set up the EHR connection")?;
        let records = Records::new(ehr, audit.clone());
        let verification = &config.verification;
        let sender = identity::delivery_for(
            &verification.delivery,
            &config.data_dir,
            &config.clinic.name,
            verification.policy.ttl.num_minutes(),
        )?;
        let verifier = Verifier::new(store.clone(), verification.policy);
        let identity_check =
            identity::Identity::new(verifier, sender, records.clone(), verification.require_mrn);
        let identity_check = if store.backend() == store::Backend::Postgres {
            identity_check.with_shared_limits(verification.limits, store.clone())
        } else {
            identity_check.with_limits(verification.limits)
        };
        let journal = journal::Journal::spawn(store.clone());
        let sessions = Sessions::new(
            Limits {
                idle: config.idle_timeout,
                absolute: config.absolute_timeout,
                unopened: Limits::UNOPENED,
                per_address: config.sessions_per_address,
                messages_per_minute: config.messages_per_minute,
                messages_per_session: config.messages_per_session,
            },
            config.max_sessions,
        )
        .with_store(store.clone(), journal.clone());
        let limiter = HandshakeLimit::new(
            RateLimiter::per_minute(config.handshakes_per_minute),
            (store.backend() == store::Backend::Postgres).then(|| {
                rate_limit::shared::SharedBuckets::per_minute(
                    store.clone(),
                    "handshake",
                    config.handshakes_per_minute,
                )
            }),
        );
        let handoffs = Arc::new(handoff::Handoffs::new());
        let conversation = Conversation::new(
            config.clinic.clone(),
            config.timezone,
            &config.knowledge,
            ledger,
            identity_check,
            records,
            store.clone(),
            journal,
            clock.clone(),
            handoffs.clone(),
        )
        .context("the built-in intents could not be loaded")?;
        let sessions = Arc::new(sessions);
        let conversation = Arc::new(conversation);
        settings::Settings::new(
            store.clone(),
            audit.clone(),
            clock.clone(),
            conversation.live().clone(),
        )
        .load_stored()
        .await
        .context("the clinic settings stored in the database cannot be used")?;
        let staff = staff::Staff::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            staff::SessionPolicy::default(),
        )
        .with_issuer(&config.clinic.name);
        let console = console::Backend::new(
            staff,
            handoffs.clone(),
            sessions.clone(),
            conversation.clone(),
            store.clone(),
            audit.clone(),
            clock,
            vec![config.public_url.clone()],
            config.tls.is_some(),
        );
        let readiness = health::Readiness::new(store.clone());
        Ok(Self {
            config,
            identity,
            key_work: Arc::new(key_work),
            sessions,
            limiter,
            conversation,
            store,
            audit,
            handoffs,
            console,
            readiness,
        })
    }
}

/// The audit log as `config` sets it up (signing key from the store,
/// checkpoint interval, anchor file); for the server and the command line.
///
/// # Errors
/// When the stored audit signing key cannot be used.
pub fn open_audit(config: &Config, store: &Store) -> anyhow::Result<AuditLog> {
    AuditLog::configured(store.clone(), &config.audit)
        .context("the audit signing key stored in the database cannot be used")
}

/// Prepares the data directory (0700, an existing one others can read
/// tightened) and identity key, logging the key's public half when it is
/// new.
///
/// # Errors
/// When the data directory or key file cannot be used.
pub fn open_identity(config: &Config) -> anyhow::Result<IdentityKey> {
    private_files::prepare_data_dir(&config.data_dir)?;
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
                let gone = state.sessions.end_expired(Instant::now()).await;
                if !gone.is_empty() {
                    tracing::info!(sessions = gone.len(), "expired sessions forgotten");
                }
                for who in gone {
                    state.handoffs.forget_ref(&who.session);
                    state
                        .audit
                        .record_or_log(who.event(
                            audit::AuditAction::SessionEnd,
                            None,
                            audit::AuditOutcome::Success,
                        ))
                        .await;
                }
            }
        })
    };
    let cap = listener::ConnectionCap::new(
        state.config.connections_per_address,
        state.config.trusted_proxies.clone(),
    );
    let tls = state.config.tls.as_ref().map(|t| listener::Tls {
        cert: &t.cert,
        key: &t.key,
    });
    let result = listener::serve(listener, web::router(state.clone()), cap, tls, shutdown).await;
    reaper.abort();
    // Sign the chain's head, so events since the last checkpoint are
    // covered too.
    if let Err(e) = state.audit.checkpoint().await {
        tracing::error!(error = %e, "audit checkpoint at shutdown failed");
    }
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
