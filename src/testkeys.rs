//! Deterministic key-shaped strings for tests and benchmarks, and a reader that hands its
//! bytes over a few at a time (to put chunk boundaries and short reads everywhere).
//!
//! The repository must scan clean, so no test holds a key literal: tests build keys at run time
//! from this seeded generator. The same seed gives the same keys on every machine, which keeps
//! snapshots and fingerprints stable. Not for anything but tests: the generator is not
//! cryptographic.

const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// A small xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; zero is mapped to a fixed non-zero state).
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    fn pick(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }

    /// `len` random base62 characters.
    pub fn base62(&mut self, len: usize) -> String {
        self.pick(BASE62, len)
    }

    /// `len` random lower-case hex digits.
    pub fn hex(&mut self, len: usize) -> String {
        self.pick(HEX, len)
    }

    /// A live-prefixed key with a 32-character base62 body.
    pub fn live_key(&mut self) -> String {
        format!("nm_{}_{}", "live", self.base62(32))
    }

    /// A test-prefixed key with a 32-character base62 body.
    pub fn test_key(&mut self) -> String {
        format!("nm_{}_{}", "test", self.base62(32))
    }
}

/// A reader over `.0` that returns at most `.1` bytes per call, to exercise short reads.
#[derive(Debug)]
pub struct Trickle<'a>(pub &'a [u8], pub usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
