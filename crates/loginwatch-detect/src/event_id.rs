//! [`EventId`]: event ids in 24 bytes — derived ids (`ev-<32 hex digits>`, as
//! `derive_event_id` makes them) packed into 16, others as an [`InlineStr`] (inline up to 22
//! bytes).

use loginwatch_storage::{HeapSize, InlineStr};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An event id (see the module docs).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum EventId {
    Derived([u8; 16]),
    Other(InlineStr),
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
        parse_derived(s).map_or_else(|| EventId::Other(InlineStr::new(s)), EventId::Derived)
    }

    /// The id as text (what `to_string` gives, without the formatter).
    pub(crate) fn to_text(&self) -> String {
        match self {
            EventId::Derived(d) => {
                let mut s = String::with_capacity(35);
                s.push_str("ev-");
                loginwatch_model::alert::push_hex(&mut s, u128::from_be_bytes(*d));
                s
            }
            EventId::Other(k) => k.as_str().to_owned(),
        }
    }

    /// True when this is the id `s`.
    pub(crate) fn is(&self, s: &str) -> bool {
        match self {
            EventId::Derived(d) => parse_derived(s).as_ref() == Some(d),
            EventId::Other(k) => k.is(s),
        }
    }
}

impl HeapSize for EventId {
    fn heap_bytes(&self) -> usize {
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
        assert_eq!(std::mem::size_of::<EventId>(), 24);
    }

    #[test]
    fn derived_ids_pack() {
        let id = "ev-0123456789abcdef0123456789abcdef";
        let e = EventId::new(id);
        assert!(matches!(e, EventId::Derived(_)));
        assert_eq!(e.to_string(), id);
        assert_eq!(e.to_text(), id);
        assert!(e.is(id) && !e.is("ev-0123456789ABCDEF0123456789ABCDEF"));
        // Upper-case hex is not what derive_event_id makes: kept verbatim.
        let upper = EventId::new("ev-0123456789ABCDEF0123456789ABCDEF");
        assert_eq!(upper.to_string(), "ev-0123456789ABCDEF0123456789ABCDEF");
        assert_eq!(upper.to_text(), upper.to_string());
        assert_eq!(upper.heap_bytes(), 35);
    }

    #[test]
    fn inline_lists_are_no_bigger_than_their_element() {
        use crate::detectors::session::SessionFp;
        use crate::record::Record;
        use loginwatch_storage::InlineList;
        use std::mem::size_of;
        assert_eq!(size_of::<InlineList<Record>>(), size_of::<Record>());
        assert_eq!(size_of::<InlineList<SessionFp>>(), size_of::<SessionFp>());
    }

    proptest! {
        #[test]
        fn round_trips(s in "\\PC{0,40}") {
            let e = EventId::new(&s);
            prop_assert_eq!(e.to_string(), s.clone());
            prop_assert!(e.is(&s));
        }
    }
}
