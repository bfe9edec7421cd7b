//! SMART Backend Services authentication for the FHIR client: the signed
//! JWT client assertion, the OAuth 2.0 client-credentials token request, and
//! the access token cache.
//!
//! The assertion is an ES384 (P-384) or RS384 (RSA, at least 2048 bits) JWT
//! with `iss` = `sub` = the client id, `aud` = the token URL, a random
//! `jti`, and `exp` four minutes ahead (the SMART limit is five). The token is reused until shortly before its
//! `expires_in`, and thrown away when the FHIR server answers 401.
//!
//! The cache never makes callers queue behind the EHR. A std mutex guards
//! its state and is held only to read or swap it, never across the network.
//! Token requests are single-flight: the first caller that finds the token
//! missing or expired starts one request (a spawned task, bounded by
//! `ehr.fhir.token_timeout_secs`), and every caller meanwhile awaits that
//! same request, so a hung token endpoint fails them all together, once,
//! with [`EhrError::Unavailable`]. A token that is due for renewal but not
//! yet expired is still handed out while the new one is fetched in the
//! background. A failed request is remembered only for a short backoff (1 s,
//! doubling up to 16 s while the failures continue): callers in that window
//! get the same error at once instead of hammering a dead EHR, and the first
//! caller after it tries again.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures_util::future::{BoxFuture, FutureExt as _, Shared};
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::DecodePrivateKey as _;
use rand_core::RngCore as _;
use tokio::time::Instant;

use super::config::{FhirConfig, SigningAlgorithm};
use super::EhrError;
use crate::clock::Clock;

/// How far ahead the assertion expires.
const ASSERTION_LIFETIME_SECS: i64 = 240;
/// A token is renewed this long before the server said it expires (or at
/// half its life, for very short-lived tokens).
const RENEW_MARGIN: Duration = Duration::from_secs(30);
/// How long a failed token request is remembered after the first failure
/// in a row; doubled for each further one, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest a failure is remembered.
const MAX_BACKOFF: Duration = Duration::from_secs(16);

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

/// An access token.
#[derive(Clone)]
struct Token {
    value: zeroize::Zeroizing<String>,
    /// When a new one is asked for (in the background while this one lasts).
    renew_at: Instant,
    /// When the server said it expires: not handed out after that.
    expires_at: Instant,
}

/// What one token request ends in, shared by every caller awaiting it.
type Outcome = Result<Token, Arc<EhrError>>;

/// A token request in flight; clones await the same request.
type Flight = Shared<BoxFuture<'static, Outcome>>;

/// What the client says about itself in a token request.
struct TokenRequest {
    token_url: url::Url,
    client_id: String,
    key_id: String,
    key: AssertionKey,
    scope: String,
}

impl TokenRequest {
    /// The signed client assertion, issued at `now` (Unix seconds).
    fn assertion(&self, now: i64) -> String {
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

    /// One client-credentials request, with an assertion issued at `now`.
    async fn send(&self, http: &reqwest::Client, now: i64) -> Result<Token, EhrError> {
        let assertion = self.assertion(now);
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
        let now = Instant::now();
        Ok(Token {
            value: zeroize::Zeroizing::new(value.to_owned()),
            renew_at: now + life,
            expires_at: now + expires_in,
        })
    }
}

/// Gets and caches access tokens.
pub(crate) struct SmartAuth {
    request: Arc<TokenRequest>,
    cache: TokenCache,
}

impl SmartAuth {
    pub(crate) fn new(config: &FhirConfig) -> Result<Self, EhrError> {
        let key = AssertionKey::parse(config.algorithm, &config.private_key_pem)
            .map_err(|_| EhrError::Rejected("the EHR signing key is not usable".into()))?;
        Ok(Self {
            request: Arc::new(TokenRequest {
                token_url: config.token_url.clone(),
                client_id: config.client_id.clone(),
                key_id: config.key_id.clone(),
                key,
                scope: config.scopes.join(" "),
            }),
            cache: TokenCache::new(config.token_timeout, FIRST_BACKOFF, MAX_BACKOFF),
        })
    }

    /// The signed client assertion.
    #[cfg(test)]
    fn assertion(&self, clock: &dyn Clock) -> String {
        self.request.assertion(clock.now().timestamp())
    }

    /// Forgets the cached token if it is still `rejected` (after a 401; a
    /// token another caller has fetched meanwhile is kept).
    pub(crate) fn invalidate(&self, rejected: &str) {
        self.cache.invalidate(rejected);
    }

    /// A valid access token, from the cache or the token request in flight
    /// (started here when there is none).
    ///
    /// # Errors
    /// [`EhrError::Unavailable`] when the token endpoint failed or did not
    /// answer within the token time-out (or did so less than a backoff
    /// ago); [`EhrError::Rejected`] when it refused the client.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        clock: &dyn Clock,
    ) -> Result<zeroize::Zeroizing<String>, EhrError> {
        self.cache
            .get(|| {
                let request = Arc::clone(&self.request);
                let http = http.clone();
                let now = clock.now().timestamp();
                async move { request.send(&http, now).await }
            })
            .await
    }
}

/// The cache's state; behind a std mutex held only to read or swap it.
#[derive(Default)]
struct State {
    token: Option<Token>,
    /// The one token request in flight.
    in_flight: Option<Flight>,
    /// Failed requests in a row.
    failures: u32,
    /// The last failure, and until when it is the answer.
    failed: Option<(Instant, Arc<EhrError>)>,
}

/// The single-flight token cache, apart from how a token is fetched.
struct TokenCache {
    state: Arc<Mutex<State>>,
    /// Bounds one token request, however the endpoint behaves.
    timeout: Duration,
    first_backoff: Duration,
    max_backoff: Duration,
}

impl TokenCache {
    fn new(timeout: Duration, first_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            state: Arc::default(),
            timeout,
            first_backoff,
            max_backoff,
        }
    }

    /// A token: the cached one while it lasts, else the outcome of the
    /// request in flight, else of a new request made by `fetch`, unless
    /// the last one failed less than a backoff ago.
    async fn get<F, Fut>(&self, fetch: F) -> Result<zeroize::Zeroizing<String>, EhrError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Token, EhrError>> + Send + 'static,
    {
        let flight = {
            let mut state = lock(&self.state);
            let now = Instant::now();
            let usable = state
                .token
                .as_ref()
                .filter(|t| now < t.expires_at)
                .map(|t| (t.value.clone(), now < t.renew_at));
            if let Some((value, fresh)) = usable {
                if !fresh && state.in_flight.is_none() && current_failure(&state, now).is_none() {
                    // Renew in the background; this one still works.
                    let flight = self.start(fetch());
                    state.in_flight = Some(flight);
                }
                return Ok(value);
            }
            if let Some(flight) = &state.in_flight {
                flight.clone()
            } else if let Some(error) = current_failure(&state, now) {
                return Err(copy(error));
            } else {
                let flight = self.start(fetch());
                state.in_flight = Some(flight.clone());
                flight
            }
        };
        flight.await.map(|t| t.value).map_err(|e| copy(&e))
    }

    /// Spawns a token request, which records its own outcome: so it
    /// finishes (or times out) on time even when every caller awaiting it
    /// has gone. Called with the state locked; the task locks it only
    /// after the request.
    fn start<Fut>(&self, request: Fut) -> Flight
    where
        Fut: Future<Output = Result<Token, EhrError>> + Send + 'static,
    {
        let state = Arc::clone(&self.state);
        let timeout = self.timeout;
        let (first, max) = (self.first_backoff, self.max_backoff);
        let task = tokio::spawn(async move {
            let outcome = match tokio::time::timeout(timeout, request).await {
                Ok(outcome) => outcome,
                Err(_) => Err(EhrError::Unavailable("token request: timed out".into())),
            }
            .map_err(Arc::new);
            let mut state = lock(&state);
            state.in_flight = None;
            match &outcome {
                Ok(token) => {
                    state.token = Some(token.clone());
                    state.failures = 0;
                    state.failed = None;
                }
                Err(error) => {
                    state.failures = state.failures.saturating_add(1);
                    let backoff = first
                        .saturating_mul(2u32.saturating_pow(state.failures - 1))
                        .min(max);
                    tracing::warn!(
                        error = %error,
                        failures = state.failures,
                        retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        "the EHR token request failed"
                    );
                    state.failed = Some((Instant::now() + backoff, Arc::clone(error)));
                }
            }
            outcome
        });
        async move {
            task.await.unwrap_or_else(|_| {
                Err(Arc::new(EhrError::Unavailable(
                    "token request: abandoned".into(),
                )))
            })
        }
        .boxed()
        .shared()
    }

    fn invalidate(&self, rejected: &str) {
        let mut state = lock(&self.state);
        if state
            .token
            .as_ref()
            .is_some_and(|t| t.value.as_str() == rejected)
        {
            state.token = None;
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The last failure, while it is still the answer at `now`.
fn current_failure(state: &State, now: Instant) -> Option<&EhrError> {
    state
        .failed
        .as_ref()
        .filter(|(until, _)| now < *until)
        .map(|(_, error)| error.as_ref())
}

/// An owned copy of a shared error.
fn copy(error: &EhrError) -> EhrError {
    match error {
        EhrError::Unavailable(m) => EhrError::Unavailable(m.clone()),
        EhrError::NotFound => EhrError::NotFound,
        EhrError::Conflict(m) => EhrError::Conflict(m.clone()),
        EhrError::Rejected(m) => EhrError::Rejected(m.clone()),
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

    /// A token worth `value`, due for renewal in `renew` and expiring in
    /// `expires`.
    fn token(value: &str, renew: Duration, expires: Duration) -> Token {
        let now = Instant::now();
        Token {
            value: zeroize::Zeroizing::new(value.to_owned()),
            renew_at: now + renew,
            expires_at: now + expires,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    /// Issue 9 finding 15: one lock was held across the token request, so
    /// eleven patients verifying while the EHR hung waited one time-out
    /// after another (46-66 s). Now they share one request and all fail
    /// when it times out.
    #[tokio::test]
    async fn ten_callers_share_one_request_to_a_hung_token_endpoint_and_fail_together() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let timeout = Duration::from_millis(400);
        let cache = Arc::new(TokenCache::new(timeout, HOUR, HOUR));
        let requests = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let (cache, requests) = (Arc::clone(&cache), Arc::clone(&requests));
            callers.spawn(async move {
                let result = cache
                    .get(|| {
                        requests.fetch_add(1, Ordering::SeqCst);
                        std::future::pending()
                    })
                    .await;
                (result, started.elapsed())
            });
        }
        while let Some(joined) = callers.join_next().await {
            let (result, waited) = joined.unwrap();
            let Err(EhrError::Unavailable(message)) = result else {
                panic!("not unavailable");
            };
            assert_eq!(message, "token request: timed out");
            assert!(waited >= timeout, "{waited:?}");
            assert!(waited < timeout + Duration::from_millis(300), "{waited:?}");
        }
        assert!(started.elapsed() < 2 * timeout, "{:?}", started.elapsed());
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_request_is_retried_after_the_backoff_and_succeeds_once_the_endpoint_recovers()
    {
        let backoff = Duration::from_millis(300);
        let cache = TokenCache::new(HOUR, backoff, 4 * backoff);
        let requests = std::sync::atomic::AtomicUsize::new(0);
        let count = || requests.load(std::sync::atomic::Ordering::SeqCst);
        let fetch = |outcome: Result<&'static str, &'static str>| {
            requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                outcome
                    .map(|v| token(v, HOUR, HOUR))
                    .map_err(|m| EhrError::Unavailable(m.to_owned()))
            }
        };
        let failed = cache.get(|| fetch(Err("token request: HTTP 503"))).await;
        assert!(
            matches!(&failed, Err(EhrError::Unavailable(m)) if m == "token request: HTTP 503"),
            "{failed:?}"
        );
        // Within the backoff: the same answer at once, the EHR left alone.
        let at_once = Instant::now();
        let again = cache.get(|| fetch(Ok("never asked"))).await;
        assert!(matches!(again, Err(EhrError::Unavailable(_))), "{again:?}");
        assert!(at_once.elapsed() < Duration::from_millis(50));
        assert_eq!(count(), 1);
        // Two failures in a row: the backoff doubles.
        tokio::time::sleep(backoff).await;
        let failed = cache.get(|| fetch(Err("token request: timed out"))).await;
        assert!(failed.is_err());
        assert_eq!(count(), 2);
        tokio::time::sleep(backoff).await;
        assert!(cache.get(|| fetch(Ok("too soon"))).await.is_err());
        assert_eq!(count(), 2, "still backing off after one backoff");
        tokio::time::sleep(backoff + Duration::from_millis(100)).await;
        // Recovered: the next caller asks again, and the token is cached.
        let value = cache.get(|| fetch(Ok("t1"))).await.unwrap();
        assert_eq!(value.as_str(), "t1");
        assert_eq!(count(), 3);
        let value = cache.get(|| fetch(Ok("t2"))).await.unwrap();
        assert_eq!(value.as_str(), "t1");
        assert_eq!(count(), 3);
        // And a failure after a success starts from the first backoff.
        cache.invalidate("t1");
        assert!(cache.get(|| fetch(Err("down"))).await.is_err());
        tokio::time::sleep(backoff + Duration::from_millis(50)).await;
        assert_eq!(cache.get(|| fetch(Ok("t3"))).await.unwrap().as_str(), "t3");
        assert_eq!(count(), 5);
    }

    #[tokio::test]
    async fn a_token_due_for_renewal_is_handed_out_while_the_next_is_fetched() {
        let cache = TokenCache::new(HOUR, HOUR, HOUR);
        let due = cache
            .get(|| async { Ok(token("t1", Duration::ZERO, HOUR)) })
            .await
            .unwrap();
        assert_eq!(due.as_str(), "t1");
        let started = Instant::now();
        let value = cache
            .get(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(token("t2", HOUR, HOUR))
            })
            .await
            .unwrap();
        assert_eq!(value.as_str(), "t1");
        assert!(started.elapsed() < Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(400)).await;
        let value = cache
            .get(|| async { Ok(token("never asked", HOUR, HOUR)) })
            .await
            .unwrap();
        assert_eq!(value.as_str(), "t2");
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_does_not_cancel_the_shared_request() {
        let cache = TokenCache::new(HOUR, HOUR, HOUR);
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            cache.get(|| async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                Ok(token("t1", HOUR, HOUR))
            }),
        )
        .await;
        assert!(gave_up.is_err());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let value = cache
            .get(|| async { Ok(token("never asked", HOUR, HOUR)) })
            .await
            .unwrap();
        assert_eq!(value.as_str(), "t1");
    }

    #[tokio::test]
    async fn a_401_forgets_only_the_token_it_was_given() {
        let cache = TokenCache::new(HOUR, HOUR, HOUR);
        let first = cache
            .get(|| async { Ok(token("t1", HOUR, HOUR)) })
            .await
            .unwrap();
        cache.invalidate("an older token");
        let kept = cache
            .get(|| async { Ok(token("never asked", HOUR, HOUR)) })
            .await
            .unwrap();
        assert_eq!(kept.as_str(), first.as_str());
        cache.invalidate(&first);
        let renewed = cache
            .get(|| async { Ok(token("t2", HOUR, HOUR)) })
            .await
            .unwrap();
        assert_eq!(renewed.as_str(), "t2");
    }
}
