//! Micro benchmarks of the sans-IO core, all in memory (no socket, no runtime):
//!
//! - `decode`: one binary frame fed to a [`Connection`] with `handle_input` and drained
//!   with `poll_event` (masked: as a server receives it; unmasked: as a client does);
//! - `encode`: one binary message queued with `send` and drained with `poll_transmit`
//!   into a `Vec` (masked: as a client sends it; unmasked: as a server does), and
//!   `encode_vectored`: the same through `poll_transmit_into` and an [`OutputBuffer`],
//!   which references large unmasked payloads instead of copying them;
//! - `mask`: [`apply_mask`] over a buffer, next to a plain `copy_from_slice` of the same
//!   size (the memory-bandwidth reference) and the byte-by-byte [`apply_mask_reference`];
//!   [`extend_masked`] (a client's masked copy) next to a plain `extend_from_slice`;
//! - `utf8`: the incremental [`Utf8Validator`], next to `std::str::from_utf8`;
//! - `handshake`: the server reading a browser's upgrade request and writing its 101,
//!   and the client writing its request and reading the 101;
//! - `echo`: a message from a client to a server and back, through two connections.
//!
//! Throughput is the payload size (once, for the echo), so criterion prints bytes per
//! second; the handshakes count handshakes. Run with
//!
//! ```text
//! cargo bench -p ws-proto --bench proto
//! cargo bench -p ws-proto --bench proto -- mask/     # one group (a name filter)
//! ```

use std::hint::black_box;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use ws_proto::bytes::Bytes;
use ws_proto::handshake::{ClientHandshake, ClientOptions, ServerHandshake};
use ws_proto::http::HeaderMap;
use ws_proto::mask::{apply_mask, apply_mask_reference, extend_masked};
use ws_proto::utf8::Utf8Validator;
use ws_proto::{
    Config, Connection, Event, Frame, HandshakeLimits, Message, OutputBuffer, Role, SeededEntropy,
};

/// The frame and message sizes: the smallest header, the largest 7-bit length, a
/// typical message, and two large ones (16- and 64-bit lengths).
const SIZES: [(&str, usize); 5] = [
    ("16B", 16),
    ("125B", 125),
    ("1KiB", 1 << 10),
    ("64KiB", 64 << 10),
    ("1MiB", 1 << 20),
];

/// The masking key of the pre-encoded masked frames.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The time given to the connections: taken once, it never moves (no timer is armed).
#[allow(clippy::disallowed_methods)] // an origin only; the benches never read the clock again
fn origin() -> Instant {
    Instant::now()
}

/// `len` deterministic pseudo-random bytes.
fn payload(len: usize) -> Bytes {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// A client connection with a fixed seed, so its masking keys are reproducible.
fn client(now: Instant) -> Connection {
    Connection::with_entropy(
        Role::Client,
        Config::default(),
        now,
        Box::new(SeededEntropy::new(1)),
    )
}

fn server(now: Instant) -> Connection {
    Connection::with_entropy(
        Role::Server,
        Config::default(),
        now,
        Box::new(SeededEntropy::new(1)),
    )
}

/// Bytes per second, and fewer samples for the 1 MiB cases (10, criterion's least).
fn size_settings(group: &mut BenchmarkGroup<'_, WallTime>, len: usize) {
    group.throughput(Throughput::Bytes(len as u64));
    group.sample_size(if len >= 1 << 20 { 10 } else { 20 });
}

/// Feeds the connection its own input and drains the events; returns how many payload
/// bytes came out as messages.
fn decode_once(conn: &mut Connection, wire: &[u8], now: Instant) -> usize {
    conn.handle_input(wire, now);
    let mut received = 0;
    while let Some(event) = conn.poll_event() {
        if let Event::Message(message) = &event {
            received += message.len();
        }
        black_box(event);
    }
    received
}

fn decode(c: &mut Criterion) {
    let now = origin();
    let mut group = c.benchmark_group("decode");
    for (masked, role) in [("masked", Role::Server), ("unmasked", Role::Client)] {
        for (name, len) in SIZES {
            let data = payload(len);
            let mut wire = Vec::new();
            let key = (role == Role::Server).then_some(KEY);
            Frame::binary(data).encode(key, &mut wire);
            let mut conn = match role {
                Role::Server => server(now),
                Role::Client => client(now),
            };
            // One connection reads the same frame over and over: a stream of messages.
            assert_eq!(
                decode_once(&mut conn, &wire, now),
                len,
                "decode/{masked}/{name}"
            );
            size_settings(&mut group, len);
            group.bench_function(format!("{masked}/{name}"), |b| {
                b.iter(|| decode_once(&mut conn, black_box(&wire), now));
            });
        }
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let now = origin();
    let mut group = c.benchmark_group("encode");
    for (masked, role) in [("masked", Role::Client), ("unmasked", Role::Server)] {
        for (name, len) in SIZES {
            let data = payload(len);
            let mut conn = match role {
                Role::Server => server(now),
                Role::Client => client(now),
            };
            let mut out = Vec::new();
            let mut encode_once = |out: &mut Vec<u8>| {
                out.clear();
                conn.send(Message::Binary(black_box(&data).clone()))
                    .expect("the connection is open");
                while conn.poll_transmit(out) > 0 {}
                black_box(&out);
            };
            encode_once(&mut out);
            let header = if len < 126 {
                2
            } else if len < 1 << 16 {
                4
            } else {
                10
            };
            let mask_len = if role == Role::Client { 4 } else { 0 };
            assert_eq!(out.len(), header + mask_len + len, "encode/{masked}/{name}");
            size_settings(&mut group, len);
            group.bench_function(format!("{masked}/{name}"), |b| {
                b.iter(|| encode_once(&mut out));
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("encode_vectored");
    for (name, len) in SIZES {
        let data = payload(len);
        let mut conn = server(now);
        let mut out = OutputBuffer::new();
        let mut encode_once = |out: &mut OutputBuffer| {
            conn.send(Message::Binary(black_box(&data).clone()))
                .expect("the connection is open");
            while conn.poll_transmit_into(out) > 0 {}
            // What a transport does with it: one vectored write of everything.
            let mut slices = [IoSlice::new(&[]); 4];
            let used = out.io_slices(&mut slices);
            black_box(&slices[..used]);
            let written = out.len();
            out.advance(written);
            written
        };
        assert!(
            encode_once(&mut out) > len,
            "encode_vectored/unmasked/{name}"
        );
        size_settings(&mut group, len);
        group.bench_function(format!("unmasked/{name}"), |b| {
            b.iter(|| encode_once(&mut out));
        });
    }
    group.finish();
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for (name, len) in [("64KiB", 64 << 10), ("1MiB", 1 << 20)] {
        let src = payload(len).to_vec();
        let mut buf = src.clone();
        size_settings(&mut group, len);
        group.bench_function(format!("apply_mask/{name}"), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), 0));
        });
        group.bench_function(format!("copy_from_slice/{name}"), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)));
        });
        // A client's masked copy of a payload it shares, beside the plain append it
        // replaces.
        let mut out = Vec::with_capacity(len);
        group.bench_function(format!("extend_masked/{name}"), |b| {
            b.iter(|| {
                out.clear();
                extend_masked(black_box(&mut out), black_box(&src), black_box(KEY), 0);
            });
        });
        group.bench_function(format!("extend_from_slice/{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(&mut out).extend_from_slice(black_box(&src));
            });
        });
        if len == 64 << 10 {
            group.bench_function(format!("apply_mask_reference/{name}"), |b| {
                b.iter(|| apply_mask_reference(black_box(&mut buf), black_box(KEY), 0));
            });
        }
    }
    group.finish();
}

/// `len` bytes of valid UTF-8: ASCII only, or a mix of one- to four-byte code points.
fn text(mixed: bool, len: usize) -> Vec<u8> {
    const ASCII: &str = "The quick brown fox jumps over the lazy dog. 0123456789 ";
    const MIXED: &str = "Grüße, señor! Ζεύς — Москва 東京 ✓ 🦀🚀 ";
    let sample = if mixed { MIXED } else { ASCII };
    let mut out = String::with_capacity(len);
    'fill: loop {
        for ch in sample.chars() {
            if out.len() + ch.len_utf8() > len {
                break 'fill;
            }
            out.push(ch);
        }
    }
    // Pad with ASCII to the exact size.
    while out.len() < len {
        out.push(' ');
    }
    out.into_bytes()
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    for (kind, mixed) in [("ascii", false), ("mixed", true)] {
        for (name, len) in [("1KiB", 1 << 10), ("64KiB", 64 << 10)] {
            let input = text(mixed, len);
            assert!(std::str::from_utf8(&input).is_ok());
            group.throughput(Throughput::Bytes(len as u64));
            group.bench_function(format!("validator/{kind}/{name}"), |b| {
                b.iter(|| {
                    let mut validator = Utf8Validator::new();
                    let ok = validator.feed(black_box(&input)).is_ok();
                    ok && validator.is_complete()
                });
            });
            // As a message arriving in reads of 1000 bytes, cut inside code points.
            group.bench_function(format!("validator_pieces/{kind}/{name}"), |b| {
                b.iter(|| {
                    let mut validator = Utf8Validator::new();
                    let ok = black_box(&input)
                        .chunks(1000)
                        .all(|piece| validator.feed(piece).is_ok());
                    ok && validator.is_complete()
                });
            });
            group.bench_function(format!("from_utf8/{kind}/{name}"), |b| {
                b.iter(|| std::str::from_utf8(black_box(&input)).is_ok());
            });
        }
    }
    group.finish();
}

/// A browser's upgrade request, as Firefox sends it (with a cookie), about 500 bytes.
const BROWSER_REQUEST: &[u8] = b"GET /chat?room=42 HTTP/1.1\r\n\
Host: example.com:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Sec-WebSocket-Version: 13\r\n\
Origin: http://example.com:8080\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Connection: keep-alive, Upgrade\r\n\
Cookie: session=3f7a9c2e4b1d8f60; theme=dark\r\n\
Sec-Fetch-Dest: empty\r\n\
Sec-Fetch-Mode: websocket\r\n\
Sec-Fetch-Site: same-origin\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
Upgrade: websocket\r\n\
\r\n";

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));

    let no_headers = HeaderMap::new();
    let mut out = Vec::new();
    let server_once = |out: &mut Vec<u8>| {
        let mut reader = ServerHandshake::new(HandshakeLimits::default());
        let upgrade = reader
            .handle_input(black_box(BROWSER_REQUEST))
            .expect("a valid request")
            .expect("a whole request");
        out.clear();
        upgrade
            .accept(None, &no_headers, out)
            .expect("no subprotocol");
        black_box(&out);
    };
    server_once(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 101 "));
    group.bench_function("server", |b| b.iter(|| server_once(&mut out)));

    // The client draws its key from a fresh seeded generator each time, so the one 101
    // answer computed here fits every iteration.
    let uri = "ws://example.com:8080/chat?room=42".parse().expect("a URI");
    let options = ClientOptions {
        origin: Some("http://example.com:8080".to_owned()),
        ..ClientOptions::default()
    };
    let mut request = Vec::new();
    ClientHandshake::new(&uri, &options, &mut SeededEntropy::new(1))
        .expect("a valid URI")
        .write_request(&mut request);
    let mut response = Vec::new();
    ServerHandshake::default()
        .handle_input(&request)
        .expect("a valid request")
        .expect("a whole request")
        .accept(None, &no_headers, &mut response)
        .expect("no subprotocol");
    let client_once = |out: &mut Vec<u8>| {
        let mut entropy = SeededEntropy::new(1);
        let mut hs =
            ClientHandshake::new(black_box(&uri), &options, &mut entropy).expect("a valid URI");
        out.clear();
        hs.write_request(out);
        let accepted = hs
            .handle_input(black_box(&response))
            .expect("the right accept key")
            .expect("a whole response");
        black_box(accepted);
    };
    client_once(&mut out);
    assert_eq!(out, request);
    group.bench_function("client", |b| b.iter(|| client_once(&mut out)));
    group.finish();
}

fn echo(c: &mut Criterion) {
    let now = origin();
    let mut group = c.benchmark_group("echo");
    for (name, len) in [("16B", 16), ("1KiB", 1 << 10), ("64KiB", 64 << 10)] {
        let data = payload(len);
        let mut client = client(now);
        let mut server = server(now);
        let mut to_server = Vec::new();
        let mut to_client = Vec::new();
        let mut round_trip = || {
            client
                .send(Message::Binary(black_box(&data).clone()))
                .expect("the client is open");
            to_server.clear();
            while client.poll_transmit(&mut to_server) > 0 {}
            server.handle_input(&to_server, now);
            while let Some(event) = server.poll_event() {
                if let Event::Message(message) = event {
                    server.send(message).expect("the server is open");
                }
            }
            to_client.clear();
            while server.poll_transmit(&mut to_client) > 0 {}
            client.handle_input(&to_client, now);
            let mut echoed = 0;
            while let Some(event) = client.poll_event() {
                if let Event::Message(message) = &event {
                    echoed += message.len();
                }
                black_box(event);
            }
            echoed
        };
        assert_eq!(round_trip(), len, "echo/{name}");
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(name, |b| b.iter(&mut round_trip));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs by default (command-line options still override these).
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = decode, encode, mask, utf8, handshake, echo
}
criterion_main!(benches);
