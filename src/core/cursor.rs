//! The pagination cursor of `GET /v1/rides`: the position after the last
//! ride of a page, in the order newest first (created_at, then id).

use super::ids::is_ride_id;
use super::invalid::Invalid;

/// The (created_at, id) of the last ride a page returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last ride's creation time.
    pub created_at: i64,
    /// The last ride's id, breaking ties between equal times.
    pub id: String,
}

impl Cursor {
    /// The opaque text clients pass back as `cursor`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    /// Reads a cursor a client passed back.
    pub fn decode(text: &str) -> Result<Cursor, Invalid> {
        let bad = || Invalid::field("cursor", "is not a cursor this server gave out");
        let (time, id) = text.split_once('.').ok_or_else(bad)?;
        let created_at = time.parse::<i64>().map_err(|_| bad())?;
        if created_at < 0 || !is_ride_id(id) {
            return Err(bad());
        }
        Ok(Cursor { created_at, id: id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_the_round_trip() {
        let cursor = Cursor { created_at: 1_732_000_000_123, id: format!("ride_{}", "0f".repeat(16)) };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn made_up_cursors_are_invalid() {
        for text in ["", "abc", "12", "x.ride_00", "-5.ride_00000000000000000000000000000000", "1.ride_zz"] {
            assert!(Cursor::decode(text).is_err(), "{text}");
        }
    }
}
