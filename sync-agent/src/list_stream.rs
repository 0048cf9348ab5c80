//! Reads `kubectl get -o json` output one object at a time: a `List` (or `*List`) has its
//! `items` handed to a callback as they are parsed, so memory stays bounded by one object
//! however large the file; any other top-level object is passed as a single item. A top-level
//! `items` array marks a List whatever the order of keys (Kubernetes objects have no such
//! field); `items` deeper down is ordinary data.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::io::Read;

/// Calls `each(index, object)` for every object in `input`; stops at the first error.
pub fn for_each_object(
    input: impl Read,
    mut each: impl FnMut(usize, Value) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(input));
    let mut count = 0;
    let mut failure = None;
    let result = TopLevel {
        each: &mut each,
        count: &mut count,
        failure: &mut failure,
    }
    .deserialize(&mut de);
    if let Some(e) = failure {
        return Err(e);
    }
    result.map_err(|e| anyhow::anyhow!("invalid JSON input: {e}"))?;
    de.end()
        .map_err(|e| anyhow::anyhow!("invalid JSON input: {e}"))?;
    Ok(count)
}

type Callback<'a> = &'a mut dyn FnMut(usize, Value) -> anyhow::Result<()>;

struct TopLevel<'a> {
    each: Callback<'a>,
    count: &'a mut usize,
    /// The callback's own error, kept whole (serde can only carry a message).
    failure: &'a mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object or List")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(Items {
                    each: &mut *self.each,
                    count: &mut *self.count,
                    failure: &mut *self.failure,
                })?;
                streamed = true;
            } else {
                fields.insert(key, map.next_value()?);
            }
        }
        let is_list = fields
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"));
        if !streamed && !is_list {
            let index = *self.count;
            *self.count += 1;
            if let Err(e) = (self.each)(index, Value::Object(fields)) {
                *self.failure = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

struct Items<'a> {
    each: Callback<'a>,
    count: &'a mut usize,
    failure: &'a mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects")
    }

    /// `"items": null` is an empty list, as Kubernetes clients read it.
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            let index = *self.count;
            *self.count += 1;
            if let Err(e) = (self.each)(index, item) {
                *self.failure = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        for_each_object(input.as_bytes(), |_, v| {
            out.push(v);
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
        assert_eq!(
            collect(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#)
                .unwrap()
                .len(),
            1
        );
        assert!(
            collect(r#"{"apiVersion":"v1","kind":"PodList","items":[]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(collect(r#"{"apiVersion":"v1","kind":"PodList"}"#)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn nested_items_keys_are_data_and_items_may_come_first() {
        let input = r#"{"items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","annotations":{"items":"x"}},"data":{"items":"[{\"a\":1}]"}},
            {"apiVersion":"example.com/v1","kind":"Bundle","metadata":{"name":"b"},"spec":{"items":[{"kind":"Pod"},{"kind":"Pod"}]}}],
            "kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"7"}}"#;
        let got = collect(input).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["data"]["items"], "[{\"a\":1}]");
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
            vec![item; 20_000].join(",")
        );
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let input = Counting {
            inner: text.as_bytes(),
            read: read.clone(),
        };
        let mut first_seen_at = None;
        let n = for_each_object(input, |i, _| {
            if i == 0 {
                first_seen_at = Some(read.get());
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 20_000);
        assert!(
            first_seen_at.unwrap() < text.len() / 10,
            "{first_seen_at:?}"
        );
    }

    #[test]
    fn malformed_input_and_callback_errors_stop_the_stream() {
        assert!(collect(r#"{"kind":"List","items":[{"a":1},"#).is_err());
        assert!(collect("[1,2]").is_err());
        assert!(collect(r#"{"kind":"Pod"} trailing"#).is_err());
        assert!(collect("").is_err());
        assert!(collect(r#"{"kind":"List","items":{"a":1}}"#).is_err());
        assert!(collect(r#"{"kind":"List","items":[1,]}"#).is_err());
        let mut seen = 0;
        let err = for_each_object(r#"{"items":[{},{},{}]}"#.as_bytes(), |i, _| {
            seen += 1;
            if i == 1 {
                anyhow::bail!("item 1 is bad")
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "item 1 is bad");
        assert_eq!(seen, 2);
    }
}
