//! Compact strings for per-account state, where every byte is paid a million times:
//! [`KeyStr`] (account ids: up to 22 bytes inline, no heap) and [`EventId`] (the same, plus
//! derived ids `ev-<32 hex digits>` packed into 16 bytes). Both are 24 bytes.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

const INLINE: usize = 22;

/// A string stored inline when short, on the heap otherwise.
#[derive(Clone)]
pub(crate) enum KeyStr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl KeyStr {
    pub(crate) fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            KeyStr::Inline {
                len: s.len() as u8,
                buf,
            }
        } else {
            KeyStr::Heap(s.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Always valid: copied from a `&str` at a char boundary (the whole string).
            KeyStr::Inline { len, buf } => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or("")
            }
            KeyStr::Heap(s) => s,
        }
    }

    /// Bytes on the heap (0 when inline).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            KeyStr::Inline { .. } => 0,
            KeyStr::Heap(s) => s.len(),
        }
    }
}

// Hash and Eq agree with `str`'s, as `Borrow<str>` requires (lookups by `&str`).
impl Hash for KeyStr {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl PartialEq for KeyStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for KeyStr {}

impl Borrow<str> for KeyStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for KeyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An event id: derived ids (`ev-` + 32 lowercase hex digits, as `derive_event_id` makes
/// them) in 16 bytes, other ids as a [`KeyStr`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum EventId {
    Derived([u8; 16]),
    Other(KeyStr),
}

fn parse_derived(s: &str) -> Option<[u8; 16]> {
    let hex = s.strip_prefix("ev-")?;
    let lower = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex.len() != 32 || !lower {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(u128::to_be_bytes)
}

impl EventId {
    pub(crate) fn new(s: &str) -> Self {
        parse_derived(s).map_or_else(|| EventId::Other(KeyStr::new(s)), EventId::Derived)
    }

    /// True when this is the id `s`.
    pub(crate) fn is(&self, s: &str) -> bool {
        match self {
            EventId::Derived(d) => parse_derived(s).as_ref() == Some(d),
            EventId::Other(k) => k.as_str() == s,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            EventId::Derived(_) => 0,
            EventId::Other(k) => k.heap_bytes(),
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventId::Derived(d) => write!(f, "ev-{:032x}", u128::from_be_bytes(*d)),
            EventId::Other(k) => f.write_str(k.as_str()),
        }
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes() {
        assert_eq!(std::mem::size_of::<KeyStr>(), 24);
        assert_eq!(std::mem::size_of::<EventId>(), 24);
    }

    #[test]
    fn derived_ids_pack() {
        let id = "ev-0123456789abcdef0123456789abcdef";
        let e = EventId::new(id);
        assert!(matches!(e, EventId::Derived(_)));
        assert_eq!(e.to_string(), id);
        assert!(e.is(id) && !e.is("ev-0123456789ABCDEF0123456789ABCDEF"));
        // Upper-case hex is not what derive_event_id makes: kept verbatim.
        let upper = EventId::new("ev-0123456789ABCDEF0123456789ABCDEF");
        assert_eq!(upper.to_string(), "ev-0123456789ABCDEF0123456789ABCDEF");
        assert_eq!(upper.heap_bytes(), 35);
    }

    proptest! {
        #[test]
        fn round_trips(s in "\\PC{0,40}") {
            let k = KeyStr::new(&s);
            prop_assert_eq!(k.as_str(), s.as_str());
            let e = EventId::new(&s);
            prop_assert_eq!(e.to_string(), s.clone());
            prop_assert!(e.is(&s));
        }
    }
}
