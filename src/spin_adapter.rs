//! The only module that knows about Spin: the incoming request becomes an
//! [`engine::Request`], the engine's response is written to a streamed outgoing body, and
//! [`Store`]/[`Variables`]/[`Platform`] are implemented over `spin_sdk::sqlite`,
//! `spin_sdk::variables`, `spin_sdk::http::send` and `spin_sdk::key_value`.

use crate::auth::{HttpResponse, Platform, Variables};
use crate::engine::{self, RequestBody};
use crate::response::{Body, Response};
use crate::route::Method;
use crate::store::{Row, SqlValue, Store, StoreError};
use edgepedia_api::ingest::MAX_BODY_BYTES;
use futures::{SinkExt, StreamExt};
use spin_sdk::http::{
    Fields, IncomingRequest, Method as SpinMethod, OutgoingResponse, ResponseOutparam,
};
use spin_sdk::http_component;
use spin_sdk::sqlite::{Connection, Value};
use std::cell::{OnceCell, RefCell};
use wasi::clocks::monotonic_clock;

/// The `default` database, opened on first use so health checks never touch it.
#[derive(Default)]
struct SpinStore(RefCell<Option<Connection>>);

impl SpinStore {
    fn run(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        let mut slot = self.0.borrow_mut();
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(
                Connection::open_default()
                    .map_err(|e| StoreError(format!("open database: {e}")))?,
            ),
        };
        let result = conn
            .execute(sql, &params)
            .map_err(|e| StoreError(format!("{e} (in {:.60})", sql)))?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| {
                row.values
                    .into_iter()
                    .map(|v| match v {
                        Value::Null => SqlValue::Null,
                        Value::Integer(i) => SqlValue::Integer(i),
                        Value::Real(f) => SqlValue::Real(f),
                        Value::Text(s) => SqlValue::Text(s),
                        Value::Blob(b) => SqlValue::Blob(b),
                    })
                    .collect()
            })
            .collect())
    }
}

fn to_spin(value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(i),
        SqlValue::Real(f) => Value::Real(f),
        SqlValue::Text(s) => Value::Text(s),
        SqlValue::Blob(b) => Value::Blob(b),
    }
}

impl Store for SpinStore {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Row>, StoreError> {
        self.run(sql, params.iter().cloned().map(to_spin).collect())
    }

    fn execute_owned(&self, sql: &str, params: Vec<SqlValue>) -> Result<(), StoreError> {
        self.run(sql, params.into_iter().map(to_spin).collect())
            .map(drop)
    }

    fn reconnect(&self) {
        self.0.borrow_mut().take();
    }
}

struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Option<String> {
        spin_sdk::variables::get(name).ok()
    }
}

/// Outbound HTTP (only to `allowed_outbound_hosts`) and the `default` key-value store, both
/// opened on first use: most requests need neither.
#[derive(Default)]
struct SpinPlatform(OnceCell<Option<spin_sdk::key_value::Store>>);

impl SpinPlatform {
    fn kv(&self) -> Option<&spin_sdk::key_value::Store> {
        self.0
            .get_or_init(|| match spin_sdk::key_value::Store::open_default() {
                Ok(store) => Some(store),
                Err(e) => {
                    eprintln!("edgepedia: cannot open the default key-value store: {e}");
                    None
                }
            })
            .as_ref()
    }
}

impl Platform for SpinPlatform {
    fn http_get(&self, url: &str) -> Result<HttpResponse, String> {
        let request = spin_sdk::http::Request::get(url).build();
        // The engine is synchronous: drive this one request to completion here.
        let response: spin_sdk::http::Response =
            spin_sdk::http::run(spin_sdk::http::send(request)).map_err(|e| e.to_string())?;
        Ok(HttpResponse {
            status: *response.status(),
            cache_control: response
                .header("cache-control")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            body: response.into_body(),
        })
    }

    fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.kv()?.get(key).ok().flatten()
    }

    fn kv_set(&self, key: &str, value: &[u8]) {
        if let Some(kv) = self.kv() {
            if let Err(e) = kv.set(key, value) {
                eprintln!("edgepedia: key-value write of {key} failed: {e}");
            }
        }
    }
}

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let method = match req.method() {
        SpinMethod::Get => Method::Get,
        SpinMethod::Post => Method::Post,
        SpinMethod::Delete => Method::Delete,
        _ => Method::Other,
    };
    let target = req.path_with_query().unwrap_or_else(|| "/".to_owned());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let headers = req.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok())
    };
    let authorization = header("authorization");
    let accept = header("accept");
    drop(headers);
    let body = read_body(req).await;
    let store = SpinStore::default();
    let request = engine::Request {
        method,
        path,
        query,
        authorization: authorization.as_deref(),
        accept: accept.as_deref(),
        body,
    };
    let response = engine::handle_with(
        &store,
        &SpinVariables,
        &SpinPlatform::default(),
        request,
        crate::clock::now_unix(),
    );
    write_response(response, out).await;
}

/// Reads the body, but never more than the ingest limit, and gives up when the client sends
/// nothing for [`engine::body_idle_timeout`]: Spin itself would let a stalled upload hold the
/// instance (Spin 4.0.2 never answered one, tried for 90 s).
async fn read_body(req: IncomingRequest) -> RequestBody {
    let idle = engine::body_idle_timeout(&SpinVariables);
    let mut stream = req.into_body_stream();
    let mut body = Vec::new();
    loop {
        let next = futures::future::select(stream.next(), Timer::after(idle)).await;
        let chunk = match next {
            futures::future::Either::Left((chunk, _)) => chunk,
            futures::future::Either::Right(_) => return RequestBody::Stalled(idle),
        };
        match chunk {
            None => return RequestBody::Bytes(body),
            Some(Ok(bytes)) if body.len() + bytes.len() > MAX_BODY_BYTES => {
                return RequestBody::TooLarge
            }
            Some(Ok(bytes)) => body.extend(bytes),
            Some(Err(_)) => return RequestBody::Unreadable,
        }
    }
}

/// Completes once `duration` has passed, as a `wasi:clocks` pollable on spin-sdk's executor.
struct Timer {
    deadline: u64,
    /// The registered pollable; dropping it unregisters it.
    registered: Option<spin_executor::CancelOnDropToken>,
}

impl Timer {
    fn after(duration: std::time::Duration) -> Self {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Self {
            deadline: monotonic_clock::now().saturating_add(nanos),
            registered: None,
        }
    }
}

impl std::future::Future for Timer {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if monotonic_clock::now() >= self.deadline {
            return std::task::Poll::Ready(());
        }
        let pollable = monotonic_clock::subscribe_instant(self.deadline);
        self.registered =
            Some(spin_executor::push_waker_and_get_token(pollable, cx.waker().clone()).into());
        std::task::Poll::Pending
    }
}

async fn write_response(response: Response<'_>, out: ResponseOutparam) {
    let mut headers = vec![(
        "content-type".to_owned(),
        response.content_type.as_bytes().to_vec(),
    )];
    if let Some(seconds) = response.retry_after {
        headers.push(("retry-after".to_owned(), seconds.to_string().into_bytes()));
    }
    let headers = Fields::from_list(&headers).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(headers);
    let _ = outgoing.set_status_code(response.status);
    let mut sink = outgoing.take_body();
    out.set(outgoing);
    match response.body {
        Body::Full(bytes) => {
            let _ = sink.send(bytes).await;
        }
        Body::Stream(chunks) => {
            for chunk in chunks {
                match chunk {
                    Ok(bytes) => {
                        if sink.send(bytes).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        eprintln!("edgepedia: list aborted mid-stream: {}", e.message);
                        return;
                    }
                }
            }
        }
    }
}
