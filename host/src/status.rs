//! Kubernetes `Status` bodies for failures the runtime itself answers (trap, timeout,
//! oversized body, URI or headers), so clients see the same error shape as from the component,
//! and the limits behind them: one constant each, named in the messages.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The component's own request-body cap; the runtime's default `--max-body-bytes`, so a body
/// over it gets the same 413 whichever of the two finds it first.
pub const MAX_BODY_BYTES: usize = edgepedia_api::ingest::MAX_BODY_BYTES;
/// Longest request target (path and query), in bytes: hyper's own fixed limit (`u16::MAX - 1`),
/// so every request the runtime parses is held to the same number.
pub const MAX_URI_BYTES: usize = 65_534;
/// Most bytes of header fields (`name: value\r\n` each) a request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields a request may carry (hyper's default, set explicitly).
pub const MAX_HEADER_FIELDS: usize = 100;

/// The body of a `Status` failure.
pub fn body(code: u16, reason: &str, message: &str) -> String {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
    .to_string()
}

pub fn response(code: u16, reason: &str, message: &str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(body(code, reason, message)))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Seconds a client refused for overload is told to wait before retrying.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// 429 with `Retry-After`: every instance slot is busy (`--max-concurrent-requests`).
pub fn too_many_requests() -> hyper::Response<HyperOutgoingBody> {
    let mut response = response(
        429,
        "TooManyRequests",
        "the server is busy with other requests; retry after a second",
    );
    response.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from(RETRY_AFTER_SECONDS),
    );
    response
}

/// Code, reason and message for a body over `limit` bytes, worded as the component words its
/// own 413 (`ApiError::too_large`).
pub fn body_too_large(limit: usize) -> (u16, &'static str, String) {
    (
        413,
        "RequestEntityTooLarge",
        format!("request body is larger than the limit of {limit} bytes"),
    )
}

pub fn uri_too_long() -> (u16, &'static str, String) {
    (
        414,
        "RequestURITooLong",
        format!("request URI is longer than the limit of {MAX_URI_BYTES} bytes"),
    )
}

pub fn headers_too_large() -> (u16, &'static str, String) {
    (
        431,
        "RequestHeaderFieldsTooLarge",
        format!(
            "request headers are larger than the limit of {MAX_HEADER_BYTES} bytes \
             (or more than {MAX_HEADER_FIELDS} fields)"
        ),
    )
}

pub fn malformed() -> (u16, &'static str, String) {
    (
        400,
        "BadRequest",
        "the request is not valid HTTP/1.1".to_owned(),
    )
}

/// A whole HTTP/1.1 response carrying a `Status`, for bytes written below hyper; the
/// connection closes after it.
pub fn raw_response((code, reason, message): (u16, &str, String)) -> Vec<u8> {
    let body = body(code, reason, &message);
    let phrase = hyper::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    format!(
        "HTTP/1.1 {code} {phrase}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// hyper answers a request head it cannot take (too long a URI, too large or too many
/// headers, not HTTP) itself, with an empty body; this is the `Status` to send instead, when
/// `written` is exactly such an answer: a 400, 414 or 431 status line and `content-length: 0`,
/// nothing else. The component always writes a body, so none of its answers match.
pub fn replacement_for_hyper_error(written: &[u8]) -> Option<Vec<u8>> {
    let head = written
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| written.strip_prefix(b"HTTP/1.0 "))?;
    if written.len() > 512 || !written.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?.to_ascii_lowercase();
    if !text.contains("\r\ncontent-length: 0\r\n") || text.contains("content-type") {
        return None;
    }
    let status = match text.get(..4)? {
        "400 " => malformed(),
        "414 " => uri_too_long(),
        "431 " => headers_too_large(),
        _ => return None,
    };
    Some(raw_response(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_error_answers_become_status_bodies() {
        for (hyper, code, reason, limit) in [
            (
                "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
                431,
                "RequestHeaderFieldsTooLarge",
                "32768 bytes",
            ),
            (
                "HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
                414,
                "RequestURITooLong",
                "65534 bytes",
            ),
            (
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
                400,
                "BadRequest",
                "HTTP/1.1",
            ),
        ] {
            let out = replacement_for_hyper_error(hyper.as_bytes()).expect(hyper);
            let text = String::from_utf8(out).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {code} ")), "{head}");
            assert!(head.contains("content-type: application/json"), "{head}");
            assert!(head.contains(&format!("content-length: {}", body.len())));
            let status: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(status["kind"], "Status");
            assert_eq!(status["apiVersion"], "v1");
            assert_eq!(status["status"], "Failure");
            assert_eq!(status["code"], code);
            assert_eq!(status["reason"], reason);
            assert!(status["message"].as_str().unwrap().contains(limit), "{status}");
        }
        // Answers with a body, other codes, or more bytes than a head pass untouched.
        for other in [
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\nmore",
            "{\"kind\":\"Status\"}",
        ] {
            assert!(replacement_for_hyper_error(other.as_bytes()).is_none(), "{other}");
        }
    }

    #[test]
    fn the_body_cap_is_the_components_and_worded_the_same() {
        assert_eq!(MAX_BODY_BYTES, 8 * 1024 * 1024);
        assert_eq!(
            body_too_large(MAX_BODY_BYTES).2,
            "request body is larger than the limit of 8388608 bytes"
        );
    }
}
