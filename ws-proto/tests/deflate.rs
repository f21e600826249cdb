//! permessage-deflate through two connections: messages of every size both ways,
//! fragmented and interleaved with pings, and the violations RFC 7692 names.
#![cfg(feature = "deflate")]

mod support;

use support::{Pair, decode_frames, masked, take_events};
use ws_proto::frame::{Frame, OpCode};
use ws_proto::{
    CloseCode, CloseReason, Config, Connection, DeflateConfig, Event, Message, ProtocolError, Role,
};

/// A pair that negotiated permessage-deflate with these configurations.
fn pair(client: DeflateConfig, server: DeflateConfig, base: Config) -> Pair {
    let (answer, server_params) = server
        .server_accept([client.client_offer().as_str()])
        .expect("accepted");
    let client_params = client.client_check([answer.as_str()]).unwrap().unwrap();
    let mut pair = Pair::new(base.clone(), base);
    pair.client.enable_deflate(client_params);
    pair.server.enable_deflate(server_params);
    pair
}

fn json(n: usize) -> String {
    let line = "{\"user\":\"ada\",\"action\":\"update\",\"value\":42,\"ok\":true}\n";
    line.repeat(n / line.len() + 1)[..n].to_owned()
}

fn messages() -> Vec<Message> {
    let mut all = Vec::new();
    for n in [0, 1, 63, 64, 200, 5000, 70_000, 1 << 20] {
        all.push(Message::Text(json(n).into()));
        all.push(Message::Binary(vec![(n % 7) as u8; n].into()));
    }
    all.push(Message::Text("héllo wörld ".repeat(20).into()));
    all
}

fn echo_all(pair: &mut Pair, chunk: usize) {
    let sent = messages();
    for m in &sent {
        pair.client.send(m.clone()).unwrap();
        pair.client.ping(&b"p"[..]).unwrap();
    }
    pair.drive_chunked(chunk);
    let got: Vec<Message> = pair
        .server_events
        .drain(..)
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(got, sent);
    for m in got {
        pair.server.send(m).unwrap();
    }
    pair.drive_chunked(chunk);
    let back: Vec<Message> = pair
        .client_events
        .drain(..)
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(back, sent);
}

#[test]
fn messages_of_every_size_both_ways() {
    let mut p = pair(
        DeflateConfig::default(),
        DeflateConfig::default(),
        Config::default(),
    );
    echo_all(&mut p, usize::MAX);
}

#[test]
fn fragmented_small_windows_no_context_takeover_and_bytes_one_by_few() {
    let client = DeflateConfig {
        max_window_bits: 9,
        no_context_takeover: true,
        peer_max_window_bits: Some(10),
        peer_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    let base = Config {
        fragment_size: Some(100),
        ..Config::default()
    };
    let mut p = pair(client, DeflateConfig::default(), base);
    echo_all(&mut p, 7);
}

#[test]
fn compressed_frames_carry_rsv1_on_the_first_frame_only() {
    let base = Config {
        fragment_size: Some(10),
        ..Config::default()
    };
    let mut p = pair(DeflateConfig::default(), DeflateConfig::default(), base);
    p.server.send(json(1000)).unwrap();
    p.server.send("tiny").unwrap();
    let mut wire = Vec::new();
    while p.server.poll_transmit(&mut wire) > 0 {}
    let frames = decode_frames(&wire);
    assert!(frames.len() > 2);
    assert_eq!(frames[0].rsv, [true, false, false]);
    assert!(frames[1..].iter().all(|f| f.rsv == [false; 3]));
    // Below the threshold: sent as it is.
    assert_eq!(frames.last().unwrap().payload, &b"tiny"[..]);
    let total: usize = frames[..frames.len() - 1]
        .iter()
        .map(|f| f.payload.len())
        .sum();
    assert!(total < 200, "1000 bytes of JSON compress ({total})");
}

/// The server's side of a negotiated connection, fed raw client frames.
fn server_fed(frames: &[Frame]) -> (Vec<Event>, Vec<Frame>) {
    let mut p = pair(
        DeflateConfig::default(),
        DeflateConfig::default(),
        Config {
            max_message_size: 1 << 20,
            ..Config::default()
        },
    );
    let mut server: Connection = std::mem::replace(
        &mut p.server,
        Connection::new(Role::Server, Config::default(), support::t0()),
    );
    for f in frames {
        server.handle_input(&masked(f), support::t0());
    }
    let events = take_events(&mut server);
    let mut wire = Vec::new();
    while server.poll_transmit(&mut wire) > 0 {}
    (events, decode_frames(&wire))
}

fn closed_with(events: &[Event], sent: &[Frame]) -> (ProtocolError, CloseCode) {
    let Some(Event::Closed(CloseReason::Protocol(e))) = events.last() else {
        panic!("not failed: {events:?}");
    };
    let close = sent.last().expect("a close");
    assert_eq!(close.opcode, OpCode::Close);
    let code = CloseCode(u16::from_be_bytes([close.payload[0], close.payload[1]]));
    (*e, code)
}

fn deflated(data: &[u8]) -> Vec<u8> {
    let params = DeflateConfig::default()
        .server_accept(["permessage-deflate"])
        .unwrap()
        .1;
    ws_proto::deflate::Deflater::new(params)
        .compress(data)
        .to_vec()
}

#[test]
fn rsv1_on_a_control_frame_or_a_continuation_is_1002() {
    let ping = Frame::ping(&b"x"[..]).with_rsv([true, false, false]);
    let (events, sent) = server_fed(&[ping]);
    assert_eq!(closed_with(&events, &sent).1, CloseCode::PROTOCOL_ERROR);

    let first = Frame {
        fin: false,
        ..Frame::new(OpCode::Text, deflated(b"hello hello")).with_rsv([true, false, false])
    };
    let cont = Frame::new(OpCode::Continuation, &b""[..]).with_rsv([true, false, false]);
    let (events, sent) = server_fed(&[first, cont]);
    assert_eq!(closed_with(&events, &sent).1, CloseCode::PROTOCOL_ERROR);
}

#[test]
fn rsv1_without_negotiation_is_1002() {
    let mut server = Connection::new(Role::Server, Config::default(), support::t0());
    let frame = Frame::new(OpCode::Text, deflated(b"hello")).with_rsv([true, false, false]);
    server.handle_input(&masked(&frame), support::t0());
    let events = take_events(&mut server);
    assert!(matches!(
        events.last(),
        Some(Event::Closed(CloseReason::Protocol(
            ProtocolError::ReservedBits(0x40)
        )))
    ));
}

#[test]
fn corrupt_data_is_1007_and_invalid_inflated_text_is_1007() {
    let junk = Frame::binary(vec![0xff; 20]).with_rsv([true, false, false]);
    let (events, sent) = server_fed(&[junk]);
    assert_eq!(
        closed_with(&events, &sent),
        (ProtocolError::BadCompressedData, CloseCode::INVALID_PAYLOAD)
    );

    let bad_text =
        Frame::new(OpCode::Text, deflated(&[b'a', 0xff, b'b'])).with_rsv([true, false, false]);
    let (events, sent) = server_fed(&[bad_text]);
    assert_eq!(
        closed_with(&events, &sent),
        (ProtocolError::InvalidUtf8, CloseCode::INVALID_PAYLOAD)
    );
}

#[test]
fn a_deflate_bomb_is_1009_without_inflating_past_the_limit() {
    // 32 MiB of zeros in a few hundred KiB, against a 1 MiB limit.
    let bomb = Frame::binary(deflated(&vec![0u8; 32 << 20])).with_rsv([true, false, false]);
    assert!(bomb.payload.len() < 1 << 20);
    let (events, sent) = server_fed(&[bomb]);
    let (error, code) = closed_with(&events, &sent);
    assert_eq!(code, CloseCode::MESSAGE_TOO_BIG);
    let ProtocolError::MessageTooLarge { len, max } = error else {
        panic!("{error:?}");
    };
    assert_eq!(max, 1 << 20);
    assert!(len <= (1 << 20) + 1, "{len}");
}

/// The whole negotiation through the two handshake machines: the offer goes into the
/// request, the answer into the 101, and both sides agree.
#[test]
fn the_opening_handshakes_negotiate_it() {
    use ws_proto::SeededEntropy;
    use ws_proto::handshake::{ClientHandshake, ClientOptions, ServerHandshake};
    let uri: http::Uri = "ws://example.com/chat".parse().unwrap();
    let mut client =
        ClientHandshake::new(&uri, &ClientOptions::default(), &mut SeededEntropy::new(3)).unwrap();
    client.offer_deflate(DeflateConfig {
        peer_max_window_bits: Some(12),
        ..DeflateConfig::default()
    });
    let mut request = Vec::new();
    client.write_request(&mut request);
    let text = String::from_utf8_lossy(&request).to_lowercase();
    assert!(text.contains("sec-websocket-extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=12"), "{text}");

    let mut server = ServerHandshake::new(Default::default());
    let mut upgrade = server.handle_input(&request).unwrap().unwrap();
    let server_params = upgrade
        .negotiate_deflate(&DeflateConfig::default())
        .unwrap();
    assert_eq!(server_params.window_bits, Some(12));
    let mut response = Vec::new();
    upgrade
        .accept(None, &Default::default(), &mut response)
        .unwrap();
    let answer = client.handle_input(&response).unwrap().unwrap();
    let client_params = answer.extensions.deflate.expect("accepted");
    assert_eq!(client_params.peer_window_bits, 12);

    // Without an offer, no answer; an answer nobody asked for fails the client.
    let plain = ServerHandshake::new(Default::default())
        .handle_input(
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap()
        .unwrap();
    let mut plain = plain;
    assert!(plain.negotiate_deflate(&DeflateConfig::default()).is_none());
}
