//! The one validation error of the core: a message a client developer can
//! act on, naming the offending field.

use serde_json::error::Category;

use super::strict_json::{JsonTree, Strict};

/// Input that breaks a rule of the protocol; becomes `invalid_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    /// An error about one field, e.g. `Invalid::field("pickup.lat", "must be in [-90, 90]")`.
    pub fn field(path: &str, rule: &str) -> Self {
        Invalid(format!("{path} {rule}"))
    }
}

/// Parses a JSON body into `T`, naming the field path in the error. The
/// one body parser: it holds every body to the strict rule of
/// [`super::strict_json`] (objects stay objects, no unknown or repeated
/// keys), whatever `T` is.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Invalid> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let tree: JsonTree = serde_path_to_error::deserialize(&mut *de).map_err(located)?;
    de.end().map_err(|err| Invalid(format!("body: {err}")))?;
    serde_path_to_error::deserialize(Strict(tree.0)).map_err(located)
}

/// An error at a field path, or about the body as a whole.
fn located(err: serde_path_to_error::Error<serde_json::Error>) -> Invalid {
    // A refused key (unknown, repeated) is located at its object: `pickup.?` is `pickup`.
    let path = err.path().to_string();
    let path = path.strip_suffix(".?").unwrap_or(&path).to_string();
    let inner = err.into_inner();
    let whole_body = inner.classify() == Category::Eof || matches!(path.as_str(), "" | "." | "?");
    if whole_body {
        Invalid(format!("body: {inner}"))
    } else {
        Invalid(format!("{path}: {inner}"))
    }
}

/// Checks a required free-text field: trimmed non-empty, at most `max` chars.
pub fn text(path: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Invalid::field(path, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(Invalid::field(path, &format!("must be at most {max} characters")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::field(path, "must not contain control characters"));
    }
    Ok(trimmed.to_string())
}

/// Checks an optional free-text field like [`text`]; `None` stays `None`.
pub fn optional_text(path: &str, value: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    value.map(|v| text(path, v, max)).transpose()
}

/// Checks a phone number: digits with an optional leading `+` and the usual
/// separators (space, `-`, `(`, `)`), 5 to 20 digits.
pub fn phone(path: &str, value: &str) -> Result<String, Invalid> {
    let trimmed = value.trim();
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let allowed = body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'));
    if !allowed || !(5..=20).contains(&digits) {
        return Err(Invalid::field(
            path,
            "must be a phone number: 5 to 20 digits, an optional leading +, spaces, dashes or parentheses",
        ));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: f64,
    }

    #[test]
    fn parse_errors_name_the_field_path() {
        let err = parse_json::<Outer>(br#"{"inner":{"n":"x"}}"#).unwrap_err();
        assert!(err.0.starts_with("inner.n: invalid type"), "{}", err.0);
    }

    #[test]
    fn malformed_json_is_invalid() {
        let err = parse_json::<Outer>(b"{not json").unwrap_err();
        assert!(err.0.starts_with("body: "), "{}", err.0);
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("name", "  Ann ", 10).unwrap(), "Ann");
        assert!(text("name", "   ", 10).is_err());
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert!(text("name", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn phone_accepts_common_forms_and_rejects_letters() {
        assert!(phone("phone", "+27 82 555 0100").is_ok());
        assert!(phone("phone", "(011) 555-0100").is_ok());
        assert!(phone("phone", "call me").is_err());
        assert!(phone("phone", "123").is_err());
        assert!(phone("phone", "+1+2345678").is_err());
    }
}
