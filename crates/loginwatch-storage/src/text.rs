//! [`InlineStr`]: account ids and other short strings stored inline up to 22 bytes (24 bytes
//! in all, no heap), on the heap beyond.

use crate::HeapSize;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

const INLINE: usize = 22;

/// A string stored inline when short, on the heap otherwise.
#[derive(Clone)]
pub enum InlineStr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<str>),
}

impl InlineStr {
    pub fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            InlineStr::Inline {
                len: s.len() as u8,
                buf,
            }
        } else {
            InlineStr::Heap(s.into())
        }
    }

    /// The string's bytes (no UTF-8 check: comparisons need none).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            InlineStr::Inline { len, buf } => &buf[..usize::from(*len)],
            InlineStr::Heap(s) => s.as_bytes(),
        }
    }

    /// Whether this is `s` (compared as bytes).
    pub fn is(&self, s: &str) -> bool {
        self.as_bytes() == s.as_bytes()
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Always valid: copied from a `&str` (the whole string).
            InlineStr::Inline { len, buf } => {
                std::str::from_utf8(&buf[..usize::from(*len)]).unwrap_or("")
            }
            InlineStr::Heap(s) => s,
        }
    }
}

impl HeapSize for InlineStr {
    fn heap_bytes(&self) -> usize {
        match self {
            InlineStr::Inline { .. } => 0,
            InlineStr::Heap(s) => s.len(),
        }
    }
}

// Hash, Eq and Ord agree with `str`'s, as `Borrow<str>` requires (lookups by `&str`).
impl Hash for InlineStr {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl PartialEq for InlineStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for InlineStr {}

impl PartialOrd for InlineStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InlineStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Borrow<str> for InlineStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for InlineStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for InlineStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InlineStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(InlineStr::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn is_24_bytes() {
        assert_eq!(std::mem::size_of::<InlineStr>(), 24);
        assert_eq!(InlineStr::new(&"x".repeat(23)).heap_bytes(), 23);
    }

    proptest! {
        #[test]
        fn round_trips(s in "\\PC{0,40}") {
            let k = InlineStr::new(&s);
            prop_assert_eq!(k.as_str(), s.as_str());
            let bytes = postcard::to_allocvec(&k).unwrap();
            let back: InlineStr = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(back, k);
        }
    }
}
