//! The drive loop's [`BufferPool`]: a few buffers per thread, for the large masked
//! copies of the connections that thread runs.
//!
//! A client that sends a payload the application still references masks a copy of
//! it. Kept per connection, those copies fill as much memory as the connections
//! have large messages in flight, and each is cold when it is written into again: at
//! 64 connections of 1 MiB messages, the copy was 18.8 % of a client's samples, and
//! freeing each buffer once written instead (so that the allocator hands the same warm
//! memory to the next message) took the CPU time a message from 883 to 710 µs, at a
//! cost of 4-6 % at one connection, where the buffer went back to the allocator and
//! came out of it again for every message (BENCHMARKS.md). Connections on one thread
//! write one at a time, so they can take turns with the same few buffers, kept here,
//! without that cost.

use std::cell::RefCell;

use crate::BufferPool;

/// Memory kept per thread, in bytes of capacity: a window of 64 KiB messages or a
/// few 1 MiB ones (one being filled, one being written, one the transport did not
/// take at once).
const KEPT_BYTES: usize = 4 << 20;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// The pool of the thread the caller runs on.
#[derive(Debug)]
pub(crate) struct ThreadPool;

/// The one instance, to hand out as `&'static`.
pub(crate) static THREAD_POOL: ThreadPool = ThreadPool;

impl BufferPool for ThreadPool {
    fn take(&self, len: usize) -> Option<Vec<u8>> {
        // `try_with`: a socket dropped while the thread's locals are torn down
        // allocates instead.
        SPARE
            .try_with(|spare| {
                let mut spare = spare.borrow_mut();
                // The most recently given back is the warmest.
                let at = spare.iter().rposition(|b| b.capacity() >= len)?;
                Some(spare.remove(at))
            })
            .ok()
            .flatten()
    }

    fn give(&self, mut buf: Vec<u8>) {
        // A message larger than the whole pool is not kept: sent once, it should not
        // hold its size for the life of the thread.
        if buf.capacity() > KEPT_BYTES {
            return;
        }
        buf.clear();
        let _ = SPARE.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            let mut kept: usize = spare.iter().map(Vec::capacity).sum();
            // Make room by dropping the coldest.
            while kept + buf.capacity() > KEPT_BYTES {
                kept -= spare.remove(0).capacity();
            }
            spare.push(buf);
        });
    }
}

/// Gives this thread's buffers back to the allocator (a connection went idle or
/// ended: the others on the thread will too, or will take a buffer again).
pub(crate) fn release() {
    let _ = SPARE.try_with(|spare| spare.borrow_mut().clear());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_back_the_warmest_buffer_that_fits_and_keeps_a_bounded_few() {
        release();
        assert!(THREAD_POOL.take(1).is_none());
        THREAD_POOL.give(Vec::with_capacity(100));
        THREAD_POOL.give(Vec::with_capacity(1000));
        THREAD_POOL.give(Vec::with_capacity(200));
        let b = THREAD_POOL.take(150).expect("one fits");
        assert_eq!(b.capacity(), 200, "the last given that fits");
        assert!(b.is_empty());
        assert_eq!(THREAD_POOL.take(2000), None, "none that large");
        release();

        // Over the bound, the coldest go first.
        let quarter = KEPT_BYTES / 4;
        for _ in 0..5 {
            THREAD_POOL.give(Vec::with_capacity(quarter));
        }
        let mut kept = 0;
        while THREAD_POOL.take(0).is_some() {
            kept += 1;
        }
        assert_eq!(kept, 4);
        THREAD_POOL.give(Vec::with_capacity(KEPT_BYTES + 1));
        assert_eq!(THREAD_POOL.take(0), None, "too large to keep");
    }

    #[test]
    fn gives_back_a_buffer_filled_before() {
        release();
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(b"written");
        THREAD_POOL.give(b);
        let again = THREAD_POOL.take(64).expect("kept");
        assert!(again.is_empty(), "cleared");
        release();
        assert_eq!(THREAD_POOL.take(0), None);
    }
}
