//! `continue` tokens. Clusterpedia's are plain offsets (`continue=5`); ours are keyset cursors
//! (the sort key of the last row served), so paging while the agent pushes never skips or
//! repeats an object. A cursor is bound to its query by a fingerprint and expires after
//! [`CURSOR_TTL_SECONDS`] (410 `Expired`, as Kubernetes answers a compacted continue).
//! Cursors are signed (HMAC-SHA256 with a key only the edge has, [`ContinueKey`]), so a
//! forged or edited token is a 400 before any of it reaches SQL. Numeric offsets stay as the
//! seed has them: an offset into what the caller may see anyway.

use crate::error::{ApiError, ApiResult};
use crate::store::{SqlValue, Store};
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use serde::{Deserialize, Serialize};

pub const CURSOR_TTL_SECONDS: i64 = 3600;

#[derive(Debug, Clone, PartialEq)]
pub enum Continue {
    Offset(u64),
    After(SignedCursor),
}

/// A cursor as the client sent it: its payload is trusted only once [`Self::open`] has
/// checked the signature.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedCursor {
    payload: String,
    mac: Vec<u8>,
}

/// Bytes of HMAC-SHA256 kept in a token: 128 bits, plenty against forgery, short in URLs.
const MAC_BYTES: usize = 16;

/// The signing key, generated once per database by migration 0002 (every instance sharing
/// the store shares it, so a token from one instance continues on another).
pub struct ContinueKey([u8; 32]);

impl ContinueKey {
    pub fn load(store: &dyn Store) -> ApiResult<Self> {
        let rows = store.query("SELECT key FROM edge_keys WHERE name = 'continue'", &[])?;
        match rows.first().and_then(|r| r.first()) {
            Some(SqlValue::Blob(b)) if b.len() == 32 => {
                let mut key = [0; 32];
                key.copy_from_slice(b);
                Ok(Self(key))
            }
            _ => {
                eprintln!("edgepedia: the continue-token key is missing from edge_keys");
                Err(ApiError::internal())
            }
        }
    }

    fn mac(&self, payload: &str) -> Vec<u8> {
        hmac_sha256::HMAC::mac(payload.as_bytes(), self.0)[..MAC_BYTES].to_vec()
    }
}

fn malformed() -> ApiError {
    ApiError::bad_request("continue: the token is malformed; start the list again without it")
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
        let (payload, mac) = token.split_once('.').ok_or_else(malformed)?;
        let mac = Base64UrlSafeNoPadding::decode_to_vec(mac, None).map_err(|_| malformed())?;
        if mac.len() != MAC_BYTES {
            return Err(malformed());
        }
        Ok(Continue::After(SignedCursor {
            payload: payload.to_owned(),
            mac,
        }))
    }
}

impl SignedCursor {
    /// The cursor, if the edge signed it (compared in constant time).
    pub fn open(&self, key: &ContinueKey) -> ApiResult<Cursor> {
        let expected = key.mac(&self.payload);
        let differences = expected
            .iter()
            .zip(&self.mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differences != 0 || expected.len() != self.mac.len() {
            return Err(malformed());
        }
        let bytes =
            Base64UrlSafeNoPadding::decode_to_vec(&self.payload, None).map_err(|_| malformed())?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        let key = crate::plan::key_from_json(wire.k).ok_or_else(malformed)?;
        let fingerprint = u64::from_str_radix(&wire.f, 16).map_err(|_| malformed())?;
        Ok(Cursor {
            key,
            fingerprint,
            issued_at: wire.t,
        })
    }
}

impl Cursor {
    /// `payload.mac`, both base64url.
    pub fn encode(&self, key: &ContinueKey) -> String {
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
        let payload = Base64UrlSafeNoPadding::encode_to_string(json).unwrap_or_default();
        let mac = Base64UrlSafeNoPadding::encode_to_string(key.mac(&payload)).unwrap_or_default();
        format!("{payload}.{mac}")
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

    fn opened(token: &str, key: &ContinueKey) -> ApiResult<Cursor> {
        match Continue::parse(token)? {
            Continue::After(signed) => signed.open(key),
            Continue::Offset(_) => panic!("not a cursor"),
        }
    }

    #[test]
    fn cursor_round_trips_and_only_with_its_key() {
        let c = Cursor {
            key: vec![
                SqlValue::Text("c1".into()),
                SqlValue::Integer(7),
                SqlValue::Null,
            ],
            fingerprint: 0xdead_beef,
            issued_at: 100,
        };
        let key = ContinueKey([7; 32]);
        let token = c.encode(&key);
        assert_eq!(opened(&token, &key).unwrap(), c);
        assert_eq!(Continue::parse("5").unwrap(), Continue::Offset(5));
        // Another edge's key, an edited payload, an edited or missing signature: all 400.
        assert_eq!(opened(&token, &ContinueKey([8; 32])).unwrap_err().code, 400);
        let (payload, mac) = token.split_once('.').unwrap();
        let edited = Cursor {
            key: vec![SqlValue::Text("c2".into())],
            ..c.clone()
        }
        .encode(&ContinueKey([8; 32]));
        let forged = format!("{}.{mac}", edited.split_once('.').unwrap().0);
        assert_eq!(opened(&forged, &key).unwrap_err().code, 400);
        let mut flipped = mac.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{payload}.{}", String::from_utf8(flipped).unwrap());
        assert_eq!(opened(&flipped, &key).unwrap_err().code, 400);
        assert_eq!(Continue::parse(payload).unwrap_err().code, 400);
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
