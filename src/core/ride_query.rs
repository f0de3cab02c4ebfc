//! The query of `GET /v1/rides?status=&limit=&cursor=`.

use super::cursor::Cursor;
use super::invalid::Invalid;
use super::ride::RideStatus;

/// Page size when the client names none.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 100;

/// A validated list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RideQuery {
    /// Only rides in this status, when given.
    pub status: Option<RideStatus>,
    /// Page size, 1 to 100.
    pub limit: u32,
    /// Continue after this position, when given.
    pub cursor: Option<Cursor>,
}

impl RideQuery {
    /// Validates the decoded query pairs; unknown keys are refused so typos show.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<RideQuery, Invalid> {
        let mut query = RideQuery { status: None, limit: DEFAULT_LIMIT, cursor: None };
        for (key, value) in pairs {
            match key {
                "status" => {
                    let status = RideStatus::parse(value).ok_or_else(|| {
                        Invalid::field(
                            "status",
                            "must be one of searching, accepted, arrived, in_progress, completed, cancelled, expired",
                        )
                    })?;
                    query.status = Some(status);
                }
                "limit" => {
                    query.limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| Invalid::field("limit", "must be a whole number from 1 to 100"))?;
                }
                "cursor" if !value.is_empty() => query.cursor = Some(Cursor::decode(value)?),
                "cursor" => {}
                other => return Err(Invalid(format!("unknown query parameter `{other}`"))),
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_query_lists_twenty_of_every_status() {
        assert_eq!(RideQuery::from_pairs([]).unwrap(), RideQuery { status: None, limit: 20, cursor: None });
    }

    #[test]
    fn status_limit_and_cursor_are_read() {
        let cursor = format!("5.ride_{}", "a".repeat(32));
        let q =
            RideQuery::from_pairs([("status", "in_progress"), ("limit", "100"), ("cursor", cursor.as_str())]).unwrap();
        assert_eq!(q.status, Some(RideStatus::InProgress));
        assert_eq!(q.limit, 100);
        assert_eq!(q.cursor.unwrap().created_at, 5);
    }

    #[test]
    fn limits_outside_one_to_a_hundred_are_invalid() {
        for limit in ["0", "101", "-1", "ten", ""] {
            assert!(RideQuery::from_pairs([("limit", limit)]).is_err(), "{limit}");
        }
    }

    #[test]
    fn unknown_statuses_and_keys_are_invalid() {
        assert!(RideQuery::from_pairs([("status", "done")]).is_err());
        assert!(RideQuery::from_pairs([("sort", "asc")]).is_err());
    }
}
