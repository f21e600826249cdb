//! Where masking keys and handshake nonces come from.
//!
//! RFC 6455 §5.3 wants masking keys an intermediary cannot predict, and §4.1 a random
//! `Sec-WebSocket-Key`, so the default is the operating system's CSPRNG. The source is a
//! parameter (the OCaml `Client of (int -> string)`) so that tests and fuzzing can be
//! deterministic.

/// A source of random bytes.
///
/// `Send + Sync` so that a connection holding one can move between threads and be
/// borrowed across an `.await` in a multi-threaded runtime.
pub trait Entropy: Send + Sync {
    /// Fills `dst` with random bytes.
    fn fill(&mut self, dst: &mut [u8]);
}

/// Any `FnMut(&mut [u8]) + Send + Sync` closure is a source.
impl<F: FnMut(&mut [u8]) + Send + Sync> Entropy for F {
    fn fill(&mut self, dst: &mut [u8]) {
        self(dst)
    }
}

/// The operating system's CSPRNG (`getrandom`), read 256 bytes at a time so that a
/// client does not make a system call per frame for its 4-byte masking keys.
#[derive(Debug, Clone)]
pub struct OsEntropy {
    pool: [u8; 256],
    used: usize,
}

impl OsEntropy {
    /// A source with an empty pool (filled on first use).
    pub fn new() -> Self {
        Self {
            pool: [0; 256],
            used: 256,
        }
    }
}

impl Default for OsEntropy {
    fn default() -> Self {
        Self::new()
    }
}

impl Entropy for OsEntropy {
    /// # Panics
    /// If the operating system cannot provide random bytes (`getrandom` failing on a
    /// supported platform); sending predictable masking keys instead would be worse.
    fn fill(&mut self, mut dst: &mut [u8]) {
        while !dst.is_empty() {
            if self.used == self.pool.len() {
                if let Err(e) = getrandom::fill(&mut self.pool) {
                    panic!("the OS random source failed: {e}");
                }
                self.used = 0;
            }
            let n = dst.len().min(self.pool.len() - self.used);
            dst[..n].copy_from_slice(&self.pool[self.used..self.used + n]);
            self.used += n;
            dst = &mut dst[n..];
        }
    }
}

/// A deterministic generator (SplitMix64) for tests, fuzzing and reproducible runs.
///
/// Not for production: its output is predictable from the seed.
#[derive(Debug, Clone)]
pub struct SeededEntropy(u64);

impl SeededEntropy {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Entropy for SeededEntropy {
    fn fill(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_entropy_refills_its_pool() {
        let mut e = OsEntropy::new();
        let mut big = [0u8; 1000];
        e.fill(&mut big);
        // 1000 zero bytes from a CSPRNG would be a one-in-2^8000 event.
        assert!(big.iter().any(|&b| b != 0));
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        e.fill(&mut a);
        e.fill(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn seeded_entropy_is_reproducible_and_closures_work() {
        let (mut a, mut b) = (SeededEntropy::new(5), SeededEntropy::new(5));
        let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        let mut counter = 0u8;
        let mut f = |dst: &mut [u8]| {
            for d in dst {
                counter += 1;
                *d = counter;
            }
        };
        let mut out = [0u8; 3];
        Entropy::fill(&mut f, &mut out);
        assert_eq!(out, [1, 2, 3]);
    }
}
