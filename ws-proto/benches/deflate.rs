//! permessage-deflate, measured: per-connection memory of each setting, compression
//! ratio on JSON, and the throughput of a compressed echo through two connections
//! against the same echo uncompressed.
//!
//! ```text
//! cargo bench -p ws-proto --features deflate --bench deflate
//! ```
//!
//! Memory is counted by a global allocator that wraps the system's: the live heap of a
//! connection after it compressed and inflated one message, minus that of a connection
//! without the extension.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use ws_proto::{Config, Connection, DeflateConfig, Event, Message, Role, SeededEntropy};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// plain atomic and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn now() -> Instant {
    Instant::now()
}

/// JSON-like text: records with repeated keys and varying values.
fn json(len: usize) -> String {
    let mut s = String::with_capacity(len + 100);
    let mut i = 0u64;
    while s.len() < len {
        s.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"action\":\"{}\",\"score\":{},\"ok\":{}}},",
            i % 97,
            ["login", "update", "logout", "buy"][(i % 4) as usize],
            (i * 7919) % 10_000,
            i % 3 == 0
        ));
        i += 1;
    }
    s.truncate(len);
    s
}

/// A client and a server with `config` negotiated (or none).
fn pair(config: Option<DeflateConfig>) -> (Connection, Connection) {
    let t = now();
    let mut client = Connection::with_entropy(
        Role::Client,
        Config::default(),
        t,
        Box::new(SeededEntropy::new(1)),
    );
    let mut server = Connection::new(Role::Server, Config::default(), t);
    if let Some(config) = config {
        let (answer, server_params) = DeflateConfig::default()
            .server_accept([config.client_offer().as_str()])
            .expect("accepted");
        let client_params = config.client_check([answer.as_str()]).unwrap().unwrap();
        client.enable_deflate(client_params);
        server.enable_deflate(server_params);
    }
    (client, server)
}

/// One message from the client to the server and back; returns the bytes on the wire
/// one way.
fn echo(
    client: &mut Connection,
    server: &mut Connection,
    message: &Message,
    wire: &mut Vec<u8>,
) -> usize {
    let t = now();
    client.send(message.clone()).unwrap();
    wire.clear();
    while client.poll_transmit(wire) > 0 {}
    let sent = wire.len();
    server.handle_input(wire, t);
    while let Some(event) = server.poll_event() {
        if let Event::Message(m) = event {
            server.send(m).unwrap();
        }
    }
    wire.clear();
    while server.poll_transmit(wire) > 0 {}
    client.handle_input(wire, t);
    while client.poll_event().is_some() {}
    sent
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs it once, quickly.
    let quick = !std::env::args().any(|a| a == "--bench");

    println!("### permessage-deflate: memory per connection (live heap, both directions in use)\n");
    println!("| setting | client | server |");
    println!("|---|---|---|");
    let message = Message::Text(json(16 << 10).into());
    let settings: [(&str, Option<DeflateConfig>); 5] = [
        ("no compression", None),
        (
            "default (15-bit windows, context kept)",
            Some(DeflateConfig::default()),
        ),
        (
            "no context takeover, both sides",
            Some(DeflateConfig {
                no_context_takeover: true,
                peer_no_context_takeover: true,
                ..DeflateConfig::default()
            }),
        ),
        (
            "10-bit windows",
            Some(DeflateConfig {
                max_window_bits: 10,
                peer_max_window_bits: Some(10),
                ..DeflateConfig::default()
            }),
        ),
        (
            "9-bit windows, no context takeover",
            Some(DeflateConfig {
                max_window_bits: 9,
                peer_max_window_bits: Some(9),
                no_context_takeover: true,
                peer_no_context_takeover: true,
                ..DeflateConfig::default()
            }),
        ),
    ];
    for (name, config) in settings {
        let mut wire = Vec::new();
        // Measured from before the pair exists to after one message each way, with
        // the buffers released, so what remains is the codec state.
        let before = LIVE.load(Ordering::Relaxed);
        let (mut client, mut server) = pair(config);
        echo(&mut client, &mut server, &message, &mut wire);
        client.release_buffers();
        server.release_buffers();
        drop(wire);
        let after_both = LIVE.load(Ordering::Relaxed);
        drop(client);
        let after_server = LIVE.load(Ordering::Relaxed);
        drop(server);
        let client_cost = after_both - after_server;
        let server_cost = after_server - before;
        println!(
            "| {name} | {:.1} KiB | {:.1} KiB |",
            client_cost as f64 / 1024.0,
            server_cost as f64 / 1024.0
        );
    }

    println!("\n### Compression ratio and echo throughput on JSON text (one core, in memory)\n");
    println!(
        "| message | level | wire bytes / message bytes | echoes per second, compressed | uncompressed | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for size in [256usize, 4 << 10, 64 << 10] {
        for level in [1u32, 6] {
            // Different messages from one stream of records, as an application sends.
            let text = json(size * 64);
            let messages: Vec<Message> = (0..64)
                .map(|i| Message::Text(text[i * size..(i + 1) * size].to_owned().into()))
                .collect();
            let count = if quick { 10 } else { (64 << 20) / size };
            let mut wire = Vec::new();
            let (mut client, mut server) = pair(Some(DeflateConfig {
                level,
                ..DeflateConfig::default()
            }));
            let t0 = now();
            let mut sent = 0;
            for i in 0..count {
                sent += echo(&mut client, &mut server, &messages[i % 64], &mut wire);
            }
            let compressed_rate = count as f64 / t0.elapsed().as_secs_f64();
            let (mut client, mut server) = pair(None);
            let t0 = now();
            for i in 0..count {
                echo(&mut client, &mut server, &messages[i % 64], &mut wire);
            }
            let plain_rate = count as f64 / t0.elapsed().as_secs_f64();
            println!(
                "| {size} B | {level} | {:.3} | {:.0} | {:.0} | {:.2} |",
                sent as f64 / (count * size) as f64,
                compressed_rate,
                plain_rate,
                compressed_rate / plain_rate
            );
        }
    }
}
