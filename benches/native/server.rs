//! The ingest floor: the engine natively (no Wasm, no runtime) behind HTTP/1.1, so the bench
//! pushes the same agent's same requests into it as into the component. Each request opens
//! its own SQLite connection on the file and runs on a blocking thread, as the default mode
//! (and Spin) runs a request's statements.

use edgepedia::auth::Variables;
use edgepedia::engine::{handle, Request, RequestBody};
use edgepedia::route::Method;
use edgepedia::store::rusqlite_store::RusqliteStore;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use std::path::PathBuf;
use std::sync::Arc;

/// Serves until dropped.
pub struct NativeServer {
    port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl NativeServer {
    /// Serves the SQLite file `db` (created and migrated by the first write, as the component
    /// does) on a free port of 127.0.0.1, with a worker thread per core like the local runtime.
    pub fn start(db: PathBuf, vars: impl Variables + Send + Sync + 'static) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let site = Arc::new((db, vars));
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let site = site.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| serve(site.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            port,
            _runtime: runtime,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn serve<V: Variables + Send + Sync + 'static>(
    site: Arc<(PathBuf, V)>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let method = match *req.method() {
        hyper::Method::GET => Method::Get,
        hyper::Method::POST => Method::Post,
        hyper::Method::DELETE => Method::Delete,
        _ => Method::Other,
    };
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (authorization, accept) = (header("authorization"), header("accept"));
    let body = req.into_body().collect().await?.to_bytes().to_vec();
    let ((status, content_type, retry_after), bytes) = tokio::task::spawn_blocking(move || {
        let (db, vars) = &*site;
        let store = RusqliteStore::open(db).expect("open the native store");
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let response = handle(
            &store,
            vars,
            Request {
                method,
                path,
                query,
                authorization: authorization.as_deref(),
                accept: accept.as_deref(),
                body: RequestBody::Bytes(body),
            },
            edgepedia::clock::now_unix(),
        );
        let head = (response.status, response.content_type, response.retry_after);
        (head, response.collect().expect("a streamed chunk"))
    })
    .await
    .expect("the engine panicked");
    let mut answer = hyper::Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Some(seconds) = retry_after {
        answer = answer.header("retry-after", seconds);
    }
    Ok(answer.body(Full::new(Bytes::from(bytes))).unwrap())
}
