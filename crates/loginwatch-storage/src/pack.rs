//! Fixed-width values packed below a byte per field, for state paid per account: what
//! detectors keep as plain arrays and masks, stored smaller. Each type's size is pinned by a
//! test, and each is saved as its plain value (the packing is not part of saved records).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bits per count of [`HourCounts`].
const COUNT_BITS: usize = 13;
/// The largest count an [`HourCounts`] holds (8191); larger ones saturate.
pub const HOUR_COUNT_MAX: u16 = (1 << COUNT_BITS) - 1;

/// 24 counts of up to [`HOUR_COUNT_MAX`], 13 bits each: 39 bytes instead of 48.
#[derive(Clone, PartialEq, Eq)]
pub struct HourCounts([u8; 39]);

impl Default for HourCounts {
    fn default() -> Self {
        HourCounts([0; 39])
    }
}

impl HourCounts {
    /// The 24 counts.
    pub fn get(&self) -> [u16; 24] {
        std::array::from_fn(|i| {
            let (byte, shift) = (i * COUNT_BITS / 8, i * COUNT_BITS % 8);
            let word = (0..3)
                .filter_map(|k| self.0.get(byte + k).map(|b| u32::from(*b) << (8 * k)))
                .fold(0, |w, b| w | b);
            ((word >> shift) & u32::from(HOUR_COUNT_MAX)) as u16
        })
    }

    /// Stores `counts`, each saturated at [`HOUR_COUNT_MAX`].
    pub fn set(&mut self, counts: &[u16; 24]) {
        self.0 = [0; 39];
        for (i, &n) in counts.iter().enumerate() {
            let (byte, shift) = (i * COUNT_BITS / 8, i * COUNT_BITS % 8);
            let bits = u32::from(n.min(HOUR_COUNT_MAX)) << shift;
            for (k, b) in self.0.iter_mut().skip(byte).take(3).enumerate() {
                *b |= (bits >> (8 * k)) as u8;
            }
        }
    }

    fn of(counts: &[u16; 24]) -> Self {
        let mut h = HourCounts::default();
        h.set(counts);
        h
    }
}

impl std::fmt::Debug for HourCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for HourCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for HourCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <[u16; 24]>::deserialize(d).map(|c| HourCounts::of(&c))
    }
}

/// A set of the 24 hours of a day in 3 bytes (a `u32` would pad a 4-aligned struct).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct HourMask([u8; 3]);

impl HourMask {
    /// Bit `h` set: hour `h` is in the set.
    pub fn bits(self) -> u32 {
        let [a, b, c] = self.0;
        u32::from_le_bytes([a, b, c, 0])
    }

    /// The set of `bits`' low 24 bits.
    pub fn from_bits(bits: u32) -> Self {
        let [a, b, c, _] = bits.to_le_bytes();
        HourMask([a, b, c])
    }

    /// Adds hour `h` (0–23; others are ignored).
    pub fn insert(&mut self, h: u32) {
        if h < 24 {
            *self = HourMask::from_bits(self.bits() | 1 << h);
        }
    }
}

impl std::fmt::Debug for HourMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:024b}", self.bits())
    }
}

impl Serialize for HourMask {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.bits().serialize(s)
    }
}

impl<'de> Deserialize<'de> for HourMask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(HourMask::from_bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_are_pinned() {
        assert_eq!(std::mem::size_of::<HourCounts>(), 39);
        assert_eq!(std::mem::size_of::<HourMask>(), 3);
    }

    #[test]
    fn mask_holds_the_day() {
        let mut m = HourMask::default();
        for h in [0, 7, 23, 24, 99] {
            m.insert(h);
        }
        assert_eq!(m.bits(), 1 | 1 << 7 | 1 << 23);
        let bytes = postcard::to_allocvec(&m).unwrap();
        assert_eq!(postcard::from_bytes::<HourMask>(&bytes).unwrap(), m);
    }

    proptest! {
        #[test]
        fn counts_round_trip(counts in proptest::array::uniform24(0u16..=HOUR_COUNT_MAX)) {
            let h = HourCounts::of(&counts);
            prop_assert_eq!(h.get(), counts);
            let bytes = postcard::to_allocvec(&h).unwrap();
            prop_assert_eq!(postcard::from_bytes::<HourCounts>(&bytes).unwrap(), h);
        }
    }
}
