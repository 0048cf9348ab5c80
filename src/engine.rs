//! Request → response: route, authenticate, dispatch, and map every error to one `Status`.
//! Platform-neutral; the Spin adapter and the native tests both call [`handle`].

use crate::auth::{AuthConfig, NoPlatform, Platform, Variables};
use crate::error::{ApiError, ApiResult, READ_ATTEMPTS};
use crate::migrations;
use crate::render::status::success_json;
use crate::response::Response;
use crate::route::{self, IngestRoute, Method, Route};
use crate::store::Store;
use crate::{changes, clusters, collections, discovery, ingest, read};
use edgepedia_api::ingest::MAX_BODY_BYTES;
use std::time::{Duration, Instant};

/// A request as the engine needs it; the adapter fills it from the platform's request.
pub struct Request<'r> {
    pub method: Method,
    pub path: &'r str,
    pub query: &'r str,
    pub authorization: Option<&'r str>,
    /// The `Accept` header: kubectl asks for `as=Table`.
    pub accept: Option<&'r str>,
    pub body: RequestBody,
}

pub enum RequestBody {
    Bytes(Vec<u8>),
    /// The adapter stopped reading past [`MAX_BODY_BYTES`].
    TooLarge,
    /// The body stream failed before its end (client gone, host limit hit).
    Unreadable,
    /// The client sent nothing for this long, mid-body.
    Stalled(Duration),
}

/// The Spin variable naming how long a request body may wait for its next bytes, in
/// milliseconds, and its default.
pub const BODY_IDLE_TIMEOUT_VARIABLE: &str = "request_body_idle_timeout_ms";
pub const DEFAULT_BODY_IDLE_TIMEOUT_MS: u64 = 10_000;

/// `request_body_idle_timeout_ms` when it is a positive integer; else 10 s.
pub fn body_idle_timeout(vars: &dyn Variables) -> Duration {
    Duration::from_millis(
        vars.get(BODY_IDLE_TIMEOUT_VARIABLE)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&v| v > 0)
            .unwrap_or(DEFAULT_BODY_IDLE_TIMEOUT_MS),
    )
}

/// How long after a request began a retry of a read may still start: an interrupt that came
/// after a long statement (a time budget) would only come again, and the client gets its 503
/// without waiting for it [`READ_ATTEMPTS`] times.
const RETRY_WINDOW: Duration = Duration::from_secs(1);

/// [`handle_with`] without outbound HTTP or KV (no JWKS URL support): native tests, benches.
pub fn handle<'s>(
    store: &'s dyn Store,
    vars: &dyn Variables,
    req: Request<'_>,
    now: i64,
) -> Response<'s> {
    handle_with(store, vars, &NoPlatform, req, now)
}

/// `platform` gives auth outbound HTTP and the key-value store (the JWKS cache).
pub fn handle_with<'s>(
    store: &'s dyn Store,
    vars: &dyn Variables,
    platform: &dyn Platform,
    req: Request<'_>,
    now: i64,
) -> Response<'s> {
    // No request probes the schema (on Spin every request opens a new connection, so each
    // statement counts): one that meets a missing table or column migrates and runs again.
    // A read the database found busy or interrupted runs again too, while the request is
    // young. A failed request changed nothing (ingest rolls back), so running it again is
    // safe; a write is left to its client (503, Retry-After: the agent retries).
    let started = Instant::now();
    let (mut migrated, mut attempts) = (false, 1);
    let result = loop {
        match dispatch(store, vars, platform, &req, now) {
            Err(e) if e.schema_miss && !migrated => {
                migrated = true;
                if let Err(e) = migrations::ensure_schema(store) {
                    break Err(ApiError::from(e));
                }
            }
            Err(e)
                if e.is_transient()
                    && req.method == Method::Get
                    && attempts < READ_ATTEMPTS
                    && started.elapsed() < RETRY_WINDOW =>
            {
                attempts += 1;
                store.reconnect();
            }
            result => break result,
        }
    };
    if let Err(e) = &result {
        if e.schema_miss {
            eprintln!("edgepedia: a statement names a table or column the migrated schema lacks");
        }
    }
    match result {
        Ok(response) => response,
        Err(error) => Response::error(&error),
    }
}

fn dispatch<'s>(
    store: &'s dyn Store,
    vars: &dyn Variables,
    platform: &dyn Platform,
    req: &Request<'_>,
    now: i64,
) -> ApiResult<Response<'s>> {
    let route = route::parse(req.method, req.path);
    match route {
        Ok(Route::Health) => return Ok(Response::json(200, br#"{"status":"ok"}"#.to_vec())),
        Ok(Route::Version) => return Ok(Response::json(200, discovery::version())),
        _ => {}
    }
    // Token times are checked against the real clock, not `now` (tests pin `now` for data).
    let principal = AuthConfig::from_variables(vars).authenticate(
        platform,
        req.authorization,
        crate::clock::now_unix(),
    )?;
    match route? {
        Route::Health | Route::Version => unreachable!("answered above"),
        Route::Resource(r) => read::handle(store, &principal, &r, req.query, req.accept, now),
        Route::Discovery(cluster, path) => Ok(Response::json(
            200,
            discovery::handle(store, &principal, cluster.as_ref(), &path)?,
        )),
        Route::Collections(None) => Ok(Response::json(200, collections::list(store, &principal)?)),
        Route::Collections(Some(name)) => {
            collections::get(store, &principal, &name, req.query, now)
        }
        Route::PediaClusters(name) => Ok(Response::json(
            200,
            clusters::handle(
                store,
                &principal,
                name.as_ref(),
                clusters::stale_after(vars),
                now,
            )?,
        )),
        Route::Changes => Ok(Response::ok(
            200,
            changes::handle(store, &principal, req.query)?,
        )),
        Route::Ingest(r) => {
            let scope = ingest::WriteScope::of(&principal, r.cluster())?;
            migrations::ensure_schema(store)?;
            let body = match &req.body {
                RequestBody::Bytes(bytes) => bytes,
                RequestBody::TooLarge => return Err(ApiError::too_large(MAX_BODY_BYTES)),
                RequestBody::Unreadable => {
                    return Err(ApiError::bad_request(
                        "the request body could not be read to its end",
                    ))
                }
                RequestBody::Stalled(idle) => return Err(ApiError::body_stalled(*idle)),
            };
            let retention = ingest::Retention::from_variables(vars);
            ingest_route(store, &scope, &r, body, retention, now)
        }
    }
}

fn ingest_route<'s>(
    store: &dyn Store,
    scope: &ingest::WriteScope,
    r: &IngestRoute,
    body: &[u8],
    retention: ingest::Retention,
    now: i64,
) -> ApiResult<Response<'s>> {
    let json = |status, value: &dyn erased::Json| Ok(Response::json(status, value.to_json()?));
    match r {
        IngestRoute::BeginSnapshot { cluster } => {
            json(201, &ingest::begin(store, scope, cluster, body, now)?)
        }
        IngestRoute::Chunk { cluster, session } => json(
            200,
            &ingest::chunk(store, scope, cluster, session, body, now)?,
        ),
        IngestRoute::Commit { cluster, session } => json(
            200,
            &ingest::commit(store, scope, cluster, session, retention, now)?,
        ),
        IngestRoute::Abort { cluster, session } => {
            ingest::abort(store, scope, cluster, session, now)?;
            Ok(Response::json(
                200,
                success_json(&format!("snapshot session {session} aborted")),
            ))
        }
        IngestRoute::Events { cluster } => json(
            200,
            &ingest::events(store, scope, cluster, body, retention, now)?,
        ),
        IngestRoute::Heartbeat { cluster } => json(
            200,
            &ingest::heartbeat::heartbeat(store, cluster, body, now)?,
        ),
    }
}

mod erased {
    use crate::error::{ApiError, ApiResult};

    /// Lets one closure serialize the different ingest answers.
    pub trait Json {
        fn to_json(&self) -> ApiResult<Vec<u8>>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> ApiResult<Vec<u8>> {
            serde_json::to_vec(self).map_err(|_| ApiError::internal())
        }
    }
}
