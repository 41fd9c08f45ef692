//! Compact in-memory storage for loginwatch's state, where every byte is paid a million times
//! and every cache miss once per event. The only copy of each mechanism, and every `unsafe`
//! of the state layer, live here:
//!
//! - [`slab`]: [`SlabMap`], entries packed densely in a `Vec` (removal moves the last one into
//!   the gap) with a newest time each, found through a hashbrown table of `u32` positions;
//!   eviction of the least recently seen by those times ([`least_recent_cutoff`]).
//! - [`list`]: [`InlineList`], a list whose only element lives inline.
//! - [`text`]: [`InlineStr`], a string stored inline up to 22 bytes.
//! - [`names`]: [`Names`], one shared copy of each name (cities, organisations).
//! - [`pack`]: fixed-width counters and bit masks packed below a byte each, with size pins.
//! - [`hash`]: [`stable_hash`], the one hash whose values may be stored (saved state).
//! - [`hint`]: [`hint::prefetch`], the prefetch instruction for the grouped hot paths.
//! - [`HeapSize`]: byte accounting for the memory bounds.

pub mod hash;
pub mod hint;
pub mod list;
pub mod names;
pub mod pack;
pub mod slab;
pub mod text;

pub use hash::{stable_hash, stable_hash32};
pub use list::InlineList;
pub use names::Names;
pub use slab::{least_recent_cutoff, SlabMap};
pub use text::InlineStr;

/// Bytes a value owns on the heap, for the documented memory bounds (estimates: allocator
/// overhead is not counted).
pub trait HeapSize {
    /// Heap bytes owned by `self` (0 for inline values).
    fn heap_bytes(&self) -> usize;
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_bytes)
    }
}

impl<T: HeapSize> HeapSize for Box<T> {
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<T>() + (**self).heap_bytes()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(T::heap_bytes).sum::<usize>()
    }
}
