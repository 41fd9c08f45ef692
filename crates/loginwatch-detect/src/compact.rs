//! Compact values for per-account state, where every byte is paid a million times:
//! [`KeyStr`] (account ids: up to 22 bytes inline, no heap) and [`EventId`] (the same, plus
//! derived ids `ev-<32 hex digits>` packed into 16 bytes), both 24 bytes; and [`Small`], a
//! list that holds its first element inline and needs the heap only from the second.

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
    let hex = s.strip_prefix("ev-").filter(|h| h.len() == 32)?;
    let lower = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !lower {
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

/// A list whose only element, the usual case (most accounts hold one window record and one
/// session), lives inline: no allocation, no 24-byte `Vec` header. From two elements on it is
/// a `Vec` whose capacity the caller controls; it returns inline when it shrinks to one.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Small<T> {
    #[default]
    Empty,
    One(T),
    Many(Vec<T>),
}

impl<T> Small<T> {
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Small::Empty => &[],
            Small::One(x) => std::slice::from_ref(x),
            Small::Many(v) => v,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Small::Empty => &mut [],
            Small::One(x) => std::slice::from_mut(x),
            Small::Many(v) => v,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Heap bytes of the element slots (0 while inline).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Small::Many(v) => v.capacity() * std::mem::size_of::<T>(),
            _ => 0,
        }
    }

    /// Inserts `x` at `at` (≤ len). Going to the heap, the `Vec` gets room for exactly two;
    /// when full, it first grows by `grow(len)` (at least 1).
    pub(crate) fn insert(&mut self, at: usize, x: T, grow: impl FnOnce(usize) -> usize) {
        *self = match std::mem::take(self) {
            Small::Empty => Small::One(x),
            Small::One(first) => {
                let mut v = Vec::with_capacity(2);
                v.push(first);
                v.insert(at.min(1), x);
                Small::Many(v)
            }
            Small::Many(mut v) => {
                if v.len() == v.capacity() {
                    v.reserve_exact(grow(v.len()).max(1));
                }
                v.insert(at.min(v.len()), x);
                Small::Many(v)
            }
        };
    }

    /// Removes the elements in `range` (clamped to the length).
    pub(crate) fn remove_range(&mut self, range: std::ops::Range<usize>) {
        let len = self.len();
        let (from, to) = (range.start.min(len), range.end.min(len));
        if from >= to {
            return;
        }
        match self {
            Small::Many(v) => {
                v.drain(from..to);
                self.settle();
            }
            _ => *self = Small::Empty,
        }
    }

    /// Removes element `i` (< len), replacing it with the last one.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        match self {
            Small::Many(v) if i < v.len() => {
                v.swap_remove(i);
                self.settle();
            }
            Small::One(_) if i == 0 => *self = Small::Empty,
            _ => {}
        }
    }

    /// Keeps the elements for which `keep` is true, in order; the heap shrinks to fit (or the
    /// list goes back inline) when any went.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self {
            Small::Empty => {}
            Small::One(x) => {
                if !keep(x) {
                    *self = Small::Empty;
                }
            }
            Small::Many(v) => {
                let before = v.len();
                v.retain(|x| keep(x));
                if v.len() < before {
                    v.shrink_to_fit();
                    self.settle();
                }
            }
        }
    }

    /// Shrinks the heap capacity to `cap` (not below the length).
    pub(crate) fn shrink_to(&mut self, cap: usize) {
        if let Small::Many(v) = self {
            v.shrink_to(cap);
        }
    }

    /// The heap capacity (1 inline, 0 when empty).
    pub(crate) fn capacity(&self) -> usize {
        match self {
            Small::Empty => 0,
            Small::One(_) => 1,
            Small::Many(v) => v.capacity(),
        }
    }

    /// Back inline (freeing the heap) once at most one element is left.
    fn settle(&mut self) {
        if let Small::Many(v) = self {
            if v.len() <= 1 {
                *self = v.pop().map_or(Small::Empty, Small::One);
            }
        }
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

    #[test]
    fn small_lists_go_inline_and_back() {
        let mut l: Small<u32> = Small::default();
        l.insert(0, 2, |n| n / 2);
        assert!(matches!(l, Small::One(2)) && l.heap_bytes() == 0);
        l.insert(0, 1, |n| n / 2);
        l.insert(2, 3, |n| n / 2);
        assert_eq!(l.as_slice(), [1, 2, 3]);
        assert_eq!((l.capacity(), l.heap_bytes()), (3, 12));
        l.remove_range(0..2);
        assert!(matches!(l, Small::One(3)));
        l.insert(1, 4, |n| n / 2);
        l.swap_remove(0);
        assert_eq!(l.as_slice(), [4]);
        l.swap_remove(0);
        assert!(matches!(l, Small::Empty) && l.len() == 0);
        for x in [1, 2, 3, 4] {
            l.insert(l.len(), x, |_| 1);
        }
        l.retain(|x| x % 2 == 0);
        assert_eq!((l.as_slice(), l.capacity()), (&[2, 4][..], 2));
        l.retain(|x| *x > 2);
        assert!(matches!(l, Small::One(4)));
        l.retain(|_| false);
        assert!(matches!(l, Small::Empty));
    }

    #[test]
    fn small_lists_are_no_bigger_than_their_element() {
        use crate::detectors::session::SessionFp;
        use crate::record::Record;
        use std::mem::size_of;
        assert_eq!(size_of::<Small<Record>>(), size_of::<Record>());
        assert_eq!(size_of::<Small<SessionFp>>(), size_of::<SessionFp>());
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
