//! Seeding of random draws.
//!
//! A random op draws its parameters from a generator seeded by (graph seed, case id, output
//! index, node name). Nothing else goes in: not the execution order, not the thread, not the
//! time. So one case's draws are the same whether it runs first or last, on 1 thread or 64,
//! and any output can be replayed from its manifest line.

use crate::hash::Fnv1a;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator handed to random ops.
pub type Rng = ChaCha8Rng;

/// Where a draw happens: everything its seed depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DrawKey<'a> {
    pub graph_seed: u64,
    pub case_id: &'a str,
    pub output_index: u64,
    pub node: &'a str,
}

/// The generator for one node's draw in one output of one case.
#[must_use]
pub fn rng_for(key: &DrawKey<'_>) -> Rng {
    let mut h = Fnv1a::default();
    h.write(&key.graph_seed.to_le_bytes());
    h.write(key.case_id.as_bytes());
    h.write(&[0xff]);
    h.write(&key.output_index.to_le_bytes());
    h.write(key.node.as_bytes());
    let mut seed = [0u8; 32];
    // Four differently salted hashes fill the 256-bit ChaCha key.
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        let mut salted = h;
        salted.write(&[i as u8]);
        chunk.copy_from_slice(&splitmix64(salted.finish()).to_le_bytes());
    }
    Rng::from_seed(seed)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    fn key(node: &str, out: u64) -> DrawKey<'_> {
        DrawKey { graph_seed: 7, case_id: "case1", output_index: out, node }
    }

    #[test]
    fn same_key_same_draws_and_different_keys_differ() {
        let a: u64 = rng_for(&key("flip", 0)).random();
        let b: u64 = rng_for(&key("flip", 0)).random();
        let c: u64 = rng_for(&key("flip", 1)).random();
        let d: u64 = rng_for(&key("rotate", 0)).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn seed_is_stable_across_releases() {
        // Pinned so that a change of hashing (which would silently change every augmentation
        // ever produced) fails here first.
        let v: u64 = rng_for(&key("flip", 0)).random();
        assert_eq!(v, PINNED);
    }
    const PINNED: u64 = 6_243_620_548_612_022_140;
}
