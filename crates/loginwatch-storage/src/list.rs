//! [`InlineList`]: a list whose only element, the usual case (most accounts hold one window
//! record and one session, most networks one account), lives inline: no allocation, no
//! 24-byte `Vec` header. From two elements on it is a `Vec` whose growth the caller chooses;
//! it goes back inline when it shrinks to one. Order is a `Vec`'s (`insert`, `retain`,
//! `swap_remove` behave as theirs), which saved state relies on.

use crate::HeapSize;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// See the module docs.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum InlineList<T> {
    #[default]
    Empty,
    One(T),
    Many(Vec<T>),
}

impl<T> InlineList<T> {
    /// The elements, in order.
    pub fn as_slice(&self) -> &[T] {
        match self {
            InlineList::Empty => &[],
            InlineList::One(x) => std::slice::from_ref(x),
            InlineList::Many(v) => v,
        }
    }

    /// The elements, to update in place.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            InlineList::Empty => &mut [],
            InlineList::One(x) => std::slice::from_mut(x),
            InlineList::Many(v) => v,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, InlineList::Empty)
    }

    /// Element slots on the heap (0 while inline).
    pub fn heap_slots(&self) -> usize {
        match self {
            InlineList::Many(v) => v.capacity(),
            _ => 0,
        }
    }

    /// Slots in use or reserved: 1 inline, 0 when empty.
    pub fn capacity(&self) -> usize {
        match self {
            InlineList::Empty => 0,
            InlineList::One(_) => 1,
            InlineList::Many(v) => v.capacity(),
        }
    }

    /// Inserts `x` at `at` (clamped to the length). Going to the heap, the `Vec` gets room
    /// for exactly two; when full, it first grows by `grow(len)` (at least 1).
    pub fn insert(&mut self, at: usize, x: T, grow: impl FnOnce(usize) -> usize) {
        *self = match std::mem::take(self) {
            InlineList::Empty => InlineList::One(x),
            InlineList::One(first) => {
                let mut v = Vec::with_capacity(2);
                v.push(first);
                v.insert(at.min(1), x);
                InlineList::Many(v)
            }
            InlineList::Many(mut v) => {
                if v.len() == v.capacity() {
                    v.reserve_exact(grow(v.len()).max(1));
                }
                v.insert(at.min(v.len()), x);
                InlineList::Many(v)
            }
        };
    }

    /// Appends `x` (see [`InlineList::insert`]).
    pub fn push(&mut self, x: T, grow: impl FnOnce(usize) -> usize) {
        self.insert(self.len(), x, grow);
    }

    /// Removes the elements in `range` (clamped to the length).
    pub fn remove_range(&mut self, range: std::ops::Range<usize>) {
        let len = self.len();
        let (from, to) = (range.start.min(len), range.end.min(len));
        if from >= to {
            return;
        }
        match self {
            InlineList::Many(v) => {
                v.drain(from..to);
                self.inline_or_shrink();
            }
            _ => *self = InlineList::Empty,
        }
    }

    /// Removes element `i`, replacing it with the last one (nothing when out of range).
    pub fn swap_remove(&mut self, i: usize) {
        match self {
            InlineList::Many(v) if i < v.len() => {
                v.swap_remove(i);
                self.inline_or_shrink();
            }
            InlineList::One(_) if i == 0 => *self = InlineList::Empty,
            _ => {}
        }
    }

    /// Keeps the elements `keep` accepts, in order; returns how many went. The heap shrinks
    /// to fit (or the list goes back inline) when any went.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> usize {
        let before = self.len();
        match self {
            InlineList::Empty => {}
            InlineList::One(x) => {
                if !keep(x) {
                    *self = InlineList::Empty;
                }
            }
            InlineList::Many(v) => {
                v.retain(|x| keep(x));
                if v.len() < before {
                    v.shrink_to_fit();
                    self.inline_or_shrink();
                }
            }
        }
        before - self.len()
    }

    /// Shrinks the heap capacity to `cap` (not below the length).
    pub fn shrink_to(&mut self, cap: usize) {
        if let InlineList::Many(v) = self {
            v.shrink_to(cap);
        }
    }

    /// Back inline once at most one element is left; gives back a half-empty heap.
    fn inline_or_shrink(&mut self) {
        if let InlineList::Many(v) = self {
            if v.len() <= 1 {
                *self = v.pop().map_or(InlineList::Empty, InlineList::One);
            } else if v.capacity() > 2 * v.len() {
                v.shrink_to_fit();
            }
        }
    }
}

impl<T> From<Vec<T>> for InlineList<T> {
    /// The list of `v`'s elements, the heap sized to fit.
    fn from(mut v: Vec<T>) -> Self {
        match v.len() {
            0 => InlineList::Empty,
            1 => v.pop().map_or(InlineList::Empty, InlineList::One),
            _ => {
                v.shrink_to_fit();
                InlineList::Many(v)
            }
        }
    }
}

impl<T: HeapSize> HeapSize for InlineList<T> {
    fn heap_bytes(&self) -> usize {
        self.heap_slots() * std::mem::size_of::<T>()
            + self.as_slice().iter().map(T::heap_bytes).sum::<usize>()
    }
}

/// Saved as a plain sequence: the layout is not part of the record.
impl<T: Serialize> Serialize for InlineList<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for InlineList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(InlineList::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_inline_and_back() {
        let mut l: InlineList<u32> = InlineList::default();
        l.insert(0, 2, |n| n / 2);
        assert!(matches!(l, InlineList::One(2)) && l.heap_slots() == 0);
        l.insert(0, 1, |n| n / 2);
        l.insert(2, 3, |n| n / 2);
        assert_eq!(l.as_slice(), [1, 2, 3]);
        assert_eq!(l.capacity(), 3);
        l.remove_range(0..2);
        assert!(matches!(l, InlineList::One(3)));
        l.push(4, |n| n / 2);
        l.swap_remove(0);
        assert_eq!(l.as_slice(), [4]);
        l.swap_remove(0);
        assert!(l.is_empty() && l.as_slice().is_empty());
        for x in [1, 2, 3, 4] {
            l.push(x, |_| 1);
        }
        assert_eq!(l.retain(|x| x % 2 == 0), 2);
        assert_eq!((l.as_slice(), l.capacity()), (&[2, 4][..], 2));
        l.retain(|x| *x > 2);
        assert!(matches!(l, InlineList::One(4)));
        l.retain(|_| false);
        assert!(l.is_empty());
    }

    #[test]
    fn saves_as_a_sequence_and_keeps_order() {
        for v in [vec![], vec![7u32], vec![3, 1, 2]] {
            let list = InlineList::from(v.clone());
            let bytes = postcard::to_allocvec(&list).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(&v).unwrap());
            let back: InlineList<u32> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, list);
            assert_eq!(back.as_slice(), v);
        }
    }
}
