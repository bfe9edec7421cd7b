//! The `[verification]` settings: what a patient is asked, the code limits,
//! and how codes are delivered.

use chrono::Duration;
use serde::Deserialize;

use super::delivery::SmtpSecurity;
use super::otp::OtpPolicy;

/// Environment variable holding the SMS API's auth token.
pub const SMS_TOKEN_ENV: &str = "CARECHAT_SMS_AUTH_TOKEN";
/// Environment variable holding the SMTP password.
pub const SMTP_PASSWORD_ENV: &str = "CARECHAT_SMTP_PASSWORD";

/// `[verification]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerification {
    require_mrn: Option<bool>,
    max_consecutive_failures: Option<i64>,
    lockout_minutes: Option<i64>,
    resend_cooldown_secs: Option<i64>,
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
    /// Code limits.
    pub policy: OtpPolicy,
    /// Delivery channel.
    pub delivery: Delivery,
}

impl RawVerification {
    /// Applies `CARECHAT_REQUIRE_MRN`, `CARECHAT_MAX_CONSECUTIVE_FAILURES`,
    /// `CARECHAT_LOCKOUT_MINUTES`, `CARECHAT_RESEND_COOLDOWN_SECS` and
    /// `CARECHAT_VERIFICATION_DELIVERY`.
    ///
    /// # Errors
    /// The variable at fault when it is not a number or boolean.
    pub fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), (&'static str, String)> {
        let num = |name: &'static str| -> Result<Option<i64>, (&'static str, String)> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| (name, format!("must be a whole number, got {v:?}")))
                })
                .transpose()
        };
        if let Some(v) = num("CARECHAT_MAX_CONSECUTIVE_FAILURES")? {
            self.max_consecutive_failures = Some(v);
        }
        if let Some(v) = num("CARECHAT_LOCKOUT_MINUTES")? {
            self.lockout_minutes = Some(v);
        }
        if let Some(v) = num("CARECHAT_RESEND_COOLDOWN_SECS")? {
            self.resend_cooldown_secs = Some(v);
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
        if !(1..=100).contains(&max) {
            return Err((
                "verification.max_consecutive_failures",
                format!("is {max}; it must be between 1 and 100 (NIST SP 800-63B allows at most 100); the default is 10"),
            ));
        }
        let lockout = self.lockout_minutes.unwrap_or(24 * 60);
        if !(1..=30 * 24 * 60).contains(&lockout) {
            return Err((
                "verification.lockout_minutes",
                format!(
                    "is {lockout}; it must be between 1 and 43200 (30 days); the default is 1440"
                ),
            ));
        }
        let cooldown = self.resend_cooldown_secs.unwrap_or(30);
        if !(1..=600).contains(&cooldown) {
            return Err((
                "verification.resend_cooldown_secs",
                format!("is {cooldown}; it must be between 1 and 600; the default is 30"),
            ));
        }
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
                if crate::config::normalize_origin(&base).is_none() {
                    return Err((
                        "verification.sms.api_base_url",
                        format!("{base:?} must be an origin like \"https://api.twilio.com\""),
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
                resend_cooldown: Duration::seconds(cooldown),
                ..OtpPolicy::default()
            },
            delivery,
        })
    }
}
