//! An identity provider's key set (`jwt_jwks_url`): fetched over outbound HTTP, cached in the
//! key-value store, refetched on expiry or on an unknown `kid` (key rotation) — but at most once
//! per `jwt_jwks_refetch_seconds`, so a flood of tokens with random kids cannot make every
//! request call the provider. Spin starts a fresh instance per request, so memory cannot cache
//! anything: the KV store is the cache, shared by all instances of the app.

use super::keys::KeySet;
use serde::{Deserialize, Serialize};

/// What auth needs from the platform. Implemented over spin-sdk in the adapter; natively in
/// tests; [`NoPlatform`] where neither exists.
pub trait Platform {
    /// A plain GET; `Err` for a transport failure (denied host, refused connection, …).
    fn http_get(&self, url: &str) -> Result<HttpResponse, String>;
    fn kv_get(&self, key: &str) -> Option<Vec<u8>>;
    fn kv_set(&self, key: &str, value: &[u8]);
}

pub struct HttpResponse {
    pub status: u16,
    pub cache_control: Option<String>,
    pub body: Vec<u8>,
}

/// No outbound HTTP and no KV: a configured JWKS URL then never yields keys (401).
pub struct NoPlatform;

impl Platform for NoPlatform {
    fn http_get(&self, _url: &str) -> Result<HttpResponse, String> {
        Err("outbound HTTP is not available here".into())
    }
    fn kv_get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    fn kv_set(&self, _key: &str, _value: &[u8]) {}
}

/// KV key of the cached set ([`Cached`] as JSON).
pub const CACHE_KEY: &str = "edgepedia:auth:jwks";
/// KV key of the last fetch attempt (unix seconds), successful or not: the rate limit.
pub const ATTEMPT_KEY: &str = "edgepedia:auth:jwks:last-fetch";
/// Cache lifetime when the provider sends no `Cache-Control: max-age`.
pub const DEFAULT_TTL_SECONDS: i64 = 3600;
/// Bounds on a provider's `max-age`.
const MIN_TTL_SECONDS: i64 = 60;
const MAX_TTL_SECONDS: i64 = 86_400;
/// Default of `jwt_jwks_refetch_seconds`.
pub const DEFAULT_REFETCH_SECONDS: i64 = 60;
/// A key set is a few KiB; anything much larger is not one.
const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Serialize, Deserialize)]
struct Cached {
    url: String,
    fetched_at: i64,
    expires_at: i64,
    jwks: String,
}

pub struct JwksSource {
    pub url: String,
    /// Least time between two fetches.
    pub refetch_seconds: i64,
}

impl JwksSource {
    /// The keys to try for a token with this `kid`. Fetches when there is no cached set, when
    /// it expired, or when `kid` is not in it — if the rate limit allows; otherwise (or when
    /// the fetch fails) the cached set is used even if stale. `None`: no keys at all.
    pub fn keys(&self, platform: &dyn Platform, kid: Option<&str>, now: i64) -> Option<KeySet> {
        let cached = platform
            .kv_get(CACHE_KEY)
            .and_then(|bytes| serde_json::from_slice::<Cached>(&bytes).ok())
            .filter(|c| c.url == self.url);
        let set = cached
            .as_ref()
            .and_then(|c| KeySet::parse_jwks(&c.jwks).ok());
        let fresh = cached.as_ref().is_some_and(|c| now < c.expires_at);
        let knows_kid = match (kid, &set) {
            (Some(kid), Some(set)) => set.has_kid(kid),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if fresh && knows_kid {
            return set;
        }
        let last_attempt = platform
            .kv_get(ATTEMPT_KEY)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.trim().parse::<i64>().ok());
        // A clock that went backwards must not block fetching for good.
        if last_attempt.is_some_and(|t| t <= now && now - t < self.refetch_seconds) {
            return set;
        }
        platform.kv_set(ATTEMPT_KEY, now.to_string().as_bytes());
        match self.fetch(platform) {
            Ok((text, set, ttl)) => {
                let entry = Cached {
                    url: self.url.clone(),
                    fetched_at: now,
                    expires_at: now + ttl,
                    jwks: text,
                };
                if let Ok(bytes) = serde_json::to_vec(&entry) {
                    platform.kv_set(CACHE_KEY, &bytes);
                }
                Some(set)
            }
            Err(reason) => {
                eprintln!(
                    "edgepedia: fetching the JWKS {} failed ({reason}); {}",
                    self.url,
                    if set.is_some() {
                        "using the cached key set"
                    } else {
                        "tokens signed by its keys are refused"
                    }
                );
                set
            }
        }
    }

    fn fetch(&self, platform: &dyn Platform) -> Result<(String, KeySet, i64), String> {
        let response = platform.http_get(&self.url)?;
        if response.status != 200 {
            return Err(format!("HTTP status {}", response.status));
        }
        if response.body.len() > MAX_JWKS_BYTES {
            return Err(format!("the key set is over {MAX_JWKS_BYTES} bytes"));
        }
        let text = String::from_utf8(response.body).map_err(|_| "the body is not UTF-8")?;
        let set = KeySet::parse_jwks(&text)?;
        if set.0.is_empty() {
            return Err("no usable RS256/ES256/EdDSA key in the set".into());
        }
        Ok((text, set, ttl(response.cache_control.as_deref())))
    }
}

/// `Cache-Control: max-age=N` bounded to [1 min, 1 day]; [`DEFAULT_TTL_SECONDS`] without it.
fn ttl(cache_control: Option<&str>) -> i64 {
    cache_control
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|n| n.trim().parse::<i64>().ok())
        .map_or(DEFAULT_TTL_SECONDS, |n| {
            n.clamp(MIN_TTL_SECONDS, MAX_TTL_SECONDS)
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// In-memory KV and a scripted key set server, counting fetches.
    #[derive(Default)]
    pub struct FakePlatform {
        pub kv: RefCell<HashMap<String, Vec<u8>>>,
        pub jwks: RefCell<Option<String>>,
        pub fetches: RefCell<usize>,
    }

    impl Platform for FakePlatform {
        fn http_get(&self, _url: &str) -> Result<HttpResponse, String> {
            *self.fetches.borrow_mut() += 1;
            match self.jwks.borrow().clone() {
                Some(body) => Ok(HttpResponse {
                    status: 200,
                    cache_control: Some("public, max-age=600".into()),
                    body: body.into_bytes(),
                }),
                None => Err("connection refused".into()),
            }
        }
        fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
            self.kv.borrow().get(key).cloned()
        }
        fn kv_set(&self, key: &str, value: &[u8]) {
            self.kv.borrow_mut().insert(key.into(), value.to_vec());
        }
    }

    #[test]
    fn max_age_is_honoured_within_bounds() {
        assert_eq!(ttl(Some("public, max-age=600")), 600);
        assert_eq!(ttl(Some("max-age=0")), 60);
        assert_eq!(ttl(Some("max-age=99999999")), 86_400);
        assert_eq!(ttl(Some("no-cache")), DEFAULT_TTL_SECONDS);
        assert_eq!(ttl(None), DEFAULT_TTL_SECONDS);
    }
}
