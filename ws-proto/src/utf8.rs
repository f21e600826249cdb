//! Incremental UTF-8 validation and the validated text type.
//!
//! A text message may arrive split across frames, and a frame across reads, with a code
//! point cut anywhere. Autobahn 6.4.x expects the connection to fail at the first byte
//! that can no longer start or continue valid UTF-8, not at the end of the message, so
//! the validator is fed every piece as it arrives and remembers at most three bytes of
//! an unfinished code point in between.

use std::fmt;
use std::str::Utf8Error;

use bytes::Bytes;

/// An incremental UTF-8 validator.
#[derive(Debug, Default, Clone)]
pub struct Utf8Validator {
    /// The start of a code point cut by the end of the last piece (at most 3 bytes).
    pending: [u8; 4],
    pending_len: usize,
}

/// The input is not UTF-8 (or can no longer become UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates the next piece of the text. Fails as soon as a byte makes the text
    /// invalid, whatever comes after it.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        // First finish the code point the last piece cut, one byte at a time.
        while self.pending_len > 0 {
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(());
            };
            input = rest;
            self.pending[self.pending_len] = byte;
            self.pending_len += 1;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {}
            }
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) => self.keep_tail(input, e),
        }
    }

    fn keep_tail(&mut self, input: &[u8], e: Utf8Error) -> Result<(), InvalidUtf8> {
        if e.error_len().is_some() {
            return Err(InvalidUtf8);
        }
        // `error_len() == None` means the input ends inside a code point that is valid
        // so far: keep that prefix (1 to 3 bytes) for the next piece.
        let tail = &input[e.valid_up_to()..];
        self.pending[..tail.len()].copy_from_slice(tail);
        self.pending_len = tail.len();
        Ok(())
    }

    /// Whether the text seen so far ends on a code point boundary (required at the end
    /// of a message).
    pub fn is_complete(&self) -> bool {
        self.pending_len == 0
    }

    /// Forgets everything, for the next message.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }
}

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl std::error::Error for InvalidUtf8 {}

/// Text that is known to be UTF-8, held as [`Bytes`] so it can share the buffer it was
/// received in instead of being copied into a `String`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Checks `bytes` and wraps them.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, InvalidUtf8> {
        std::str::from_utf8(&bytes).map_err(|_| InvalidUtf8)?;
        Ok(Self(bytes))
    }

    /// Text from a `&'static str`, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // The constructors only ever wrap validated bytes, so this cannot fail; checking
        // again keeps the crate free of `unsafe` (std's validator runs at many GB/s on
        // ASCII). Whether `from_utf8_unchecked` pays off is for the benchmarks to decide.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The bytes of the text.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Wraps bytes the caller has already validated (crate-internal).
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = InvalidUtf8;
    fn try_from(bytes: Bytes) -> Result<Self, InvalidUtf8> {
        Self::try_from_bytes(bytes)
    }
}

impl std::ops::Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<bool, InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut at = 0;
        for &cut in cuts {
            v.feed(&bytes[at..cut])?;
            at = cut;
        }
        v.feed(&bytes[at..])?;
        Ok(v.is_complete())
    }

    #[test]
    fn agrees_with_std_for_every_two_way_split() {
        let samples: &[&[u8]] = &[
            "κόσμε".as_bytes(),
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "\u{10FFFF}\u{FFFF}a\u{7FF}".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"\xc0\xaf",
            b"ab\xe0\x80",
            b"\xf0\x9f\x98",
        ];
        for s in samples {
            let whole = std::str::from_utf8(s).is_ok();
            for cut in 0..=s.len() {
                let got = valid_in_pieces(s, &[cut]).unwrap_or(false);
                assert_eq!(got, whole, "{s:?} cut at {cut}");
            }
            let every_byte: Vec<usize> = (1..s.len()).collect();
            assert_eq!(valid_in_pieces(s, &every_byte).unwrap_or(false), whole);
        }
    }

    #[test]
    fn fails_at_the_first_bad_byte_not_at_the_end() {
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        // A surrogate's first two bytes can never become valid.
        assert_eq!(v.feed(b"\xed\xa0"), Err(InvalidUtf8));
        let mut v = Utf8Validator::new();
        // 0xF4 0x90 is already above U+10FFFF.
        assert_eq!(v.feed(b"\xf4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8));
    }

    #[test]
    fn truncated_code_point_is_incomplete() {
        let mut v = Utf8Validator::new();
        v.feed(b"a\xe2\x82").unwrap();
        assert!(!v.is_complete());
        v.feed(b"\xac").unwrap();
        assert!(v.is_complete());
    }

    #[test]
    fn utf8_bytes_checks_and_derefs() {
        assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(b"\xff")).is_err());
        let t = Utf8Bytes::try_from_bytes(Bytes::from_static("héllo".as_bytes())).unwrap();
        assert_eq!(t, "héllo");
        assert_eq!(t.len(), 6);
        assert_eq!(format!("{t:?}"), "\"héllo\"");
    }
}
