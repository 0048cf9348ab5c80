//! The engine's response: a status, a content type and a body that is either complete or a
//! stream of chunks (long lists), which the Spin adapter writes out as they come.

use crate::error::{ApiError, ApiResult};
use crate::render::status::status_json;

pub const JSON: &str = "application/json";

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
