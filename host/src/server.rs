//! HTTP/1.1 with keep-alive in front of the component: one fresh instance per request,
//! deadlines, the body, URI and header caps, and `Status` answers when the guest traps or
//! times out, or a request is refused before it reaches the guest (also for what hyper
//! refuses itself: see [`StatusOnParseError`]). Stops accepting on shutdown and lets in-flight
//! requests finish.

use crate::body_deadline::IdleDeadline;
use crate::outbound::OutboundPolicy;
use crate::runtime::EPOCH_TICK;
use crate::spin_imports::SpinResources;
use crate::state::HostState;
use crate::status;
use anyhow::Result;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::server::conn::http1;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

pub struct Server {
    pub pre: ProxyPre<HostState>,
    pub spin: Arc<SpinResources>,
    pub outbound: OutboundPolicy,
    pub timeout: Duration,
    pub max_body: usize,
    /// Longest the client may leave the request body waiting for its next bytes (408 beyond).
    pub body_idle: Duration,
    /// One permit per request in flight (instance running, response streaming): beyond them
    /// a request is answered 429 at once, never queued without bound.
    pub slots: Arc<tokio::sync::Semaphore>,
}

impl Server {
    /// Serves `listener` (over TLS when an acceptor is given) until `shutdown`.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<()> {
        let mut connections = tokio::task::JoinSet::new();
        let mut stop = shutdown.clone();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(conn) => conn,
                        Err(e) => { eprintln!("edgepedia-host: accept: {e}"); continue; }
                    };
                    // Responses end with a small write; without this it waits for the
                    // client's delayed ACK (Nagle), ~40 ms.
                    let _ = stream.set_nodelay(true);
                    let server = self.clone();
                    let stop = shutdown.clone();
                    let tls = tls.clone();
                    connections.spawn(async move {
                        match tls {
                            None => server.serve_connection(stream, stop).await,
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(stream) => server.serve_connection(stream, stop).await,
                                Err(e) => eprintln!("edgepedia-host: TLS handshake: {e}"),
                            },
                        }
                    });
                }
                _ = stop.changed() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // In-flight requests get a grace period to finish.
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        Ok(())
    }

    async fn serve_connection<S>(
        self: Arc<Self>,
        stream: S,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let server = self.clone();
        let service = hyper::service::service_fn(move |req| {
            let server = server.clone();
            async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
        });
        let conn = http1::Builder::new()
            .keep_alive(true)
            .max_headers(status::MAX_HEADER_FIELDS)
            .serve_connection(TokioIo::new(StatusOnParseError::new(stream)), service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    }

    async fn handle(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<HyperOutgoingBody> {
        // hyper itself refuses longer targets; checked here too so the limit is ours.
        let uri_bytes = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if uri_bytes > status::MAX_URI_BYTES {
            return status_response(status::uri_too_long());
        }
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if header_bytes > status::MAX_HEADER_BYTES
            || req.headers().len() > status::MAX_HEADER_FIELDS
        {
            return status_response(status::headers_too_large());
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return status::too_many_requests();
        };
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(n) = declared.filter(|n| *n > self.max_body) {
            // Read and drop what the client is already sending (bounded in bytes and time),
            // so it reads our 413 rather than a connection reset mid-upload, as nginx's
            // lingering close does.
            if n <= DRAIN_LIMIT_BYTES {
                let drain = async {
                    let mut body = req.into_body();
                    while let Some(Ok(_)) = body.frame().await {}
                };
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
            }
            return too_large_response(self.max_body);
        }
        // A body without (or lying about) Content-Length is cut at the cap; the guest sees a
        // body-size error, and whatever it answers, the client gets 413.
        let max_body = self.max_body;
        let too_large = Arc::new(AtomicBool::new(false));
        let flag = too_large.clone();
        let stalled = Arc::new(AtomicBool::new(false));
        let (idle, stalled_flag) = (self.body_idle, stalled.clone());
        let req = req.map(move |body| {
            Limited::new(IdleDeadline::new(body, idle, stalled_flag), max_body).map_err(move |e| {
                if e.is::<LengthLimitError>() {
                    flag.store(true, Ordering::Relaxed);
                    wasmtime_wasi_http::Error::HttpRequestBodySize(Some(max_body as u64))
                } else {
                    wasmtime_wasi_http::Error::InternalError(Some(e.to_string()))
                }
            })
        });
        let outcome = tokio::time::timeout(self.timeout, self.run_guest(req, slot)).await;
        if too_large.load(Ordering::Relaxed) {
            return too_large_response(max_body);
        }
        if stalled.load(Ordering::Relaxed) {
            return status::response(
                408,
                "Timeout",
                &format!(
                    "the request body stalled: nothing arrived for {} ms",
                    self.body_idle.as_millis()
                ),
            );
        }
        match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(GuestFailure::Timeout)) | Err(_) => {
                status::response(504, "Timeout", "the request did not finish in time")
            }
            Ok(Err(GuestFailure::Trap(e))) => {
                eprintln!("edgepedia-host: guest failed: {e:?}");
                status::response(500, "InternalError", "an internal error occurred")
            }
        }
    }

    /// Runs the guest for `req`; `slot` is held until the guest has finished (its response
    /// body may stream on after the head is out).
    async fn run_guest<B>(
        &self,
        req: hyper::Request<B>,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<hyper::Response<HyperOutgoingBody>, GuestFailure>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let mut store = Store::new(
            self.pre.engine(),
            HostState::new(self.spin.clone(), self.outbound.clone()),
        );
        let ticks = (self.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .map_err(GuestFailure::Trap)?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(GuestFailure::Trap)?;
        let pre = self.pre.clone();
        let deadline = self.timeout;
        // The guest keeps running after it has sent the response head, streaming the body, but
        // never past the deadline, even while it waits on I/O (where epochs cannot stop it).
        let task = tokio::task::spawn(async move {
            let _slot = slot;
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, out)
                    .await
            };
            match tokio::time::timeout(deadline, run).await {
                Ok(result) => result,
                Err(_) => Err(wasmtime::Trap::Interrupt.into()),
            }
        });
        // Until the response head is out, a dropped request (deadline, client gone) stops the
        // guest at once instead of leaving it running unobserved.
        let mut task = AbortOnDrop { task, armed: true };
        match receiver.await {
            Ok(Ok(response)) => {
                task.armed = false;
                Ok(response)
            }
            Ok(Err(code)) => Err(GuestFailure::Trap(wasmtime::format_err!(
                "guest answered with error {code:?}"
            ))),
            Err(_) => match (&mut task.task).await {
                Ok(Err(e))
                    if matches!(
                        e.downcast_ref::<wasmtime::Trap>(),
                        Some(wasmtime::Trap::Interrupt)
                    ) =>
                {
                    Err(GuestFailure::Timeout)
                }
                Ok(Err(e)) => Err(GuestFailure::Trap(e)),
                Ok(Ok(())) => Err(GuestFailure::Trap(wasmtime::format_err!(
                    "guest never set a response"
                ))),
                Err(e) => Err(GuestFailure::Trap(wasmtime::format_err!(
                    "guest task failed: {e}"
                ))),
            },
        }
    }
}

/// Larger refused uploads are not read at all: the connection is closed.
const DRAIN_LIMIT_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

fn too_large_response(max_body: usize) -> hyper::Response<HyperOutgoingBody> {
    status_response(status::body_too_large(max_body))
}

fn status_response(
    (code, reason, message): (u16, &str, String),
) -> hyper::Response<HyperOutgoingBody> {
    status::response(code, reason, &message)
}

/// The connection as hyper sees it, except that hyper's own answer to a request head it cannot
/// parse (an empty 400, 414 or 431, after which it closes) is replaced by a `Status` body
/// ([`status::replacement_for_hyper_error`]). hyper has no hook for those answers, and some
/// limits are its own (a target over `u16::MAX - 1` bytes, a head over its buffer, more than
/// [`status::MAX_HEADER_FIELDS`] fields), so they are rewritten on the way out.
struct StatusOnParseError<S> {
    inner: S,
    /// A replacement being written: the bytes and how many are out.
    replacing: Option<(Vec<u8>, usize)>,
}

impl<S> StatusOnParseError<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            replacing: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> StatusOnParseError<S> {
    /// Writes the rest of the replacement, then reports hyper's `len` bytes as written.
    fn poll_replace(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<std::io::Result<usize>> {
        if let Some((bytes, written)) = &mut self.replacing {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        self.replacing = None;
        Poll::Ready(Ok(len))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StatusOnParseError<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StatusOnParseError<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.replacing.is_none() {
            self.replacing = status::replacement_for_hyper_error(buf).map(|bytes| (bytes, 0));
        }
        if self.replacing.is_some() {
            return self.poll_replace(cx, buf.len());
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let total = bufs.iter().map(|b| b.len()).sum();
        if self.replacing.is_none() {
            // hyper's answer is a head alone: one slice holding every byte.
            if let Some(only) = bufs
                .iter()
                .find(|b| !b.is_empty())
                .filter(|b| b.len() == total)
            {
                self.replacing = status::replacement_for_hyper_error(only).map(|bytes| (bytes, 0));
            }
        }
        if self.replacing.is_some() {
            return self.poll_replace(cx, total);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Aborts the guest task when dropped while still armed.
struct AbortOnDrop<T> {
    task: tokio::task::JoinHandle<T>,
    armed: bool,
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if self.armed {
            self.task.abort();
        }
    }
}

enum GuestFailure {
    Timeout,
    Trap(wasmtime::Error),
}
