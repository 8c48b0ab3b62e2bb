//! Verify Tessera access tokens and ID tokens in relying apps, with the provider's public keys.
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_verify::Verifier;
//!
//! let verifier = Verifier::builder("https://id.example.com")
//!     .audience("orders-api") // the client id Tessera issues this API's tokens to
//!     .build()?;
//! let claims = verifier.verify_access_token(token).await?;
//! if claims.has_scope("orders:read") {
//!     println!("{} may read orders", claims.sub);
//! }
//! # Ok(()) }
//! ```
//!
//! The verifier reads the discovery document, fetches the JWKS, and keeps the keys for the
//! JWKS answer's `Cache-Control: max-age`. A token with an unknown `kid` (a key rotated in
//! since) triggers one fetch, at most once per [`VerifierBuilder::min_refetch_interval`], shared
//! by every request waiting on it. Only a published `kid` is accepted, with the algorithm of its
//! key: RS256 (RSA), ES256 (EC P-256) or EdDSA (OKP Ed25519), whatever the token header says.
//!
//! With the default `actix-web` feature, [`actix::Authenticated`] extracts verified claims and
//! [`actix::require_scope`] / [`actix::require_role`] guard a route in one line; the `axum`
//! feature brings the same for axum 0.8 in `tessera_verify::axum`.

pub mod claims;
pub mod error;
mod keys;
mod provider;
pub mod rejection;
mod verify;

#[cfg(feature = "actix-web")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

pub use claims::{AccessClaims, Audience, IdClaims};
pub use error::{KeySetError, VerifyError};
pub use verify::{Verifier, VerifierBuilder};
