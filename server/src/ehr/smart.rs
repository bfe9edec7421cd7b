//! SMART Backend Services authentication for the FHIR client: the signed
//! JWT client assertion, the OAuth 2.0 client-credentials token request, and
//! the access token cache.
//!
//! The assertion is an ES384 (P-384) or RS384 (RSA, at least 2048 bits) JWT
//! with `iss` = `sub` = the client id, `aud` = the token URL, a random
//! `jti`, and `exp` four minutes ahead (the SMART limit is five). The token is reused until shortly before its
//! `expires_in`, and thrown away when the FHIR server answers 401.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::DecodePrivateKey as _;
use rand_core::RngCore as _;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::config::{FhirConfig, SigningAlgorithm};
use super::EhrError;
use crate::clock::Clock;

/// How far ahead the assertion expires.
const ASSERTION_LIFETIME_SECS: i64 = 240;
/// A token is renewed this long before the server said it expires (or at
/// half its life, for very short-lived tokens).
const RENEW_MARGIN: Duration = Duration::from_secs(30);

/// The smallest RSA key accepted for RS384.
const MIN_RSA_BITS: usize = 2048;

/// The key that signs assertions.
enum AssertionKey {
    Es384(p384::ecdsa::SigningKey),
    Rs384(Box<rsa::pkcs1v15::SigningKey<sha2::Sha384>>),
}

impl AssertionKey {
    fn parse(algorithm: SigningAlgorithm, pem: &str) -> Result<Self, String> {
        match algorithm {
            SigningAlgorithm::Es384 => p384::ecdsa::SigningKey::from_pkcs8_pem(pem)
                .map(Self::Es384)
                .map_err(|_| "is not a PKCS#8 PEM P-384 private key (\"-----BEGIN PRIVATE KEY-----\"), which ES384 needs".to_owned()),
            SigningAlgorithm::Rs384 => {
                use rsa::traits::PublicKeyParts as _;
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| {
                    "is not a PKCS#8 PEM RSA private key (\"-----BEGIN PRIVATE KEY-----\"), which RS384 needs".to_owned()
                })?;
                let bits = key.size() * 8;
                if bits < MIN_RSA_BITS {
                    return Err(format!(
                        "is a {bits}-bit RSA key; RS384 needs at least {MIN_RSA_BITS} bits"
                    ));
                }
                Ok(Self::Rs384(Box::new(rsa::pkcs1v15::SigningKey::new(key))))
            }
        }
    }

    fn alg(&self) -> &'static str {
        match self {
            Self::Es384(_) => "ES384",
            Self::Rs384(_) => "RS384",
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Es384(key) => {
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_bytes().to_vec()
            }
            Self::Rs384(key) => {
                use rsa::signature::SignatureEncoding as _;
                key.sign(message).to_vec()
            }
        }
    }
}

/// Checks that `pem` is a key this client can sign with.
pub(crate) fn check_key(algorithm: SigningAlgorithm, pem: &str) -> Result<(), String> {
    AssertionKey::parse(algorithm, pem).map(|_| ())
}

/// A cached access token.
struct Token {
    value: zeroize::Zeroizing<String>,
    renew_at: Instant,
}

/// Gets and caches access tokens.
pub(crate) struct SmartAuth {
    token_url: url::Url,
    client_id: String,
    key_id: String,
    key: AssertionKey,
    scope: String,
    cached: Mutex<Option<Token>>,
}

impl SmartAuth {
    pub(crate) fn new(config: &FhirConfig) -> Result<Self, EhrError> {
        let key = AssertionKey::parse(config.algorithm, &config.private_key_pem)
            .map_err(|_| EhrError::Rejected("the EHR signing key is not usable".into()))?;
        Ok(Self {
            token_url: config.token_url.clone(),
            client_id: config.client_id.clone(),
            key_id: config.key_id.clone(),
            key,
            scope: config.scopes.join(" "),
            cached: Mutex::new(None),
        })
    }

    /// The signed client assertion.
    pub(crate) fn assertion(&self, clock: &dyn Clock) -> String {
        let now = clock.now().timestamp();
        let mut jti = [0u8; 16];
        rand_core::OsRng.fill_bytes(&mut jti);
        let header = serde_json::json!({"alg": self.key.alg(), "typ": "JWT", "kid": self.key_id});
        let claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url.as_str(),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Forgets the cached token (after a 401).
    pub(crate) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// A valid access token, from the cache or a new token request.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        clock: &dyn Clock,
    ) -> Result<zeroize::Zeroizing<String>, EhrError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref() {
            if Instant::now() < token.renew_at {
                return Ok(token.value.clone());
            }
        }
        let assertion = self.assertion(clock);
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", self.scope.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = http
            .post(self.token_url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| super::fhir::transport_error("token request", &e))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(EhrError::Unavailable(format!(
                "token request: HTTP {}",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            tracing::warn!(
                status = status.as_u16(),
                "the EHR refused CareChat's token request; check client_id, key_id and the registered public key"
            );
            return Err(EhrError::Rejected(format!(
                "token request: HTTP {}",
                status.as_u16()
            )));
        }
        let json: serde_json::Value = response
            .json()
            .await
            .map_err(|e| super::fhir::transport_error("token response", &e))?;
        let value = json
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| EhrError::Rejected("token response: no access_token".into()))?;
        let expires_in = Duration::from_secs(
            json.get("expires_in")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(300),
        );
        let life = expires_in
            .checked_sub(RENEW_MARGIN)
            .unwrap_or_default()
            .max(expires_in / 2);
        let value = zeroize::Zeroizing::new(value.to_owned());
        *cached = Some(Token {
            value: value.clone(),
            renew_at: Instant::now() + life,
        });
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::clock::SystemClock;
    use p384::ecdsa::signature::Verifier as _;
    use p384::pkcs8::EncodePrivateKey as _;

    #[test]
    fn the_assertion_is_a_verifiable_es384_jwt_with_the_smart_claims() {
        let key = p384::SecretKey::random(&mut rand_core::OsRng);
        let pem = key.to_pkcs8_pem(p384::pkcs8::LineEnding::LF).unwrap();
        let config = FhirConfig::new(
            "https://ehr.example/fhir".parse().unwrap(),
            "https://ehr.example/token".parse().unwrap(),
            "carechat",
            "k1",
            SigningAlgorithm::Es384,
            &pem,
        )
        .unwrap();
        let auth = SmartAuth::new(&config).unwrap();
        let jwt = auth.assertion(&SystemClock);
        let parts: Vec<_> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES384");
        assert_eq!(header["kid"], "k1");
        assert_eq!(claims["iss"], "carechat");
        assert_eq!(claims["sub"], "carechat");
        assert_eq!(claims["aud"], "https://ehr.example/token");
        let now = chrono::Utc::now().timestamp();
        let exp = claims["exp"].as_i64().unwrap();
        assert!(exp > now && exp <= now + 300);
        let signature =
            p384::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let verifying = p384::ecdsa::VerifyingKey::from(key.public_key());
        verifying
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
        let other: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(auth.assertion(&SystemClock).split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_ne!(other["jti"], claims["jti"]);
    }

    #[test]
    fn rs384_assertions_verify_and_small_rsa_keys_are_refused() {
        use rsa::pkcs8::EncodePrivateKey as _;
        use rsa::signature::Verifier as _;
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
        let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let config = FhirConfig::new(
            "https://ehr.example/fhir".parse().unwrap(),
            "https://ehr.example/token".parse().unwrap(),
            "carechat",
            "k1",
            SigningAlgorithm::Rs384,
            &pem,
        )
        .unwrap();
        let jwt = SmartAuth::new(&config).unwrap().assertion(&SystemClock);
        let parts: Vec<_> = jwt.split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS384");
        let verifying = rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key.to_public_key());
        let signature = rsa::pkcs1v15::Signature::try_from(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice(),
        )
        .unwrap();
        verifying
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
        // An ES384 key is not an RS384 key, and 1024 bits are too few.
        let ec = p384::SecretKey::random(&mut rand_core::OsRng)
            .to_pkcs8_pem(p384::pkcs8::LineEnding::LF)
            .unwrap();
        assert!(check_key(SigningAlgorithm::Rs384, &ec).is_err());
        assert!(check_key(SigningAlgorithm::Es384, &pem).is_err());
        let small = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024)
            .unwrap()
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let problem = check_key(SigningAlgorithm::Rs384, &small).unwrap_err();
        assert!(problem.contains("2048"), "{problem}");
    }
}
