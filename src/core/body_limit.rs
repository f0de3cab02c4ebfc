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

/// A body past [`MAX_BODY_BYTES`]: 413 `payload_too_large`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge;

/// Collects a body as it streams in, chunk by chunk, and refuses it as soon
/// as it passes the limit (the rest is never read), whether or not it
/// declared a `Content-Length` (a chunked upload declares none).
#[derive(Debug)]
pub struct BodyCollector {
    bytes: Vec<u8>,
    limit: usize,
}

impl BodyCollector {
    /// Starts a body; refused at once when its declared length is over the limit.
    pub fn new(declared: Option<&str>) -> Result<BodyCollector, BodyTooLarge> {
        BodyCollector::with_limit(declared, MAX_BODY_BYTES)
    }

    /// Starts a body of at most `limit` bytes (a proof image's own cap, say).
    pub fn with_limit(declared: Option<&str>, limit: usize) -> Result<BodyCollector, BodyTooLarge> {
        let declared = declared.and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(BodyTooLarge);
        }
        Ok(BodyCollector { bytes: Vec::new(), limit })
    }

    /// Takes the next chunk; refused once the body read so far passes the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), BodyTooLarge> {
        if self.bytes.len().saturating_add(chunk.len()) > self.limit {
            return Err(BodyTooLarge);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The whole body, at most its limit.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` to a collector; how many were taken before a refusal.
    fn feed(
        declared: Option<&str>,
        chunks: impl IntoIterator<Item = Vec<u8>>,
    ) -> (usize, Result<Vec<u8>, BodyTooLarge>) {
        let mut collector = match BodyCollector::new(declared) {
            Ok(c) => c,
            Err(err) => return (0, Err(err)),
        };
        let mut taken = 0;
        for chunk in chunks {
            if let Err(err) = collector.push(&chunk) {
                return (taken, Err(err));
            }
            taken += 1;
        }
        (taken, Ok(collector.finish()))
    }

    #[test]
    fn a_collector_with_its_own_limit_takes_up_to_it_and_no_more() {
        let limit = 5 * 1024 * 1024;
        assert!(BodyCollector::with_limit(Some("5242881"), limit).is_err());
        let mut c = BodyCollector::with_limit(None, limit).unwrap();
        assert!(c.push(&vec![0; limit]).is_ok());
        assert!(c.push(&[0]).is_err());
    }

    #[test]
    fn a_streamed_body_within_the_limit_is_kept_whole() {
        let (_, body) = feed(None, (0..16).map(|i| vec![i as u8; 1024]));
        let body = body.unwrap();
        assert_eq!(body.len(), MAX_BODY_BYTES);
        assert_eq!(&body[1024..1026], &[1, 1]);
    }

    #[test]
    fn a_streamed_body_without_length_is_cut_off_at_the_first_chunk_past_16_kib() {
        // A 1 MiB chunked upload in 4 KiB chunks: refused at the fifth chunk,
        // the other 251 are never read.
        let (taken, body) = feed(None, std::iter::repeat_n(vec![b'x'; 4096], 256));
        assert_eq!(body, Err(BodyTooLarge));
        assert_eq!(taken, 4);
    }

    #[test]
    fn a_streamed_body_that_lies_about_its_length_is_cut_off_too() {
        let (taken, body) = feed(Some("10"), std::iter::repeat_n(vec![b'x'; 10_000], 3));
        assert_eq!((taken, body), (1, Err(BodyTooLarge)));
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_any_chunk() {
        let (taken, body) = feed(Some("1048576"), std::iter::repeat_n(vec![b'x'; 1], 1));
        assert_eq!((taken, body), (0, Err(BodyTooLarge)));
    }

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
