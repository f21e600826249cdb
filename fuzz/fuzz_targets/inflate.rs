//! permessage-deflate on a server connection with tight limits: the negotiation from
//! fuzzer-chosen settings, then fuzzer-chosen frames (RSV1 or not, any opcode, split
//! anywhere) and raw deflate data. Nothing may panic, no message may exceed the limit,
//! and the decompressor alone must stop at its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::deflate::{Deflater, Inflater};
use ws_proto::frame::{Frame, OpCode};
use ws_proto::{Config, Connection, DeflateConfig, Event, Message, Role};
use ws_proto_fuzz::{Clock, Reader};

const LIMIT: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let flags = r.u8();
    let client = DeflateConfig {
        max_window_bits: 9 + (flags & 7).min(6),
        no_context_takeover: flags & 8 != 0,
        peer_max_window_bits: (flags & 16 != 0).then_some(8 + (r.u8() & 7)),
        peer_no_context_takeover: flags & 32 != 0,
        ..DeflateConfig::default()
    };
    let Some((_, params)) =
        DeflateConfig::default().server_accept([client.client_offer().as_str()])
    else {
        panic!("a valid offer was declined");
    };

    // The decompressor alone, on raw data.
    if flags & 64 != 0 {
        let mut inflater = Inflater::new(&params);
        let mut out = Vec::new();
        let _ = inflater
            .inflate(r.rest(), &mut out, LIMIT)
            .and_then(|()| inflater.finish(&mut out, LIMIT));
        assert!(out.len() <= LIMIT + 1);
        return;
    }

    let clock = Clock::new();
    let config = Config {
        max_message_size: LIMIT,
        max_frame_size: LIMIT,
        ..Config::default()
    };
    let mut server = Connection::new(Role::Server, config, clock.now());
    server.enable_deflate(params);
    // Some frames carry data compressed for real, so inflation gets deep.
    let mut deflater = Deflater::new(params);
    let mut wire = Vec::new();
    while !r.is_empty() {
        let head = r.u8();
        let len = usize::from(r.u16() % 2048);
        let body = r.bytes(len);
        let payload = if head & 0x20 != 0 {
            deflater.compress(body).to_vec()
        } else {
            body.to_vec()
        };
        let opcode = OpCode::from_nibble(head & 0x0f);
        let mut frame = Frame::new(opcode, payload);
        frame.fin = head & 0x80 != 0;
        frame.rsv = [head & 0x40 != 0, false, false];
        frame.encode(Some([head, 1, 2, 3]), &mut wire);
    }
    for piece in wire.chunks(usize::from(flags >> 4) * 97 + 1) {
        server.handle_input(piece, clock.now());
        while let Some(event) = server.poll_event() {
            if let Event::Message(m) = &event {
                let len = match m {
                    Message::Text(t) => t.len(),
                    Message::Binary(b) => b.len(),
                };
                assert!(len <= LIMIT, "a message of {len} bytes passed the limit");
            }
        }
        let mut out = Vec::new();
        while server.poll_transmit(&mut out) > 0 {}
    }
});
