//! HTTP to the Edgepedia ingest API: bearer auth, JSON bodies, `Status` errors turned into
//! readable messages, and retries with backoff for what may pass (429, 502–504, transport).

use anyhow::{anyhow, bail, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

const ATTEMPTS: u32 = 4;

pub struct EdgeClient {
    agent: ureq::Agent,
    server: String,
    authorization: String,
}

impl EdgeClient {
    pub fn new(server: &str, token: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self {
            agent,
            server: server.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {token}"),
        }
    }

    pub fn post<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> Result<R> {
        let bytes = serde_json::to_vec(body)?;
        self.send("POST", path, Some(&bytes))
    }

    /// Posts an already serialized JSON body (chunks are assembled as bytes).
    pub fn post_raw<R: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<R> {
        self.send("POST", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Result<()> {
        self.send::<serde_json::Value>("DELETE", path, None)
            .map(drop)
    }

    fn send<R: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<R> {
        let url = format!("{}{path}", self.server);
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let result = match body {
                Some(bytes) => self
                    .agent
                    .post(&url)
                    .header("Authorization", &self.authorization)
                    .header("Content-Type", "application/json")
                    .send(bytes),
                None => self
                    .agent
                    .delete(&url)
                    .header("Authorization", &self.authorization)
                    .call(),
            };
            let retry = match result {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    if (200..300).contains(&status) {
                        return serde_json::from_str(&text).map_err(|e| {
                            anyhow!("{method} {url}: unexpected answer ({e}): {text:.200}")
                        });
                    }
                    let message = status_message(status, &text);
                    if !matches!(status, 429 | 502 | 503 | 504) || attempt == ATTEMPTS {
                        bail!("{message}");
                    }
                    message
                }
                Err(e) if attempt == ATTEMPTS => bail!("{method} {url}: {e}"),
                Err(e) => e.to_string(),
            };
            eprintln!(
                "sync-agent: {retry}; retrying in {:.1}s",
                delay.as_secs_f64()
            );
            std::thread::sleep(delay);
            delay *= 2;
        }
        unreachable!("the last attempt returns")
    }
}

/// `message (HTTP 422 Invalid)` from a Kubernetes `Status`, or the raw body.
fn status_message(status: u16, body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(s) if s["kind"] == "Status" => format!(
            "{} (HTTP {status} {})",
            s["message"].as_str().unwrap_or("no message"),
            s["reason"].as_str().unwrap_or("")
        ),
        _ => format!("HTTP {status}: {body:.200}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_status_errors() {
        let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"items[3]: metadata.name is required","reason":"Invalid","code":422}"#;
        assert_eq!(
            super::status_message(422, body),
            "items[3]: metadata.name is required (HTTP 422 Invalid)"
        );
        assert_eq!(
            super::status_message(502, "bad gateway"),
            "HTTP 502: bad gateway"
        );
    }
}
