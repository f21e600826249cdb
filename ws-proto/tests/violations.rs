//! Every protocol violation fails the connection with its close code: a Close frame
//! with that code is the last thing written, `Event::Closed(Protocol(..))` the last
//! event, and the transport is to be closed.

mod support;

use support::{decode_frames, masked, take_events, take_output, unmasked};
use ws_proto::frame::{Frame, OpCode};
use ws_proto::{
    CloseCode, CloseReason, Config, Connection, Event, Message, ProtocolError, Role, SeededEntropy,
};

fn server(config: Config) -> Connection {
    Connection::new(Role::Server, config, support::t0())
}

fn client(config: Config) -> Connection {
    Connection::with_entropy(
        Role::Client,
        config,
        support::t0(),
        Box::new(SeededEntropy::new(9)),
    )
}

/// Feeds `wire` to `conn` and checks that it failed with `error`.
fn assert_fails(mut conn: Connection, wire: &[u8], error: ProtocolError) {
    conn.handle_input(wire, support::t0());
    let events = take_events(&mut conn);
    assert_eq!(
        events.last(),
        Some(&Event::Closed(CloseReason::Protocol(error))),
        "{events:?}"
    );
    let frames = decode_frames(&take_output(&mut conn));
    let close = frames.last().expect("a Close frame");
    assert_eq!(close.opcode, OpCode::Close);
    assert_eq!(
        u16::from_be_bytes([close.payload[0], close.payload[1]]),
        error.close_code().0
    );
    assert!(conn.should_close_transport());
    // Nothing more is read or answered.
    conn.handle_input(&masked(&Frame::ping(&b"x"[..])), support::t0());
    conn.handle_input(&unmasked(&Frame::ping(&b"x"[..])), support::t0());
    assert_eq!(take_events(&mut conn), []);
    assert!(take_output(&mut conn).is_empty());
    assert!(conn.send("x").is_err());
}

fn code_of(error: ProtocolError) -> u16 {
    error.close_code().0
}

#[test]
fn server_refuses_unmasked_frames_1002() {
    assert_fails(
        server(Config::default()),
        &unmasked(&Frame::text("hi")),
        ProtocolError::UnmaskedFrame,
    );
    assert_eq!(code_of(ProtocolError::UnmaskedFrame), 1002);
}

#[test]
fn client_refuses_masked_frames_1002() {
    assert_fails(
        client(Config::default()),
        &masked(&Frame::text("hi")),
        ProtocolError::MaskedFrame,
    );
}

#[test]
fn rsv_bits_without_extension_1002() {
    for (rsv, bits) in [
        ([true, false, false], 0x40),
        ([false, true, false], 0x20),
        ([false, false, true], 0x10),
    ] {
        let frame = Frame::text("hi").with_rsv(rsv);
        assert_fails(
            server(Config::default()),
            &masked(&frame),
            ProtocolError::ReservedBits(bits),
        );
    }
}

#[test]
fn reserved_opcodes_1002() {
    for n in (3..=7).chain(11..=15) {
        let frame = Frame::new(OpCode::from_nibble(n), &b""[..]);
        assert_fails(
            server(Config::default()),
            &masked(&frame),
            ProtocolError::ReservedOpcode(n),
        );
    }
}

#[test]
fn control_frames_over_125_bytes_1002() {
    let mut wire = masked(&Frame::ping(vec![0u8; 126]));
    wire.truncate(8); // the header alone is enough to decide
    assert_fails(
        server(Config::default()),
        &wire,
        ProtocolError::ControlFrameTooLong(126),
    );
    let close = Frame::new(
        OpCode::Close,
        vec![0x03, 0xe8]
            .into_iter()
            .chain([b'a'; 124])
            .collect::<Vec<_>>(),
    );
    assert_fails(
        server(Config::default()),
        &masked(&close),
        ProtocolError::ControlFrameTooLong(126),
    );
}

#[test]
fn fragmented_control_frames_1002() {
    let frame = Frame::ping(&b"x"[..]).with_fin(false);
    assert_fails(
        server(Config::default()),
        &masked(&frame),
        ProtocolError::FragmentedControlFrame,
    );
}

#[test]
fn continuation_without_a_start_1002() {
    let frame = Frame::new(OpCode::Continuation, &b"x"[..]);
    assert_fails(
        server(Config::default()),
        &masked(&frame),
        ProtocolError::UnexpectedContinuation,
    );
}

#[test]
fn new_message_inside_a_fragmented_one_1002() {
    let mut wire = masked(&Frame::new(OpCode::Binary, &b"a"[..]).with_fin(false));
    wire.extend(masked(&Frame::text("b")));
    assert_fails(
        server(Config::default()),
        &wire,
        ProtocolError::ExpectedContinuation,
    );
}

#[test]
fn invalid_utf8_in_one_frame_1007() {
    let frame = Frame::new(
        OpCode::Text,
        &b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"[..],
    );
    assert_fails(
        server(Config::default()),
        &masked(&frame),
        ProtocolError::InvalidUtf8,
    );
    assert_eq!(code_of(ProtocolError::InvalidUtf8), 1007);
}

#[test]
fn invalid_utf8_split_across_frames_1007() {
    // Each frame alone would be fine up to its end; together they are not.
    let mut wire = masked(&Frame::new(OpCode::Text, &b"ok \xf0\x9f"[..]).with_fin(false));
    wire.extend(masked(&Frame::new(OpCode::Continuation, &b"\x41"[..])));
    assert_fails(server(Config::default()), &wire, ProtocolError::InvalidUtf8);
}

#[test]
fn valid_utf8_split_inside_a_code_point_is_accepted() {
    let mut conn = server(Config::default());
    let mut wire = masked(&Frame::new(OpCode::Text, &b"\xf0\x9f"[..]).with_fin(false));
    wire.extend(masked(&Frame::new(OpCode::Continuation, &b"\x98\x80"[..])));
    conn.handle_input(&wire, support::t0());
    assert_eq!(take_events(&mut conn), [Event::Message("😀".into())]);
}

#[test]
fn utf8_truncated_at_the_end_of_the_message_1007() {
    let mut wire = masked(&Frame::new(OpCode::Text, &b"abc"[..]).with_fin(false));
    wire.extend(masked(&Frame::new(OpCode::Continuation, &b"\xe2\x82"[..])));
    assert_fails(server(Config::default()), &wire, ProtocolError::InvalidUtf8);
}

#[test]
fn invalid_utf8_fails_before_the_frame_is_complete() {
    // Autobahn 6.4.x: the bad byte is in the first part of a frame whose rest never comes.
    let frame = Frame::new(OpCode::Text, [&b"hello \xff"[..], &[b'a'; 1000]].concat());
    let wire = masked(&frame);
    assert_fails(
        server(Config::default()),
        &wire[..wire.len() - 900],
        ProtocolError::InvalidUtf8,
    );
}

#[test]
fn close_payload_of_one_byte_1002() {
    let frame = Frame::new(OpCode::Close, &[0x03][..]);
    assert_fails(
        server(Config::default()),
        &masked(&frame),
        ProtocolError::CloseTooShort,
    );
}

#[test]
fn close_codes_that_may_not_be_sent_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        let frame = Frame::close(CloseCode(code), "");
        assert_fails(
            server(Config::default()),
            &masked(&frame),
            ProtocolError::InvalidCloseCode(code),
        );
    }
}

#[test]
fn close_reason_not_utf8_1007() {
    let frame = Frame::new(
        OpCode::Close,
        &b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"[..],
    );
    assert_fails(
        client(Config::default()),
        &unmasked(&frame),
        ProtocolError::InvalidCloseReason,
    );
    assert_eq!(code_of(ProtocolError::InvalidCloseReason), 1007);
}

#[test]
fn length_with_top_bit_set_1002() {
    let wire = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
    assert_fails(
        server(Config::default()),
        &wire,
        ProtocolError::LengthTopBitSet,
    );
}

#[test]
fn frame_over_the_limit_1009_before_its_payload_arrives() {
    let config = Config {
        max_frame_size: 1000,
        ..Config::default()
    };
    let mut wire = masked(&Frame::binary(vec![0u8; 1001]));
    wire.truncate(8); // only the header: nothing of the payload is buffered
    assert_fails(
        server(config),
        &wire,
        ProtocolError::FrameTooLarge {
            len: 1001,
            max: 1000,
        },
    );
    assert_eq!(
        code_of(ProtocolError::FrameTooLarge { len: 1, max: 0 }),
        1009
    );
    // A 2^62-byte frame is refused from its 14-byte header alone.
    let huge = [0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    assert_fails(
        server(Config::default()),
        &huge,
        ProtocolError::FrameTooLarge {
            len: 1 << 62,
            max: 16 << 20,
        },
    );
}

#[test]
fn a_length_over_the_limit_allocates_nothing_for_it() {
    // Headers announcing 16 MiB + 1 and 2^62 bytes, read the way the adapters read
    // (into the buffer `read_buffer_for` hands out): refused with 1009 from the header,
    // and no buffer was sized from the length.
    for len in [(16u64 << 20) + 1, 1 << 62] {
        let mut conn = server(Config::default());
        let mut header = vec![0x82, 0xff];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        conn.read_buffer_for(16 << 10).0.extend_from_slice(&header);
        conn.handle_read(support::t0());
        let events = take_events(&mut conn);
        assert_eq!(
            events.last(),
            Some(&Event::Closed(CloseReason::Protocol(
                ProtocolError::FrameTooLarge { len, max: 16 << 20 }
            ))),
        );
        // Asking for read room afterwards does not size it from the refused header.
        let _ = conn.read_buffer_for(16 << 10);
        assert!(
            conn.buffer_capacity() < 64 << 10,
            "{} bytes held after refusing a {len}-byte frame",
            conn.buffer_capacity()
        );
    }
}

#[test]
fn a_length_within_the_limit_reserves_room_as_the_bytes_come() {
    // A header announcing 16 MiB (the limit): the read buffer reserves 1 MiB ahead,
    // not 16, and grows with what arrives; the message still arrives whole.
    let len: usize = 16 << 20;
    let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let wire = masked(&Frame::new(OpCode::Binary, payload.clone()));
    let mut conn = server(Config::default());
    let header = &wire[..14];
    conn.read_buffer_for(64 << 10).0.extend_from_slice(header);
    conn.handle_read(support::t0());
    let _ = conn.read_buffer_for(64 << 10);
    assert!(
        conn.buffer_capacity() <= (1 << 20) + (64 << 10),
        "{} bytes reserved from a header alone",
        conn.buffer_capacity()
    );
    let mut at = 14;
    let mut events = Vec::new();
    while at < wire.len() {
        let (buf, max) = conn.read_buffer_for(64 << 10);
        // A read into spare capacity takes what the room holds, up to `max`.
        let room = buf.capacity() - buf.len();
        assert!(room > 0, "no room for a read after {at} bytes");
        let n = max.min(room).min(wire.len() - at);
        buf.extend_from_slice(&wire[at..at + n]);
        at += n;
        conn.handle_read(support::t0());
        // Never more than twice what has arrived, and the 1 MiB ahead.
        assert!(
            conn.buffer_capacity() <= 2 * at + (1 << 20) + (64 << 10),
            "{} bytes reserved after {at} arrived",
            conn.buffer_capacity()
        );
        events.extend(take_events(&mut conn));
    }
    assert_eq!(events, [Event::Message(Message::Binary(payload.into()))]);
}

#[test]
fn message_over_the_limit_1009() {
    let config = Config {
        max_message_size: 1000,
        ..Config::default()
    };
    let mut wire = masked(&Frame::new(OpCode::Binary, vec![0u8; 400]).with_fin(false));
    wire.extend(masked(
        &Frame::new(OpCode::Continuation, vec![0u8; 400]).with_fin(false),
    ));
    let two_fragments = wire.len();
    wire.extend(masked(&Frame::new(OpCode::Continuation, vec![0u8; 400])));
    // 800 bytes so far are fine.
    let mut conn = server(config.clone());
    conn.handle_input(&wire[..two_fragments], support::t0());
    assert_eq!(take_events(&mut conn), []);
    // The third header announces 1200 in all: refused before its payload.
    assert_fails(
        server(config.clone()),
        &wire[..two_fragments + 8],
        ProtocolError::MessageTooLarge {
            len: 1200,
            max: 1000,
        },
    );
    // A single frame over the message limit is refused too.
    let single = masked(&Frame::binary(vec![0u8; 1001]));
    assert_fails(
        server(config),
        &single,
        ProtocolError::MessageTooLarge {
            len: 1001,
            max: 1000,
        },
    );
}

#[test]
fn a_failing_connection_still_sends_what_was_queued_then_its_close() {
    let config = Config {
        write_chunk_size: 100,
        ..Config::default()
    };
    let mut conn = server(config);
    conn.send(vec![1u8; 1000]).unwrap();
    conn.send("queued before the violation").unwrap();
    let mut out = Vec::new();
    let _ = conn.poll_transmit(&mut out);
    conn.handle_input(&unmasked(&Frame::text("bad")), support::t0());
    assert_eq!(
        take_events(&mut conn),
        [Event::Closed(CloseReason::Protocol(
            ProtocolError::UnmaskedFrame
        ))]
    );
    out.extend(take_output(&mut conn));
    let frames = decode_frames(&out);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].payload.len(), 1000);
    assert_eq!(frames[1], Frame::text("queued before the violation"));
    assert_eq!(frames[2], Frame::close(CloseCode::PROTOCOL_ERROR, ""));
}

#[test]
fn an_answer_to_a_message_goes_out_before_the_close_for_a_later_violation() {
    // Autobahn 3.2: a message, then a bad frame, in the same read. The echo of the
    // message is queued before the bad frame is decoded, and is sent before the Close.
    let mut conn = server(Config::default());
    let mut wire = masked(&Frame::text("Hello, world!"));
    wire.extend(masked(&Frame::text("x").with_rsv([false, true, false])));
    wire.extend(masked(&Frame::ping(&b""[..])));
    conn.handle_input(&wire, support::t0());
    let Some(Event::Message(message)) = conn.poll_event() else {
        panic!("the first message comes first");
    };
    conn.send(message).unwrap();
    assert_eq!(
        conn.poll_event(),
        Some(Event::Closed(CloseReason::Protocol(
            ProtocolError::ReservedBits(0x20)
        )))
    );
    assert_eq!(
        decode_frames(&take_output(&mut conn)),
        [
            Frame::text("Hello, world!"),
            Frame::close(CloseCode::PROTOCOL_ERROR, "")
        ]
    );
}
