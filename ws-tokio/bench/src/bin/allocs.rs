//! Heap use of each server, counted by a global allocator that wraps the system's:
//!
//! ```sh
//! allocs echo [SIZES]     # allocations per echoed message in steady state
//! allocs idle [CONNS] [--by-size]   # live heap bytes per idle open connection
//!                                   # (and what allocations they are, by size)
//! ```
//!
//! The server runs in this process: the async ones on a current-thread runtime in a
//! thread of their own, the blocking ones (`ours-blocking`, `tungstenite-blocking`)
//! on a thread per connection, so their idle figure includes what spawning that
//! thread puts on the heap. The load comes from a plain `std::net` client thread
//! whose steady-state loop allocates nothing (fixed buffers, pre-masked frames), so
//! every allocation counted while it runs is the server's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;

use ws_bench::{BLOCKING, FrameSplitter, Piece, SERVERS, parse_size, show_size};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
/// Live allocations by size, in 16-byte classes up to 16 KiB (the last class holds
/// everything larger): what an idle connection's heap is made of.
static BY_SIZE: [AtomicI64; 1025] = [const { AtomicI64::new(0) }; 1025];

fn class(size: usize) -> usize {
    size.div_ceil(16).min(1024)
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        BY_SIZE[class(layout.size())].fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        BY_SIZE[class(layout.size())].fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        BY_SIZE[class(layout.size())].fetch_sub(1, Ordering::Relaxed);
        BY_SIZE[class(new_size)].fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn start(which: &'static str) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        ws_bench::servers::serve_forever(which, "127.0.0.1:0", |addr| {
            tx.send(addr.to_string()).expect("send");
        })
    });
    rx.recv().expect("the server's address")
}

fn open(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(request.as_bytes()).expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).expect("response"),
            1,
            "closed in handshake"
        );
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "not upgraded");
    s
}

/// Echoes `count` messages of `size` one at a time; returns allocations counted.
fn echo_round(s: &mut TcpStream, frame: &[u8], buf: &mut [u8], count: usize) -> u64 {
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut splitter = FrameSplitter::default();
    for _ in 0..count {
        s.write_all(frame).expect("write");
        let mut done = false;
        while !done {
            let n = s.read(buf).expect("read");
            assert!(n > 0, "server closed");
            splitter.feed(&buf[..n], |p| {
                if let Piece::End(h) = p {
                    done |= h.ends_message();
                }
            });
        }
    }
    ALLOCS.load(Ordering::Relaxed) - before
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("idle") => idle(
            args.get(1).map_or(1000, |n| n.parse().expect("count")),
            args.iter().any(|a| a == "--by-size"),
        ),
        _ => echo(args.get(1).map_or_else(
            || vec![16, 1024, 64 * 1024, 1024 * 1024],
            |s| s.split(',').map(parse_size).collect(),
        )),
    }
}

fn echo(sizes: Vec<usize>) {
    println!("\n### Heap allocations per echoed message, steady state\n");
    print!("| server |");
    for &size in &sizes {
        print!(" {} |", show_size(size));
    }
    println!("\n|---|{}", "---|".repeat(sizes.len()));
    for &which in SERVERS.iter().chain(BLOCKING) {
        let addr = start(which);
        print!("| {which} |");
        for &size in &sizes {
            let mut s = open(&addr);
            let frame = ws_bench::frame(size, true);
            let mut buf = vec![0u8; 256 * 1024];
            // Warm up (buffers grow to their working size), then count.
            echo_round(&mut s, &frame, &mut buf, 200);
            let count = if size >= 1 << 20 { 200 } else { 2000 };
            let allocs = echo_round(&mut s, &frame, &mut buf, count);
            print!(" {:.2} |", allocs as f64 / count as f64);
        }
        println!();
    }
}

fn idle(conns: usize, breakdown: bool) {
    println!("\n### Live heap per idle connection ({conns} connections)\n");
    println!(
        "| server | per connection, after the handshake | after {} s idle |",
        ws_bench::IDLE_SETTLE.as_secs_f64()
    );
    println!("|---|---|---|");
    for &which in SERVERS.iter().chain(BLOCKING) {
        let addr = start(which);
        // One connection first, so one-time allocations are not counted.
        let first = open(&addr);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let before = LIVE.load(Ordering::Relaxed);
        let classes_before = classes();
        let streams: Vec<TcpStream> = (0..conns).map(|_| open(&addr)).collect();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let open_now = LIVE.load(Ordering::Relaxed);
        std::thread::sleep(ws_bench::IDLE_SETTLE);
        let later = LIVE.load(Ordering::Relaxed);
        let classes_later = classes();
        // The client side holds no heap per stream beyond the Vec's slots.
        let client = (conns * size_of::<TcpStream>()) as i64;
        println!(
            "| {which} | {:.0} B | {:.0} B |",
            (open_now - before - client) as f64 / conns as f64,
            (later - before - client) as f64 / conns as f64
        );
        if breakdown {
            print_breakdown(&classes_before, &classes_later, conns);
        }
        drop(streams);
        drop(first);
    }
}

fn classes() -> Vec<i64> {
    BY_SIZE.iter().map(|c| c.load(Ordering::Relaxed)).collect()
}

/// The live allocations an idle connection holds, by size class, rounded to the
/// nearest whole allocation per connection (the client's `Vec` of streams shows as one
/// large block, not per connection).
fn print_breakdown(before: &[i64], later: &[i64], conns: usize) {
    let mut line = String::from("|   | held per connection:");
    for (i, (b, l)) in before.iter().zip(later).enumerate() {
        let per = (l - b) as f64 / conns as f64;
        if per.abs() >= 0.5 {
            let upper = if i == 1024 {
                ">16 KiB".to_string()
            } else {
                format!("≤{} B", i * 16)
            };
            line.push_str(&format!(" {per:.1} × {upper},"));
        }
    }
    line.pop();
    println!("{line} | |");
}
