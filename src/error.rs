//! The one error type of the engine. Every failure becomes exactly one Kubernetes `Status`
//! (rendered in [`crate::render::status`]); constructors name the Kubernetes reason.

use crate::store::{Store, StoreError};

/// `details` of a `Status`, as Kubernetes fills it for NotFound and friends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusDetails {
    pub name: String,
    pub group: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: rare, and it would triple the size of every `Result` the engine returns.
    pub details: Option<Box<StatusDetails>>,
    /// A statement failed for a missing table or column: the engine migrates and retries.
    pub schema_miss: bool,
    /// Seconds the client should wait before trying again (`Retry-After`).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            schema_miss: false,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// The seed's 401 body, exactly: no hint about why the token was refused.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// `pods "x" not found`, with the details kubectl prints.
    pub fn object_not_found(group: &str, resource: &str, name: &str) -> Self {
        let qualified = if group.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}.{group}")
        };
        Self {
            details: Some(Box::new(StatusDetails {
                name: name.to_owned(),
                group: group.to_owned(),
                kind: resource.to_owned(),
            })),
            ..Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    /// The message Kubernetes uses for paths it has no handler for.
    pub fn no_such_path() -> Self {
        Self::not_found("the server could not find the requested resource")
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported: Edgepedia is a read-only inventory (get, list)"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "Conflict", message)
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    /// 408: the client stopped sending its request body.
    pub fn body_stalled(idle: std::time::Duration) -> Self {
        Self::new(
            408,
            "Timeout",
            format!(
                "the request body stalled: nothing arrived for {} ms",
                idle.as_millis()
            ),
        )
    }

    /// 503: the database was busy or interrupted a statement (another writer, a backend's
    /// time budget). Nothing was changed, so the same request may simply be sent again.
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                503,
                "ServiceUnavailable",
                "the database is busy or interrupted the query (a concurrent write, or a \
                 statement over its time budget): retry later, or narrow the query",
            )
        }
    }

    /// A 503 from [`Self::unavailable`]: running the request again may pass.
    pub fn is_transient(&self) -> bool {
        self.code == 503
    }

    /// Internals go to the log, never to the caller.
    pub fn internal() -> Self {
        Self::new(500, "InternalError", "an internal error occurred")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_schema_miss() {
            return ApiError {
                schema_miss: true,
                ..ApiError::internal()
            };
        }
        eprintln!("edgepedia: store error: {e}");
        if e.is_transient() {
            return ApiError::unavailable();
        }
        ApiError::internal()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// How many times in all a read that failed transiently is run. libSQL interrupts a reader
/// beside a writer at once, so a second try passes.
pub const READ_ATTEMPTS: u32 = 3;

/// Runs `read` again, on a new connection, while it fails transiently, [`READ_ATTEMPTS`]
/// times in all: for the later pages of a streamed list, whose status line has already been
/// sent.
pub fn retry_transient<T>(
    store: &dyn Store,
    mut read: impl FnMut() -> ApiResult<T>,
) -> ApiResult<T> {
    let mut result = read();
    for _ in 1..READ_ATTEMPTS {
        match &result {
            Err(e) if e.is_transient() => {
                store.reconnect();
                result = read();
            }
            _ => break,
        }
    }
    result
}
