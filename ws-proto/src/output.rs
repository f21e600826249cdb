//! The bytes waiting to be written, for vectored writes without a copy.
//!
//! [`Connection::poll_transmit`](crate::Connection::poll_transmit) copies every byte
//! into a `Vec`, which is simple but costs a copy of every payload. A server sends
//! payloads unmasked, exactly as the application handed them over, so the large ones
//! need not be copied at all: [`OutputBuffer`] keeps them as the application's
//! [`Bytes`] (a reference count, not a copy) between the small copied pieces (frame
//! headers, control frames, small and masked payloads), and hands the lot to the
//! transport as [`IoSlice`]s for one vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::Bytes;

/// Payloads at least this long are referenced rather than copied: below it, a copy is
/// cheaper than one more slice in a vectored write.
pub(crate) const SHARE_MIN: usize = 4096;

/// One run of bytes in write order.
#[derive(Debug)]
enum Segment {
    /// `copied[start..end]`.
    Copied { start: usize, end: usize },
    /// A payload referenced as it is.
    Shared(Bytes),
}

/// Bytes to write, in order, partly copied and partly referenced: fill it with
/// [`Connection::poll_transmit_into`](crate::Connection::poll_transmit_into), write
/// [`io_slices`](Self::io_slices) with a vectored write, and
/// [`advance`](Self::advance) by what the transport took.
#[derive(Debug, Default)]
pub struct OutputBuffer {
    copied: Vec<u8>,
    segments: VecDeque<Segment>,
    /// Bytes of the front segment already written.
    front_written: usize,
    /// Bytes not yet written.
    len: usize,
}

impl OutputBuffer {
    /// An empty buffer; it allocates when first filled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes not yet written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether everything was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `dst` with the unwritten bytes, in order, and returns how many slices it
    /// used. Fewer slices than `dst` has room for means everything is in them.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let mut skip = self.front_written;
        for segment in &self.segments {
            if n == dst.len() {
                break;
            }
            let bytes = match segment {
                Segment::Copied { start, end } => &self.copied[*start..*end],
                Segment::Shared(b) => &b[..],
            };
            dst[n] = IoSlice::new(&bytes[skip..]);
            skip = 0;
            n += 1;
        }
        n
    }

    /// The first unwritten run of bytes (for a transport without vectored writes).
    pub fn first_slice(&self) -> &[u8] {
        match self.segments.front() {
            Some(Segment::Copied { start, end }) => &self.copied[start + self.front_written..*end],
            Some(Segment::Shared(b)) => &b[self.front_written..],
            None => &[],
        }
    }

    /// Records that the transport took `n` more bytes.
    ///
    /// # Panics
    ///
    /// If `n` is more than [`len`](Self::len): a transport never takes more than it is
    /// given.
    pub fn advance(&mut self, mut n: usize) {
        assert!(n <= self.len, "advanced past the end of the output");
        self.len -= n;
        while n > 0 {
            let Some(front) = self.segments.front() else {
                break;
            };
            let size = match front {
                Segment::Copied { start, end } => end - start,
                Segment::Shared(b) => b.len(),
            };
            let left = size - self.front_written;
            if n < left {
                self.front_written += n;
                return;
            }
            n -= left;
            self.front_written = 0;
            self.segments.pop_front();
        }
        if self.segments.is_empty() {
            // Start over at the front of the copy area, keeping its capacity.
            self.copied.clear();
        }
    }

    /// Drops everything not yet written (for a transport that is gone or aborted).
    pub fn clear(&mut self) {
        self.copied.clear();
        self.segments.clear();
        self.front_written = 0;
        self.len = 0;
    }

    /// Gives the memory back (an idle connection's buffers cost nothing). Only when
    /// empty: unwritten bytes are never dropped.
    pub fn shrink(&mut self) {
        if self.is_empty() {
            self.copied = Vec::new();
            self.segments = VecDeque::new();
        }
    }

    /// How many bytes were copied in (written or not) since the buffer was last empty.
    pub(crate) fn copied_len(&self) -> usize {
        self.copied.len()
    }

    /// Memory held, in bytes (capacity, not contents).
    pub fn capacity(&self) -> usize {
        self.copied.capacity() + self.segments.capacity() * size_of::<Segment>()
    }
}

/// Where [`Connection`](crate::Connection)'s encoder puts bytes: a plain `Vec` (every
/// byte copied) or an [`OutputBuffer`] (large payloads referenced).
pub(crate) trait Sink {
    /// Appends through `f`, which writes at the end of a `Vec`.
    fn append(&mut self, f: impl FnOnce(&mut Vec<u8>));
    /// Appends a payload that will not be modified.
    fn share(&mut self, bytes: Bytes);
    /// Whether a payload of `len` bytes would be referenced rather than copied.
    fn shares(&self, len: usize) -> bool;
}

impl Sink for Vec<u8> {
    fn append(&mut self, f: impl FnOnce(&mut Self)) {
        f(self);
    }

    fn share(&mut self, bytes: Bytes) {
        self.extend_from_slice(&bytes);
    }

    fn shares(&self, _len: usize) -> bool {
        false
    }
}

impl Sink for OutputBuffer {
    fn append(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let start = self.copied.len();
        f(&mut self.copied);
        let end = self.copied.len();
        if end == start {
            return;
        }
        self.len += end - start;
        match self.segments.back_mut() {
            Some(Segment::Copied { end: last, .. }) if *last == start => *last = end,
            _ => self.segments.push_back(Segment::Copied { start, end }),
        }
    }

    fn shares(&self, len: usize) -> bool {
        len >= SHARE_MIN
    }

    fn share(&mut self, bytes: Bytes) {
        if !self.shares(bytes.len()) {
            self.append(|v| v.extend_from_slice(&bytes));
        } else {
            self.len += bytes.len();
            self.segments.push_back(Segment::Shared(bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(out: &OutputBuffer) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 64];
        let n = out.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn keeps_order_across_copied_and_shared_runs_and_partial_advances() {
        let big = Bytes::from(vec![7u8; SHARE_MIN]);
        let mut out = OutputBuffer::new();
        out.append(|v| v.extend_from_slice(b"head"));
        out.share(big.clone());
        out.share(Bytes::from_static(b"small"));
        out.append(|v| v.extend_from_slice(b"tail"));
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"smalltail");
        assert_eq!(out.len(), expected.len());
        // Three runs: "head", the shared payload, "smalltail" merged into one copy.
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(out.io_slices(&mut slices), 3);
        assert_eq!(gather(&out), expected);

        let mut taken = 0;
        for step in [1, 3, 100, SHARE_MIN - 100, 2, 1000] {
            let step = step.min(out.len());
            assert!(step > 0, "the steps end exactly at the end");
            assert_eq!(out.first_slice()[0], expected[taken]);
            out.advance(step);
            taken += step;
            assert_eq!(gather(&out), expected[taken..]);
        }
        assert!(out.is_empty());
        assert!(out.first_slice().is_empty());
    }

    #[test]
    fn io_slices_stops_at_the_room_given() {
        let mut out = OutputBuffer::new();
        for _ in 0..3 {
            out.append(|v| v.push(1));
            out.share(Bytes::from(vec![2u8; SHARE_MIN]));
        }
        let mut slices = [IoSlice::new(&[]); 2];
        assert_eq!(out.io_slices(&mut slices), 2);
        assert_eq!(slices[0].len(), 1);
        assert_eq!(slices[1].len(), SHARE_MIN);
    }

    #[test]
    fn shrink_gives_memory_back_only_when_empty() {
        let mut out = OutputBuffer::new();
        out.append(|v| v.extend_from_slice(&[0; 1000]));
        out.shrink();
        assert_eq!(out.len(), 1000);
        out.advance(1000);
        assert!(out.capacity() >= 1000);
        out.shrink();
        assert_eq!(out.capacity(), 0);
    }

    #[test]
    #[should_panic(expected = "advanced past the end")]
    fn advancing_past_the_end_is_a_bug() {
        let mut out = OutputBuffer::new();
        out.append(|v| v.push(1));
        out.advance(2);
    }
}
