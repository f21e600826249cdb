//! No heap allocation per echoed message in steady state, on the blocking adapter too:
//! a counting allocator around the system's, a ws-blocking echo server (a thread per
//! connection), and a raw client whose loop allocates nothing. (This counts
//! allocations, a property of the code; speed is for the benchmarks.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ws_blocking::{ServerOptions, StopHandle, establish_standard_server};

struct Counting;

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

#[global_allocator]
static GLOBAL: Counting = Counting;

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

#[test]
fn echoing_messages_up_to_64_kib_allocates_nothing_per_message() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = StopHandle::new();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            establish_standard_server(listener, ServerOptions::default(), stop, |mut ws| {
                while let Ok(Some(message)) = ws.recv_message() {
                    if ws.queue(message).is_err() {
                        break;
                    }
                }
            })
        })
    };
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));

    let mut buf = vec![0u8; 70_000];
    for size in [16, 1024, 65_535] {
        let request = frame(size);
        let answer_len = size + if size < 126 { 2 } else { 4 };
        let mut echo = |s: &mut std::net::TcpStream| {
            s.write_all(&request).unwrap();
            s.read_exact(&mut buf[..answer_len]).unwrap();
            assert_eq!(buf[0], 0x82);
        };
        // Warm up: buffers grow to their working size.
        for _ in 0..50 {
            echo(&mut s);
        }
        let before = ALLOCS.load(Ordering::Relaxed);
        for _ in 0..500 {
            echo(&mut s);
        }
        let per_message = (ALLOCS.load(Ordering::Relaxed) - before) as f64 / 500.0;
        assert!(
            per_message < 0.02,
            "{size} B: {per_message} allocations per message"
        );
    }
    stop.stop();
    drop(s);
    server.join().unwrap().unwrap();
}
