//! Why a token was refused, and why the provider's keys could not be had.
//!
//! The `Display` text of every error is safe to send to a client in an `error_description`:
//! it never contains the token, a claim value or an internal address.

/// Why a presented token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not three base64url parts with a JSON header: not a JWT at all.
    #[error("the token is malformed")]
    Malformed,
    /// `alg` is not RS256, ES256 or EdDSA (`none`, HS256, …), or not the algorithm of the key
    /// its `kid` names.
    #[error("the token's signing algorithm is not accepted")]
    Algorithm,
    /// The header `typ` is not the one this kind of token carries (`at+jwt` for access tokens,
    /// `JWT` for ID tokens): an ID token offered as an access token, or the reverse.
    #[error("the token is not of the expected type")]
    Type,
    /// No `kid`, or a `kid` the provider does not publish (even after a fresh look).
    #[error("the token was not signed by a key of the provider")]
    UnknownKey,
    /// The signature does not match the header and claims.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the provider's issuer.
    #[error("the token was issued by another issuer")]
    Issuer,
    /// `aud` does not name this API (access token) or this client (ID token).
    #[error("the token is meant for another audience")]
    Audience,
    /// ID token: `azp` names another client, or is missing while there are several audiences.
    #[error("the token was issued to another client")]
    AuthorizedParty,
    /// ID token: the `nonce` is missing or differs from the one the app sent.
    #[error("the token's nonce does not match")]
    Nonce,
    /// A required claim is missing or has the wrong JSON type.
    #[error("the token's claims are invalid")]
    Claims,
    /// The provider's discovery document or key set could not be fetched or read, and no key
    /// for this token was cached. Not the client's fault: answered as 503, not 401.
    #[error("the provider's keys are unavailable")]
    KeysUnavailable(#[source] KeySetError),
}

impl VerifyError {
    /// Whether the token itself is at fault (answered 401 `invalid_token`), as opposed to the
    /// provider being unreachable.
    pub fn is_invalid_token(&self) -> bool {
        !matches!(self, Self::KeysUnavailable(_))
    }
}

/// Why the discovery document or the JWKS could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    #[error("the request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url} did not answer the expected JSON: {reason}")]
    Json { url: String, reason: String },
    #[error("the discovery document names issuer `{found}`, expected `{expected}`")]
    IssuerMismatch { expected: String, found: String },
    #[error("the issuer or jwks_uri is not a valid http(s) URL: {0}")]
    Url(String),
}
