//! HTTP to the Edgepedia ingest API (paths and bodies from `edgepedia_api::ingest`) and its
//! change feed: bearer auth, JSON bodies, Kubernetes `Status` errors turned into one readable
//! line, and retries with backoff for what may pass on its own (429, 502–504, connection
//! errors). Other 4xx are the caller's fault and fail at once.

use crate::push::SnapshotApi;
use anyhow::{anyhow, Result};
use edgepedia_api::ingest::{BeginSnapshot, CommitResult, SnapshotSession, PREFIX};
use edgepedia_api::ClusterName;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Tries per request: the first one and up to three retries.
const ATTEMPTS: u32 = 4;
/// First backoff delay; doubled after each retry.
const FIRST_DELAY: Duration = Duration::from_millis(300);
/// A server's `Retry-After` is honoured up to this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

pub struct EdgeClient {
    agent: ureq::Agent,
    server: String,
    authorization: String,
    attempts: u32,
}

/// An answer with an error status, for callers that decide themselves what to retry
/// (`sync-agent run`). Displays as the one readable line.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: u16,
    pub message: String,
    /// The server's `Retry-After`, capped.
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// No answer at all (connection refused or broken, a timeout), after the client's tries: the
/// edge may be back later, unlike a request it answered with an error.
#[derive(Debug)]
pub struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

impl EdgeClient {
    pub fn new(server: &str, token: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            // Error statuses carry a `Status` body worth reading.
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .user_agent(concat!("edgepedia-sync-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self {
            agent,
            server: server.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {token}"),
            attempts: ATTEMPTS,
        }
    }

    /// Tries per request (at least one): `run` retries by itself, forever, so it asks for one.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// A GET of a read API path (with its query), retried like every request.
    pub fn get<R: DeserializeOwned>(&self, path_and_query: &str) -> Result<R> {
        self.send("GET", path_and_query, b"")
    }

    /// The snapshot endpoints of one cluster.
    pub fn snapshots(&self, cluster: &ClusterName) -> Snapshots<'_> {
        Snapshots {
            client: self,
            base: format!("{PREFIX}/clusters/{cluster}/snapshots"),
        }
    }

    /// Sends one request, retrying what may pass, and parses a 2xx JSON answer.
    pub(crate) fn send<R: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<R> {
        let url = format!("{}{path}", self.server);
        let mut delay = FIRST_DELAY;
        let mut attempt = 1;
        loop {
            let request = ureq::http::Request::builder()
                .method(method)
                .uri(&url)
                .header("Authorization", &self.authorization)
                .header("Accept", "application/json");
            // POST always carries a sized body (`Content-Length: 0` for a commit), never a
            // chunked one; GET and DELETE carry none.
            let result = if method == "GET" || method == "DELETE" {
                request
                    .body(())
                    .map_err(|e| anyhow!("{method} {url}: {e}"))
                    .map(|r| self.agent.run(r))?
            } else {
                request
                    .header("Content-Type", "application/json")
                    .body(body)
                    .map_err(|e| anyhow!("{method} {url}: {e}"))
                    .map(|r| self.agent.run(r))?
            };
            let (problem, wait) = match result {
                Ok(mut response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
                    let text = response
                        .body_mut()
                        .with_config()
                        .limit(16 * 1024 * 1024)
                        .read_to_string()
                        .unwrap_or_default();
                    if status.is_success() {
                        return serde_json::from_str(&text).map_err(|e| {
                            anyhow!(
                                "{method} {url}: unexpected answer ({e}): {}",
                                excerpt(&text)
                            )
                        });
                    }
                    let message = status_message(
                        status.as_u16(),
                        status.canonical_reason().unwrap_or(""),
                        &text,
                    );
                    if !matches!(status.as_u16(), 429 | 502 | 503 | 504) || attempt >= self.attempts
                    {
                        return Err(anyhow::Error::new(HttpError {
                            status: status.as_u16(),
                            message,
                            retry_after,
                        }));
                    }
                    (message, retry_after.unwrap_or(delay))
                }
                Err(e) if attempt >= self.attempts => {
                    return Err(Unreachable(format!("{method} {url}: {e}")).into())
                }
                Err(e) => (format!("{method} {url}: {e}"), delay),
            };
            eprintln!(
                "sync-agent: {problem}; retrying in {:.1}s ({attempt}/{})",
                wait.as_secs_f64(),
                self.attempts - 1
            );
            std::thread::sleep(wait);
            delay *= 2;
            attempt += 1;
        }
    }
}

/// The ingest endpoints under `/ingest/v1/clusters/{cluster}/snapshots`.
pub struct Snapshots<'a> {
    client: &'a EdgeClient,
    base: String,
}

impl SnapshotApi for Snapshots<'_> {
    fn begin(&self, request: &BeginSnapshot) -> Result<String> {
        let body = serde_json::to_vec(request)?;
        let session: SnapshotSession = self.client.send("POST", &self.base, &body)?;
        Ok(session.session)
    }

    fn chunk(&self, session: &str, body: &[u8]) -> Result<()> {
        let path = format!("{}/{session}/chunks", self.base);
        let _: serde_json::Value = self.client.send("POST", &path, body)?;
        Ok(())
    }

    fn commit(&self, session: &str) -> Result<CommitResult> {
        let path = format!("{}/{session}/commit", self.base);
        self.client.send("POST", &path, b"")
    }

    fn abort(&self, session: &str) -> Result<()> {
        let path = format!("{}/{session}", self.base);
        let _: serde_json::Value = self.client.send("DELETE", &path, b"")?;
        Ok(())
    }
}

/// `message (HTTP 422 Invalid)` from a Kubernetes `Status`; else the HTTP reason and a short
/// excerpt of the body (a proxy's HTML page, say).
fn status_message(status: u16, canonical: &str, body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(s) if s["kind"] == "Status" => {
            let reason = s["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
                .unwrap_or(canonical);
            format!(
                "{} (HTTP {status} {reason})",
                s["message"].as_str().unwrap_or("no message")
            )
        }
        _ if body.trim().is_empty() => format!("HTTP {status} {canonical}"),
        _ => format!("{} (HTTP {status} {canonical})", excerpt(body)),
    }
}

/// The first 200 characters of a body, on one line.
fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_status_errors() {
        let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"items[3]: metadata.uid is required","reason":"Invalid","code":422}"#;
        assert_eq!(
            status_message(422, "Unprocessable Entity", body),
            "items[3]: metadata.uid is required (HTTP 422 Invalid)"
        );
        assert_eq!(
            status_message(502, "Bad Gateway", "<html>\n bad gateway\n</html>"),
            "<html> bad gateway </html> (HTTP 502 Bad Gateway)"
        );
        assert_eq!(
            status_message(503, "Service Unavailable", ""),
            "HTTP 503 Service Unavailable"
        );
        let no_reason = r#"{"kind":"Status","message":"token expired","code":401}"#;
        assert_eq!(
            status_message(401, "Unauthorized", no_reason),
            "token expired (HTTP 401 Unauthorized)"
        );
    }

    #[test]
    fn excerpts_are_short_and_cut_on_char_boundaries() {
        let long = "é".repeat(500);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), 201);
    }
}
