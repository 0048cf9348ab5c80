//! `continue` tokens. Clusterpedia's are plain offsets (`continue=5`); ours are keyset cursors
//! (the sort key of the last row served), so paging while the agent pushes never skips or
//! repeats an object. A cursor is bound to its query by a fingerprint and expires after
//! [`CURSOR_TTL_SECONDS`] (410 `Expired`, as Kubernetes answers a compacted continue).

use crate::error::{ApiError, ApiResult};
use crate::store::SqlValue;
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use serde::{Deserialize, Serialize};

pub const CURSOR_TTL_SECONDS: i64 = 3600;

#[derive(Debug, Clone, PartialEq)]
pub enum Continue {
    Offset(u64),
    After(Cursor),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// Sort-key values of the last row served, in ORDER BY order.
    pub key: Vec<SqlValue>,
    pub fingerprint: u64,
    pub issued_at: i64,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    k: Vec<serde_json::Value>,
    f: String,
    t: i64,
}

impl Continue {
    pub fn parse(token: &str) -> ApiResult<Self> {
        if let Ok(offset) = token.parse::<u64>() {
            return Ok(Continue::Offset(offset));
        }
        let invalid = || {
            ApiError::bad_request(
                "continue: the token is malformed; start the list again without it",
            )
        };
        let bytes = Base64UrlSafeNoPadding::decode_to_vec(token, None).map_err(|_| invalid())?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let key = wire
            .k
            .into_iter()
            .map(|v| match v {
                serde_json::Value::Null => Some(SqlValue::Null),
                serde_json::Value::String(s) => Some(SqlValue::Text(s)),
                serde_json::Value::Number(n) => n.as_i64().map(SqlValue::Integer),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid)?;
        let fingerprint = u64::from_str_radix(&wire.f, 16).map_err(|_| invalid())?;
        Ok(Continue::After(Cursor {
            key,
            fingerprint,
            issued_at: wire.t,
        }))
    }
}

impl Cursor {
    pub fn encode(&self) -> String {
        let wire = Wire {
            k: self
                .key
                .iter()
                .map(|v| match v {
                    SqlValue::Text(s) => serde_json::Value::from(s.as_str()),
                    SqlValue::Integer(i) => serde_json::Value::from(*i),
                    _ => serde_json::Value::Null,
                })
                .collect(),
            f: format!("{:016x}", self.fingerprint),
            t: self.issued_at,
        };
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        Base64UrlSafeNoPadding::encode_to_string(json).unwrap_or_default()
    }

    /// A cursor is only valid for the query that issued it, and only for a while.
    pub fn check(&self, fingerprint: u64, key_len: usize, now: i64) -> ApiResult<()> {
        if self.fingerprint != fingerprint || self.key.len() != key_len {
            return Err(ApiError::bad_request(
                "continue: the token was issued for a different query; start the list again without it",
            ));
        }
        if now - self.issued_at > CURSOR_TTL_SECONDS {
            return Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            ));
        }
        Ok(())
    }
}

/// FNV-1a: a stable hash (unlike std's, fixed across Rust versions and instances).
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            key: vec![
                SqlValue::Text("c1".into()),
                SqlValue::Integer(7),
                SqlValue::Null,
            ],
            fingerprint: 0xdead_beef,
            issued_at: 100,
        };
        assert_eq!(Continue::parse(&c.encode()).unwrap(), Continue::After(c));
        assert_eq!(Continue::parse("5").unwrap(), Continue::Offset(5));
    }

    #[test]
    fn cursor_checks_query_and_age() {
        let c = Cursor {
            key: vec![SqlValue::Null],
            fingerprint: 1,
            issued_at: 0,
        };
        assert!(c.check(1, 1, 10).is_ok());
        assert_eq!(c.check(2, 1, 10).unwrap_err().code, 400);
        assert_eq!(c.check(1, 1, CURSOR_TTL_SECONDS + 1).unwrap_err().code, 410);
        assert_eq!(Continue::parse("not-a-token!").unwrap_err().code, 400);
    }

    #[test]
    fn fingerprint_separates_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["x"]), fingerprint(&["x"]));
    }
}
