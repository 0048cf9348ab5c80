//! Reads `kubectl get -o json` output one object at a time: a `List` (or `*List`) has its
//! `items` handed to a callback as raw JSON text as soon as each is complete, so memory stays
//! bounded by one object (plus a 1 MiB read block) however large the file; any other
//! top-level object is passed as a single item. A top-level `items` array marks a List whatever
//! the order of keys (Kubernetes objects have no such field); `items` deeper down is data.
//!
//! Why not serde's streaming reader: building a `serde_json::Value` per object and reading
//! through `io::Read` byte by byte was the agent's bottleneck (≈15k pods/s). Here a small
//! scanner finds each item's bounds in a block buffer and the item is parsed from the slice,
//! top level only (see `strip`), which is several times faster. The scanner only finds bounds;
//! every byte is still validated by serde_json when the item (or other field) is parsed.

use anyhow::{anyhow, bail, Result};
use serde_json::value::RawValue;
use std::io::Read;

/// Bytes read at a time.
const BLOCK: usize = 1 << 20;
/// An item this large (as written in the file, whitespace included) is refused before it is
/// even complete: no request could carry it, and memory must stay bounded.
const MAX_ITEM: usize = 256 << 20;

/// Calls `each(index, item)` for every object in `input`; stops at the first error.
/// Returns how many objects there were.
pub fn for_each_object(
    input: impl Read,
    mut each: impl FnMut(usize, &[u8]) -> Result<()>,
) -> Result<usize> {
    let mut r = Scanner {
        input,
        buf: Vec::with_capacity(BLOCK),
        start: 0,
        eof: false,
        consumed: 0,
    };
    let mut count = 0;
    r.expect(b'{', "a Kubernetes object or List (a JSON object)")?;
    // Top-level fields other than `items`, kept for a single object or to read `kind`.
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let mut list = false;
    if r.peek()? == Some(b'}') {
        r.start += 1;
    } else {
        loop {
            let end = r.value_end(None)?;
            let key: String = serde_json::from_slice(&r.buf[r.start..end])
                .map_err(|e| r.error(&format!("an object key ({e})")))?;
            r.consume(end);
            r.expect(b':', "':'")?;
            match (key.as_str(), r.peek()?) {
                ("items", Some(b'[')) => {
                    r.start += 1;
                    r.items(&mut count, &mut each)?;
                    list = true;
                }
                (_, _) => {
                    let end = r.value_end(None)?;
                    let raw = &r.buf[r.start..end];
                    serde_json::from_slice::<&RawValue>(raw)
                        .map_err(|e| r.error(&format!("the value of {key:?} is not JSON ({e})")))?;
                    if key == "items" && raw != b"null" {
                        bail!("invalid input: top-level \"items\" must be an array of objects");
                    }
                    list |= key == "items";
                    fields.push((key, raw.to_vec()));
                    r.consume(end);
                }
            }
            match r.next()? {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(r.error("',' or '}' after a top-level field")),
            }
        }
    }
    if r.peek()?.is_some() {
        return Err(r.error("the end of input after the top-level object"));
    }
    let is_list = fields.iter().any(|(k, v)| {
        k == "kind" && serde_json::from_slice::<String>(v).is_ok_and(|k| k.ends_with("List"))
    });
    if !list && !is_list {
        let mut object = vec![b'{'];
        for (i, (key, raw)) in fields.iter().enumerate() {
            if i > 0 {
                object.push(b',');
            }
            serde_json::to_writer(&mut object, key)?;
            object.push(b':');
            object.extend_from_slice(raw);
        }
        object.push(b'}');
        each(0, &object)?;
        count = 1;
    }
    Ok(count)
}

struct Scanner<R> {
    input: R,
    /// Unconsumed input is `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    /// Bytes dropped from the front of `buf` so far, for error offsets.
    consumed: u64,
}

impl<R: Read> Scanner<R> {
    /// Reads one more block, first dropping what was consumed. False at end of input.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.consumed += self.start as u64;
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + BLOCK, 0);
        let n = loop {
            match self.input.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(anyhow!("reading the input: {e}"));
                }
            }
        };
        self.buf.truncate(len + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// The next non-whitespace byte, not consumed; None at end of input.
    fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            while let Some(&b) = self.buf.get(self.start) {
                if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    self.start += 1;
                } else {
                    return Ok(Some(b));
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    fn next(&mut self) -> Result<Option<u8>> {
        let b = self.peek()?;
        if b.is_some() {
            self.start += 1;
        }
        Ok(b)
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
        match self.next()? {
            Some(b) if b == byte => Ok(()),
            _ => Err(self.error(what)),
        }
    }

    fn consume(&mut self, end: usize) {
        self.start = end;
    }

    fn error(&self, expected: &str) -> anyhow::Error {
        let offset = self.consumed + self.start as u64;
        if self.eof && self.start >= self.buf.len() {
            anyhow!("invalid JSON input: unexpected end of input, expected {expected}")
        } else {
            anyhow!("invalid JSON input at byte {offset}: expected {expected}")
        }
    }

    /// Streams the elements of the `items` array (its `[` already consumed) to `each`.
    fn items(
        &mut self,
        count: &mut usize,
        each: &mut impl FnMut(usize, &[u8]) -> Result<()>,
    ) -> Result<()> {
        if self.peek()? == Some(b']') {
            self.start += 1;
            return Ok(());
        }
        loop {
            let index = *count;
            if self.peek()? != Some(b'{') {
                return Err(self.error(&format!("item {index} to be a JSON object")));
            }
            let end = self.value_end(Some(index))?;
            each(index, &self.buf[self.start..end])?;
            *count += 1;
            self.consume(end);
            match self.next()? {
                Some(b',') => continue,
                Some(b']') => return Ok(()),
                _ => return Err(self.error(&format!("',' or ']' after item {index}"))),
            }
        }
    }

    /// The end (exclusive, an index into `buf`) of the JSON value at the next non-whitespace
    /// byte (`start` is moved there), reading more input as needed. Finds bounds only: strings and
    /// nesting are tracked, the text is validated by whoever parses the slice.
    fn value_end(&mut self, item: Option<usize>) -> Result<usize> {
        let Some(first) = self.peek()? else {
            return Err(self.error("a value"));
        };
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        let mut pos = self.start;
        loop {
            let buf = &self.buf;
            while pos < buf.len() {
                let b = buf[pos];
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            return Ok(pos + 1);
                        }
                    }
                } else if scalar {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        return Ok(pos);
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return Ok(pos + 1);
                            }
                        }
                        _ => {}
                    }
                }
                pos += 1;
            }
            if pos - self.start > MAX_ITEM {
                match item {
                    Some(i) => bail!("item {i} is larger than {} MiB", MAX_ITEM >> 20),
                    None => bail!("a top-level field is larger than {} MiB", MAX_ITEM >> 20),
                }
            }
            let offset = pos - self.start;
            if !self.fill()? {
                if scalar {
                    return Ok(self.buf.len());
                }
                return Err(match item {
                    Some(i) => anyhow!(
                        "invalid JSON input: item {i} is cut short (unexpected end of input)"
                    ),
                    None => anyhow!("invalid JSON input: unexpected end of input"),
                });
            }
            pos = self.start + offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn collect(input: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for_each_object(input.as_bytes(), |_, raw| {
            out.push(serde_json::from_slice(raw)?);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn streams_list_items_of_mixed_kinds() {
        let got = collect(r#"{"apiVersion":"v1","kind":"List","items":[{"kind":"Pod","spec":{"items":[1]}},{"kind":"Service"}],"metadata":{}}"#).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["spec"]["items"][0], 1, "nested `items` is just data");
        assert_eq!(got[1]["kind"], "Service");
    }

    #[test]
    fn a_single_object_is_one_item_and_an_empty_list_none() {
        let one = collect(r#" { "apiVersion" : "v1", "kind":"Pod","metadata":{"name":"p\"q"}} "#)
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0]["metadata"]["name"], "p\"q");
        assert!(
            collect(r#"{"apiVersion":"v1","kind":"PodList","items":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(collect(r#"{"apiVersion":"v1","kind":"PodList"}"#)
            .unwrap()
            .is_empty());
        assert!(
            collect("{}").unwrap().len() == 1,
            "validation names what is missing"
        );
    }

    #[test]
    fn nested_items_keys_are_data_and_items_may_come_first() {
        let input = r#"{"items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","annotations":{"items":"x"}},"data":{"items":"[{\"a\":1}]","b":"}]\\"}},
            {"apiVersion":"example.com/v1","kind":"Bundle","metadata":{"name":"b"},"spec":{"items":[{"kind":"Pod"},{"kind":"Pod"}]}}],
            "kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"7"}}"#;
        let got = collect(input).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["data"]["items"], "[{\"a\":1}]");
        assert_eq!(
            got[0]["data"]["b"], "}]\\",
            "brackets and escapes in strings"
        );
        assert_eq!(got[1]["spec"]["items"].as_array().unwrap().len(), 2);
        // A single object with nested `items` is one object, not a list.
        let one = collect(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"items":[{"a":1}]}}"#).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0]["spec"]["items"][0]["a"], 1);
        assert!(collect(r#"{"kind":"List","items":null}"#)
            .unwrap()
            .is_empty());
    }

    /// Items reach the callback while most of the input is still unread: nothing waits for
    /// (or holds) the whole file.
    #[test]
    fn items_are_handed_over_as_they_are_parsed() {
        struct Counting<R> {
            inner: R,
            read: std::rc::Rc<std::cell::Cell<usize>>,
        }
        impl<R: Read> Read for Counting<R> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.inner.read(buf)?;
                self.read.set(self.read.get() + n);
                Ok(n)
            }
        }
        let item = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#;
        let text = format!(
            r#"{{"kind":"List","items":[{}]}}"#,
            vec![item; 100_000].join(",")
        );
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let input = Counting {
            inner: text.as_bytes(),
            read: read.clone(),
        };
        let mut first_seen_at = None;
        let n = for_each_object(input, |i, raw| {
            assert_eq!(raw, item.as_bytes());
            if i == 0 {
                first_seen_at = Some(read.get());
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 100_000);
        assert!(first_seen_at.unwrap() < text.len() / 2, "{first_seen_at:?}");
    }

    /// Items split across read blocks at every possible point come out whole.
    #[test]
    fn items_across_block_boundaries() {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(self.0.len()).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text =
            r#"{"kind":"List","items":[{"a":"x\"}","b":[1,{"c":null}]},{"d":true}],"metadata":{}}"#;
        for step in 1..8 {
            let mut got = Vec::new();
            for_each_object(Trickle(text.as_bytes(), step), |_, raw| {
                got.push(String::from_utf8(raw.to_vec()).unwrap());
                Ok(())
            })
            .unwrap();
            assert_eq!(got, [r#"{"a":"x\"}","b":[1,{"c":null}]}"#, r#"{"d":true}"#]);
        }
    }

    #[test]
    fn malformed_input_and_callback_errors_stop_the_stream() {
        for bad in [
            r#"{"kind":"List","items":[{"a":1},"#,
            "[1,2]",
            r#"{"kind":"Pod"} trailing"#,
            "",
            r#"{"kind":"List","items":{"a":1}}"#,
            r#"{"kind":"List","items":[1]}"#,
            r#"{"kind":"List","items":[{"a":1} {"b":2}]}"#,
            r#"{"kind":"List","items":[]"#,
            r#"{"kind":Pod}"#,
            r#"{kind:"Pod"}"#,
        ] {
            let err = collect(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid"), "{bad}: {err}");
        }
        // Item text is validated by whoever parses it.
        assert!(collect(r#"{"kind":"List","items":[{"a":1,}]}"#).is_err());
        let mut seen = 0;
        let err = for_each_object(r#"{"items":[{},{},{}]}"#.as_bytes(), |i, _| {
            seen += 1;
            if i == 1 {
                bail!("item 1 is bad")
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 1 is bad");
        assert_eq!(seen, 2);
    }
}
