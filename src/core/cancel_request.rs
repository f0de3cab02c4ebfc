//! The body of `POST /v1/rides/{id}/cancel`: none at all, or `{"reason"?}`.

use serde::Deserialize;

use super::invalid::{parse_json, Invalid};
use super::protocol::MAX_REASON_CHARS;

/// The cancel body exactly as a client sends it.
#[derive(Debug, Deserialize)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

/// The reason given, if any: an empty (or blank) body gives none.
pub fn cancel_reason(body: &[u8]) -> Result<Option<String>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let reason = parse_json::<CancelBody>(body)?.reason;
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(Invalid::field("reason", "must be at most 500 characters"));
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_body_or_an_empty_object_gives_no_reason() {
        assert_eq!(cancel_reason(b""), Ok(None));
        assert_eq!(cancel_reason(b" \n"), Ok(None));
        assert_eq!(cancel_reason(b"{}"), Ok(None));
        assert_eq!(cancel_reason(br#"{"reason":null}"#), Ok(None));
    }

    #[test]
    fn a_reason_is_kept_up_to_500_characters() {
        assert_eq!(cancel_reason(br#"{"reason":"changed my mind"}"#), Ok(Some("changed my mind".into())));
        let long = format!(r#"{{"reason":"{}"}}"#, "x".repeat(501));
        assert!(cancel_reason(long.as_bytes()).unwrap_err().0.starts_with("reason"));
    }
}
