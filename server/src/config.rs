//! Configuration: what the clinic wrote, checked once at start-up.
//!
//! Two stages, as the user sees them: [`RawConfig`] is the TOML file exactly
//! as written (every field optional where a default makes sense), then
//! [`RawConfig::validate`] checks it and derives the [`Config`] the server
//! runs with. Every error names the setting and says what to change.
//!
//! Precedence, lowest first: the embedded demo clinic (or the `--config`
//! file, which replaces it whole), then `CARECHAT_*` environment variables,
//! then command-line flags.
//!
//! A valid configuration may still be unfit for real patients: [`production`]
//! decides that (the top-level `mode`, and
//! [`Config::production_problems`]), for `serve` and `check-config` alike.

pub mod production;

pub use production::{Mode, NotForProduction};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ehr::{EhrConfig, RawEhr};
use crate::identity::config::{
    RawVerification, VerificationConfig, SMS_TOKEN_ENV, SMTP_PASSWORD_ENV,
};
use crate::knowledge::{KnowledgeBase, DEMO_KNOWLEDGE_TOML};
use crate::store::config::{RawStorage, StorageConfig, DATABASE_URL_ENV, MASTER_KEY_ENV};

/// The demo clinic's configuration, compiled in so `carechat serve` works on
/// a fresh machine with no file at all. Its FAQ is
/// [`crate::knowledge::DEMO_KNOWLEDGE_TOML`].
pub const DEMO_CONFIG: &str = include_str!("../config/demo.toml");

/// The configuration `carechat init` writes: production mode, with every
/// setting a clinic must fill in marked, so `check-config` names each one
/// until it is done.
pub const PRODUCTION_CONFIG: &str = include_str!("../config/production.toml");

/// The protocol's idle limit; configurable down, never up.
pub const MAX_IDLE: Duration = Duration::from_secs(15 * 60);
/// The protocol's absolute session limit; configurable down, never up.
pub const MAX_ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);

/// A configuration problem, phrased for the person editing the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML did not parse or had unknown or mistyped settings.
    #[error("config {origin} is not valid: {message}")]
    Parse {
        /// Which file (or "built-in demo config").
        origin: String,
        /// The parser's description, with line and column.
        message: String,
    },
    /// A setting has a value the server cannot use.
    #[error("{setting}: {problem}")]
    Invalid {
        /// Dotted name of the setting, e.g. `sessions.idle_timeout_secs`.
        setting: &'static str,
        /// What is wrong and what to do.
        problem: String,
    },
}

fn invalid(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        problem: problem.into(),
    }
}

/// The configuration file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `"production"` (the default) or `"demo"`.
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    sessions: RawSessions,
    #[serde(default)]
    limits: RawLimits,
    clinic: Clinic,
    knowledge: Option<RawKnowledge>,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    ehr: RawEhr,
    #[serde(default)]
    verification: RawVerification,
    #[serde(default)]
    audit: crate::audit::RawAudit,
    /// Where the FAQ comes from, decided by how the config was loaded.
    #[serde(skip)]
    knowledge_source: KnowledgeSource,
    /// Secrets and URLs taken from the environment by [`Self::apply_env`]
    /// (never from the file): the master key, database URL, SMS token and
    /// SMTP password.
    #[serde(skip)]
    env_secrets: std::collections::HashMap<&'static str, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKnowledge {
    file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
enum KnowledgeSource {
    /// The built-in demo clinic's FAQ.
    #[default]
    BuiltIn,
    /// `knowledge.file`, relative to the directory of the config file.
    RelativeTo(PathBuf),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    assets_dir: Option<PathBuf>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    /// Replaced by `trusted_proxies`; kept so a config that still sets it
    /// gets a message saying what to write instead.
    trust_forwarded_for: Option<bool>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    tls: Option<RawTls>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSessions {
    idle_timeout_secs: Option<u64>,
    absolute_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    handshakes_per_minute: Option<u32>,
    max_sessions: Option<usize>,
    sessions_per_address: Option<usize>,
    connections_per_address: Option<usize>,
    messages_per_minute: Option<u32>,
    messages_per_session: Option<u32>,
}

/// Who the clinic is, as the chat presents it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clinic {
    /// The `data-clinic` id in the embed script tag.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The number patients are sent to whenever the chat cannot help.
    pub phone: String,
    /// Version of the notice patients consent to.
    pub policy_version: String,
    /// The notice shown before consent.
    pub disclaimer: String,
    /// Language of the clinic's texts (BCP 47).
    pub locale: String,
    /// The clinic's time zone (IANA name, e.g. "America/Chicago"), in
    /// which appointment times are read and shown. UTC when unset.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The notice in Spanish, shown to patients who chat in Spanish. The
    /// catalog's general Spanish notice when unset.
    #[serde(default)]
    pub disclaimer_es: Option<String>,
    /// The nurse line crisis and advice replies offer; `phone` when unset.
    #[serde(default)]
    pub nurse_line: Option<String>,
    /// The numbers emergency guidance gives (US national lines unless the
    /// clinic sets its own).
    #[serde(default)]
    pub crisis_lines: CrisisLines,
    /// When a person can answer a chat handed to the clinic
    /// (`[clinic.staffed_hours]`, e.g. `mon = "08:00-17:00"`); Monday to
    /// Friday 08:00–17:00 when unset. Outside them the patient is told when
    /// the clinic opens and the number to call.
    #[serde(default)]
    pub staffed_hours: crate::handoff::hours::StaffedHours,
}

/// The numbers emergency guidance names, as people write them ("911",
/// "1-800-799-7233"); the chat turns each into a tap-to-call button.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrisisLines {
    /// Emergency services.
    pub emergency: String,
    /// The suicide and crisis line (call or text; Spanish by pressing 2, or
    /// texting AYUDA).
    pub crisis: String,
    /// The Crisis Text Line (text HOME; HOLA in Spanish).
    pub crisis_text_line: String,
    /// The National Domestic Violence Hotline.
    pub domestic_violence: String,
    /// Poison Control.
    pub poison_control: String,
}

impl Default for CrisisLines {
    fn default() -> Self {
        Self {
            emergency: "911".to_owned(),
            crisis: "988".to_owned(),
            crisis_text_line: "741741".to_owned(),
            domestic_violence: "1-800-799-7233".to_owned(),
            poison_control: "1-800-222-1222".to_owned(),
        }
    }
}

/// TLS certificate and key files (PEM).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Production (the default) or demo.
    pub mode: Mode,
    /// Listen address.
    pub listen: SocketAddr,
    /// Origin browsers use to reach this server, without a trailing slash.
    pub public_url: String,
    /// Identity key and local records.
    pub data_dir: PathBuf,
    /// The built widget.
    pub assets_dir: PathBuf,
    /// Sites allowed to embed the chat (exact origins).
    pub allowed_origins: Vec<String>,
    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// Serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// Idle session limit.
    pub idle_timeout: Duration,
    /// Absolute session limit.
    pub absolute_timeout: Duration,
    /// Handshakes one address may make per minute.
    pub handshakes_per_minute: u32,
    /// Sessions held at once.
    pub max_sessions: usize,
    /// Sessions one client address (an IPv6 /64) may hold at once.
    pub sessions_per_address: usize,
    /// TCP connections one client address may hold open at once (trusted
    /// proxies are not counted).
    pub connections_per_address: usize,
    /// Messages one session may send per minute (in bursts of up to this).
    pub messages_per_minute: u32,
    /// Messages one session may send in all.
    pub messages_per_session: u32,
    /// The clinic.
    pub clinic: Clinic,
    /// Its FAQ.
    pub knowledge: KnowledgeBase,
    /// The clinic's time zone.
    pub timezone: chrono_tz::Tz,
    /// The database and master key.
    pub storage: StorageConfig,
    /// The EHR.
    pub ehr: EhrConfig,
    /// Identity verification and code delivery.
    pub verification: VerificationConfig,
    /// The audit log: anchor file, checkpoint interval, restart sweep.
    pub audit: crate::audit::AuditConfig,
}

/// Command-line overrides (the highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--assets-dir`.
    pub assets_dir: Option<PathBuf>,
    /// `--public-url`.
    pub public_url: Option<String>,
    /// Extra allowed origins (e.g. the demo site's own origin).
    pub extra_allowed_origins: Vec<String>,
}

impl RawConfig {
    /// Parses TOML text; `origin` names it in error messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] with the parser's line and column.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// The built-in demo clinic, with its built-in FAQ.
    ///
    /// # Errors
    /// Only if the embedded file is broken, which a test guards against.
    pub fn demo() -> Result<Self, ConfigError> {
        Self::parse(DEMO_CONFIG, "built-in demo config")
    }

    /// Reads a config file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut raw = Self::parse(&text, &path.display().to_string())?;
        let dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        raw.knowledge_source = KnowledgeSource::RelativeTo(dir);
        Ok(raw)
    }

    /// Applies `CARECHAT_*` variables from `env` (a lookup function, so
    /// tests need not touch the process environment).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a variable that is not a number where
    /// one is needed.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            name: &'static str,
        ) -> Result<Option<T>, ConfigError> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| invalid(name, format!("must be a whole number, got {v:?}")))
                })
                .transpose()
        }
        if let Some(v) = env("CARECHAT_LISTEN") {
            self.server.listen = Some(v);
        }
        if let Some(v) = env("CARECHAT_PUBLIC_URL") {
            self.server.public_url = Some(v);
        }
        if let Some(v) = env("CARECHAT_DATA_DIR") {
            self.server.data_dir = Some(v.into());
        }
        if let Some(v) = env("CARECHAT_ASSETS_DIR") {
            self.server.assets_dir = Some(v.into());
        }
        if let Some(v) = env("CARECHAT_ALLOWED_ORIGINS") {
            self.server.allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if env("CARECHAT_TRUST_FORWARDED_FOR").is_some() {
            return Err(invalid(
                "CARECHAT_TRUST_FORWARDED_FOR",
                "is replaced by CARECHAT_TRUSTED_PROXIES: list your reverse proxies' addresses, comma-separated (e.g. \"127.0.0.1,10.0.0.0/8\")",
            ));
        }
        if let Some(v) = env("CARECHAT_TRUSTED_PROXIES") {
            self.server.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        match (env("CARECHAT_TLS_CERT"), env("CARECHAT_TLS_KEY")) {
            (Some(cert), Some(key)) => {
                self.server.tls = Some(RawTls {
                    cert: cert.into(),
                    key: key.into(),
                });
            }
            (None, None) => {}
            _ => {
                return Err(invalid(
                    "CARECHAT_TLS_CERT",
                    "set both CARECHAT_TLS_CERT and CARECHAT_TLS_KEY, or neither",
                ))
            }
        }
        self.verification
            .apply_env(&env)
            .map_err(|(setting, problem)| invalid(setting, problem))?;
        self.audit.apply_env(&env);
        for name in [
            MASTER_KEY_ENV,
            DATABASE_URL_ENV,
            SMS_TOKEN_ENV,
            SMTP_PASSWORD_ENV,
        ] {
            if let Some(v) = env(name) {
                self.env_secrets.insert(name, v);
            }
        }
        if let Some(v) = num(&env, "CARECHAT_IDLE_TIMEOUT_SECS")? {
            self.sessions.idle_timeout_secs = Some(v);
        }
        if let Some(v) = num(&env, "CARECHAT_ABSOLUTE_TIMEOUT_SECS")? {
            self.sessions.absolute_timeout_secs = Some(v);
        }
        if let Some(v) = num(&env, "CARECHAT_HANDSHAKES_PER_MINUTE")? {
            self.limits.handshakes_per_minute = Some(v);
        }
        if let Some(v) = num(&env, "CARECHAT_MAX_SESSIONS")? {
            self.limits.max_sessions = Some(v);
        }
        if let Some(v) = num(&env, "CARECHAT_SESSIONS_PER_ADDRESS")? {
            self.limits.sessions_per_address = Some(v);
        }
        if let Some(v) = num(&env, "CARECHAT_CONNECTIONS_PER_ADDRESS")? {
            self.limits.connections_per_address = Some(v);
        }
        if let Some(v) = num(&env, "CARECHAT_MESSAGES_PER_MINUTE")? {
            self.limits.messages_per_minute = Some(v);
        }
        if let Some(v) = num(&env, "CARECHAT_MESSAGES_PER_SESSION")? {
            self.limits.messages_per_session = Some(v);
        }
        Ok(())
    }

    /// Applies command-line flags.
    pub fn apply_overrides(&mut self, o: Overrides) {
        if let Some(v) = o.listen {
            self.server.listen = Some(v);
        }
        if let Some(v) = o.data_dir {
            self.server.data_dir = Some(v);
        }
        if let Some(v) = o.assets_dir {
            self.server.assets_dir = Some(v);
        }
        if let Some(v) = o.public_url {
            self.server.public_url = Some(v);
        }
        for origin in o.extra_allowed_origins {
            if !self.server.allowed_origins.contains(&origin) {
                self.server.allowed_origins.push(origin);
            }
        }
    }

    /// Checks every setting and derives the running configuration.
    ///
    /// # Errors
    /// The first [`ConfigError::Invalid`] found.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let listen_text = self
            .server
            .listen
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            invalid(
                "server.listen",
                format!("{listen_text:?} is not an address:port such as \"127.0.0.1:8080\""),
            )
        })?;
        let tls = self.server.tls.map(|t| TlsFiles {
            cert: t.cert,
            key: t.key,
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = match self.server.public_url {
            Some(url) => normalize_origin(&url).ok_or_else(|| {
                invalid(
                    "server.public_url",
                    format!("{url:?} must be an origin like \"https://chat.clinic.example\" (scheme and host, no path)"),
                )
            })?,
            None => format!("{scheme}://{listen}"),
        };
        let mut allowed_origins = Vec::new();
        for origin in &self.server.allowed_origins {
            let normalized = normalize_origin(origin).ok_or_else(|| {
                invalid(
                    "server.allowed_origins",
                    format!("{origin:?} is not an origin; write it as scheme://host[:port] with no path, e.g. \"https://www.clinic.example\""),
                )
            })?;
            allowed_origins.push(normalized);
        }
        if allowed_origins.is_empty() {
            return Err(invalid(
                "server.allowed_origins",
                "is empty, so no web site could embed the chat; list your clinic site's origin, e.g. [\"https://www.clinic.example\"]",
            ));
        }
        let idle = self
            .sessions
            .idle_timeout_secs
            .unwrap_or(MAX_IDLE.as_secs());
        if idle == 0 || idle > MAX_IDLE.as_secs() {
            return Err(invalid(
                "sessions.idle_timeout_secs",
                format!(
                    "is {idle}; it must be between 1 and {} (15 minutes, the protocol's limit)",
                    MAX_IDLE.as_secs()
                ),
            ));
        }
        let absolute = self
            .sessions
            .absolute_timeout_secs
            .unwrap_or(MAX_ABSOLUTE.as_secs());
        if absolute == 0 || absolute > MAX_ABSOLUTE.as_secs() {
            return Err(invalid(
                "sessions.absolute_timeout_secs",
                format!(
                    "is {absolute}; it must be between 1 and {} (12 hours, the protocol's limit)",
                    MAX_ABSOLUTE.as_secs()
                ),
            ));
        }
        let handshakes_per_minute = self.limits.handshakes_per_minute.unwrap_or(30);
        if handshakes_per_minute == 0 {
            return Err(invalid(
                "limits.handshakes_per_minute",
                "is 0, so nobody could start a chat; the default is 30",
            ));
        }
        let max_sessions = self.limits.max_sessions.unwrap_or(10_000);
        if max_sessions == 0 {
            return Err(invalid(
                "limits.max_sessions",
                "is 0, so nobody could start a chat; the default is 10000",
            ));
        }
        let sessions_per_address = self.limits.sessions_per_address.unwrap_or(50);
        let connections_per_address = self.limits.connections_per_address.unwrap_or(200);
        let messages_per_minute = self.limits.messages_per_minute.unwrap_or(20);
        let messages_per_session = self.limits.messages_per_session.unwrap_or(500);
        for (setting, value, default) in [
            (
                "limits.sessions_per_address",
                sessions_per_address as u64,
                50,
            ),
            (
                "limits.connections_per_address",
                connections_per_address as u64,
                200,
            ),
            (
                "limits.messages_per_minute",
                u64::from(messages_per_minute),
                20,
            ),
            (
                "limits.messages_per_session",
                u64::from(messages_per_session),
                500,
            ),
        ] {
            if value == 0 {
                return Err(invalid(
                    setting,
                    format!("is 0, so nobody could chat; the default is {default}"),
                ));
            }
        }
        if self.server.trust_forwarded_for.is_some() {
            return Err(invalid(
                "server.trust_forwarded_for",
                "is replaced by server.trusted_proxies: list the addresses (or CIDR blocks) of the reverse proxies in front of this server, e.g. trusted_proxies = [\"127.0.0.1\"], and remove trust_forwarded_for",
            ));
        }
        let mut proxies = Vec::new();
        for text in &self.server.trusted_proxies {
            proxies.push(crate::client_addr::AddressBlock::parse(text).ok_or_else(|| {
                invalid(
                    "server.trusted_proxies",
                    format!("{text:?} is not an address or CIDR block such as \"10.0.0.7\" or \"10.0.0.0/8\""),
                )
            })?);
        }
        let trusted_proxies = crate::client_addr::TrustedProxies::new(proxies);
        let clinic = self.clinic;
        for (setting, value) in [
            ("clinic.id", &clinic.id),
            ("clinic.name", &clinic.name),
            ("clinic.phone", &clinic.phone),
            ("clinic.policy_version", &clinic.policy_version),
            ("clinic.disclaimer", &clinic.disclaimer),
            ("clinic.locale", &clinic.locale),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(setting, "is empty; fill it in"));
            }
        }
        if !clinic
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "clinic.id",
                "may only contain letters, digits, '-' and '_' (it appears in the script tag)",
            ));
        }
        let knowledge = match &self.knowledge_source {
            KnowledgeSource::BuiltIn => KnowledgeBase::from_toml_str(DEMO_KNOWLEDGE_TOML),
            KnowledgeSource::RelativeTo(dir) => {
                let file = self.knowledge.and_then(|k| k.file).ok_or_else(|| {
                    invalid(
                        "knowledge.file",
                        "is not set; point it at your clinic's FAQ file (`carechat init` writes one, faq.toml)",
                    )
                })?;
                KnowledgeBase::load(&dir.join(file))
            }
        }
        .map_err(|e| invalid("knowledge", e.to_string()))?;
        let timezone = match &clinic.timezone {
            None => chrono_tz::UTC,
            Some(name) => name.parse().map_err(|_| {
                invalid(
                    "clinic.timezone",
                    format!("{name:?} is not an IANA time zone name such as \"America/Chicago\""),
                )
            })?,
        };
        let data_dir: PathBuf = self.server.data_dir.unwrap_or_else(|| "data".into());
        let secrets = self.env_secrets;
        let env = |name: &str| secrets.get(name).cloned();
        let pair = |(setting, problem): (&'static str, String)| invalid(setting, problem);
        let storage = self.storage.validate(&data_dir, env).map_err(pair)?;
        let base_dir = match &self.knowledge_source {
            KnowledgeSource::BuiltIn => PathBuf::from("."),
            KnowledgeSource::RelativeTo(dir) => dir.clone(),
        };
        let ehr = self.ehr.validate(&base_dir).map_err(pair)?;
        let verification = self.verification.validate(env).map_err(pair)?;
        let audit = self.audit.validate(&data_dir).map_err(pair)?;
        Ok(Config {
            mode: self.mode,
            listen,
            public_url,
            data_dir,
            assets_dir: self.server.assets_dir.unwrap_or_else(|| "dist".into()),
            allowed_origins,
            trusted_proxies,
            tls,
            idle_timeout: Duration::from_secs(idle),
            absolute_timeout: Duration::from_secs(absolute),
            handshakes_per_minute,
            max_sessions,
            sessions_per_address,
            connections_per_address,
            messages_per_minute,
            messages_per_session,
            clinic,
            knowledge,
            timezone,
            storage,
            ehr,
            verification,
            audit,
        })
    }
}

/// `scheme://host[:port]` in lower case without a trailing slash, or `None`
/// if the text has a path, query, credentials or an unknown scheme.
#[must_use]
pub fn normalize_origin(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('/');
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    // host[:port] only: letters, digits, dots and hyphens, and an IPv6
    // literal's brackets and colons. Nothing else (a path, user info, a
    // wildcard, a control character) can ride along into a CSP header or a
    // log line.
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if rest.is_empty() || !rest.chars().all(allowed) {
        return None;
    }
    Some(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_origin_carrying_control_characters_or_more_than_a_host_is_refused() {
        for forged in [
            "https://clinic.example\nINFO forged log line",
            "https://clinic.example\r\nX-Injected: 1",
            "https://clinic.example\u{1b}[31m",
            "https://clinic\t.example",
            "https://clinic.example/path",
            "https://user@clinic.example",
            "https://*.clinic.example",
            "https://clinic.example?x",
            "https://clinic example",
            "https://",
            "javascript://clinic.example",
        ] {
            assert_eq!(normalize_origin(forged), None, "{forged:?}");
        }
        assert_eq!(
            normalize_origin("HTTPS://Clinic.Example:8443/").as_deref(),
            Some("https://clinic.example:8443")
        );
        assert_eq!(
            normalize_origin("http://[::1]:8080").as_deref(),
            Some("http://[::1]:8080")
        );
    }

    #[test]
    fn the_built_in_demo_config_is_valid() {
        let config = RawConfig::demo().unwrap().validate().unwrap();
        assert_eq!(config.clinic.id, "demo");
        assert_eq!(config.idle_timeout, MAX_IDLE);
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn env_overrides_and_bad_numbers_say_what_to_fix() {
        let mut raw = RawConfig::demo().unwrap();
        raw.apply_env(|k| (k == "CARECHAT_IDLE_TIMEOUT_SECS").then(|| "60".into()))
            .unwrap();
        assert_eq!(raw.clone().validate().unwrap().idle_timeout.as_secs(), 60);
        let err = raw
            .apply_env(|k| (k == "CARECHAT_MAX_SESSIONS").then(|| "lots".into()))
            .unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
    }

    #[test]
    fn session_limits_can_only_go_down() {
        let mut raw = RawConfig::demo().unwrap();
        raw.apply_env(|k| (k == "CARECHAT_IDLE_TIMEOUT_SECS").then(|| "901".into()))
            .unwrap();
        let err = raw.validate().unwrap_err().to_string();
        assert!(err.starts_with("sessions.idle_timeout_secs"), "{err}");
        assert!(err.contains("between 1 and 900"), "{err}");
    }

    #[test]
    fn origins_must_be_bare_origins() {
        assert_eq!(
            normalize_origin("HTTPS://Clinic.Example/").as_deref(),
            Some("https://clinic.example")
        );
        assert!(normalize_origin("https://clinic.example/chat").is_none());
        assert!(normalize_origin("*").is_none());
        assert!(normalize_origin("ftp://x").is_none());
        let mut raw = RawConfig::demo().unwrap();
        raw.apply_env(|k| (k == "CARECHAT_ALLOWED_ORIGINS").then(|| "clinic.example".into()))
            .unwrap();
        let err = raw.validate().unwrap_err().to_string();
        assert!(err.contains("scheme://host"), "{err}");
    }

    #[test]
    fn a_clinic_config_must_name_its_faq_file_and_the_file_must_be_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("carechat.toml");
        std::fs::write(&path, DEMO_CONFIG).unwrap();
        let err = RawConfig::load(&path)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("faq.toml"), "{err}");
        std::fs::write(dir.path().join("faq.toml"), DEMO_KNOWLEDGE_TOML).unwrap();
        let config = RawConfig::load(&path).unwrap().validate().unwrap();
        assert!(config.knowledge.faq.len() > 10);
        std::fs::write(dir.path().join("faq.toml"), "[[faq]]\nintent = \"hours\"\n").unwrap();
        let err = RawConfig::load(&path)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("knowledge"), "{err}");
        let without = DEMO_CONFIG.replace("file = \"faq.toml\"", "");
        std::fs::write(&path, without).unwrap();
        let err = RawConfig::load(&path)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("knowledge.file") && err.contains("carechat init"),
            "{err}"
        );
    }

    #[test]
    fn a_broken_file_names_the_line() {
        let err = RawConfig::parse("[server]\nlisten = 8080\n", "carechat.toml").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("carechat.toml"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        let err = RawConfig::parse("[server]\nlisten_on = \"x\"\n", "c.toml").unwrap_err();
        assert!(err.to_string().contains("listen_on"), "{err}");
    }
}
