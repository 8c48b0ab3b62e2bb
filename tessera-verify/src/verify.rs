//! The verifier: configuration, and the checks of access tokens (RFC 9068) and ID tokens
//! (OIDC Core 3.1.3.7) against the provider's cached keys.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::de::DeserializeOwned;

use crate::claims::{AccessClaims, IdClaims};
use crate::error::{KeySetError, VerifyError};
use crate::keys::{CachePolicy, KeyCache};

/// Longer strings are refused before any parsing (Tessera's tokens are about 1 KiB).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Verifies Tessera tokens. Cheap to clone: clones share one key cache.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audiences: Vec<String>,
    realm: String,
    leeway: u64,
    access: Validation,
    keys: KeyCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Verifier`]; start with [`Verifier::builder`].
#[derive(Debug, Clone)]
pub struct VerifierBuilder {
    issuer: String,
    audiences: Vec<String>,
    realm: Option<String>,
    jwks_uri: Option<String>,
    leeway: Duration,
    policy: CachePolicy,
    http_timeout: Duration,
}

impl VerifierBuilder {
    /// An audience this API accepts in access tokens' `aud` (with Tessera: the client id the
    /// tokens are issued to). Call once per accepted audience; at least one is required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default: the first audience).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Fetch keys from this URL instead of the discovery document's `jwks_uri`.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Clock skew allowed on `exp` and `nbf` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches (default 10 s): an unknown `kid` triggers a
    /// fetch only when the last one is older than this. Tessera signs with a new key as soon as
    /// it is rotated in, so this is also how long a verifier that has just fetched may refuse
    /// the new key's tokens.
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.policy.min_refetch_interval = interval;
        self
    }

    /// How long keys are kept when the JWKS answer has no `Cache-Control: max-age`
    /// (default 5 minutes).
    pub fn default_cache_age(mut self, age: Duration) -> Self {
        self.policy.default_max_age = age;
        self
    }

    /// The longest keys are kept, whatever `max-age` says (default 1 hour): a key removed
    /// from the provider's JWKS stops being accepted after at most this long.
    pub fn max_cache_age(mut self, age: Duration) -> Self {
        self.policy.max_age_cap = age;
        self
    }

    /// Timeout of each request to the provider (default 10 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Checks the settings. No request is made: keys are fetched on first use (or by
    /// [`Verifier::refresh_keys`]).
    pub fn build(self) -> Result<Verifier, KeySetError> {
        crate::provider::install();
        http_url(&self.issuer).map_err(KeySetError::Url)?;
        if let Some(uri) = &self.jwks_uri {
            http_url(uri).map_err(KeySetError::Url)?;
        }
        let Some(first) = self.audiences.first() else {
            return Err(KeySetError::Url("at least one audience is required".into()));
        };
        let realm = self.realm.clone().unwrap_or_else(|| first.clone());
        let http = reqwest::Client::builder()
            .timeout(self.http_timeout)
            .connect_timeout(self.http_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| KeySetError::Http {
                url: self.issuer.clone(),
                reason: e.to_string(),
            })?;
        let leeway = self.leeway.as_secs();
        let access = validation(&self.issuer, &self.audiences, leeway);
        let keys = KeyCache::new(http, self.issuer.clone(), self.jwks_uri, self.policy);
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audiences: self.audiences,
                realm,
                leeway,
                access,
                keys,
            }),
        })
    }
}

/// RS256 (the algorithm is set to the key's own before use); `iss`, `aud`, `exp` (and `nbf`
/// when present) checked with `leeway`.
fn validation(issuer: &str, audiences: &[impl ToString], leeway: u64) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[issuer]);
    v.set_audience(audiences);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.validate_exp = true;
    v.validate_nbf = true;
    v.leeway = leeway;
    v
}

/// The algorithms a provider key may be bound to.
const ACCEPTED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// Checks that `s` is an absolute http(s) URL.
pub(crate) fn http_url(s: &str) -> Result<(), String> {
    let url = url::Url::parse(s).map_err(|e| format!("`{s}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{s}` is not an http(s) URL"));
    }
    Ok(())
}

/// The kinds of token and the header `typ` each must carry.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Access,
    Id,
}

impl Kind {
    fn accepts_typ(self, typ: Option<&str>) -> bool {
        let Some(typ) = typ else { return false };
        match self {
            // RFC 9068 2.1: `at+jwt`, or its full media type.
            Self::Access => {
                typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
            }
            Self::Id => typ.eq_ignore_ascii_case("JWT"),
        }
    }
}

impl Verifier {
    /// Settings for a verifier of tokens from `issuer` (exactly as in the tokens' `iss` and the
    /// discovery document, e.g. `https://id.example.com`).
    pub fn builder(issuer: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.into(),
            audiences: Vec::new(),
            realm: None,
            jwks_uri: None,
            leeway: Duration::from_secs(60),
            policy: CachePolicy {
                default_max_age: Duration::from_secs(300),
                max_age_cap: Duration::from_secs(3600),
                min_refetch_interval: Duration::from_secs(10),
            },
            http_timeout: Duration::from_secs(10),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn audiences(&self) -> &[String] {
        &self.inner.audiences
    }

    /// The `realm` of this API's `WWW-Authenticate` challenges.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// How many times the JWKS has been fetched (for metrics and tests).
    pub fn key_set_fetches(&self) -> u64 {
        self.inner.keys.fetches()
    }

    /// Fetches the provider's keys now (for instance at start-up, so that the first request
    /// does not wait); answers how many usable keys (RS256, ES256, EdDSA) the JWKS holds.
    pub async fn refresh_keys(&self) -> Result<usize, KeySetError> {
        self.inner.keys.refresh().await
    }

    /// Verifies an access token for this API and answers its claims.
    pub async fn verify_access_token(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        self.verify_access_token_as(token).await
    }

    /// Like [`verify_access_token`](Self::verify_access_token), into the caller's own claims
    /// type (or `serde_json::Value`).
    pub async fn verify_access_token_as<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<C, VerifyError> {
        self.decode(token, Kind::Access, &self.inner.access).await
    }

    /// Verifies an ID token issued to `client_id`: signature, `typ` JWT, `iss`, `aud`
    /// containing `client_id`, `azp` (required when there are several audiences), `exp`,
    /// and `nonce` when `nonce` is given (the one the app sent in the authorization request).
    pub async fn verify_id_token(
        &self,
        token: &str,
        client_id: &str,
        nonce: Option<&str>,
    ) -> Result<IdClaims, VerifyError> {
        let validation = validation(&self.inner.issuer, &[client_id], self.inner.leeway);
        let claims: IdClaims = self.decode(token, Kind::Id, &validation).await?;
        match &claims.azp {
            Some(azp) if azp != client_id => return Err(VerifyError::AuthorizedParty),
            None if claims.aud.len() > 1 => return Err(VerifyError::AuthorizedParty),
            _ => {}
        }
        if let Some(expected) = nonce {
            if claims.nonce.as_deref() != Some(expected) {
                return Err(VerifyError::Nonce);
            }
        }
        Ok(claims)
    }

    async fn decode<C: DeserializeOwned>(
        &self,
        token: &str,
        kind: Kind,
        validation: &Validation,
    ) -> Result<C, VerifyError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName | ErrorKind::InvalidAlgorithm => VerifyError::Algorithm,
            _ => VerifyError::Malformed,
        })?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(VerifyError::Algorithm);
        }
        if !kind.accepts_typ(header.typ.as_deref()) {
            return Err(VerifyError::Type);
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = self.inner.keys.key(&kid).await?;
        // The key fixes the algorithm: a header naming another one is refused.
        if header.alg != key.alg {
            return Err(VerifyError::Algorithm);
        }
        let bound;
        let validation = if validation.algorithms == [key.alg] {
            validation
        } else {
            let mut v = validation.clone();
            v.algorithms = vec![key.alg];
            bound = v;
            &bound
        };
        let data =
            jsonwebtoken::decode::<C>(token, &key.key, validation).map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => VerifyError::Signature,
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
                ErrorKind::InvalidIssuer => VerifyError::Issuer,
                ErrorKind::InvalidAudience => VerifyError::Audience,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    VerifyError::Algorithm
                }
                ErrorKind::MissingRequiredClaim(_)
                | ErrorKind::InvalidClaimFormat(_)
                | ErrorKind::Json(_) => VerifyError::Claims,
                _ => VerifyError::Malformed,
            })?;
        Ok(data.claims)
    }
}
