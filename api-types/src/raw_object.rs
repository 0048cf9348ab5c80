//! A JSON object split at its top level only, each member's value kept as raw text. Both ends
//! of the ingest protocol read objects this way: spec and status, the bulk of an object, need
//! no parsing, so the agent strips and the component validates in one pass over the text.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// An object's members in the order sent (a repeated key appears twice), values as raw text,
/// borrowed from the input. Keys with escapes are decoded.
#[derive(Debug)]
pub struct RawObject<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawObject<'a> {
    /// The first member named `key`.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn from_map<'de: 'a, A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            members.push((key.0, map.next_value::<&'de RawValue>()?));
        }
        Ok(RawObject(members))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ObjectOrOther::deserialize(d)?
            .0
            .ok_or_else(|| de::Error::custom("expected a JSON object"))
    }
}

/// Any JSON value: its members when it is an object, nothing otherwise (the value is read
/// through and dropped). For lists whose items are refused one by one, with the item's
/// index, rather than failing the whole document.
#[derive(Debug)]
pub struct ObjectOrOther<'a>(pub Option<RawObject<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for ObjectOrOther<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ObjectOrOther<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawObject::from_map(map).map(|o| ObjectOrOther(Some(o)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ObjectOrOther(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ObjectOrOther(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ObjectOrOther(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ObjectOrOther(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ObjectOrOther(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ObjectOrOther(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ObjectOrOther(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
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
        for other in ["[1, {\"a\": [2]}]", "\"text\"", "null", "true", "-1.5"] {
            let v: ObjectOrOther = serde_json::from_str(other).unwrap();
            assert!(v.0.is_none(), "{other}");
        }
        let v: ObjectOrOther = serde_json::from_str(text).unwrap();
        assert_eq!(v.0.map(|o| o.0.len()), Some(3));
    }
}
