//! Encoding and decoding agree, at three levels.
//!
//! - Masking: `apply_mask` equals `apply_mask_reference` on the input at every key
//!   offset and several alignments, and unmasking in two pieces equals unmasking at once;
//!   `extend_masked` (a client's masked copy, after what the buffer already holds)
//!   equals copying and then masking with the reference.
//! - Frames: frames built from the input (any opcode, FIN, RSV bits, payloads up to
//!   131 KiB) encode, masked or not, into bytes that `Header::decode` reads back to the
//!   same header, and whose payload unmasks to the original. The same frames sent by a
//!   raw-policy client reach a raw-policy server unchanged.
//! - Messages: a message a standard client sends, cut to a fuzzer-chosen fragment
//!   size and write chunk, and fed in fuzzer-chosen pieces, reaches a standard server as
//!   exactly the same message.
//! - Output: a client writing through an `OutputBuffer` with a `BufferPool` (large
//!   masked copies in borrowed buffers, the frame's header moved in front of them),
//!   taken by a fuzzer-chosen number of slices and bytes at a time, puts on the wire
//!   exactly what its twin writes through `poll_transmit`, and every buffer it borrows
//!   goes back once written.
#![no_main]

use std::sync::Mutex;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use ws_proto::frame::{Frame, Header, MAX_HEADER_LEN};
use ws_proto::mask::{apply_mask, apply_mask_reference, extend_masked};
use ws_proto::{
    BufferPool, CloseCode, Config, Connection, Entropy, Event, Message, OpCode, OutputBuffer,
    Policy, Role, SeededEntropy, UsageError,
};
use ws_proto_fuzz::{Clock, Reader, WireChecker, write_vectored};

fuzz_target!(|data: &[u8]| {
    let now = Clock::new().now();
    masking(data);
    frames(data, now);
    message(data, now);
    output(data, now);
});

fn masking(data: &[u8]) {
    let key = match data {
        [a, b, c, d, ..] => [*a, *b, *c, *d],
        _ => [0x37, 0xfa, 0x21, 0x3d],
    };
    for offset in 0..4 {
        for start in 0..data.len().min(9) {
            let mut fast = data[start..].to_vec();
            let mut slow = fast.clone();
            apply_mask(&mut fast, key, offset);
            apply_mask_reference(&mut slow, key, offset);
            assert_eq!(fast, slow, "offset {offset}, start {start}");
            let mut copied = data[..start].to_vec();
            extend_masked(&mut copied, &data[start..], key, offset);
            assert_eq!(copied[..start], data[..start], "the buffer's head is kept");
            assert_eq!(copied[start..], slow, "offset {offset}, start {start}");
        }
    }
    // Two pieces, the second one continuing at its offset into the payload.
    let mut whole = data.to_vec();
    apply_mask(&mut whole, key, 0);
    let cut = data
        .last()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut pieces = data.to_vec();
    let (a, b) = pieces.split_at_mut(cut);
    apply_mask(a, key, 0);
    apply_mask(b, key, cut);
    assert_eq!(whole, pieces);
    apply_mask(&mut pieces, key, 0);
    assert_eq!(pieces, data, "masking twice is the identity");
}

/// The next frame described by `r`: the first header byte as it is, then a length
/// selector (bit 7: masked; low bits: the length, with 126 and 127 meaning a 2-byte
/// length, plus 65536 for 127), then payload bytes, repeated if the input runs short.
fn next_frame(r: &mut Reader<'_>, keys: &mut SeededEntropy) -> (Frame, Option<[u8; 4]>) {
    let b0 = r.u8();
    let b1 = r.u8();
    let opcode = OpCode::from_nibble(b0);
    let len = match b1 & 0x7f {
        n if opcode.is_control() => usize::from(n) % 126,
        126 => usize::from(r.u16()),
        127 => 65536 + usize::from(r.u16()),
        n => usize::from(n),
    };
    let available = r.bytes(len);
    let payload: Vec<u8> = if available.is_empty() {
        vec![0xa5; len]
    } else {
        available.iter().copied().cycle().take(len).collect()
    };
    let frame = Frame {
        fin: b0 & 0x80 != 0,
        rsv: Frame::rsv_from_bits(b0),
        opcode,
        payload: payload.into(),
    };
    let mask = (b1 & 0x80 != 0).then(|| {
        let mut key = [0u8; 4];
        keys.fill(&mut key);
        key
    });
    (frame, mask)
}

fn frames(data: &[u8], now: Instant) {
    let mut r = Reader::new(data);
    let mut keys = SeededEntropy::new(data.len() as u64);
    let mut raw = Config::with_policy(Policy::Raw);
    raw.fragment_size = None;
    let mut client = Connection::with_entropy(
        Role::Client,
        raw.clone(),
        now,
        Box::new(SeededEntropy::new(3)),
    );
    let mut server =
        Connection::with_entropy(Role::Server, raw, now, Box::new(SeededEntropy::new(4)));
    let mut expected = Vec::new();
    let mut close_sent = false;
    let mut sent = Vec::new();
    while r.len() >= 2 {
        let (frame, mask) = next_frame(&mut r, &mut keys);
        let mut wire = Vec::new();
        frame.encode(mask, &mut wire);
        let (header, n) = Header::decode(&wire)
            .expect("an encoded header decodes")
            .expect("an encoded header is complete");
        assert_eq!(header.fin, frame.fin);
        assert_eq!(header.rsv, frame.rsv_bits());
        assert_eq!(header.opcode, frame.opcode);
        assert_eq!(header.mask, mask);
        assert_eq!(header.payload_len, frame.payload.len() as u64);
        assert_eq!(n, header.encoded_len());
        assert!(n <= MAX_HEADER_LEN);
        assert_eq!(wire.len(), n + frame.payload.len());
        for cut in 0..n {
            assert_eq!(Header::decode(&wire[..cut]), Ok(None));
        }
        let payload = &mut wire[n..];
        if let Some(key) = mask {
            apply_mask(payload, key, 0);
        }
        assert_eq!(payload, &frame.payload[..]);

        // Through a raw client and a raw server.
        let result = client.send_frame(frame.clone());
        if close_sent {
            assert_eq!(result, Err(UsageError::CloseAlreadySent));
        } else if frame.opcode.is_control() && !frame.fin {
            assert_eq!(result, Err(UsageError::FragmentedControlFrame));
        } else {
            assert_eq!(result, Ok(()));
            close_sent = frame.opcode == OpCode::Close;
            expected.push(Event::Frame(frame));
        }
        // Drained after each frame, so that the wire keeps their order (queued
        // control frames would overtake queued data frames).
        while client.poll_transmit(&mut sent) > 0 {}
    }
    let mut check = WireChecker::new(Role::Client);
    check.feed(&sent);
    assert_eq!(check.frames, expected.len());
    server.handle_input(&sent, now);
    let mut events = Vec::new();
    while let Some(e) = server.poll_event() {
        events.push(e);
    }
    assert_eq!(events, expected);
}

fn message(data: &[u8], now: Instant) {
    let mut r = Reader::new(data);
    let b0 = r.u8();
    let fragment_size = match r.u8() {
        0 => None,
        b => Some(usize::from(b)),
    };
    let write_chunk_size = usize::from(r.u16());
    let piece = usize::from(r.u8()).max(1);
    let payload = r.rest();
    let message = if b0 & 1 != 0 {
        Message::from(String::from_utf8_lossy(payload).into_owned())
    } else {
        Message::from(payload.to_vec())
    };

    let mut config = Config::with_policy(Policy::Standard);
    config.fragment_size = fragment_size;
    config.write_chunk_size = write_chunk_size;
    let mut client = Connection::with_entropy(
        Role::Client,
        config,
        now,
        Box::new(SeededEntropy::new(u64::from(b0))),
    );
    let mut server = Connection::with_entropy(
        Role::Server,
        Config::default(),
        now,
        Box::new(SeededEntropy::new(5)),
    );
    client
        .send(message.clone())
        .expect("a fresh connection sends");
    assert_eq!(client.buffered_amount(), message.len());
    let mut wire = Vec::new();
    loop {
        let n = client.poll_transmit(&mut wire);
        if n == 0 {
            break;
        }
        // The chunk, an eighth past it to finish a payload, and a header.
        let chunk = write_chunk_size.max(1);
        assert!(
            n < chunk + chunk / 8 + MAX_HEADER_LEN,
            "{n} bytes in one call"
        );
    }
    assert_eq!(client.buffered_amount(), 0);
    assert_eq!(client.poll_event(), None);

    // The frames: masked, cut to the fragment size, one message.
    let frames = match fragment_size {
        Some(size) => message.len().div_ceil(size).max(1),
        None => 1,
    };
    let mut at = 0;
    for i in 0..frames {
        let (header, n) = Header::decode(&wire[at..]).unwrap().unwrap();
        assert!(header.mask.is_some());
        assert_eq!(header.fin, i + 1 == frames);
        let want = if i == 0 {
            message.opcode()
        } else {
            OpCode::Continuation
        };
        assert_eq!(header.opcode, want);
        if let Some(size) = fragment_size {
            assert!(header.payload_len <= size as u64);
        }
        at += n + header.payload_len as usize;
    }
    assert_eq!(at, wire.len(), "bytes after the message's frames");

    for chunk in wire.chunks(piece) {
        server.handle_input(chunk, now);
    }
    assert_eq!(server.poll_event(), Some(Event::Message(message)));
    assert_eq!(server.poll_event(), None);
    let mut out = Vec::new();
    assert_eq!(
        server.poll_transmit(&mut out),
        0,
        "the server answered a message"
    );
}

/// A pool that lends buffers still holding old bytes (the output must clear them) and
/// counts its loans. Static, as `OutputBuffer::with_pool` wants; reset by each run.
struct CountingPool(Mutex<PoolState>);

struct PoolState {
    spare: Vec<Vec<u8>>,
    out: usize,
}

impl PoolState {
    const EMPTY: Self = Self {
        spare: Vec::new(),
        out: 0,
    };
}

static POOL: CountingPool = CountingPool(Mutex::new(PoolState::EMPTY));

impl BufferPool for CountingPool {
    fn take(&self, len: usize) -> Option<Vec<u8>> {
        let mut pool = self.0.lock().unwrap();
        pool.out += 1;
        // Sometimes one too small: the output must grow it.
        let i = pool.spare.iter().position(|b| b.capacity() >= len / 2)?;
        Some(pool.spare.swap_remove(i))
    }

    fn give(&self, mut buf: Vec<u8>) {
        let mut pool = self.0.lock().unwrap();
        assert!(pool.out > 0, "a buffer given back that was never lent");
        pool.out -= 1;
        if pool.spare.len() < 2 {
            buf.truncate(3);
            pool.spare.push(buf);
        }
    }
}

fn output(data: &[u8], now: Instant) {
    *POOL.0.lock().unwrap() = PoolState::EMPTY;
    let mut r = Reader::new(data);
    let b0 = r.u8();
    let mut config = Config::with_policy(Policy::Standard);
    config.fragment_size = match r.u16() {
        0 => None,
        n => Some(usize::from(n) * 4),
    };
    if b0 & 1 == 0 {
        config.write_chunk_size = usize::from(r.u16()).max(1) * 2;
    }
    let twin = |seed| {
        Connection::with_entropy(
            Role::Client,
            config.clone(),
            now,
            Box::new(SeededEntropy::new(seed)),
        )
    };
    let mut pooled = twin(u64::from(b0));
    let mut copying = twin(u64::from(b0));
    let mut out = OutputBuffer::with_pool(&POOL);
    let (mut written, mut expected) = (Vec::new(), Vec::new());
    let mut large = 0;
    while let Some(op) = r.byte() {
        match op % 8 {
            0..=2 => {
                // A large message (at least 64 KiB: the pooled copies; at most two a
                // run, and only where the input's first byte allows, to keep runs
                // fast) or a small one.
                let len = if op & 0x10 != 0 || b0 & 2 == 0 || large == 2 {
                    usize::from(r.u8())
                } else {
                    large += 1;
                    (64 << 10) + usize::from(r.u8())
                };
                let mut payload = vec![r.u8(); len];
                for (i, b) in payload.iter_mut().take(256).enumerate() {
                    *b ^= i as u8;
                }
                let message = if op % 8 == 0 && len < 256 {
                    Message::from(String::from_utf8_lossy(&payload).into_owned())
                } else {
                    Message::from(payload)
                };
                assert_eq!(pooled.send(message.clone()), copying.send(message));
            }
            3 => {
                let len = usize::from(r.u8() % 126);
                let payload = r.bytes(len).to_vec();
                assert_eq!(pooled.ping(payload.clone()), copying.ping(payload));
            }
            4 => assert_eq!(
                pooled.close(CloseCode::NORMAL, "bye"),
                copying.close(CloseCode::NORMAL, "bye")
            ),
            5 => {
                // Encode: the same bytes go into both.
                let before = out.len();
                let n = pooled.poll_transmit_into(&mut out);
                assert_eq!(out.len(), before + n);
                assert_eq!(n, copying.poll_transmit(&mut expected));
            }
            _ => {
                // Write: up to `slices` slices, `room` bytes in all.
                let slices = usize::from(r.u8() % 4) + 1;
                let room = usize::from(r.u16()) * 8 + 1;
                write_vectored(&mut out, slices, room, &mut written);
            }
        }
        if out.is_empty() {
            assert_eq!(
                POOL.0.lock().unwrap().out,
                0,
                "an empty output holds a loan"
            );
        }
    }
    // The rest of both, everything written.
    loop {
        let n = pooled.poll_transmit_into(&mut out);
        assert_eq!(n, copying.poll_transmit(&mut expected));
        while !out.is_empty() {
            write_vectored(&mut out, 3, 1 << 20, &mut written);
        }
        if n == 0 {
            break;
        }
    }
    assert_eq!(written.len(), expected.len());
    assert!(written == expected, "the pooled output wrote other bytes");
    assert_eq!(POOL.0.lock().unwrap().out, 0, "a loan was not given back");
    let mut check = WireChecker::new(Role::Client);
    check.feed(&written);
}
