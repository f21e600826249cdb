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
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::WAIT;

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

/// A masked binary frame of `size` bytes (key 1, 2, 3, 4; the payload is zeros masked).
fn frame(size: usize) -> Vec<u8> {
    let mut f = vec![0x82];
    if size < 126 {
        f.push(0x80 | size as u8);
    } else {
        f.push(0x80 | 126);
        f.extend_from_slice(&(size as u16).to_be_bytes());
    }
    f.extend_from_slice(&[1, 2, 3, 4]);
    f.extend((0..size).map(|i| [1, 2, 3, 4][i % 4]));
    f
}

/// Opens a connection to the echo server at `addr` and echoes binary messages of
/// 16 B, 1 KiB and 64 KiB one at a time; after a warm-up (buffers grow to their
/// working size), 500 of each must cost under 0.02 allocations per message. Zero is
/// what the code does; the slack is for a rare allocation inside a runtime.
pub fn assert_echo_allocates_nothing(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("response");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "not upgraded");

    let mut buf = vec![0u8; 70_000];
    for size in [16, 1024, 65_535] {
        let request = frame(size);
        let answer_len = size + if size < 126 { 2 } else { 4 };
        let mut echo = |s: &mut TcpStream| {
            s.write_all(&request).expect("write");
            s.read_exact(&mut buf[..answer_len]).expect("read the echo");
            assert_eq!(buf[0], 0x82, "not a binary frame");
        };
        for _ in 0..50 {
            echo(&mut s);
        }
        let before = allocations();
        for _ in 0..500 {
            echo(&mut s);
        }
        let per_message = (allocations() - before) as f64 / 500.0;
        assert!(
            per_message < 0.02,
            "{size} B: {per_message} allocations per message"
        );
    }
}
