//! The pure parts of `run`: JSON array bodies bounded by size (snapshot chunks and event
//! batches), jittered exponential backoff, and duration flags (`1h`, `30s`, `500ms`).

use anyhow::{bail, Result};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A request body `{"<field>":[item,item,…]}` being filled: items are already-serialized JSON.
pub struct Batch {
    head: &'static [u8],
    body: Vec<u8>,
    count: usize,
}

const TAIL: &[u8] = b"]}";

impl Batch {
    /// `head` is the opening text, e.g. `{"items":[`.
    pub fn new(head: &'static [u8]) -> Self {
        Self {
            head,
            body: head.to_vec(),
            count: 0,
        }
    }

    /// Bytes of the finished body as it stands.
    pub fn bytes(&self) -> usize {
        self.body.len() + TAIL.len()
    }

    /// Whether an item of `size` bytes still fits under `limit`; an empty batch takes
    /// anything (one large object goes alone).
    pub fn fits(&self, size: usize, limit: usize) -> bool {
        self.count == 0 || self.body.len() + 1 + size + TAIL.len() <= limit
    }

    pub fn push(&mut self, item: &[u8]) {
        if self.count > 0 {
            self.body.push(b',');
        }
        self.body.extend_from_slice(item);
        self.count += 1;
    }

    /// The finished body and its item count; the batch starts over empty.
    pub fn take(&mut self) -> Option<(Vec<u8>, usize)> {
        if self.count == 0 {
            return None;
        }
        let mut body = std::mem::replace(&mut self.body, self.head.to_vec());
        body.extend_from_slice(TAIL);
        Some((body, std::mem::take(&mut self.count)))
    }
}

/// One watch event as `ingest::WatchEvent` JSON, around an already-serialized object.
pub fn event_json(event_type: &str, resource: &str, object: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(object.len() + resource.len() + 48);
    out.extend_from_slice(b"{\"type\":");
    // Strings always serialize; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, event_type);
    out.extend_from_slice(b",\"resource\":");
    let _ = serde_json::to_writer(&mut out, resource);
    out.extend_from_slice(b",\"object\":");
    out.extend_from_slice(object);
    out.push(b'}');
    out
}

/// Exponential backoff with "equal jitter": the n-th delay lies in [d/2, d] where d doubles
/// from `first` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The next delay, for a jitter value in [0, 1].
    pub fn next_with(&mut self, jitter: f64) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }

    pub fn next_delay(&mut self) -> Duration {
        self.next_with(jitter())
    }

    /// After a success: start again from the first delay.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// A value in [0, 1] that differs between calls and processes (std's hasher keys are random).
pub fn jitter() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `1h`, `30m`, `10s`, `500ms`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(n) = number.parse::<u64>() else {
        bail!("{text:?} is not a duration such as 1h, 30m, 10s or 500ms");
    };
    Ok(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => bail!("{text:?} is not a duration such as 1h, 30m, 10s or 500ms"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_json_arrays_bounded_by_size() {
        let mut b = Batch::new(b"{\"items\":[");
        assert!(b.take().is_none());
        assert!(b.fits(1_000, 10), "an empty batch takes anything");
        b.push(b"{\"a\":1}");
        b.push(b"{\"b\":2}");
        assert_eq!(b.bytes(), br#"{"items":[{"a":1},{"b":2}]}"#.len());
        assert!(b.fits(7, b.bytes() + 8));
        assert!(!b.fits(7, b.bytes() + 7));
        let (body, n) = b.take().unwrap();
        assert_eq!(n, 2);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["items"][1]["b"], 2);
        assert!(b.take().is_none());
        b.push(b"1");
        assert_eq!(b.take().unwrap().0, b"{\"items\":[1]}");
    }

    #[test]
    fn events_are_wire_watch_events() {
        let mut b = Batch::new(b"{\"events\":[");
        b.push(&event_json("DELETED", "pods", br#"{"kind":"Pod"}"#));
        let (body, _) = b.take().unwrap();
        let parsed: edgepedia_api::ingest::WatchEvents<serde_json::Value> =
            serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed.events[0].event_type,
            edgepedia_api::ingest::EventType::Deleted
        );
        assert_eq!(parsed.events[0].resource, "pods");
        assert_eq!(parsed.events[0].object["kind"], "Pod");
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(b.next_with(1.0), Duration::from_millis(100));
        assert_eq!(b.next_with(0.0), Duration::from_millis(100));
        assert_eq!(b.next_with(1.0), Duration::from_millis(400));
        assert_eq!(b.next_with(1.0), Duration::from_millis(800));
        assert_eq!(b.next_with(1.0), Duration::from_secs(1));
        assert_eq!(b.next_with(0.5), Duration::from_millis(750));
        b.reset();
        assert_eq!(b.next_with(1.0), Duration::from_millis(100));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..=1.0).contains(&j));
            let d = Backoff::new(Duration::from_secs(2), Duration::from_secs(2)).next_delay();
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(2));
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("1d").is_err());
    }
}
