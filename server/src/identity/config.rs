//! The `[verification]` settings: what a patient is asked, the code limits
//! and lockout steps ([`super::otp`]), how often verification may start
//! and codes go out ([`super::limits`]), and how codes are delivered.

use chrono::Duration;
use serde::Deserialize;

use super::delivery::SmtpSecurity;
use super::limits::VerificationLimits;
use super::otp::{OtpPolicy, NIST_MAX_CONSECUTIVE_FAILURES};

/// Environment variable holding the SMS API's auth token.
pub const SMS_TOKEN_ENV: &str = "CARECHAT_SMS_AUTH_TOKEN";
/// Environment variable holding the SMTP password.
pub const SMTP_PASSWORD_ENV: &str = "CARECHAT_SMTP_PASSWORD";

/// Whether an origin (`scheme://host[:port]`, as
/// [`crate::config::normalize_origin`] writes it) names this machine:
/// `localhost`, `127.0.0.0/8` or `[::1]`.
#[must_use]
pub fn is_loopback_origin(origin: &str) -> bool {
    match url::Url::parse(origin)
        .ok()
        .as_ref()
        .and_then(url::Url::host)
    {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `[verification]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerification {
    require_mrn: Option<bool>,
    max_consecutive_failures: Option<i64>,
    lockout_minutes: Option<i64>,
    max_lockout_minutes: Option<i64>,
    resend_cooldown_secs: Option<i64>,
    starts_per_session: Option<u32>,
    starts_per_address_per_hour: Option<u32>,
    starts_per_patient_per_hour: Option<u32>,
    codes_per_patient_per_hour: Option<u32>,
    delivery: Option<String>,
    sms: Option<RawSms>,
    email: Option<RawEmail>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSms {
    api_base_url: Option<String>,
    account_sid: String,
    from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    host: String,
    port: Option<u16>,
    security: Option<SmtpSecurity>,
    username: Option<String>,
    from: String,
}

/// How codes are delivered.
#[derive(Clone)]
pub enum Delivery {
    /// The development outbox (the demo's choice).
    Outbox,
    /// SMS through a Twilio-compatible API.
    Sms {
        /// e.g. `https://api.twilio.com`.
        api_base_url: String,
        /// Account SID.
        account_sid: String,
        /// Auth token (from the environment).
        auth_token: String,
        /// Sender number or messaging service.
        from: String,
    },
    /// Email over SMTP (restricted).
    Email {
        /// Relay host.
        host: String,
        /// Port.
        port: u16,
        /// TLS mode.
        security: SmtpSecurity,
        /// User and password, when the relay needs them.
        credentials: Option<(String, String)>,
        /// Sender address.
        from: String,
    },
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Outbox => "Outbox",
            Self::Sms { .. } => "Sms { .. }",
            Self::Email { .. } => "Email { .. }",
        })
    }
}

/// The validated `[verification]` settings.
#[derive(Debug, Clone)]
pub struct VerificationConfig {
    /// Ask for a medical record number too.
    pub require_mrn: bool,
    /// Code limits and lockout steps.
    pub policy: OtpPolicy,
    /// How often verification may start and codes go out.
    pub limits: VerificationLimits,
    /// Delivery channel.
    pub delivery: Delivery,
}

/// A whole number from the environment variable `name`, if it is set.
fn env_number<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, (&'static str, String)> {
    env(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| (name, format!("must be a whole number, got {v:?}")))
        })
        .transpose()
}

impl RawVerification {
    /// Applies `CARECHAT_REQUIRE_MRN`, `CARECHAT_MAX_CONSECUTIVE_FAILURES`,
    /// `CARECHAT_LOCKOUT_MINUTES`, `CARECHAT_MAX_LOCKOUT_MINUTES`,
    /// `CARECHAT_RESEND_COOLDOWN_SECS`, `CARECHAT_STARTS_PER_SESSION`,
    /// `CARECHAT_STARTS_PER_ADDRESS_PER_HOUR`,
    /// `CARECHAT_STARTS_PER_PATIENT_PER_HOUR`,
    /// `CARECHAT_CODES_PER_PATIENT_PER_HOUR` and
    /// `CARECHAT_VERIFICATION_DELIVERY`.
    ///
    /// # Errors
    /// The variable at fault when it is not a number or boolean.
    pub fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), (&'static str, String)> {
        let num = |name| env_number::<i64>(env, name);
        if let Some(v) = num("CARECHAT_MAX_CONSECUTIVE_FAILURES")? {
            self.max_consecutive_failures = Some(v);
        }
        if let Some(v) = num("CARECHAT_LOCKOUT_MINUTES")? {
            self.lockout_minutes = Some(v);
        }
        if let Some(v) = num("CARECHAT_MAX_LOCKOUT_MINUTES")? {
            self.max_lockout_minutes = Some(v);
        }
        if let Some(v) = num("CARECHAT_RESEND_COOLDOWN_SECS")? {
            self.resend_cooldown_secs = Some(v);
        }
        let count = |name| env_number::<u32>(env, name);
        for (name, field) in [
            ("CARECHAT_STARTS_PER_SESSION", &mut self.starts_per_session),
            (
                "CARECHAT_STARTS_PER_ADDRESS_PER_HOUR",
                &mut self.starts_per_address_per_hour,
            ),
            (
                "CARECHAT_STARTS_PER_PATIENT_PER_HOUR",
                &mut self.starts_per_patient_per_hour,
            ),
            (
                "CARECHAT_CODES_PER_PATIENT_PER_HOUR",
                &mut self.codes_per_patient_per_hour,
            ),
        ] {
            if let Some(v) = count(name)? {
                *field = Some(v);
            }
        }
        if let Some(v) = env("CARECHAT_REQUIRE_MRN") {
            self.require_mrn = Some(match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                _ => return Err(("CARECHAT_REQUIRE_MRN", "must be true or false".to_owned())),
            });
        }
        if let Some(v) = env("CARECHAT_VERIFICATION_DELIVERY") {
            self.delivery = Some(v);
        }
        Ok(())
    }

    /// Checks the settings; `env` supplies the secrets.
    ///
    /// # Errors
    /// The setting at fault and what to change.
    pub fn validate(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<VerificationConfig, (&'static str, String)> {
        let max = self.max_consecutive_failures.unwrap_or(10);
        if !(1..=NIST_MAX_CONSECUTIVE_FAILURES).contains(&max) {
            return Err((
                "verification.max_consecutive_failures",
                format!("is {max}; it must be between 1 and 100 (NIST SP 800-63B allows at most 100); the default is 10"),
            ));
        }
        let lockout = self.lockout_minutes.unwrap_or(15);
        if !(1..=24 * 60).contains(&lockout) {
            return Err((
                "verification.lockout_minutes",
                format!("is {lockout}; it must be between 1 and 1440 (a day); the default is 15"),
            ));
        }
        let max_lockout = self.max_lockout_minutes.unwrap_or(lockout.max(60));
        if !(lockout..=24 * 60).contains(&max_lockout) {
            return Err((
                "verification.max_lockout_minutes",
                format!("is {max_lockout}; it must be between lockout_minutes ({lockout}) and 1440 (a day); the default is 60"),
            ));
        }
        let cooldown = self.resend_cooldown_secs.unwrap_or(60);
        if !(1..=600).contains(&cooldown) {
            return Err((
                "verification.resend_cooldown_secs",
                format!("is {cooldown}; it must be between 1 and 600; the default is 60"),
            ));
        }
        let limits = self.limits()?;
        let delivery = match self.delivery.as_deref().unwrap_or("outbox") {
            "outbox" => Delivery::Outbox,
            "sms" => {
                let sms = self.sms.ok_or((
                    "verification.sms",
                    "is missing; delivery = \"sms\" needs [verification.sms] with account_sid and from".to_owned(),
                ))?;
                let auth_token = env(SMS_TOKEN_ENV).filter(|t| !t.is_empty()).ok_or((
                    SMS_TOKEN_ENV,
                    "is not set; delivery = \"sms\" needs the API auth token in this environment variable (never in the file)".to_owned(),
                ))?;
                let base = sms
                    .api_base_url
                    .unwrap_or_else(|| "https://api.twilio.com".to_owned());
                let Some(origin) = crate::config::normalize_origin(&base) else {
                    return Err((
                        "verification.sms.api_base_url",
                        format!("{base:?} must be an origin like \"https://api.twilio.com\""),
                    ));
                };
                if origin.starts_with("http://") && !is_loopback_origin(&origin) {
                    return Err((
                        "verification.sms.api_base_url",
                        format!("{base:?} is plain http, so the SMS API's auth token and every message would travel in clear; use its https:// URL, e.g. \"https://api.twilio.com\" (plain http is accepted only for a test server on this machine, in demo mode)"),
                    ));
                }
                Delivery::Sms {
                    api_base_url: base,
                    account_sid: sms.account_sid,
                    auth_token,
                    from: sms.from,
                }
            }
            "email" => {
                let email = self.email.ok_or((
                    "verification.email",
                    "is missing; delivery = \"email\" needs [verification.email] with host and from".to_owned(),
                ))?;
                let security = email.security.unwrap_or(SmtpSecurity::Starttls);
                let loopback = matches!(email.host.as_str(), "localhost" | "127.0.0.1" | "::1");
                if security == SmtpSecurity::None && !loopback {
                    return Err((
                        "verification.email.security",
                        "is \"none\", which is allowed only for a relay on this machine (localhost); use \"starttls\" or \"tls\"".to_owned(),
                    ));
                }
                let credentials = match email.username {
                    Some(user) => Some((
                        user,
                        env(SMTP_PASSWORD_ENV).ok_or((
                            SMTP_PASSWORD_ENV,
                            "is not set; verification.email.username needs the password in this environment variable".to_owned(),
                        ))?,
                    )),
                    None => None,
                };
                Delivery::Email {
                    host: email.host,
                    port: email.port.unwrap_or(match security {
                        SmtpSecurity::Tls => 465,
                        SmtpSecurity::Starttls => 587,
                        SmtpSecurity::None => 25,
                    }),
                    security,
                    credentials,
                    from: email.from,
                }
            }
            other => {
                return Err((
                    "verification.delivery",
                    format!("{other:?} is not a delivery channel; use \"sms\" (production), \"email\" (restricted: NIST SP 800-63B does not accept email for out-of-band codes) or \"outbox\" (development only)"),
                ))
            }
        };
        Ok(VerificationConfig {
            require_mrn: self.require_mrn.unwrap_or(false),
            policy: OtpPolicy {
                max_consecutive_failures: max,
                lockout: Duration::minutes(lockout),
                max_lockout: Duration::minutes(max_lockout),
                resend_cooldown: Duration::seconds(cooldown),
                ..OtpPolicy::default()
            },
            limits,
            delivery,
        })
    }

    /// The start and code limits, each at least 1 and at most a bound that
    /// still stops SMS bombing.
    fn limits(&self) -> Result<VerificationLimits, (&'static str, String)> {
        let defaults = VerificationLimits::default();
        let check = |setting: &'static str,
                     value: Option<u32>,
                     default: u32,
                     most: u32|
         -> Result<u32, (&'static str, String)> {
            let v = value.unwrap_or(default);
            if (1..=most).contains(&v) {
                Ok(v)
            } else {
                Err((
                    setting,
                    format!("is {v}; it must be between 1 and {most}; the default is {default}"),
                ))
            }
        };
        Ok(VerificationLimits {
            starts_per_session: check(
                "verification.starts_per_session",
                self.starts_per_session,
                defaults.starts_per_session,
                20,
            )?,
            starts_per_address_per_hour: check(
                "verification.starts_per_address_per_hour",
                self.starts_per_address_per_hour,
                defaults.starts_per_address_per_hour,
                1000,
            )?,
            starts_per_patient_per_hour: check(
                "verification.starts_per_patient_per_hour",
                self.starts_per_patient_per_hour,
                defaults.starts_per_patient_per_hour,
                30,
            )?,
            codes_per_patient_per_hour: check(
                "verification.codes_per_patient_per_hour",
                self.codes_per_patient_per_hour,
                defaults.codes_per_patient_per_hour,
                10,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn validated(env: &[(&str, &str)]) -> Result<VerificationConfig, (&'static str, String)> {
        let mut raw = RawVerification::default();
        raw.apply_env(&|name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })?;
        raw.validate(|_| None)
    }

    #[test]
    fn the_defaults_pause_for_minutes_and_bound_starts_and_codes() {
        let config = validated(&[]).unwrap();
        assert_eq!(config.policy.lockout, Duration::minutes(15));
        assert_eq!(config.policy.max_lockout, Duration::minutes(60));
        assert_eq!(config.policy.resend_cooldown, Duration::seconds(60));
        assert_eq!(config.limits, VerificationLimits::default());
        let tuned = validated(&[
            ("CARECHAT_STARTS_PER_SESSION", "5"),
            ("CARECHAT_CODES_PER_PATIENT_PER_HOUR", "2"),
        ])
        .unwrap();
        assert_eq!(tuned.limits.starts_per_session, 5);
        assert_eq!(tuned.limits.codes_per_patient_per_hour, 2);
    }

    #[test]
    fn limits_that_would_not_limit_are_refused_by_name() {
        for (name, value, setting) in [
            (
                "CARECHAT_STARTS_PER_SESSION",
                "0",
                "verification.starts_per_session",
            ),
            (
                "CARECHAT_CODES_PER_PATIENT_PER_HOUR",
                "1000",
                "verification.codes_per_patient_per_hour",
            ),
            (
                "CARECHAT_LOCKOUT_MINUTES",
                "2000",
                "verification.lockout_minutes",
            ),
            (
                "CARECHAT_MAX_LOCKOUT_MINUTES",
                "5",
                "verification.max_lockout_minutes",
            ),
        ] {
            let err = validated(&[(name, value)]).unwrap_err();
            assert_eq!(err.0, setting, "{name}={value}: {}", err.1);
        }
    }
}
