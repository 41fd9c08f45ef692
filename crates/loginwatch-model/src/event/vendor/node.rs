//! [`Node`]: a vendor's record as parsed JSON, its strings borrowed from the record where
//! they have no escapes and its objects kept as lists of fields. The vendor decoders read a
//! dozen fields of a record that has fifty; a `serde_json::Value` built a B-tree map and an
//! owned string for every one of them (half the time of a vendor replay).
//!
//! Read as a `Value` reads: the same parser (limits, float parsing), a key given twice means
//! its last value, a float that is not finite is null.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::fmt;

/// One JSON value of a record (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Fields in the record's order.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// A null to point to where a field is absent.
pub(super) const NULL: Node<'static> = Node::Null;

impl<'a> Node<'a> {
    /// The value of field `key` of an object (its last one when given twice).
    pub(super) fn field(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|f| &f.1),
            _ => None,
        }
    }

    pub(super) fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a `serde_json::Value` (for an error message naming it as JSON).
    pub(super) fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.as_ref().to_owned()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Node<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Node<'de>, E> {
        Ok(Number::from_f64(n).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s)))
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(Key(k)) = map.next_key()? {
            fields.push((k, map.next_value()?));
        }
        Ok(Node::Object(fields))
    }
}

/// An object's key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
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
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn borrows_plain_strings_and_keeps_the_last_of_a_repeated_key() {
        let text = r#"{"a":"plain","b":"esc\"aped","a":"last","n":[1,-2,2.5,null,true]}"#;
        let node: Node<'_> = serde_json::from_str(text).unwrap();
        assert!(matches!(node.field("b"), Some(Node::String(Cow::Owned(s))) if s == "esc\"aped"));
        assert!(matches!(
            node.field("a"),
            Some(Node::String(Cow::Borrowed("last")))
        ));
        assert_eq!(
            node.to_value(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }

    proptest! {
        /// Whatever serde_json reads as a `Value`, a `Node` reads as the same value, and what
        /// it refuses a `Node` refuses with the same message.
        #[test]
        fn reads_what_a_value_reads(text in r#"[\[\]{}",:0-9a-z.eE+\- \\]{0,40}"#) {
            let node = serde_json::from_str::<Node<'_>>(&text);
            let value = serde_json::from_str::<Value>(&text);
            match (node, value) {
                (Ok(n), Ok(v)) => prop_assert_eq!(n.to_value(), v),
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (n, v) => prop_assert!(false, "{:?} vs {:?}", n, v),
            }
        }

        #[test]
        fn reads_any_value_a_value_writes(v in crate::testkit::any_json()) {
            let text = serde_json::to_string(&v).unwrap();
            let node: Node<'_> = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(node.to_value(), serde_json::from_str::<Value>(&text).unwrap());
        }
    }
}
