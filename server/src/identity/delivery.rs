//! How one-time codes reach the patient: the [`CodeSender`] trait and its
//! three implementations.
//!
//! - [`TwilioSms`]: SMS through a Twilio-compatible REST API (the account's
//!   `Messages` resource, HTTP basic auth). The production choice.
//! - [`SmtpEmail`]: email over SMTP (lettre). **Restricted**: NIST SP 800-63B
//!   §5.1.3.1 does not accept email as an out-of-band channel, so a clinic
//!   must enable it explicitly and should use it only where its risk
//!   assessment allows.
//! - [`DevOutbox`]: writes each code to `dev-outbox.jsonl` in the data
//!   directory (mode 0600) and to the console. **Development only**: codes
//!   are readable by anyone with the server's files or logs. The demo uses
//!   it; `carechat serve` refuses it outside demo mode
//!   ([`crate::config::Config::production_problems`]).
//!
//! A message carries the clinic's name and the code, nothing about the
//! patient. Errors name the channel and the status, never the destination.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::identity::otp::OtpCode;
use crate::phi::Phi;

/// Where a code goes. Serializable for the session snapshot only (a code
/// awaited can be sent again), which the store seals.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Destination {
    /// A phone number (E.164 preferred).
    Phone(#[serde(with = "crate::phi::sealed_serde")] Phi<String>),
    /// An email address.
    Email(#[serde(with = "crate::phi::sealed_serde")] Phi<String>),
}

impl Destination {
    /// The last two digits (or first two characters), for the development
    /// outbox's file and log only: never shown to the patient, whose reply
    /// must read the same whether or not the details matched anyone.
    #[must_use]
    pub fn hint(&self) -> String {
        match self {
            // The last two digits: "the phone number ending in 42".
            Self::Phone(p) => {
                let digits: Vec<char> = p.expose().chars().filter(char::is_ascii_digit).collect();
                digits[digits.len().saturating_sub(2)..].iter().collect()
            }
            // The first two characters: "the address starting with jo".
            Self::Email(e) => e
                .expose()
                .chars()
                .take(2)
                .collect::<String>()
                .to_lowercase(),
        }
    }
}

/// A code could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("{channel} delivery failed: {reason}")]
pub struct SendError {
    /// `sms`, `email` or `outbox`.
    pub channel: &'static str,
    /// What went wrong, without the destination or the code.
    pub reason: String,
}

/// Delivers one-time codes.
#[async_trait::async_trait]
pub trait CodeSender: Send + Sync {
    /// The channel's name, for logs and audit (`sms`, `email`, `outbox`).
    fn channel(&self) -> &'static str;

    /// Whether this sender takes phone numbers (else email addresses).
    fn wants_phone(&self) -> bool;

    /// Sends `code` to `to`.
    async fn send(&self, to: &Destination, code: &OtpCode) -> Result<(), SendError>;
}

fn body(clinic: &str, code: &OtpCode, minutes: i64) -> String {
    format!(
        "{clinic}: your verification code is {}. It expires in {minutes} minutes. Do not share it; we will never ask you for it by phone.",
        code.digits()
    )
}

/// The development outbox. Not for production: it writes codes in the
/// clear to a file and the console.
pub struct DevOutbox {
    path: PathBuf,
    clinic: String,
    minutes: i64,
    lock: Mutex<()>,
}

impl DevOutbox {
    /// An outbox appending to `dev-outbox.jsonl` in `data_dir`.
    #[must_use]
    pub fn new(data_dir: &std::path::Path, clinic: &str, minutes: i64) -> Self {
        Self {
            path: data_dir.join("dev-outbox.jsonl"),
            clinic: clinic.to_owned(),
            minutes,
            lock: Mutex::new(()),
        }
    }

    /// The file codes are written to.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[async_trait::async_trait]
impl CodeSender for DevOutbox {
    fn channel(&self) -> &'static str {
        "outbox"
    }

    fn wants_phone(&self) -> bool {
        true
    }

    async fn send(&self, to: &Destination, code: &OtpCode) -> Result<(), SendError> {
        let hint = to.hint();
        let line = serde_json::json!({
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "to_hint": hint,
            "code": code.digits(),
            "text": body(&self.clinic, code, self.minutes),
        });
        let fail = |e: std::io::Error| SendError {
            channel: "outbox",
            reason: e.kind().to_string(),
        };
        {
            let _guard = self
                .lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut file = crate::private_files::open_append(&self.path).map_err(fail)?;
            writeln!(file, "{line}").map_err(fail)?;
        }
        tracing::warn!(
            code = code.digits(),
            to_hint = hint,
            "DEVELOPMENT OUTBOX, NOT FOR PRODUCTION: one-time code written to dev-outbox.jsonl instead of being sent"
        );
        Ok(())
    }
}

/// SMS through a Twilio-compatible REST API.
pub struct TwilioSms {
    client: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: String,
    from: String,
    clinic: String,
    minutes: i64,
}

impl TwilioSms {
    /// A sender posting to `{base_url}/2010-04-01/Accounts/{sid}/Messages.json`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: &str,
        from: &str,
        clinic: &str,
        minutes: i64,
    ) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SendError {
                channel: "sms",
                reason: e.to_string(),
            })?;
        Ok(Self {
            client,
            messages_url: format!(
                "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                base_url.trim_end_matches('/')
            ),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            from: from.to_owned(),
            clinic: clinic.to_owned(),
            minutes,
        })
    }
}

#[async_trait::async_trait]
impl CodeSender for TwilioSms {
    fn channel(&self) -> &'static str {
        "sms"
    }

    fn wants_phone(&self) -> bool {
        true
    }

    async fn send(&self, to: &Destination, code: &OtpCode) -> Result<(), SendError> {
        let Destination::Phone(phone) = to else {
            return Err(SendError {
                channel: "sms",
                reason: "not a phone number".to_owned(),
            });
        };
        let text = body(&self.clinic, code, self.minutes);
        let form = [
            ("To", phone.expose().as_str()),
            ("From", self.from.as_str()),
            ("Body", text.as_str()),
        ];
        let response = self
            .client
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| SendError {
                channel: "sms",
                // reqwest's Display names the URL (no PHI: the account
                // path only) and the failure.
                reason: if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "could not reach the SMS API".to_owned()
                },
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError {
                channel: "sms",
                reason: format!("the SMS API answered {status}"),
            })
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Implicit TLS (port 465).
    Tls,
    /// STARTTLS, required (port 587).
    Starttls,
    /// Plain SMTP: only to a relay on this machine (loopback).
    None,
}

/// Email over SMTP. Restricted: see the module docs.
pub struct SmtpEmail {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    clinic: String,
    minutes: i64,
}

impl SmtpEmail {
    /// A sender through `host:port`.
    ///
    /// # Errors
    /// When the relay or sender address is unusable.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: &str,
        port: u16,
        security: SmtpSecurity,
        credentials: Option<(String, String)>,
        from: &str,
        clinic: &str,
        minutes: i64,
    ) -> Result<Self, SendError> {
        use lettre::transport::smtp::authentication::Credentials;
        let fail = |reason: String| SendError {
            channel: "email",
            reason,
        };
        let builder = match security {
            SmtpSecurity::Tls => lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::relay(host)
                .map_err(|e| fail(e.to_string()))?,
            SmtpSecurity::Starttls => {
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::starttls_relay(host)
                    .map_err(|e| fail(e.to_string()))?
            }
            SmtpSecurity::None => {
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(host)
            }
        };
        let mut builder = builder.port(port).timeout(Some(Duration::from_secs(10)));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Self {
            transport: builder.build(),
            from: from
                .parse()
                .map_err(|_| fail("the sender address is not valid".to_owned()))?,
            clinic: clinic.to_owned(),
            minutes,
        })
    }
}

#[async_trait::async_trait]
impl CodeSender for SmtpEmail {
    fn channel(&self) -> &'static str {
        "email"
    }

    fn wants_phone(&self) -> bool {
        false
    }

    async fn send(&self, to: &Destination, code: &OtpCode) -> Result<(), SendError> {
        use lettre::AsyncTransport as _;
        let fail = |reason: &str| SendError {
            channel: "email",
            reason: reason.to_owned(),
        };
        let Destination::Email(address) = to else {
            return Err(fail("not an email address"));
        };
        let to: lettre::message::Mailbox = address
            .expose()
            .parse()
            .map_err(|_| fail("the address on file is not valid"))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("{}: your verification code", self.clinic))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body(&self.clinic, code, self.minutes))
            .map_err(|_| fail("the message could not be built"))?;
        self.transport.send(message).await.map_err(|e| SendError {
            channel: "email",
            reason: if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_permanent() {
                "the SMTP server refused the message".to_owned()
            } else {
                "could not reach the SMTP server".to_owned()
            },
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Destination;
    use crate::phi::Phi;

    #[test]
    fn hints_show_two_characters_only() {
        assert_eq!(
            Destination::Phone(Phi::new("+1 (555) 010-4242".into())).hint(),
            "42"
        );
        assert_eq!(
            Destination::Email(Phi::new("Jordan@example.com".into())).hint(),
            "jo"
        );
    }
}
