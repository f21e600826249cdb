//! The raw policy: every frame handed up as it came, nothing answered for the user.

mod support;

use bytes::Bytes;
use support::{decode_frames, masked, take_events, take_output};
use ws_proto::frame::{Frame, OpCode};
use ws_proto::{
    CloseCode, CloseFrame, CloseReason, Config, Connection, Event, Policy, ProtocolError, Role,
};

fn raw_server() -> Connection {
    Connection::new(
        Role::Server,
        Config::with_policy(Policy::Raw),
        support::t0(),
    )
}

#[test]
fn frames_come_up_as_they_are() {
    let mut conn = raw_server();
    let frames = [
        Frame::new(OpCode::Text, &b"frag"[..]).with_fin(false),
        Frame::ping(&b"p"[..]),
        Frame::new(OpCode::Continuation, &b"ment"[..]),
        Frame::new(OpCode::from_nibble(0x4), &b"reserved"[..]).with_rsv([true, false, true]),
        Frame::new(OpCode::from_nibble(0xB), &b""[..]),
        Frame::new(OpCode::Binary, &b"\xff"[..]),
    ];
    let wire: Vec<u8> = frames.iter().flat_map(masked).collect();
    conn.handle_input(&wire, support::t0());
    let got: Vec<Event> = take_events(&mut conn);
    assert_eq!(
        got,
        frames.iter().cloned().map(Event::Frame).collect::<Vec<_>>()
    );
    // No Pong was sent for the Ping.
    assert!(take_output(&mut conn).is_empty());
}

#[test]
fn framing_rules_still_hold() {
    let mut conn = raw_server();
    conn.handle_input(&masked(&Frame::ping(vec![0u8; 126])), support::t0());
    assert_eq!(
        take_events(&mut conn),
        [Event::Closed(CloseReason::Protocol(
            ProtocolError::ControlFrameTooLong(126)
        ))]
    );
}

#[test]
fn the_user_answers_the_close() {
    let mut conn = raw_server();
    let close = Frame::close(CloseCode::GOING_AWAY, "bye");
    conn.handle_input(&masked(&close), support::t0());
    assert_eq!(take_events(&mut conn), [Event::Frame(close.clone())]);
    assert!(take_output(&mut conn).is_empty());
    assert!(!conn.should_close_transport());
    conn.send_frame(Frame::close(CloseCode::GOING_AWAY, ""))
        .unwrap();
    assert_eq!(
        take_events(&mut conn),
        [Event::Closed(CloseReason::Handshake {
            peer: Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye")),
            initiated_locally: false,
        })]
    );
    assert_eq!(
        decode_frames(&take_output(&mut conn)),
        [Frame::close(CloseCode::GOING_AWAY, "")]
    );
    assert!(conn.should_close_transport());
}

#[test]
fn switching_to_standard_turns_replies_on() {
    let mut conn = raw_server();
    conn.set_policy(Policy::Standard);
    conn.handle_input(&masked(&Frame::ping(&b"hi"[..])), support::t0());
    assert_eq!(
        take_events(&mut conn),
        [Event::Ping(Bytes::from_static(b"hi"))]
    );
    assert_eq!(
        decode_frames(&take_output(&mut conn)),
        [Frame::pong(&b"hi"[..])]
    );
}

#[test]
fn raw_users_can_send_anything_the_wire_can_carry() {
    let mut conn = raw_server();
    let odd = Frame::new(OpCode::from_nibble(0x5), &b"x"[..])
        .with_rsv([false, true, false])
        .with_fin(false);
    conn.send_frame(odd.clone()).unwrap();
    assert_eq!(decode_frames(&take_output(&mut conn)), [odd]);
}

#[test]
fn an_unanswered_peer_close_times_out() {
    let t0 = support::t0();
    let mut conn = Connection::new(Role::Server, Config::with_policy(Policy::Raw), t0);
    conn.handle_input(&masked(&Frame::close_empty()), t0);
    assert_eq!(take_events(&mut conn), [Event::Frame(Frame::close_empty())]);
    conn.handle_timeout(t0);
    let deadline = conn.poll_timeout().expect("a close deadline");
    assert_eq!(deadline, t0 + conn.config().close_timeout);
    conn.handle_timeout(deadline);
    assert_eq!(
        take_events(&mut conn),
        [Event::Closed(CloseReason::CloseTimeout)]
    );
    assert!(conn.should_close_transport());
}

// Regression (found by the client_connection fuzz target): a text frame whose header
// arrived under the raw policy and whose payload completed after a switch to standard
// came out as `Message::Text` without its UTF-8 ever being checked.
#[test]
fn a_frame_is_handled_under_the_policy_its_header_met() {
    let t0 = support::t0();
    let mut client = Connection::new(Role::Client, Config::with_policy(Policy::Raw), t0);
    client.handle_input(&[0x01, 0x03, 0xc8, 0x65], t0);
    assert_eq!(take_events(&mut client), []);
    client.set_policy(Policy::Standard);
    client.handle_input(&[0x6c, 0x80, 0x02, 0x6c, 0x6f], t0);
    let events = take_events(&mut client);
    assert_eq!(
        events[0],
        Event::Frame(Frame::new(OpCode::Text, &b"\xc8el"[..]).with_fin(false))
    );
    // The continuation that follows has no standard message to continue.
    assert_eq!(
        events[1..],
        [Event::Closed(CloseReason::Protocol(
            ProtocolError::UnexpectedContinuation
        ))]
    );
}

// Regression (found by reading the fuzz harness's report): after a standard text
// message, a switch to raw must not check the next binary frame as text.
#[test]
fn raw_frames_after_standard_text_are_not_checked_as_text() {
    let t0 = support::t0();
    let mut client = Connection::new(Role::Client, Config::default(), t0);
    client.handle_input(&[0x81, 0x05, b'H', b'e', b'l', b'l', b'o'], t0);
    assert_eq!(take_events(&mut client), [Event::Message("Hello".into())]);
    client.set_policy(Policy::Raw);
    client.handle_input(&[0x82, 0x01, 0xff], t0);
    assert_eq!(
        take_events(&mut client),
        [Event::Frame(Frame::binary(&b"\xff"[..]))]
    );
}

#[test]
fn a_standard_message_in_progress_finishes_under_standard() {
    let t0 = support::t0();
    let mut server = Connection::new(Role::Server, Config::default(), t0);
    server.handle_input(
        &masked(&Frame::new(OpCode::Text, &b"ab"[..]).with_fin(false)),
        t0,
    );
    assert_eq!(take_events(&mut server), []);
    server.set_policy(Policy::Raw);
    server.handle_input(&masked(&Frame::new(OpCode::Continuation, &b"cd"[..])), t0);
    server.handle_input(&masked(&Frame::ping(&b"p"[..])), t0);
    assert_eq!(
        take_events(&mut server),
        [
            Event::Message("abcd".into()),
            Event::Frame(Frame::ping(&b"p"[..]))
        ]
    );
}
