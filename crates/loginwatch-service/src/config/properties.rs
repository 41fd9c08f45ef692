//! Passthrough librdkafka properties (`[kafka.common]`, `[kafka.consumer]`, `[kafka.producer]`):
//! any property librdkafka knows, so TLS and SASL work, with secret values never printed.

use crate::redact::{display_value, Redactor};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// librdkafka properties as `name → value`.
///
/// In TOML a dotted key is a nested table, so both spellings are accepted and mean the same:
/// `"security.protocol" = "SASL_SSL"` and `security.protocol = "SASL_SSL"`. Numbers and booleans
/// are turned into the strings librdkafka expects (`"session.timeout.ms" = 45000`).
/// `Debug` shows secret values (see [`crate::redact::is_secret_key`]) as `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientProperties(BTreeMap<String, String>);

impl ClientProperties {
    /// Properties from `(name, value)` pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        ClientProperties(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Sets one property, replacing an earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// The value of one property.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every property, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when no property is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A redactor for the secret values among these properties.
    pub fn redactor(&self) -> Redactor {
        Redactor::from_properties(self.iter())
    }
}

impl fmt::Debug for ClientProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k, display_value(k, v))))
            .finish()
    }
}

/// Serialized with secret values as `[redacted]` (printing the effective configuration).
impl Serialize for ClientProperties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|(k, v)| (k, display_value(k, v))))
    }
}

impl<'de> Deserialize<'de> for ClientProperties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = BTreeMap::new();
        d.deserialize_map(PropsVisitor {
            prefix: String::new(),
            out: &mut out,
        })?;
        Ok(ClientProperties(out))
    }
}

/// Visits one (possibly nested) table, writing `prefix.key = value` into `out`.
struct PropsVisitor<'o> {
    prefix: String,
    out: &'o mut BTreeMap<String, String>,
}

impl<'de> Visitor<'de> for PropsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of librdkafka properties")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let name = if self.prefix.is_empty() {
                key
            } else {
                format!("{}.{key}", self.prefix)
            };
            map.next_value_seed(ValueSeed {
                name,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
}

/// Deserializes one property value (scalar, or a nested table of further properties).
struct ValueSeed<'o> {
    name: String,
    out: &'o mut BTreeMap<String, String>,
}

impl<'de> de::DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn put<E: de::Error>(self, value: String) -> Result<(), E> {
        if self.out.insert(self.name.clone(), value).is_some() {
            return Err(E::custom(format!("property `{}` given twice", self.name)));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string, number or boolean for `{}`", self.name)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.put(v.to_owned())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.put(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.put(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.put(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.put(v.to_string())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        PropsVisitor {
            prefix: self.name,
            out: self.out,
        }
        .visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_dotted_tables_and_coerces_scalars() {
        let p: ClientProperties = toml::from_str(
            r#"
            "security.protocol" = "SASL_SSL"
            sasl.mechanism = "PLAIN"
            sasl.password = "hunter2"
            "session.timeout.ms" = 45000
            "enable.ssl.certificate.verification" = false
            "#,
        )
        .unwrap();
        assert_eq!(p.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(p.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(p.get("session.timeout.ms"), Some("45000"));
        assert_eq!(p.get("enable.ssl.certificate.verification"), Some("false"));
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("SASL_SSL"));
    }

    #[test]
    fn rejects_arrays() {
        let r: Result<ClientProperties, _> = toml::from_str(r#"a = [1, 2]"#);
        assert!(r.is_err());
    }
}
