//! Counting heap allocations per echoed message, for the adapters whose echo loop
//! should allocate nothing in steady state (ws-tokio, ws-blocking). The counting
//! allocator has to be the test binary's global allocator, so each test declares it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: ws_testkit::allocations::Counting = ws_testkit::allocations::Counting;
//! ```
//!
//! and then points [`assert_echo_allocates_nothing`] at its echo server. The client
//! side is plain `std::net` with buffers made before counting starts, so every
//! allocation counted while it runs is the server's (or its runtime's).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use ws_proto::frame::Frame;

use crate::client::{RawClient, WAIT};

/// The system allocator, counting allocations and reallocations.
pub struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call goes unchanged to the system allocator; counting is one atomic
// add, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations counted so far, in every thread (0 unless [`Counting`] is the global
/// allocator).
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

/// Opens a connection to the echo server at `addr` and echoes binary messages of
/// 16 B, 1 KiB and 64 KiB one at a time; after a warm-up (buffers grow to their
/// working size), 500 of each must cost under 0.02 allocations per message. Zero is
/// what the code does; the slack is for a rare allocation inside a runtime.
///
/// The handshake and the frames go through [`RawClient`] and ws-proto's encoder, all
/// before counting starts; the counted loop only writes and reads the socket, into
/// buffers it already has.
pub fn assert_echo_allocates_nothing(addr: SocketAddr) {
    let client = RawClient::open(addr);
    let mut s = client.stream();
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = vec![0u8; 70_000];
    for size in [16, 1024, 65_535] {
        let frame = Frame::binary(vec![7u8; size]);
        let (mut request, mut answer) = (Vec::new(), Vec::new());
        frame.encode(Some([1, 2, 3, 4]), &mut request);
        frame.encode(None, &mut answer);
        let mut echo = || {
            s.write_all(&request).expect("write");
            s.read_exact(&mut buf[..answer.len()])
                .expect("read the echo");
            assert!(buf[..answer.len()] == answer[..], "{size} B: not the echo");
        };
        for _ in 0..50 {
            echo();
        }
        let before = allocations();
        for _ in 0..500 {
            echo();
        }
        let per_message = (allocations() - before) as f64 / 500.0;
        assert!(
            per_message < 0.02,
            "{size} B: {per_message} allocations per message"
        );
    }
}
