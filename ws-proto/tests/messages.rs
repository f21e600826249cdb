//! A client and a server machine talking in memory: handshake, messages of every size,
//! fragmentation both ways, ping/pong, and the closing handshake from either side.

mod support;

use bytes::Bytes;
use http::HeaderMap;
use support::{Pair, Rng, decode_frames, masked, take_events, take_output};
use ws_proto::frame::{Frame, OpCode};
use ws_proto::handshake::{ClientHandshake, ClientOptions, ServerHandshake};
use ws_proto::{
    CloseCode, CloseFrame, CloseReason, Config, Connection, Event, Message, Role, SeededEntropy,
    State, UsageError,
};

#[test]
fn handshake_then_first_frame_in_the_same_read() {
    let now = support::t0();
    let options = ClientOptions {
        subprotocols: vec!["chat".into(), "v2".into()],
        origin: Some("http://example.com".into()),
        ..ClientOptions::default()
    };
    let uri = "ws://example.com:8080/room".parse().unwrap();
    let mut client_hs = ClientHandshake::new(&uri, &options, &mut SeededEntropy::new(3)).unwrap();
    let mut wire = Vec::new();
    client_hs.write_request(&mut wire);

    let mut server_hs = ServerHandshake::default();
    let upgrade = server_hs.handle_input(&wire).unwrap().unwrap();
    assert_eq!(upgrade.request().uri().path(), "/room");
    assert_eq!(upgrade.subprotocols(), ["chat", "v2"]);
    let mut reply = Vec::new();
    upgrade
        .accept(Some("v2"), &HeaderMap::new(), &mut reply)
        .unwrap();
    // The server greets in the same write as its 101.
    let mut server = Connection::new(Role::Server, Config::default(), now);
    server.send("welcome").unwrap();
    reply.extend(take_output(&mut server));

    let accepted = client_hs.handle_input(&reply).unwrap().unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("v2"));
    let mut client = Connection::new(Role::Client, Config::default(), now);
    client.handle_input(&accepted.leftover, now);
    assert_eq!(
        take_events(&mut client),
        [Event::Message(Message::from("welcome"))]
    );
}

#[test]
fn messages_from_0_bytes_to_16_mib_both_ways() {
    let mut pair = Pair::default_pair();
    let mut rng = Rng(1);
    for size in [
        0,
        1,
        125,
        126,
        127,
        65_535,
        65_536,
        65_537,
        1 << 20,
        16 << 20,
    ] {
        let data = Bytes::from(rng.bytes(size));
        let text: String = (0..size.min(70_000))
            .map(|i| (b'a' + (i % 26) as u8) as char)
            .collect();
        pair.client.send(data.clone()).unwrap();
        pair.server.send(data.clone()).unwrap();
        pair.client.send(text.as_str()).unwrap();
        pair.drive();
        assert_eq!(
            pair.server_events.drain(..).collect::<Vec<_>>(),
            [
                Event::Message(Message::Binary(data.clone())),
                Event::Message(Message::from(text.as_str()))
            ],
            "size {size}"
        );
        assert_eq!(
            pair.client_events.drain(..).collect::<Vec<_>>(),
            [Event::Message(Message::Binary(data))]
        );
    }
}

#[test]
fn outgoing_messages_are_fragmented_and_reassembled() {
    let config = Config {
        fragment_size: Some(1000),
        ..Config::default()
    };
    let mut client = Connection::with_entropy(
        Role::Client,
        config,
        support::t0(),
        Box::new(SeededEntropy::new(1)),
    );
    let text = "κόσμε ".repeat(500); // code points cut at fragment boundaries
    client.send(text.as_str()).unwrap();
    let frames = decode_frames(&take_output(&mut client));
    assert_eq!(frames.len(), text.len().div_ceil(1000));
    assert_eq!(frames[0].opcode, OpCode::Text);
    assert!(frames[1..].iter().all(|f| f.opcode == OpCode::Continuation));
    assert!(
        frames[..frames.len() - 1]
            .iter()
            .all(|f| !f.fin && f.payload.len() == 1000)
    );
    assert!(frames.last().unwrap().fin);

    let mut pair = Pair::new(config_with_fragments(7), Config::default());
    pair.client.send(text.as_str()).unwrap();
    pair.drive_chunked(13);
    assert_eq!(
        pair.server_events,
        [Event::Message(Message::from(text.as_str()))]
    );
}

fn config_with_fragments(size: usize) -> Config {
    Config {
        fragment_size: Some(size),
        ..Config::default()
    }
}

#[test]
fn incoming_fragments_with_control_frames_between() {
    let now = support::t0();
    let mut server = Connection::new(Role::Server, Config::default(), now);
    let mut wire = Vec::new();
    wire.extend(masked(
        &Frame::new(OpCode::Text, &b"Hel"[..]).with_fin(false),
    ));
    wire.extend(masked(&Frame::ping(&b"p1"[..])));
    wire.extend(masked(
        &Frame::new(OpCode::Continuation, &b"lo, "[..]).with_fin(false),
    ));
    wire.extend(masked(&Frame::pong(&b"unsolicited"[..])));
    wire.extend(masked(&Frame::new(OpCode::Continuation, &b"world"[..])));
    server.handle_input(&wire, now);
    assert_eq!(
        take_events(&mut server),
        [
            Event::Ping(Bytes::from_static(b"p1")),
            Event::Pong(Bytes::from_static(b"unsolicited")),
            Event::Message(Message::from("Hello, world")),
        ]
    );
    assert_eq!(
        decode_frames(&take_output(&mut server)),
        [Frame::pong(&b"p1"[..])]
    );
}

#[test]
fn pong_goes_out_between_the_fragments_of_a_long_message() {
    let config = Config {
        fragment_size: Some(100),
        write_chunk_size: 150,
        ..Config::default()
    };
    let now = support::t0();
    let mut server = Connection::new(Role::Server, config, now);
    server.send(vec![7u8; 1000]).unwrap();
    let mut first = Vec::new();
    let _ = server.poll_transmit(&mut first);
    server.handle_input(&masked(&Frame::ping(&b"now"[..])), now);
    assert_eq!(
        take_events(&mut server),
        [Event::Ping(Bytes::from_static(b"now"))]
    );
    let rest = take_output(&mut server);
    let frames = decode_frames(&[first, rest].concat());
    let pong_at = frames
        .iter()
        .position(|f| f.opcode == OpCode::Pong)
        .unwrap();
    assert!(
        pong_at > 0 && pong_at < frames.len() - 1,
        "pong at {pong_at} of {}",
        frames.len()
    );
    assert_eq!(
        frames
            .iter()
            .filter(|f| f.opcode != OpCode::Pong)
            .map(|f| f.payload.len())
            .sum::<usize>(),
        1000
    );
}

#[test]
fn user_pings_are_answered_and_reported() {
    let mut pair = Pair::default_pair();
    pair.client.ping(&b"are you there"[..]).unwrap();
    pair.server.ping(Bytes::new()).unwrap();
    pair.drive();
    assert_eq!(
        pair.server_events,
        [
            Event::Ping(Bytes::from_static(b"are you there")),
            Event::Pong(Bytes::new())
        ]
    );
    // The server's own ping was queued before the pong it owed.
    assert_eq!(
        pair.client_events,
        [
            Event::Ping(Bytes::new()),
            Event::Pong(Bytes::from_static(b"are you there"))
        ]
    );
}

#[test]
fn client_initiated_close_completes_and_server_drops_first() {
    let mut pair = Pair::default_pair();
    pair.client.send("last words").unwrap();
    pair.client.close(CloseCode::GOING_AWAY, "leaving").unwrap();
    assert_eq!(pair.client.state(), State::Closing);
    assert_eq!(
        pair.client.send("too late"),
        Err(UsageError::CloseAlreadySent)
    );
    pair.drive();
    let peer = Some(CloseFrame::new(CloseCode::GOING_AWAY, "leaving"));
    assert_eq!(
        pair.server_events,
        [
            Event::Message(Message::from("last words")),
            Event::Closed(CloseReason::Handshake {
                peer,
                initiated_locally: false
            }),
        ]
    );
    // The server echoed the code.
    assert_eq!(
        pair.client_events,
        [Event::Closed(CloseReason::Handshake {
            peer: Some(CloseFrame::new(CloseCode::GOING_AWAY, "")),
            initiated_locally: true,
        })]
    );
    assert!(pair.server_gone && pair.client_gone);
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
    assert_eq!(pair.client.send("x"), Err(UsageError::Closed));
}

#[test]
fn server_initiated_close_waits_for_queued_data() {
    let mut pair = Pair::default_pair();
    for i in 0..100 {
        pair.server.send(format!("message {i}")).unwrap();
    }
    pair.server.close(CloseCode::NORMAL, "done").unwrap();
    pair.drive();
    assert_eq!(pair.client_events.len(), 101);
    for (i, e) in pair.client_events[..100].iter().enumerate() {
        assert_eq!(*e, Event::Message(Message::from(format!("message {i}"))));
    }
    assert_eq!(
        pair.client_events[100],
        Event::Closed(CloseReason::Handshake {
            peer: Some(CloseFrame::new(CloseCode::NORMAL, "done")),
            initiated_locally: false,
        })
    );
    assert!(matches!(
        pair.server_events.last(),
        Some(Event::Closed(CloseReason::Handshake {
            initiated_locally: true,
            ..
        }))
    ));
}

#[test]
fn messages_received_before_the_close_are_delivered_first() {
    let now = support::t0();
    let mut server = Connection::new(Role::Server, Config::default(), now);
    let mut wire = Vec::new();
    for i in 0..10 {
        wire.extend(masked(&Frame::text(format!("m{i}"))));
    }
    wire.extend(masked(&Frame::close_empty()));
    // Anything after the Close is ignored.
    wire.extend(masked(&Frame::text("after")));
    server.handle_input(&wire, now);
    let events = take_events(&mut server);
    assert_eq!(events.len(), 11);
    assert_eq!(
        events[10],
        Event::Closed(CloseReason::Handshake {
            peer: None,
            initiated_locally: false
        })
    );
    // An empty Close is answered with an empty Close.
    assert_eq!(
        decode_frames(&take_output(&mut server)),
        [Frame::close_empty()]
    );
    assert!(server.should_close_transport());
}

#[test]
fn close_arguments_are_checked() {
    let mut c = Connection::new(Role::Server, Config::default(), support::t0());
    assert_eq!(
        c.close(CloseCode::NO_STATUS, ""),
        Err(UsageError::InvalidCloseCode(1005))
    );
    assert_eq!(
        c.close(CloseCode(2000), ""),
        Err(UsageError::InvalidCloseCode(2000))
    );
    assert_eq!(
        c.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(UsageError::CloseReasonTooLong(124))
    );
    assert_eq!(
        c.ping(vec![0u8; 126]),
        Err(UsageError::ControlPayloadTooLong(126))
    );
    assert_eq!(
        c.send_frame(Frame::ping(Bytes::new()).with_fin(false)),
        Err(UsageError::FragmentedControlFrame)
    );
    assert_eq!(c.state(), State::Open);
    c.close(CloseCode(4000), &"x".repeat(123)).unwrap();
    assert_eq!(
        c.close(CloseCode::NORMAL, ""),
        Err(UsageError::CloseAlreadySent)
    );
}

#[test]
fn eof_without_close_is_abnormal() {
    let mut pair = Pair::default_pair();
    pair.client.send("half").unwrap();
    let _ = take_output(&mut pair.client);
    pair.server
        .handle_input(&masked(&Frame::text("partial"))[..5], pair.now);
    pair.server.handle_eof(pair.now);
    assert_eq!(
        take_events(&mut pair.server),
        [Event::Closed(CloseReason::Eof)]
    );
    assert!(pair.server.should_close_transport());
    assert!(!pair.server.should_abort_transport());
}

#[test]
fn a_failed_write_drops_the_output_and_refuses_later_sends() {
    let mut pair = Pair::default_pair();
    pair.client.send("before").unwrap();
    let wire = take_output(&mut pair.client);
    pair.server.handle_input(&wire, pair.now);
    pair.server.send(vec![7u8; 100_000]).unwrap();
    pair.server.handle_write_error(pair.now);
    // Nothing queued can be written any more: it is not kept, and no more is taken.
    assert_eq!(pair.server.buffered_amount(), 0);
    assert_eq!(pair.server.send("after"), Err(UsageError::Closed));
    assert_eq!(pair.server.ping(&b"?"[..]), Err(UsageError::Closed));
    assert!(pair.server.should_abort_transport());
    let mut out = Vec::new();
    assert_eq!(pair.server.poll_transmit(&mut out), 0);
    // What was received before still comes out, then the end.
    assert_eq!(
        take_events(&mut pair.server),
        [
            Event::Message(Message::from("before")),
            Event::Closed(CloseReason::Eof)
        ]
    );
}

#[test]
fn buffered_amount_counts_queued_payload() {
    let mut c = Connection::new(Role::Server, Config::default(), support::t0());
    // Larger than a write chunk and the eighth a payload may go past it, so the first
    // transmit leaves some of it queued.
    let chunk = c.config().write_chunk_size;
    let big = chunk + chunk / 8 + 50_000;
    c.send(vec![0u8; big]).unwrap();
    c.send("abc").unwrap();
    assert_eq!(c.buffered_amount(), big + 3);
    let mut out = Vec::new();
    let n = c.poll_transmit(&mut out);
    assert!(n <= chunk + 14, "{n}");
    assert_eq!(c.buffered_amount(), big + 3 - (n - 10));
    let _ = take_output(&mut c);
    assert_eq!(c.buffered_amount(), 0);
}

#[test]
fn a_payload_just_past_the_write_chunk_goes_out_in_one_call() {
    let now = support::t0();
    let config = Config::default();
    let chunk = config.write_chunk_size;
    let mut client =
        Connection::with_entropy(Role::Client, config, now, Box::new(SeededEntropy::new(1)));
    let mut calls = |len: usize| {
        client.send(vec![3u8; len]).unwrap();
        let mut sizes = Vec::new();
        let mut out = Vec::new();
        loop {
            match client.poll_transmit(&mut out) {
                0 => break,
                n => sizes.push(n),
            }
        }
        sizes
    };
    // A payload of exactly the chunk, with its header: one call, not the chunk and
    // then the payload's last bytes on their own.
    assert_eq!(calls(chunk), [chunk + 14]);
    // Up to an eighth past the chunk, header included.
    assert_eq!(calls(chunk + chunk / 8 - 14), [chunk + chunk / 8]);
    // Past that, the chunk bounds the call as before.
    assert_eq!(calls(chunk + chunk / 8 - 13), [chunk, chunk / 8 + 1]);

    // A chunk as large as can be (no bound) is no overflow.
    let config = Config {
        write_chunk_size: usize::MAX,
        ..Config::default()
    };
    let mut client =
        Connection::with_entropy(Role::Client, config, now, Box::new(SeededEntropy::new(2)));
    client.send(vec![3u8; 300]).unwrap();
    let mut out = Vec::new();
    assert_eq!(client.poll_transmit(&mut out), 308);
    assert_eq!(client.poll_transmit(&mut out), 0);
}

#[test]
fn reading_straight_into_the_read_buffer() {
    let now = support::t0();
    let mut server = Connection::new(Role::Server, Config::default(), now);
    let wire = masked(&Frame::binary(vec![5u8; 3000]));
    for piece in wire.chunks(1000) {
        server.read_buffer().extend_from_slice(piece);
        server.handle_read(now);
    }
    assert_eq!(
        take_events(&mut server),
        [Event::Message(Message::Binary(vec![5u8; 3000].into()))]
    );
}

/// `Connection::new` draws a client's keys from the OS source, made at the first
/// frame (a server never makes one): every frame masked, with keys that differ.
#[test]
fn a_client_made_with_new_masks_with_fresh_keys_and_a_server_does_not_mask() {
    let mut client = Connection::new(Role::Client, Config::default(), support::t0());
    let mut server = Connection::new(Role::Server, Config::default(), support::t0());
    let mut keys = Vec::new();
    for i in 0..8 {
        client.send(format!("message {i}")).unwrap();
        server.send(format!("message {i}")).unwrap();
        let wire = take_output(&mut client);
        let (header, _) = ws_proto::frame::Header::decode(&wire).unwrap().unwrap();
        keys.push(header.mask.expect("a client frame is masked"));
        assert_eq!(
            decode_frames(&wire),
            [Frame::new(
                OpCode::Text,
                format!("message {i}").into_bytes()
            )]
        );
        let wire = take_output(&mut server);
        let (header, _) = ws_proto::frame::Header::decode(&wire).unwrap().unwrap();
        assert_eq!(header.mask, None, "a server frame is not masked");
    }
    keys.sort_unstable();
    keys.dedup();
    // Eight equal keys from a working random source: odds of 2^-224.
    assert!(keys.len() > 1, "{keys:?}");
}
