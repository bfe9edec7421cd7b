//! The `[ehr]` section of the configuration: which EHR the clinic uses and,
//! for a FHIR server, how to reach it and authenticate.
//!
//! Two stages like the rest of the configuration: [`RawEhr`] is what the
//! clinic wrote, [`RawEhr::validate`] checks it (reading the signing key
//! once, so a bad key fails at start-up, not at the first patient; a key
//! file group or others can read is refused, with the `chmod` to run) and
//! derives the [`EhrConfig`]. The demo EHR is refused outside demo mode
//! ([`crate::config::Config::production_problems`]).
//!
//! ```toml
//! [ehr]
//! kind = "fhir"                 # or "demo", the default
//! [ehr.fhir]
//! base_url = "https://ehr.clinic.example/fhir/R4"
//! token_url = "https://ehr.clinic.example/oauth2/token"
//! client_id = "carechat"
//! private_key_file = "ehr-key.pem"   # PKCS#8 PEM, mode 0600, relative to this file
//! key_id = "carechat-2026"
//! algorithm = "ES384"              # or "RS384" with an RSA key
//! timeout_secs = 10
//! token_timeout_secs = 5          # one token request, shared by every waiting caller
//! retries = 2
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// The least-privilege SMART scopes the chat needs, the default for
/// `ehr.fhir.scopes`.
pub const DEFAULT_SCOPES: &[&str] = &[
    "system/Patient.read",
    "system/Appointment.read",
    "system/Appointment.write",
    "system/Slot.read",
    "system/Slot.write",
    "system/Practitioner.read",
    "system/Schedule.read",
    "system/Location.read",
    "system/ServiceRequest.read",
    "system/DiagnosticReport.read",
    "system/MedicationRequest.read",
];

/// The `[ehr]` section as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEhr {
    /// `"demo"` (the default) or `"fhir"`.
    pub kind: Option<String>,
    /// `[ehr.fhir]`, required when `kind = "fhir"`.
    pub fhir: Option<RawFhir>,
}

/// The `[ehr.fhir]` section as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFhir {
    /// FHIR R4 base URL, e.g. `https://ehr.clinic.example/fhir/R4`.
    pub base_url: Option<String>,
    /// The SMART token endpoint.
    pub token_url: Option<String>,
    /// The client id the EHR registered for CareChat.
    pub client_id: Option<String>,
    /// PKCS#8 PEM private key, relative to the config file's folder.
    pub private_key_file: Option<PathBuf>,
    /// The `kid` the EHR knows the public key by.
    pub key_id: Option<String>,
    /// `"ES384"` (the default) or `"RS384"`.
    pub algorithm: Option<String>,
    /// SMART scopes to request; the default is [`DEFAULT_SCOPES`].
    pub scopes: Option<Vec<String>>,
    /// Connect and per-request time-out; default 10.
    pub timeout_secs: Option<u64>,
    /// Time-out of one token request (every caller waiting on it fails
    /// together after it); default 5.
    pub token_timeout_secs: Option<u64>,
    /// Retries for reads and server errors; default 2.
    pub retries: Option<u32>,
}

/// How the client signs its JWT assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// ECDSA on P-384 with SHA-384 (the default; prefer it).
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-384, for EHRs that accept only RSA keys.
    /// Note RUSTSEC-2023-0071: the `rsa` crate's private-key operations are
    /// not constant-time; only CareChat's own assertions are signed with it.
    Rs384,
}

/// The validated EHR choice.
#[derive(Debug, Clone)]
pub enum EhrConfig {
    /// The embedded demo EHR.
    Demo,
    /// A FHIR R4 server (boxed: it is large and read once at start-up).
    Fhir(Box<FhirConfig>),
}

/// A validated FHIR connection. Its `Debug` leaves out the key.
#[derive(Clone)]
pub struct FhirConfig {
    /// Base URL, ending in `/` so relative references join under it.
    pub base_url: Url,
    /// Token endpoint (also the JWT's `aud`).
    pub token_url: Url,
    /// SMART client id (`iss` and `sub`).
    pub client_id: String,
    /// Where the key was read from.
    pub private_key_file: PathBuf,
    /// The private key, PEM; read at validation.
    pub(crate) private_key_pem: zeroize::Zeroizing<String>,
    /// JWT `kid`.
    pub key_id: String,
    /// JWT `alg`.
    pub algorithm: SigningAlgorithm,
    /// Scopes requested.
    pub scopes: Vec<String>,
    /// Connect and per-request time-out.
    pub timeout: Duration,
    /// Time-out of one token request, however the token endpoint behaves.
    pub token_timeout: Duration,
    /// Retries for idempotent requests, server errors and time-outs.
    pub retries: u32,
}

impl fmt::Debug for FhirConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FhirConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("private_key_file", &self.private_key_file)
            .field("private_key_pem", &"***")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .field("scopes", &self.scopes)
            .field("timeout", &self.timeout)
            .field("token_timeout", &self.token_timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

type Problem = (&'static str, String);

fn http_url(setting: &'static str, value: Option<String>, example: &str) -> Result<Url, Problem> {
    let text = value.ok_or((setting, format!("is missing; set it, e.g. {example:?}")))?;
    let url = Url::parse(text.trim()).map_err(|_| {
        (
            setting,
            format!("{text:?} is not a URL; write it like {example:?}"),
        )
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err((
            setting,
            format!("{text:?} must be an http(s) URL like {example:?}"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err((setting, "must not have a query or fragment".into()));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err((
            setting,
            format!("{text:?} is plain http; PHI must travel over https (http is allowed only for 127.0.0.1 or localhost)"),
        ));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn required(setting: &'static str, value: Option<String>, hint: &str) -> Result<String, Problem> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err((setting, format!("is missing; {hint}"))),
    }
}

impl RawEhr {
    /// Checks the section and derives the [`EhrConfig`]; `base_dir` is the
    /// config file's folder, which `private_key_file` is relative to.
    ///
    /// # Errors
    /// The setting at fault and what to change.
    pub fn validate(self, base_dir: &Path) -> Result<EhrConfig, Problem> {
        match self.kind.as_deref().map(str::trim) {
            None | Some("demo") => {
                if self.fhir.is_some() && self.kind.is_none() {
                    return Err((
                        "ehr.kind",
                        "is not set but [ehr.fhir] is; add kind = \"fhir\" to use it (or remove [ehr.fhir] for the demo EHR)".into(),
                    ));
                }
                Ok(EhrConfig::Demo)
            }
            Some("fhir") => {
                let fhir = self.fhir.ok_or((
                    "ehr.fhir",
                    "is missing; kind = \"fhir\" needs an [ehr.fhir] section with base_url, token_url, client_id, private_key_file and key_id".to_owned(),
                ))?;
                fhir.validate(base_dir)
                    .map(|f| EhrConfig::Fhir(Box::new(f)))
            }
            Some(other) => Err((
                "ehr.kind",
                format!("is {other:?}; it must be \"demo\" or \"fhir\""),
            )),
        }
    }
}

impl RawFhir {
    fn validate(self, base_dir: &Path) -> Result<FhirConfig, Problem> {
        let mut base_url = http_url(
            "ehr.fhir.base_url",
            self.base_url,
            "https://ehr.clinic.example/fhir/R4",
        )?;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let token_url = http_url(
            "ehr.fhir.token_url",
            self.token_url,
            "https://ehr.clinic.example/oauth2/token",
        )?;
        let client_id = required(
            "ehr.fhir.client_id",
            self.client_id,
            "set the client id your EHR registered for CareChat",
        )?;
        let key_id = required(
            "ehr.fhir.key_id",
            self.key_id,
            "set the key id (kid) your EHR knows CareChat's public key by",
        )?;
        let algorithm = match self.algorithm.as_deref().map(str::trim) {
            None | Some("ES384") => SigningAlgorithm::Es384,
            Some("RS384") => SigningAlgorithm::Rs384,
            Some(other) => {
                return Err((
                    "ehr.fhir.algorithm",
                    format!("is {other:?}; it must be \"ES384\" (a P-384 key, the default) or \"RS384\" (an RSA key of at least 2048 bits)"),
                ))
            }
        };
        let relative = self.private_key_file.ok_or((
            "ehr.fhir.private_key_file",
            "is missing; point it at CareChat's PKCS#8 PEM private key (e.g. made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384`)".to_owned(),
        ))?;
        let private_key_file = base_dir.join(&relative);
        crate::private_files::check_owner_only(&private_key_file)
            .map_err(|problem| ("ehr.fhir.private_key_file", problem))?;
        let private_key_pem = std::fs::read_to_string(&private_key_file)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| {
                (
                    "ehr.fhir.private_key_file",
                    format!("cannot read {}: {e}", private_key_file.display()),
                )
            })?;
        if let Err(problem) = super::smart::check_key(algorithm, &private_key_pem) {
            return Err((
                "ehr.fhir.private_key_file",
                format!("{}: {problem}", private_key_file.display()),
            ));
        }
        let scopes = self
            .scopes
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect());
        if scopes.is_empty() {
            return Err((
                "ehr.fhir.scopes",
                "is empty; leave it out for the least-privilege default".into(),
            ));
        }
        if let Some(bad) = scopes
            .iter()
            .find(|s| !s.starts_with("system/") || s.contains(char::is_whitespace))
        {
            return Err((
                "ehr.fhir.scopes",
                format!("{bad:?} is not a SMART system scope like \"system/Patient.read\""),
            ));
        }
        let timeout_secs = self.timeout_secs.unwrap_or(10);
        if !(1..=120).contains(&timeout_secs) {
            return Err((
                "ehr.fhir.timeout_secs",
                format!("is {timeout_secs}; it must be between 1 and 120 (the default is 10)"),
            ));
        }
        let token_timeout_secs = self.token_timeout_secs.unwrap_or(5);
        if !(1..=60).contains(&token_timeout_secs) {
            return Err((
                "ehr.fhir.token_timeout_secs",
                format!("is {token_timeout_secs}; it must be between 1 and 60 (the default is 5)"),
            ));
        }
        let retries = self.retries.unwrap_or(2);
        if retries > 5 {
            return Err((
                "ehr.fhir.retries",
                format!("is {retries}; it must be at most 5 (the default is 2)"),
            ));
        }
        Ok(FhirConfig {
            base_url,
            token_url,
            client_id,
            private_key_file,
            private_key_pem,
            key_id,
            algorithm,
            scopes,
            timeout: Duration::from_secs(timeout_secs),
            token_timeout: Duration::from_secs(token_timeout_secs),
            retries,
        })
    }
}

impl FhirConfig {
    /// A configuration built in code (tests, tools), with the default
    /// scopes, a 10-second time-out, a 5-second token time-out and 2
    /// retries.
    ///
    /// # Errors
    /// When the key is not a PKCS#8 PEM key for `algorithm`.
    pub fn new(
        base_url: Url,
        token_url: Url,
        client_id: &str,
        key_id: &str,
        algorithm: SigningAlgorithm,
        private_key_pem: &str,
    ) -> Result<Self, String> {
        super::smart::check_key(algorithm, private_key_pem)?;
        let mut base_url = base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        Ok(Self {
            base_url,
            token_url,
            client_id: client_id.to_owned(),
            private_key_file: PathBuf::new(),
            private_key_pem: zeroize::Zeroizing::new(private_key_pem.to_owned()),
            key_id: key_id.to_owned(),
            algorithm,
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            timeout: Duration::from_secs(10),
            token_timeout: Duration::from_secs(5),
            retries: 2,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn key_pem() -> String {
        use p384::pkcs8::EncodePrivateKey;
        let key = p384::SecretKey::random(&mut rand_core::OsRng);
        key.to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    fn parse(text: &str) -> RawEhr {
        toml::from_str(text).unwrap()
    }

    /// Writes a key file the way an administrator should: mode 0600.
    fn write_key(path: &Path, pem: &str) {
        std::fs::write(path, pem).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    const GOOD: &str = r#"
kind = "fhir"
[fhir]
base_url = "https://ehr.clinic.example/fhir/R4"
token_url = "https://ehr.clinic.example/oauth2/token"
client_id = "carechat"
private_key_file = "key.pem"
key_id = "k1"
"#;

    #[test]
    fn no_section_means_the_demo_ehr() {
        assert!(matches!(
            RawEhr::default().validate(Path::new(".")),
            Ok(EhrConfig::Demo)
        ));
        assert!(matches!(
            parse("kind = \"demo\"").validate(Path::new(".")),
            Ok(EhrConfig::Demo)
        ));
        let (setting, problem) = parse("kind = \"epic\"")
            .validate(Path::new("."))
            .unwrap_err();
        assert_eq!(setting, "ehr.kind");
        assert!(problem.contains("\"demo\" or \"fhir\""), "{problem}");
    }

    #[test]
    fn a_fhir_section_reads_its_key_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let (setting, problem) = parse(GOOD).validate(dir.path()).unwrap_err();
        assert_eq!(setting, "ehr.fhir.private_key_file");
        assert!(problem.contains("key.pem"), "{problem}");
        write_key(&dir.path().join("key.pem"), "not a key");
        let (setting, _) = parse(GOOD).validate(dir.path()).unwrap_err();
        assert_eq!(setting, "ehr.fhir.private_key_file");
        write_key(&dir.path().join("key.pem"), &key_pem());
        let EhrConfig::Fhir(config) = parse(GOOD).validate(dir.path()).unwrap() else {
            panic!("not fhir");
        };
        assert_eq!(
            config.base_url.as_str(),
            "https://ehr.clinic.example/fhir/R4/"
        );
        assert_eq!(config.scopes.len(), DEFAULT_SCOPES.len());
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.token_timeout, Duration::from_secs(5));
        assert_eq!(config.retries, 2);
        let debug = format!("{config:?}");
        assert!(
            debug.contains("***") && !debug.contains("PRIVATE KEY"),
            "{debug}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_with_the_chmod_to_run() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_key(&path, &key_pem());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let (setting, problem) = parse(GOOD).validate(dir.path()).unwrap_err();
        assert_eq!(setting, "ehr.fhir.private_key_file");
        assert!(
            problem.contains(&path.display().to_string()) && problem.contains("chmod 600"),
            "{problem}"
        );
    }

    #[test]
    fn bad_settings_say_what_to_change() {
        let dir = tempfile::tempdir().unwrap();
        write_key(&dir.path().join("key.pem"), &key_pem());
        let cases = [
            (
                "https://ehr.clinic.example/fhir/R4",
                "http://ehr.clinic.example/fhir",
                "ehr.fhir.base_url",
                "https",
            ),
            (
                "client_id = \"carechat\"",
                "client_id = \" \"",
                "ehr.fhir.client_id",
                "missing",
            ),
            (
                "key_id = \"k1\"",
                "key_id = \"k1\"\nalgorithm = \"HS256\"",
                "ehr.fhir.algorithm",
                "ES384",
            ),
            (
                "key_id = \"k1\"",
                "key_id = \"k1\"\ntimeout_secs = 0",
                "ehr.fhir.timeout_secs",
                "between 1 and 120",
            ),
            (
                "key_id = \"k1\"",
                "key_id = \"k1\"\ntoken_timeout_secs = 300",
                "ehr.fhir.token_timeout_secs",
                "between 1 and 60",
            ),
            (
                "key_id = \"k1\"",
                "key_id = \"k1\"\nretries = 9",
                "ehr.fhir.retries",
                "at most 5",
            ),
            (
                "key_id = \"k1\"",
                "key_id = \"k1\"\nscopes = [\"user/*.*\"]",
                "ehr.fhir.scopes",
                "system/",
            ),
            ("kind = \"fhir\"", "", "ehr.kind", "kind = \\\"fhir\\\""),
        ];
        for (from, to, setting, words) in cases {
            let text = GOOD.replace(from, to);
            let (got, problem) = parse(&text).validate(dir.path()).unwrap_err();
            assert_eq!(got, setting, "{problem}");
            assert!(
                problem.contains(words.replace('\\', "").as_str()),
                "{problem}"
            );
        }
        let local = GOOD.replace(
            "https://ehr.clinic.example/fhir/R4",
            "http://127.0.0.1:8081/fhir",
        );
        assert!(parse(&local).validate(dir.path()).is_ok());
        assert!(toml::from_str::<RawEhr>("kind = \"fhir\"\nfhirr = 1").is_err());
    }
}
