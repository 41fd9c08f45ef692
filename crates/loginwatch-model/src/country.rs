//! ISO 3166-1 alpha-2 country codes stored in two bytes, and English country names to codes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

mod names;

/// An upper-case ISO 3166-1 alpha-2 code such as `KR`; two bytes, `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses two ASCII letters, either case; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code of an English country name as identity providers write it ("United States",
    /// "South Korea", "Korea, Republic of", "Côte d'Ivoire"; case, punctuation and common
    /// accents ignored), or of a name that is already an alpha-2 code; `None` otherwise.
    pub fn from_name(name: &str) -> Option<Self> {
        static BY_NAME: OnceLock<HashMap<&'static str, CountryCode>> = OnceLock::new();
        let by_name = BY_NAME.get_or_init(|| {
            names::NAMES
                .iter()
                .filter_map(|&(name, code)| Some((name, CountryCode::parse(code)?)))
                .collect()
        });
        by_name
            .get(names::fold(name).as_str())
            .copied()
            .or_else(|| Self::parse(name.trim()))
    }

    /// The code as a `&str`, e.g. `"KR"`.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CountryCode::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("not an ISO 3166-1 alpha-2 code: {s:?}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_uppercases() {
        assert_eq!(CountryCode::parse("kr").unwrap().as_str(), "KR");
        assert!(CountryCode::parse("KOR").is_none());
        assert!(CountryCode::parse("K1").is_none());
        assert!(CountryCode::parse("").is_none());
    }

    #[test]
    fn names_to_codes() {
        let code = |n| CountryCode::from_name(n).map(|c| c.to_string());
        assert_eq!(code("United States").as_deref(), Some("US"));
        assert_eq!(code("south korea").as_deref(), Some("KR"));
        assert_eq!(code("Korea, Republic of").as_deref(), Some("KR"));
        assert_eq!(code("North Korea").as_deref(), Some("KP"));
        assert_eq!(code("Côte d'Ivoire").as_deref(), Some("CI"));
        assert_eq!(code("Russian Federation").as_deref(), Some("RU"));
        assert_eq!(
            code(" de ").as_deref(),
            Some("DE"),
            "a code is its own name"
        );
        assert_eq!(code("UK").as_deref(), Some("GB"), "a name before a code");
        assert_eq!(code("Atlantis"), None);
        assert_eq!(code(""), None);
    }

    #[test]
    fn the_name_table_is_folded_unambiguous_and_complete() {
        let mut seen = HashMap::new();
        for &(name, code) in names::NAMES {
            assert_eq!(names::fold(name), name, "{name} is not folded");
            assert!(CountryCode::parse(code).is_some(), "{code}");
            if let Some(other) = seen.insert(name, code) {
                assert_eq!(other, code, "{name} names two countries");
            }
        }
        let codes: std::collections::HashSet<&str> = seen.values().copied().collect();
        // The 249 ISO 3166-1 entries, plus Kosovo's user-assigned XK.
        assert_eq!(codes.len(), 250);
    }
}
