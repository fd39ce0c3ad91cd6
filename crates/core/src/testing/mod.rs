//! The deterministic harness and helpers that the crate's tests, the fuzz targets and the
//! benchmarks run on ([`sim`]: one edge's tiers; [`world`]: policy, scripted origin, clock;
//! [`cookie_parsers`]: how origins read `Cookie`); not meant for production use.
//!
//! Everything here is deterministic and performs no I/O, so a failing randomised test
//! reproduces from its seed alone.

pub mod cookie_parsers;
pub mod sim;
pub mod world;

/// A small xorshift64 generator (shifts 13, 7, 17) for no-panic and model-based tests.
///
/// The state must not be zero: a zero state only ever yields zero.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next value of the sequence (the new state).
    #[allow(clippy::should_implement_trait)] // endless: an `Option` would only add noise to callers
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n`, or 0 when `n` is 0. Draws exactly one value either way; never panics.
    pub fn below(&mut self, n: usize) -> usize {
        let r = self.next();
        match u64::try_from(n) {
            Ok(0) => 0,
            Ok(n) => usize::try_from(r % n).unwrap_or(0),
            Err(_) => usize::try_from(r).unwrap_or(0),
        }
    }

    /// A string of exactly `len` characters, each drawn from `alphabet` (bytes are read as
    /// Latin-1, so ASCII stays ASCII). Empty when `alphabet` is.
    pub fn text_of_len(&mut self, alphabet: &[u8], len: usize) -> String {
        if alphabet.is_empty() {
            return String::new();
        }
        (0..len).filter_map(|_| alphabet.get(self.below(alphabet.len())).copied().map(char::from)).collect()
    }

    /// A string of `0..=max_len` characters (the length drawn first), each drawn from
    /// `alphabet`, as [`XorShift::text_of_len`].
    pub fn text(&mut self, alphabet: &[u8], max_len: usize) -> String {
        let len = self.below(max_len.saturating_add(1));
        self.text_of_len(alphabet, len)
    }
}

/// The header fields the cache reads, requests and responses alike: the names randomised and
/// fuzzed header lists draw from, so that inputs exercise values rather than guess names.
pub const HEADER_NAMES: &[&str] = &[
    "cache-control",
    "cdn-cache-control",
    "cloudflare-cdn-cache-control",
    "pragma",
    "expires",
    "date",
    "age",
    "last-modified",
    "etag",
    "vary",
    "content-length",
    "content-encoding",
    "content-type",
    "content-range",
    "set-cookie",
    "cookie",
    "authorization",
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "accept-encoding",
    "accept",
    "accept-language",
    "cache-tag",
    "surrogate-key",
    "surrogate-control",
    "x-anonymous",
    "x-rulecache-ruleset",
    "x-rulecache-timestamp",
    "x-rulecache-signature",
    "location",
    "content-location",
    "host",
    "connection",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_pinned() {
        let mut rng = XorShift(1);
        assert_eq!(rng.next(), 1_082_269_761);
    }

    #[test]
    fn below_stays_in_range_and_tolerates_zero() {
        let mut rng = XorShift(7);
        for n in 0..50 {
            let v = rng.below(n);
            assert!(v < n.max(1));
        }
        assert_eq!(rng.below(0), 0);
        let _ = rng.below(usize::MAX);
    }

    #[test]
    fn text_uses_only_the_alphabet_and_respects_the_length() {
        let mut rng = XorShift(42);
        for _ in 0..200 {
            let s = rng.text(b"ab", 5);
            assert!(s.len() <= 5 && s.chars().all(|c| c == 'a' || c == 'b'), "{s:?}");
        }
        assert_eq!(rng.text_of_len(b"z", 3), "zzz");
        assert_eq!(rng.text_of_len(b"", 3), "");
        assert_eq!(rng.text(b"", usize::MAX), "");
    }
}
