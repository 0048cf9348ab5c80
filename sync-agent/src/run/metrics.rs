//! `run --metrics-listen`: what the agent did, for Prometheus. The sender records each push
//! and retry here (always: recording is a few atomic adds); the endpoint, when asked for,
//! serves `GET /metrics` in the Prometheus text format (0.0.4) via `prometheus-client`, and
//! 404 for anything else.

use crate::edge_client::HttpError;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::convert::Infallible;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// One label: `resource`, `kind` or `reason`.
type Label = [(&'static str, String); 1];
type Seconds = Gauge<f64, AtomicU64>;

/// The requests whose latency is measured (the `kind` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    SnapshotChunk,
    Commit,
    Events,
    Heartbeat,
}

impl Push {
    fn label(self) -> Label {
        let kind = match self {
            Push::SnapshotChunk => "snapshot_chunk",
            Push::Commit => "commit",
            Push::Events => "events",
            Push::Heartbeat => "heartbeat",
        };
        [("kind", kind.to_owned())]
    }
}

pub struct Metrics {
    registry: Registry,
    events_pushed: Family<Label, Counter>,
    objects_snapshotted: Family<Label, Counter>,
    push_duration: Family<Label, Histogram, fn() -> Histogram>,
    retries: Family<Label, Counter>,
    last_push: Family<Label, Seconds>,
    watch_lag: Family<Label, Seconds>,
}

/// 5 ms to ~20 s: a local edge answers in milliseconds, a large chunk over a WAN in seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

fn resource(label: &str) -> Label {
    [("resource", label.to_owned())]
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    pub fn new(cluster: &str) -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("edgepedia_agent"),
            events_pushed: Family::default(),
            objects_snapshotted: Family::default(),
            push_duration: Family::new_with_constructor(latency_histogram),
            retries: Family::default(),
            last_push: Family::default(),
            watch_lag: Family::default(),
        };
        let info: Family<[(&'static str, String); 2], Gauge> = Family::default();
        info.get_or_create(&[
            ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ("cluster", cluster.to_owned()),
        ])
        .set(1);
        let r = &mut m.registry;
        r.register(
            "info",
            "Always 1 while the agent runs; its labels name the agent version and cluster",
            info,
        );
        r.register(
            "events_pushed",
            "Watch events the edge accepted, by resource type (group/version/resource)",
            m.events_pushed.clone(),
        );
        r.register(
            "objects_snapshotted",
            "Objects in committed snapshots, by resource type",
            m.objects_snapshotted.clone(),
        );
        r.register_with_unit(
            "push_duration",
            "Time the edge took to accept a request, by kind (snapshot_chunk, commit, events, heartbeat)",
            Unit::Seconds,
            m.push_duration.clone(),
        );
        r.register(
            "retries",
            "Requests tried again, by reason (5xx, 429, 401, 408, connection)",
            m.retries.clone(),
        );
        r.register_with_unit(
            "last_push_timestamp",
            "Unix time of the last chunk, commit or event batch the edge accepted, by resource type",
            Unit::Seconds,
            m.last_push.clone(),
        );
        r.register_with_unit(
            "watch_lag",
            "For the last accepted event batch, by resource type: time from receiving its newest watch event to the edge accepting it",
            Unit::Seconds,
            m.watch_lag.clone(),
        );
        m
    }

    /// A request the edge accepted, and how long it took.
    pub fn pushed(&self, kind: Push, took: Duration) {
        self.push_duration
            .get_or_create(&kind.label())
            .observe(took.as_secs_f64());
    }

    /// A snapshot chunk of the type was accepted.
    pub fn chunk_accepted(&self, label: &str) {
        self.last_push
            .get_or_create(&resource(label))
            .set(unix_now());
    }

    /// A snapshot of `objects` objects of the type was committed.
    pub fn snapshot_committed(&self, label: &str, objects: u64) {
        let r = resource(label);
        self.objects_snapshotted.get_or_create(&r).inc_by(objects);
        self.last_push.get_or_create(&r).set(unix_now());
    }

    /// `events` watch events of the type were accepted; the newest was received at `newest`.
    pub fn events_accepted(&self, label: &str, events: u64, newest: Instant) {
        let r = resource(label);
        self.events_pushed.get_or_create(&r).inc_by(events);
        self.last_push.get_or_create(&r).set(unix_now());
        self.watch_lag
            .get_or_create(&r)
            .set(newest.elapsed().as_secs_f64());
    }

    /// A failed request is tried again.
    pub fn retry(&self, e: &anyhow::Error) {
        let reason = match e.downcast_ref::<HttpError>() {
            Some(h) if h.status >= 500 => "5xx".to_owned(),
            Some(h) => h.status.to_string(),
            None => "connection".to_owned(),
        };
        self.retries.get_or_create(&[("reason", reason)]).inc();
    }

    /// The exposition, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// Binds the metrics address: before anything else, so a taken port fails the start.
pub async fn bind(addr: &str) -> anyhow::Result<TcpListener> {
    use anyhow::Context;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics-listen {addr}: cannot listen there"))
}

/// Serves `GET /metrics` until the process ends.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = respond(&metrics, &req);
                async move { Ok::<_, Infallible>(answer) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                // A client that never finishes its request head must not hold a task forever.
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(error = %e, "metrics connection ended with an error");
            }
        });
    }
}

fn respond(metrics: &Metrics, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut response = if req.method() == hyper::Method::GET && req.uri().path() == "/metrics" {
        let mut r = Response::new(Full::from(metrics.render()));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
        );
        r
    } else {
        let mut r = Response::new(Full::from("not found; metrics are at GET /metrics\n"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
    };
    response.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new("c1");
        m.snapshot_committed("v1/pods", 3);
        m.snapshot_committed("v1/pods", 2);
        m.events_accepted("apps/v1/deployments", 4, Instant::now());
        m.pushed(Push::Commit, Duration::from_millis(20));
        m.retry(&anyhow::Error::new(HttpError {
            status: 503,
            message: String::new(),
            retry_after: None,
        }));
        m.retry(&anyhow::anyhow!("connection refused"));
        let text = m.render();
        for line in [
            "# TYPE edgepedia_agent_objects_snapshotted_total counter",
            "edgepedia_agent_objects_snapshotted_total{resource=\"v1/pods\"} 5",
            "edgepedia_agent_events_pushed_total{resource=\"apps/v1/deployments\"} 4",
            "edgepedia_agent_push_duration_seconds_count{kind=\"commit\"} 1",
            "edgepedia_agent_retries_total{reason=\"5xx\"} 1",
            "edgepedia_agent_retries_total{reason=\"connection\"} 1",
            &format!(
                "edgepedia_agent_info{{version=\"{}\",cluster=\"c1\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        assert!(
            text.contains("edgepedia_agent_watch_lag_seconds{resource=\"apps/v1/deployments\"}")
        );
        assert!(text.contains("edgepedia_agent_last_push_timestamp_seconds{resource=\"v1/pods\"}"));
    }
}
