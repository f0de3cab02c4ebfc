//! Every way a token can be refused, and the one way it is accepted.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ridewire::auth::{token_from, verify, AuthError};
use ridewire::core::identity::Role;
use serde_json::json;

const SECRET: &[u8] = b"test-secret-0123456789";
const NOW: i64 = 1_800_000_000;

fn sign(claims: serde_json::Value) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn b64(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn valid_claims() -> serde_json::Value {
    json!({"sub": "p-1", "role": "passenger", "exp": NOW + 60, "name": "Ann"})
}

#[test]
fn a_valid_hs256_token_names_its_caller() {
    let verified = verify(&sign(valid_claims()), SECRET, NOW).unwrap();
    assert_eq!(verified.caller.sub, "p-1");
    assert_eq!(verified.caller.role, Role::Passenger);
    assert_eq!(verified.caller.name.as_deref(), Some("Ann"));
    assert_eq!(verified.expires_at_s, NOW + 60);
}

#[test]
fn every_role_is_accepted() {
    for role in ["passenger", "driver", "partner", "dispatcher"] {
        let token = sign(json!({"sub": "x", "role": role, "exp": NOW + 1}));
        assert!(verify(&token, SECRET, NOW).is_ok(), "{role}");
    }
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let token = encode(&Header::new(Algorithm::HS256), &valid_claims(), &EncodingKey::from_secret(b"other")).unwrap();
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::BadSignature));
}

#[test]
fn alg_none_is_refused() {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64(valid_claims().to_string().as_bytes());
    assert_eq!(verify(&format!("{header}.{body}."), SECRET, NOW), Err(AuthError::WrongAlgorithm));
}

#[test]
fn other_hmac_algorithms_are_refused_even_with_the_right_secret() {
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = encode(&Header::new(alg), &valid_claims(), &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::WrongAlgorithm), "{alg:?}");
    }
}

#[test]
fn an_hs256_signature_under_a_forged_header_is_refused() {
    let token = sign(valid_claims());
    let (_, rest) = token.split_once('.').unwrap();
    let forged = format!("{}.{rest}", b64(br#"{"alg":"RS256","typ":"JWT"}"#));
    assert_eq!(verify(&forged, SECRET, NOW), Err(AuthError::WrongAlgorithm));
}

#[test]
fn an_expired_token_is_refused() {
    let token = sign(json!({"sub": "p", "role": "passenger", "exp": NOW - 1}));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::Expired));
}

#[test]
fn a_token_expiring_this_second_is_refused() {
    let token = sign(json!({"sub": "p", "role": "passenger", "exp": NOW}));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::Expired));
}

#[test]
fn a_token_not_yet_valid_is_refused() {
    let token = sign(json!({"sub": "p", "role": "passenger", "exp": NOW + 100, "nbf": NOW + 10}));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::NotYetValid));
    assert!(verify(&token, SECRET, NOW + 10).is_ok());
}

#[test]
fn an_unknown_role_is_refused() {
    let token = sign(json!({"sub": "p", "role": "admin", "exp": NOW + 100}));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::UnknownRole));
}

#[test]
fn each_required_claim_must_be_present() {
    for (claim, missing) in [("sub", "sub"), ("role", "role"), ("exp", "exp")] {
        let mut claims = valid_claims();
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(verify(&sign(claims), SECRET, NOW), Err(AuthError::MissingClaim(missing)));
    }
}

#[test]
fn claims_of_the_wrong_type_are_refused() {
    let token = sign(json!({"sub": 42, "role": "passenger", "exp": NOW + 1}));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::MissingClaim("sub")));
    let token = sign(json!({"sub": "p", "role": "passenger", "exp": "tomorrow"}));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::MissingClaim("exp")));
    let token = sign(json!({"sub": "", "role": "passenger", "exp": NOW + 1}));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::MissingClaim("sub")));
}

#[test]
fn garbage_is_malformed() {
    for token in ["", "abc", "a.b", "a.b.c", "....."] {
        assert!(matches!(verify(token, SECRET, NOW), Err(AuthError::Malformed | AuthError::WrongAlgorithm)), "{token}");
    }
}

#[test]
fn a_tampered_payload_is_refused() {
    let token = sign(valid_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged_body = b64(json!({"sub": "p-1", "role": "dispatcher", "exp": NOW + 60}).to_string().as_bytes());
    let forged = format!("{}.{}.{}", parts[0], forged_body, parts[2]);
    assert_eq!(verify(&forged, SECRET, NOW), Err(AuthError::BadSignature));
}

#[test]
fn the_bearer_header_wins_over_the_query_token() {
    assert_eq!(token_from(Some("Bearer abc"), Some("xyz")), Ok("abc"));
    assert_eq!(token_from(Some("bearer  abc "), None), Ok("abc"));
    assert_eq!(token_from(None, Some("xyz")), Ok("xyz"));
}

#[test]
fn no_token_or_another_scheme_is_missing() {
    assert_eq!(token_from(None, None), Err(AuthError::Missing));
    assert_eq!(token_from(Some("Basic dXNlcjpwYXNz"), None), Err(AuthError::Missing));
    assert_eq!(token_from(Some("Bearer "), None), Err(AuthError::Missing));
    assert_eq!(token_from(None, Some("")), Err(AuthError::Missing));
}

#[test]
fn a_signature_that_is_not_base64url_is_malformed() {
    let token = sign(valid_claims());
    let (signed, _) = token.rsplit_once('.').unwrap();
    assert_eq!(verify(&format!("{signed}.not+base64/"), SECRET, NOW), Err(AuthError::Malformed));
}

#[test]
fn a_token_of_four_parts_is_malformed() {
    let token = sign(valid_claims());
    assert_eq!(verify(&format!("{token}.extra"), SECRET, NOW), Err(AuthError::Malformed));
}

#[test]
fn an_empty_or_truncated_signature_is_refused() {
    let token = sign(valid_claims());
    let (signed, signature) = token.rsplit_once('.').unwrap();
    assert_eq!(verify(&format!("{signed}."), SECRET, NOW), Err(AuthError::BadSignature));
    assert_eq!(verify(&format!("{signed}.{}", &signature[..20]), SECRET, NOW), Err(AuthError::BadSignature));
}

#[test]
fn a_validly_signed_payload_that_is_not_a_claims_object_is_malformed() {
    let token = sign(json!(["sub", "role"]));
    assert_eq!(verify(&token, SECRET, NOW), Err(AuthError::Malformed));
}
