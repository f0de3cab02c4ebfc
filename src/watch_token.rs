//! Watch tokens: HS256 JWTs signed with `JWT_SECRET` whose `role` is
//! `watcher`, naming one ride (`ride`) and one watch link (`wid`). The
//! ordinary token check refuses the role (401 on every endpoint); only the
//! ride socket of that ride reads them, and the ride checks that the link
//! is still live (so revoking works before `exp`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::auth::AuthError;

/// The `role` claim of a watch token.
pub const WATCHER_ROLE: &str = "watcher";

/// What a watch token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchClaims {
    /// `watch:{wid}`.
    pub sub: String,
    /// Always `watcher`.
    pub role: String,
    /// The one ride it follows.
    pub ride: String,
    /// The watch link's id.
    pub wid: String,
    /// When it was issued (s).
    pub iat: i64,
    /// When it stops working at the latest (s).
    pub exp: i64,
}

impl WatchClaims {
    /// The claims of link `wid` of `ride`, issued at `now_s`, until `exp_s`.
    pub fn new(ride: &str, wid: &str, now_s: i64, exp_s: i64) -> WatchClaims {
        WatchClaims {
            sub: format!("watch:{wid}"),
            role: WATCHER_ROLE.into(),
            ride: ride.into(),
            wid: wid.into(),
            iat: now_s,
            exp: exp_s,
        }
    }
}

/// Signs `claims` with `secret`.
pub fn sign(claims: &WatchClaims, secret: &[u8]) -> Result<String, AuthError> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|_| AuthError::Malformed)?);
    let signed = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| AuthError::BadSignature)?;
    mac.update(signed.as_bytes());
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())))
}

/// Reads a watch token at `now_s`: HS256, signed with `secret`, role
/// `watcher`, not expired. Any other token is refused (the caller then
/// treats it as an ordinary token).
pub fn verify(token: &str, secret: &[u8], now_s: i64) -> Result<WatchClaims, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    #[derive(Deserialize)]
    struct Header {
        alg: String,
    }
    let header_json = URL_SAFE_NO_PAD.decode(header).map_err(|_| AuthError::Malformed)?;
    let alg: Header = serde_json::from_slice(&header_json).map_err(|_| AuthError::Malformed)?;
    if alg.alg != "HS256" {
        return Err(AuthError::WrongAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| AuthError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| AuthError::BadSignature)?;
    mac.update(format!("{header}.{payload}").as_bytes());
    mac.verify_slice(&signature).map_err(|_| AuthError::BadSignature)?;
    let claims = URL_SAFE_NO_PAD.decode(payload).map_err(|_| AuthError::Malformed)?;
    let claims: WatchClaims = serde_json::from_slice(&claims).map_err(|_| AuthError::MissingClaim("wid"))?;
    if claims.role != WATCHER_ROLE {
        return Err(AuthError::UnknownRole);
    }
    if now_s >= claims.exp {
        return Err(AuthError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    #[test]
    fn a_watch_token_reads_back_until_it_expires() {
        let claims = WatchClaims::new("ride_1", "w_1", 100, 200);
        let token = sign(&claims, SECRET).unwrap();
        assert_eq!(verify(&token, SECRET, 199), Ok(claims));
        assert_eq!(verify(&token, SECRET, 200), Err(AuthError::Expired));
        assert_eq!(verify(&token, b"other", 150), Err(AuthError::BadSignature));
    }

    #[test]
    fn a_watch_token_is_refused_by_the_ordinary_token_check() {
        let token = sign(&WatchClaims::new("ride_1", "w_1", 100, 200), SECRET).unwrap();
        assert_eq!(crate::auth::verify(&token, SECRET, 150), Err(AuthError::UnknownRole));
    }

    #[test]
    fn an_ordinary_token_is_not_a_watch_token() {
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"p","role":"passenger","exp":300}"#);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
        let signed = format!("{header}.{body}");
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(signed.as_bytes());
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        assert!(verify(&token, SECRET, 150).is_err());
    }
}
