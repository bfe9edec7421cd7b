//! Production mode: the one place that decides whether a configuration is
//! fit for real patients.
//!
//! The top-level `mode` setting is `"production"` unless the file says
//! `mode = "demo"` (the built-in demo clinic does; nothing else may, and no
//! environment variable can). Outside demo mode, `carechat serve` and
//! `carechat check-config` both refuse, through
//! [`Config::production_problems`], a configuration that still uses a
//! demo-only part:
//! - the development outbox (`verification.delivery = "outbox"`), which
//!   writes one-time codes in the clear to a file and the log;
//! - the embedded demo EHR (`ehr.kind = "demo"`, also the default);
//! - allowed origins that are all loopback (the demo site's), so no real
//!   web site could embed the chat;
//! - a plain-http SMS API, whose auth token would travel in clear (the
//!   `[verification]` check already refuses one that is not loopback);
//! - a plain-http public URL, so patients' browsers would load the widget
//!   and its pinned key over a connection anyone on the path can change;
//! - clinic details still holding the [`PLACEHOLDER`] that the file
//!   `carechat init` writes ([`super::PRODUCTION_CONFIG`]) marks them with.
//!
//! The other commands (`staff`, `keys`, `audit`) run on any valid
//! configuration: they serve no patient.

use serde::Deserialize;

use super::{Config, ConfigError};
use crate::ehr::EhrConfig;
use crate::identity::config::{is_loopback_origin, Delivery};

/// The mark `carechat init`'s file puts in the clinic details to fill in.
pub const PLACEHOLDER: &str = "FILL IN";

/// What the configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Real patients: demo-only parts are refused (the default).
    #[default]
    Production,
    /// A demonstration with synthetic data: the development outbox, the demo
    /// EHR and loopback origins are allowed.
    Demo,
}

impl Mode {
    /// `"production"` or `"demo"`, as written in the file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Demo => "demo",
        }
    }
}

/// `carechat serve` refuses this configuration outside demo mode; every
/// problem is listed, each naming the setting to change.
#[derive(Debug, thiserror::Error)]
pub struct NotForProduction(pub Vec<ConfigError>);

impl std::fmt::Display for NotForProduction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "this configuration is not fit for real patients (mode = \"production\", the default); change:"
        )?;
        for problem in &self.0 {
            writeln!(f, "  {problem}")?;
        }
        write!(
            f,
            "(for a demonstration with synthetic data only, put mode = \"demo\" at the top of the file instead)"
        )
    }
}

fn problem(setting: &'static str, text: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        problem: text.into(),
    }
}

impl Config {
    /// Whatever makes this configuration unfit for real patients, in the
    /// order of the file; always empty in demo mode. `carechat serve`
    /// refuses to start and `carechat check-config` fails when it is not
    /// empty.
    #[must_use]
    pub fn production_problems(&self) -> Vec<ConfigError> {
        if self.mode == Mode::Demo {
            return Vec::new();
        }
        let mut problems = Vec::new();
        if self.public_url.starts_with("http://") {
            problems.push(problem(
                "server.public_url",
                format!(
                    "is {:?}, plain http, so patients' browsers would load the chat and its pinned key over a connection anyone in between can change; set public_url to the https:// origin patients use (your TLS proxy's), or configure [server.tls]",
                    self.public_url
                ),
            ));
        }
        if self.allowed_origins.iter().all(|o| is_loopback_origin(o)) {
            problems.push(problem(
                "server.allowed_origins",
                format!(
                    "lists only loopback origins ({}), the demo site's, so no real web site could embed the chat; list your clinic web site's origin, e.g. allowed_origins = [\"https://www.clinic.example\"]",
                    self.allowed_origins.join(", ")
                ),
            ));
        }
        let clinic = &self.clinic;
        for (setting, value) in [
            ("clinic.id", Some(&clinic.id)),
            ("clinic.name", Some(&clinic.name)),
            ("clinic.phone", Some(&clinic.phone)),
            ("clinic.policy_version", Some(&clinic.policy_version)),
            ("clinic.disclaimer", Some(&clinic.disclaimer)),
            ("clinic.disclaimer_es", clinic.disclaimer_es.as_ref()),
            ("clinic.nurse_line", clinic.nurse_line.as_ref()),
        ] {
            if value.is_some_and(|v| v.contains(PLACEHOLDER)) {
                problems.push(problem(
                    setting,
                    format!("still says {PLACEHOLDER:?}; write the clinic's own"),
                ));
            }
        }
        if matches!(self.ehr, EhrConfig::Demo) {
            problems.push(problem(
                "ehr.kind",
                "is \"demo\" (also the default when unset): the embedded demo EHR with synthetic patients; set kind = \"fhir\" and fill in [ehr.fhir] for the clinic's EHR",
            ));
        }
        match &self.verification.delivery {
            Delivery::Outbox => problems.push(problem(
                "verification.delivery",
                "is \"outbox\" (also the default when unset): the development outbox, which writes one-time codes in the clear to dev-outbox.jsonl and the log; set delivery = \"sms\" and fill in [verification.sms]",
            )),
            Delivery::Sms { api_base_url, .. }
                if !super::normalize_origin(api_base_url)
                    .is_some_and(|o| o.starts_with("https://")) =>
            {
                problems.push(problem(
                    "verification.sms.api_base_url",
                    format!("is {api_base_url:?}, plain http, so the SMS API's auth token would travel in clear; use the API's https:// URL (plain http to this machine is allowed only in demo mode)"),
                ));
            }
            Delivery::Sms { .. } | Delivery::Email { .. } => {}
        }
        problems
    }

    /// [`Config::production_problems`] as one error.
    ///
    /// # Errors
    /// [`NotForProduction`] listing every problem.
    pub fn check_production(&self) -> Result<(), NotForProduction> {
        let problems = self.production_problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(NotForProduction(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::RawConfig;

    fn settings(config: &Config) -> Vec<String> {
        config
            .production_problems()
            .iter()
            .map(|p| match p {
                ConfigError::Invalid { setting, .. } => (*setting).to_owned(),
                other => other.to_string(),
            })
            .collect()
    }

    #[test]
    fn the_demo_clinic_is_fine_in_demo_mode_and_refused_in_production() {
        let demo = RawConfig::demo().unwrap().validate().unwrap();
        assert_eq!(demo.mode, Mode::Demo);
        assert!(demo.production_problems().is_empty());
        let text = crate::config::DEMO_CONFIG.replace("mode = \"demo\"", "");
        let production = RawConfig::parse(&text, "test").unwrap().validate().unwrap();
        assert_eq!(production.mode, Mode::Production);
        assert_eq!(
            settings(&production),
            [
                "server.public_url",
                "server.allowed_origins",
                "ehr.kind",
                "verification.delivery"
            ]
        );
        let message = production.check_production().unwrap_err().to_string();
        assert!(message.contains("mode = \"demo\""), "{message}");
        assert!(message.contains("dev-outbox.jsonl"), "{message}");
    }

    #[test]
    fn the_file_init_writes_is_valid_and_names_everything_to_fill_in() {
        let config = RawConfig::parse(crate::config::PRODUCTION_CONFIG, "init")
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(config.mode, Mode::Production);
        assert_eq!(
            settings(&config),
            [
                "server.public_url",
                "server.allowed_origins",
                "clinic.name",
                "clinic.phone",
                "clinic.disclaimer",
                "ehr.kind",
                "verification.delivery"
            ]
        );
        for line in crate::config::PRODUCTION_CONFIG.lines() {
            if line.starts_with("mode") {
                assert_eq!(line, "mode = \"production\"");
            }
        }
    }

    #[test]
    fn an_unknown_mode_is_a_parse_error_naming_the_choices() {
        let text = crate::config::DEMO_CONFIG.replace("mode = \"demo\"", "mode = \"prod\"");
        let err = RawConfig::parse(&text, "carechat.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("production") && err.contains("demo"), "{err}");
    }
}
