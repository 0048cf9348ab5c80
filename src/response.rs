//! The engine's response: a status, a content type and a body that is either complete or a
//! stream of chunks (long lists), which the Spin adapter writes out as they come.

use crate::error::{ApiError, ApiResult};
use crate::render::status::status_json;

pub const JSON: &str = "application/json";

/// A list's body goes out in chunks of about this size, each item freed once written. Spin
/// hands a statement's rows to the component all at once; a body built whole beside them
/// doubled what a page held in the instance's memory (the bench's 500 pods: 1.27 MB of rows
/// and as much body). Spin's pool keeps 2 MiB of an instance's memory resident between requests and gives
/// the rest back, so every page of memory past that is a fault again on the next request.
pub const CHUNK_BYTES: usize = 128 * 1024;

/// Room for a body's closing bytes (a list's metadata), beyond its items.
const TAIL_RESERVE: usize = 256;

/// Writes `items` into `out` until the next would take it past [`CHUNK_BYTES`] (true: the
/// chunk is full) or they run out (false). `size(item)` is what `write` adds for it, or more.
/// A chunk holds at least one item, however large, and is sized for what it will hold: grown
/// by doubling, a body copies itself over and over and touches about twice its size of fresh
/// instance memory.
pub fn fill_chunk<T>(
    out: &mut Vec<u8>,
    items: &mut std::vec::IntoIter<T>,
    size: impl Fn(&T) -> usize,
    mut write: impl FnMut(&mut Vec<u8>, T),
) -> bool {
    let rest: usize = items.as_slice().iter().map(&size).sum();
    out.reserve(rest.min(CHUNK_BYTES.saturating_sub(out.len())) + TAIL_RESERVE);
    let mut wrote = false;
    while let Some(next) = items.as_slice().first() {
        if wrote && out.len() + size(next) > CHUNK_BYTES {
            return true;
        }
        let Some(item) = items.next() else { break };
        write(out, item);
        wrote = true;
    }
    false
}

pub enum Body<'s> {
    Full(Vec<u8>),
    /// Chunks produced on demand; an `Err` ends the body early (the status is already sent).
    Stream(Box<dyn Iterator<Item = ApiResult<Vec<u8>>> + 's>),
}

pub struct Response<'s> {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Body<'s>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u32>,
}

impl<'s> Response<'s> {
    pub fn json(status: u16, bytes: Vec<u8>) -> Self {
        Self::ok(status, Body::Full(bytes))
    }

    pub fn ok(status: u16, body: Body<'s>) -> Self {
        Self {
            status,
            content_type: JSON,
            body,
            retry_after: None,
        }
    }

    pub fn error(error: &ApiError) -> Self {
        Self {
            retry_after: error.retry_after,
            ..Self::json(error.code, status_json(error))
        }
    }

    /// The whole body, for tests and callers that do not stream.
    pub fn collect(self) -> ApiResult<Vec<u8>> {
        match self.body {
            Body::Full(bytes) => Ok(bytes),
            Body::Stream(chunks) => {
                let mut out = Vec::new();
                for chunk in chunks {
                    out.extend(chunk?);
                }
                Ok(out)
            }
        }
    }
}
