//! A JSON object split at its top level only, each member's value kept as raw text. Both ends
//! of the ingest protocol read objects this way: spec and status, the bulk of an object, need
//! no parsing, so the agent strips and the component validates in one pass over the text.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// An object's members in the order sent (a repeated key appears twice), values as raw text,
/// borrowed from the input. Keys with escapes are decoded.
#[derive(Debug, Default)]
pub struct RawObject<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawObject<'a> {
    /// The first member named `key`.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Reads the members of a map a visitor was given: for types that accept an object among
    /// other values and build a `RawObject` from it.
    pub fn from_map<'de: 'a, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value::<&'de RawValue>()?));
        }
        Ok(RawObject(members))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawObject<'a>, A::Error> {
                RawObject::from_map(map)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A key borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_members_in_order_as_raw_text_and_decodes_escaped_keys() {
        let text = r#"{"b": {"x": [1, 2]}, "a\u0041": "s", "b": null}"#;
        let o: RawObject = serde_json::from_str(text).unwrap();
        let members: Vec<(&str, &str)> = o.0.iter().map(|(k, v)| (&**k, v.get())).collect();
        assert_eq!(
            members,
            [("b", r#"{"x": [1, 2]}"#), ("aA", r#""s""#), ("b", "null")]
        );
        assert!(matches!(o.0[0].0, Cow::Borrowed(_)));
        assert!(matches!(o.0[1].0, Cow::Owned(_)));
        assert_eq!(o.get("b").map(RawValue::get), Some(r#"{"x": [1, 2]}"#));
        assert!(o.get("c").is_none());
        assert!(serde_json::from_str::<RawObject>("[1]").is_err());
    }
}
