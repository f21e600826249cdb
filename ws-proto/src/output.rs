//! The bytes waiting to be written, for vectored writes without a copy.
//!
//! [`Connection::poll_transmit`](crate::Connection::poll_transmit) copies every byte
//! into a `Vec`, which is simple but costs a copy of every payload. A server sends
//! payloads unmasked, exactly as the application handed them over, so the large ones
//! need not be copied at all: [`OutputBuffer`] keeps them as the application's
//! [`Bytes`] (a reference count, not a copy) between the small copied pieces (frame
//! headers, control frames, small and masked payloads), and hands the lot to the
//! transport as [`IoSlice`]s for one vectored write. A client's large masked copies
//! can go into buffers borrowed from a [`BufferPool`] instead, shared by the
//! connections of a thread.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::Bytes;

use crate::frame::MAX_HEADER_LEN;
use crate::mask::extend_masked;

/// Payloads at least this long are referenced rather than copied: below it, a copy is
/// cheaper than one more slice in a vectored write.
pub(crate) const SHARE_MIN: usize = 4096;

/// Masked copies at least this long go into a buffer of their own from the
/// [`BufferPool`], when the [`OutputBuffer`] has one.
pub(crate) const POOLED_MIN: usize = 64 << 10;

/// Where an [`OutputBuffer`] borrows the memory for a large masked copy (a client's
/// payload of 64 KiB or more that the application still references) and gives it back
/// once written.
///
/// Without one, each buffer keeps its own copy area as large as its largest message,
/// and many connections sending large messages each write into memory of their own,
/// cold by the time it is written again: 64 connections of 1 MiB messages fill 64 MiB,
/// more than a server CPU's last-level cache. With a pool that keeps a few buffers per
/// thread, the connections on a thread take turns with the same warm ones (the async
/// loop of the `drive` feature does this; measured in BENCHMARKS.md).
pub trait BufferPool: Sync {
    /// A buffer, empty, to copy at least `len` bytes into, if the pool has one; the
    /// caller allocates otherwise.
    fn take(&self, len: usize) -> Option<Vec<u8>>;
    /// A buffer whose bytes were written; the pool keeps it or drops it.
    fn give(&self, buf: Vec<u8>);
}

/// One run of bytes in write order.
#[derive(Debug)]
enum Segment {
    /// `copied[start..end]`.
    Copied { start: usize, end: usize },
    /// A payload referenced as it is.
    Shared(Bytes),
    /// A large masked copy in a buffer of its own, from the pool and given back to it.
    Owned(Vec<u8>),
}

impl Segment {
    fn bytes<'a>(&'a self, copied: &'a [u8]) -> &'a [u8] {
        match self {
            Self::Copied { start, end } => &copied[*start..*end],
            Self::Shared(b) => b,
            Self::Owned(v) => v,
        }
    }
}

/// Bytes to write, in order, partly copied and partly referenced: fill it with
/// [`Connection::poll_transmit_into`](crate::Connection::poll_transmit_into), write
/// [`io_slices`](Self::io_slices) with a vectored write, and
/// [`advance`](Self::advance) by what the transport took.
#[derive(Default)]
pub struct OutputBuffer {
    copied: Vec<u8>,
    segments: VecDeque<Segment>,
    /// Bytes of the front segment already written.
    front_written: usize,
    /// Bytes not yet written.
    len: usize,
    /// Bytes in `Owned` segments since the buffer was last empty.
    owned: usize,
    pool: Option<&'static dyn BufferPool>,
}

impl std::fmt::Debug for OutputBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputBuffer")
            .field("len", &self.len)
            .field("segments", &self.segments.len())
            .field("pooled", &self.pool.is_some())
            .finish()
    }
}

impl OutputBuffer {
    /// An empty buffer; it allocates when first filled.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer that takes the memory for large masked copies from `pool` and
    /// gives it back once written.
    pub fn with_pool(pool: &'static dyn BufferPool) -> Self {
        Self {
            pool: Some(pool),
            ..Self::default()
        }
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
            dst[n] = IoSlice::new(&segment.bytes(&self.copied)[skip..]);
            skip = 0;
            n += 1;
        }
        n
    }

    /// The first unwritten run of bytes (for a transport without vectored writes).
    pub fn first_slice(&self) -> &[u8] {
        match self.segments.front() {
            Some(segment) => &segment.bytes(&self.copied)[self.front_written..],
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
            let left = front.bytes(&self.copied).len() - self.front_written;
            if n < left {
                self.front_written += n;
                return;
            }
            n -= left;
            self.front_written = 0;
            if let (Some(Segment::Owned(buf)), Some(pool)) = (self.segments.pop_front(), self.pool)
            {
                pool.give(buf);
            }
        }
        if self.segments.is_empty() {
            // Start over at the front of the copy area, keeping its capacity.
            self.copied.clear();
            self.owned = 0;
        }
    }

    /// Drops everything not yet written (for a transport that is gone or aborted).
    pub fn clear(&mut self) {
        self.copied.clear();
        self.segments.clear();
        self.front_written = 0;
        self.len = 0;
        self.owned = 0;
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
        self.copied.len() + self.owned
    }

    /// Memory held, in bytes (capacity, not contents).
    pub fn capacity(&self) -> usize {
        let owned: usize = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Owned(v) => v.capacity(),
                _ => 0,
            })
            .sum();
        self.copied.capacity() + owned + self.segments.capacity() * size_of::<Segment>()
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
    /// Appends `src` masked with `key` from `offset` bytes into the payload.
    fn append_masked(&mut self, src: &[u8], key: [u8; 4], offset: usize) {
        self.append(|v| extend_masked(v, src, key, offset));
    }
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

    fn append_masked(&mut self, src: &[u8], key: [u8; 4], offset: usize) {
        let Some(pool) = self.pool.filter(|_| src.len() >= POOLED_MIN) else {
            self.append(|v| extend_masked(v, src, key, offset));
            return;
        };
        // The frame's header, just copied, moves in front of the payload: the frame
        // stays one slice, one plain write when nothing else is queued.
        let head = match self.segments.back() {
            Some(&Segment::Copied { start, end })
                if end == self.copied.len() && end - start <= MAX_HEADER_LEN =>
            {
                self.segments.pop_back();
                start..end
            }
            _ => 0..0,
        };
        let mut buf = pool.take(head.len() + src.len()).unwrap_or_default();
        buf.clear();
        buf.reserve_exact(head.len() + src.len());
        buf.extend_from_slice(&self.copied[head.clone()]);
        self.copied.truncate(self.copied.len() - head.len());
        extend_masked(&mut buf, src, key, offset);
        self.len += src.len();
        self.owned += buf.len();
        self.segments.push_back(Segment::Owned(buf));
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

    /// A pool that counts what it is given, for one test.
    struct Counting {
        kept: std::sync::Mutex<Vec<Vec<u8>>>,
    }

    impl BufferPool for Counting {
        fn take(&self, len: usize) -> Option<Vec<u8>> {
            let mut kept = self.kept.lock().unwrap();
            let at = kept.iter().position(|b| b.capacity() >= len)?;
            Some(kept.remove(at))
        }
        fn give(&self, buf: Vec<u8>) {
            self.kept.lock().unwrap().push(buf);
        }
    }

    #[test]
    fn large_masked_copies_borrow_from_the_pool_and_go_back_once_written() {
        static POOL: Counting = Counting {
            kept: std::sync::Mutex::new(Vec::new()),
        };
        let key = [1, 2, 3, 4];
        let payload: Vec<u8> = (0..POOLED_MIN + 10).map(|i| i as u8).collect();
        let mut expected = b"hd".to_vec();
        let mut masked = payload.clone();
        crate::mask::apply_mask(&mut masked, key, 0);
        expected.extend_from_slice(&masked);
        expected.extend_from_slice(b"tl");

        let mut out = OutputBuffer::with_pool(&POOL);
        for round in 0..3 {
            out.append(|v| v.extend_from_slice(b"hd"));
            out.append_masked(&payload, key, 0);
            out.append(|v| v.extend_from_slice(b"tl"));
            assert_eq!(gather(&out), expected);
            // The header moved in front of the payload: one slice for the frame.
            assert_eq!(out.io_slices(&mut [IoSlice::new(&[]); 4]), 2);
            assert_eq!(out.copied_len(), expected.len(), "the masked copy counts");
            assert!(POOL.kept.lock().unwrap().is_empty(), "lent out");
            // Written in pieces that cut every run.
            for step in [1, 2, POOLED_MIN, 5, 100] {
                out.advance(step.min(out.len()));
            }
            assert!(out.is_empty());
            let kept = POOL.kept.lock().unwrap();
            assert_eq!(kept.len(), 1, "given back after round {round}");
            assert!(kept[0].capacity() >= payload.len());
        }
        // Small masked copies stay in the copy area.
        out.append_masked(&payload[..100], key, 0);
        assert_eq!(out.io_slices(&mut [IoSlice::new(&[]); 4]), 1);
        assert_eq!(POOL.kept.lock().unwrap().len(), 1);

        // Without a pool, a large copy goes into the copy area too.
        let mut plain = OutputBuffer::new();
        plain.append(|v| v.extend_from_slice(b"hd"));
        plain.append_masked(&payload, key, 0);
        plain.append(|v| v.extend_from_slice(b"tl"));
        assert_eq!(plain.io_slices(&mut [IoSlice::new(&[]); 4]), 1);
        assert_eq!(gather(&plain), expected);
    }

    #[test]
    fn a_header_partly_written_moves_with_its_payload_and_stays_partly_written() {
        static POOL: Counting = Counting {
            kept: std::sync::Mutex::new(Vec::new()),
        };
        let key = [9, 8, 7, 6];
        let payload = vec![5u8; POOLED_MIN];
        let mut expected = b"0123456789".to_vec();
        let mut masked = payload.clone();
        crate::mask::apply_mask(&mut masked, key, 0);
        expected.extend_from_slice(&masked);

        let mut out = OutputBuffer::with_pool(&POOL);
        out.append(|v| v.extend_from_slice(b"0123456789"));
        out.advance(3);
        out.append_masked(&payload, key, 0);
        assert_eq!(out.len(), expected.len() - 3);
        assert_eq!(gather(&out), expected[3..]);
        assert_eq!(out.first_slice(), &expected[3..]);
        out.advance(out.len());
        assert!(out.is_empty());
        assert_eq!(POOL.kept.lock().unwrap().len(), 1);
    }

    #[test]
    #[should_panic(expected = "advanced past the end")]
    fn advancing_past_the_end_is_a_bug() {
        let mut out = OutputBuffer::new();
        out.append(|v| v.push(1));
        out.advance(2);
    }
}
