//! [`stable_hash`]: XXH3, the one hash of the state layer whose values are stored (session
//! and device fingerprints, network keys in cooldown entries, shard choice) and so must be
//! the same in every process and version. In-memory tables use hashbrown's seeded hasher
//! instead (keys come from the input; a fixed seed would invite collisions by choice).

/// XXH3-64 of `bytes`: fixed, documented, the same on every platform.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// [`stable_hash`] folded to 32 bits, never 0 (0 means "none" where it is stored).
pub fn stable_hash32(bytes: &[u8]) -> u32 {
    let h = stable_hash(bytes);
    ((h ^ (h >> 32)) as u32) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_pinned() {
        // Saved state holds these values: a different hash would break every saved file.
        assert_eq!(stable_hash(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(stable_hash32(b"") & 1, 1);
        assert_ne!(stable_hash32(b"a"), stable_hash32(b"b"));
    }
}
