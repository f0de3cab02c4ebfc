//! Token verification: HS256 JWTs with `sub`, `role` and `exp`, checked
//! against the caller's clock passed in, so every rejection is tested natively.
//!
//! HS256 only, so HMAC-SHA256 (`hmac` + `sha2`) rather than a JWT library:
//! those carry the RSA and elliptic-curve code of every other algorithm into
//! the wasm (about a third of it), and verify synchronously, unlike WebCrypto.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::core::identity::{Caller, Role};

/// Why a token was refused; every case is a 401 `unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header (or `?token=` on a socket).
    #[error("a bearer token is required")]
    Missing,
    /// Not three base64url parts of JSON.
    #[error("the token is malformed")]
    Malformed,
    /// The header names an algorithm other than HS256 (including `none`).
    #[error("the token must be signed with HS256")]
    WrongAlgorithm,
    /// The signature does not match the secret.
    #[error("the token signature is invalid")]
    BadSignature,
    /// `sub`, `role` or `exp` is absent or of the wrong type.
    #[error("the token lacks a valid `{0}` claim")]
    MissingClaim(&'static str),
    /// `role` is not one of the four roles.
    #[error("the token's role is unknown")]
    UnknownRole,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A watch token whose link was revoked or whose ride ended over an hour ago.
    #[error("this watch link was revoked or has ended")]
    WatchEnded,
}

/// A verified token: who is calling and until when the token holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The caller named by the token.
    pub caller: Caller,
    /// The token's `exp`, in seconds since the epoch.
    pub expires_at_s: i64,
}

#[derive(Deserialize)]
struct RawClaims {
    sub: Option<serde_json::Value>,
    role: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    name: Option<serde_json::Value>,
}

/// Verifies `token` with `secret` at `now_s` (seconds since the epoch).
pub fn verify(token: &str, secret: &[u8], now_s: i64) -> Result<Verified, AuthError> {
    if header_alg(token)? != "HS256" {
        return Err(AuthError::WrongAlgorithm);
    }
    let (signed, signature) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
    let (_, payload) = signed.split_once('.').filter(|(_, p)| !p.contains('.')).ok_or(AuthError::Malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| AuthError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| AuthError::BadSignature)?;
    mac.update(signed.as_bytes());
    // Constant-time comparison: a timing difference must not reveal how much of a guess matched.
    mac.verify_slice(&signature).map_err(|_| AuthError::BadSignature)?;
    let claims = URL_SAFE_NO_PAD.decode(payload).map_err(|_| AuthError::Malformed)?;
    let claims: RawClaims = serde_json::from_slice(&claims).map_err(|_| AuthError::Malformed)?;
    check_claims(claims, now_s)
}

/// The `alg` of the token's header, read before any verification so that
/// `none` and every other algorithm are told apart from malformed input.
fn header_alg(token: &str) -> Result<String, AuthError> {
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    let encoded = token.split('.').next().ok_or(AuthError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')).map_err(|_| AuthError::Malformed)?;
    let header: Header = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    Ok(header.alg)
}

fn check_claims(claims: RawClaims, now_s: i64) -> Result<Verified, AuthError> {
    let sub = claims
        .sub
        .as_ref()
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or(AuthError::MissingClaim("sub"))?;
    let role = claims.role.as_ref().and_then(|v| v.as_str()).ok_or(AuthError::MissingClaim("role"))?;
    let role = serde_json::from_value::<Role>(serde_json::Value::from(role)).map_err(|_| AuthError::UnknownRole)?;
    let exp = claims.exp.as_ref().and_then(numeric_date).ok_or(AuthError::MissingClaim("exp"))?;
    if now_s >= exp {
        return Err(AuthError::Expired);
    }
    if let Some(nbf) = claims.nbf {
        let nbf = numeric_date(&nbf).ok_or(AuthError::MissingClaim("nbf"))?;
        if now_s < nbf {
            return Err(AuthError::NotYetValid);
        }
    }
    let name = claims.name.as_ref().and_then(|v| v.as_str()).map(str::to_string);
    Ok(Verified { caller: Caller { sub: sub.to_string(), role, name }, expires_at_s: exp })
}

/// A JWT NumericDate: seconds, possibly fractional; fractions are dropped.
fn numeric_date(value: &serde_json::Value) -> Option<i64> {
    let secs = value.as_f64()?;
    secs.is_finite().then_some(secs.floor() as i64)
}

/// Picks the token from `Authorization: Bearer …`, or, where the endpoint
/// allows it (WebSockets), from the `token` query parameter.
pub fn token_from<'a>(authorization: Option<&'a str>, query_token: Option<&'a str>) -> Result<&'a str, AuthError> {
    if let Some(header) = authorization {
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Missing);
        }
        return Ok(token.trim());
    }
    query_token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)
}
