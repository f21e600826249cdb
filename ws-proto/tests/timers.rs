//! Keepalive and close timers, driven only by the time the caller passes in.

mod support;

use std::time::Duration;

use support::{Pair, decode_frames, masked, take_events, take_output, unmasked};
use ws_proto::frame::{Frame, OpCode};
use ws_proto::{CloseCode, CloseReason, Config, Connection, Event, KeepAlive, Role, State};

const SECOND: Duration = Duration::from_secs(1);

fn keepalive_config() -> Config {
    Config {
        keepalive: Some(KeepAlive {
            interval: 10 * SECOND,
            timeout: 5 * SECOND,
        }),
        ..Config::default()
    }
}

#[test]
fn no_timer_without_keepalive_or_close() {
    let conn = Connection::new(Role::Server, Config::default(), support::t0());
    assert_eq!(conn.poll_timeout(), None);
}

#[test]
fn a_silent_peer_is_pinged_then_dropped() {
    let t0 = support::t0();
    let mut conn = Connection::new(Role::Server, keepalive_config(), t0);
    assert_eq!(conn.poll_timeout(), Some(t0 + 10 * SECOND));
    // Early and repeated calls change nothing.
    conn.handle_timeout(t0 + 9 * SECOND);
    conn.handle_timeout(t0 + 9 * SECOND);
    assert!(take_output(&mut conn).is_empty());

    conn.handle_timeout(t0 + 10 * SECOND);
    let frames = decode_frames(&take_output(&mut conn));
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, OpCode::Ping);
    // The next deadline is after now: no busy loop.
    assert_eq!(conn.poll_timeout(), Some(t0 + 15 * SECOND));
    conn.handle_timeout(t0 + 10 * SECOND);
    assert!(take_output(&mut conn).is_empty());

    conn.handle_timeout(t0 + 15 * SECOND);
    assert_eq!(
        take_events(&mut conn),
        [Event::Closed(CloseReason::KeepAliveTimeout)]
    );
    assert!(conn.should_close_transport());
    // Only the bound on writing the last bytes is left.
    assert_eq!(conn.poll_timeout(), Some(t0 + 20 * SECOND));
}

#[test]
fn any_input_counts_as_a_sign_of_life() {
    let t0 = support::t0();
    let mut conn = Connection::new(Role::Server, keepalive_config(), t0);
    conn.handle_timeout(t0 + 10 * SECOND);
    let _ = take_output(&mut conn);
    conn.handle_input(&masked(&Frame::text("still here")), t0 + 12 * SECOND);
    assert_eq!(conn.poll_timeout(), Some(t0 + 22 * SECOND));
    conn.handle_timeout(t0 + 15 * SECOND);
    assert_eq!(conn.state(), State::Open);
}

#[test]
fn a_live_pair_keeps_going() {
    let mut pair = Pair::new(keepalive_config(), keepalive_config());
    for _ in 0..20 {
        pair.advance(4 * SECOND);
    }
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Open, State::Open)
    );
    assert!(
        pair.server_events
            .iter()
            .any(|e| matches!(e, Event::Pong(_)))
    );
}

#[test]
fn an_unanswered_close_times_out() {
    let t0 = support::t0();
    let mut conn = Connection::new(Role::Server, Config::default(), t0);
    conn.close(CloseCode::NORMAL, "").unwrap();
    // The command had no clock: the connection asks to be told the time at once.
    assert!(conn.poll_timeout().unwrap() <= t0);
    conn.handle_timeout(t0 + SECOND);
    assert_eq!(conn.poll_timeout(), Some(t0 + 6 * SECOND));
    let _ = take_output(&mut conn);
    assert!(!conn.should_close_transport());
    conn.handle_timeout(t0 + 6 * SECOND);
    assert_eq!(
        take_events(&mut conn),
        [Event::Closed(CloseReason::CloseTimeout)]
    );
    assert!(conn.should_close_transport());
}

#[test]
fn a_close_decoded_long_after_its_read_still_gets_the_whole_close_timeout() {
    let t0 = support::t0();
    let mut conn = Connection::new(Role::Server, Config::default(), t0);
    conn.send(vec![0u8; 1 << 20]).unwrap();
    // The peer's Close is read at t0; input is decoded only when the application asks
    // for its events, which it does ten seconds later, past the close timeout.
    conn.handle_input(&masked(&Frame::close(CloseCode::NORMAL, "")), t0);
    let later = t0 + 10 * SECOND;
    assert!(matches!(
        take_events(&mut conn)[..],
        [Event::Closed(CloseReason::Handshake { .. })]
    ));
    let mut held = Vec::new();
    let _ = conn.poll_transmit(&mut held);
    // The bound on writing the rest starts when the connection is next told the
    // time, not at the read: the peer still has the whole timeout to take it.
    assert!(conn.poll_timeout().unwrap() <= later);
    conn.handle_timeout(later);
    assert!(!conn.should_abort_transport());
    assert_eq!(conn.poll_timeout(), Some(later + 5 * SECOND));
    conn.handle_timeout(later + 5 * SECOND);
    assert!(conn.should_abort_transport());
}

#[test]
fn a_client_waits_for_the_server_to_close_the_transport() {
    let t0 = support::t0();
    let mut client = Connection::new(Role::Client, Config::default(), t0);
    client.handle_input(&unmasked(&Frame::close(CloseCode::NORMAL, "")), t0);
    assert!(matches!(
        take_events(&mut client)[..],
        [Event::Closed(CloseReason::Handshake { .. })]
    ));
    let reply = decode_frames(&take_output(&mut client));
    assert_eq!(reply, [Frame::close(CloseCode::NORMAL, "")]);
    assert!(!client.should_close_transport());
    // The server closes: the client follows.
    let mut patient = Connection::new(Role::Client, Config::default(), t0);
    patient.handle_input(&unmasked(&Frame::close(CloseCode::NORMAL, "")), t0);
    patient.handle_eof(t0 + SECOND);
    // ...once its own Close reply is flushed.
    assert!(matches!(take_events(&mut patient)[..], [Event::Closed(_)]));
    assert!(!patient.should_close_transport());
    assert_eq!(
        decode_frames(&take_output(&mut patient)),
        [Frame::close(CloseCode::NORMAL, "")]
    );
    assert!(patient.should_close_transport());
    // The server never closes: the client gives up after the close timeout.
    client.handle_timeout(t0);
    assert!(!client.should_close_transport());
    client.handle_timeout(t0 + 5 * SECOND);
    assert!(client.should_close_transport());
    assert_eq!(take_events(&mut client), []);
}

#[test]
fn durations_too_large_for_instant_mean_never() {
    let config = Config {
        keepalive: Some(KeepAlive {
            interval: Duration::MAX,
            timeout: Duration::MAX,
        }),
        close_timeout: Duration::MAX,
        ..Config::default()
    };
    let mut conn = Connection::new(Role::Server, config, support::t0());
    assert_eq!(conn.poll_timeout(), None);
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.handle_timeout(support::t0() + SECOND);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.state(), State::Closing);
}

#[test]
fn a_peer_that_stops_reading_cannot_hold_a_finished_connection_open() {
    let t0 = support::t0();
    let mut conn = Connection::new(Role::Server, Config::default(), t0);
    conn.send(vec![0u8; 1 << 20]).unwrap();
    // The peer breaks the protocol; our Close is queued after the megabyte.
    conn.handle_input(&unmasked(&Frame::text("not masked")), t0);
    assert!(matches!(
        take_events(&mut conn)[..],
        [Event::Closed(CloseReason::Protocol(_))]
    ));
    // The adapter took the first chunk but the peer never reads: the rest stays queued.
    let mut held = Vec::new();
    let _ = conn.poll_transmit(&mut held);
    assert!(!conn.should_close_transport());
    conn.handle_timeout(t0);
    let deadline = conn.poll_timeout().expect("a bound on the last writes");
    assert_eq!(deadline, t0 + 5 * SECOND);
    assert!(!conn.should_abort_transport());
    conn.handle_timeout(deadline);
    assert!(conn.should_abort_transport());
    assert!(conn.should_close_transport());
    assert_eq!(conn.buffered_amount(), 0);
    assert_eq!(conn.poll_timeout(), None);
}
