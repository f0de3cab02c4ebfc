//! Identifiers: ride ids made from server randomness, and the shape checks
//! for ids that clients send.

use super::invalid::Invalid;

/// Prefix of every ride id, so an id says what it names.
pub const RIDE_ID_PREFIX: &str = "ride_";
/// Random bytes in a ride id: 128 bits, above the protocol's 96.
pub const RIDE_ID_RANDOM_BYTES: usize = 16;
/// Longest id accepted for drivers and other token subjects.
pub const MAX_SUBJECT_ID_CHARS: usize = 128;

/// Makes a ride id from 16 random bytes: `ride_` and 32 lower-case hex digits.
pub fn ride_id_from_random(bytes: &[u8; RIDE_ID_RANDOM_BYTES]) -> String {
    let mut id = String::with_capacity(RIDE_ID_PREFIX.len() + 2 * RIDE_ID_RANDOM_BYTES);
    id.push_str(RIDE_ID_PREFIX);
    for byte in bytes {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// Whether `id` has the shape of a ride id this server makes.
pub fn is_ride_id(id: &str) -> bool {
    id.strip_prefix(RIDE_ID_PREFIX).is_some_and(|hex| {
        hex.len() == 2 * RIDE_ID_RANDOM_BYTES && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Checks a driver id from a path: 1 to 128 characters of letters, digits
/// and `_ - . : @`. `nearby` is reserved for `GET /v1/drivers/nearby`.
pub fn driver_id(id: &str) -> Result<String, Invalid> {
    let shape_ok = !id.is_empty()
        && id.chars().count() <= MAX_SUBJECT_ID_CHARS
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@'));
    if !shape_ok {
        return Err(Invalid::field(
            "driver id",
            "must be 1 to 128 characters of letters, digits, '_', '-', '.', ':' or '@'",
        ));
    }
    if id == "nearby" {
        return Err(Invalid::field("driver id", "must not be 'nearby' (reserved)"));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ride_ids_carry_128_random_bits_as_hex() {
        let id = ride_id_from_random(&[0xab; 16]);
        assert_eq!(id, format!("ride_{}", "ab".repeat(16)));
        assert!(is_ride_id(&id));
    }

    #[test]
    fn different_randomness_gives_different_ride_ids() {
        let mut other = [0xab; 16];
        other[15] = 0xac;
        assert_ne!(ride_id_from_random(&[0xab; 16]), ride_id_from_random(&other));
    }

    #[test]
    fn malformed_ride_ids_are_recognised() {
        assert!(!is_ride_id("ride_"));
        assert!(!is_ride_id(&format!("ride_{}", "AB".repeat(16))));
        assert!(!is_ride_id(&format!("trip_{}", "ab".repeat(16))));
        assert!(!is_ride_id(&format!("ride_{}", "ab".repeat(17))));
    }

    #[test]
    fn driver_ids_allow_common_subject_shapes() {
        assert!(driver_id("drv-42").is_ok());
        assert!(driver_id("auth0:abc.def@x").is_ok());
    }

    #[test]
    fn driver_ids_reject_empty_spaces_slashes_and_the_reserved_word() {
        assert!(driver_id("").is_err());
        assert!(driver_id("a b").is_err());
        assert!(driver_id("a/b").is_err());
        assert!(driver_id("nearby").is_err());
        assert!(driver_id(&"x".repeat(129)).is_err());
    }
}
