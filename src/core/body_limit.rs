//! The size limit of HTTP request bodies.

/// Largest HTTP body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Whether a body is over the limit, judged first by its declared
/// `Content-Length` (so a huge upload is refused before it is read), then
/// by the bytes actually read (a missing or lying header changes nothing).
pub fn body_too_large(declared: Option<&str>, read: Option<usize>) -> bool {
    let declared = declared.and_then(|v| v.trim().parse::<usize>().ok());
    declared.is_some_and(|len| len > MAX_BODY_BYTES) || read.is_some_and(|len| len > MAX_BODY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_at_the_limit_is_accepted() {
        assert!(!body_too_large(Some("16384"), Some(16384)));
        assert!(!body_too_large(None, Some(0)));
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        assert!(body_too_large(Some("16385"), None));
        assert!(body_too_large(Some(" 999999999 "), None));
    }

    #[test]
    fn a_body_read_over_the_limit_is_refused_whatever_was_declared() {
        assert!(body_too_large(None, Some(16385)));
        assert!(body_too_large(Some("10"), Some(20000)));
        assert!(body_too_large(Some("garbage"), Some(20000)));
    }
}
