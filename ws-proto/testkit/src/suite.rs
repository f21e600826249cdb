//! The server suite: what every adapter's echo server must do, one case per function.
//!
//! Each case starts its own server with the adapter's [`Start`] function, talks to it
//! with [`RawClient`]s, stops it, and panics with a message naming what went wrong.
//! Starting a server per case costs little and keeps the cases independent: one that
//! leaves a server in a bad state cannot fail the next, and the stop case can stop its
//! server without taking the others' away.
//!
//! The cases only rely on what RFC 6455 and ws-proto's standard policy require, never
//! on an adapter's timing or buffering: a Pong may overtake or follow a message the
//! Ping was sent in the middle of, a refused connection after a stop may be refused by
//! the kernel or by silence, and so on.
//!
//! [`server_suite!`](crate::server_suite) runs them all; the list of cases is there.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use http::StatusCode;
use ws_proto::frame::{Frame, Header, OpCode};
use ws_proto::{CloseCode, CloseReason, Message, ProtocolError};

use crate::client::{self, Handshake, RawClient, WAIT};
use crate::{Outcomes, RunningServer, ServerSetup, Start};

/// The largest message the servers accept: ws-proto's default `max_message_size`,
/// which the servers under test keep.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// The echo sizes: empty, every edge of the three length encodings (7-bit, 16-bit,
/// 64-bit), a large message, and exactly the limit.
pub const ECHO_SIZES: [usize; 9] = [
    0,
    1,
    125,
    126,
    127,
    65_535,
    65_536,
    1 << 20,
    MAX_MESSAGE_SIZE,
];

/// The handshake timeout for the timeout cases: short, so that the cases are quick,
/// and long enough that a loaded machine finishes a handshake well within it.
pub(crate) const SHORT_HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(300);

/// A server under test, stopped when dropped: a failing case (a panic) must not leave
/// a server running for the rest of the test binary.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    /// How the server's connections ended, as its handler saw it.
    pub(crate) outcomes: Outcomes,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Server {
    pub(crate) fn start(start: Start, setup: ServerSetup) -> Self {
        let outcomes = setup.outcomes.clone();
        let RunningServer { addr, stop } = start(setup);
        Self {
            addr,
            outcomes,
            stop: Some(stop),
        }
    }

    /// Waits for a connection that ended after the first `skip` to have ended for a
    /// protocol violation, and checks it was `expected`: what the server's user sees
    /// when the peer breaks the protocol.
    #[track_caller]
    pub(crate) fn expect_violation_seen(&self, skip: usize, expected: ProtocolError, what: &str) {
        let seen = self
            .outcomes
            .wait_for(skip, WAIT, |r| matches!(r, CloseReason::Protocol(_)));
        match seen {
            Some(CloseReason::Protocol(error)) => assert_eq!(
                error, expected,
                "after {what}, the server's handler saw the wrong violation"
            ),
            _ => panic!(
                "after {what}, the server's handler never saw Closed(Protocol({expected:?})); \
                 it saw {:?}",
                self.outcomes.wait_for(skip, Duration::ZERO, |_| true)
            ),
        }
    }

    /// A server with the default setup.
    pub(crate) fn with_defaults(start: Start) -> Self {
        Self::start(start, ServerSetup::default())
    }

    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A text message of exactly `size` bytes that mixes 1-, 2-, 3- and 4-byte characters,
/// so that the server's UTF-8 check meets sequences split across its reads.
pub fn text_of_size(size: usize) -> String {
    const PATTERN: &str = "aé€😀"; // 1 + 2 + 3 + 4 bytes
    let mut text = PATTERN.repeat(size / PATTERN.len());
    text.extend(std::iter::repeat_n('a', size - text.len()));
    text
}

/// A binary message of exactly `size` bytes in which every byte value occurs and the
/// sequence does not repeat every few bytes, so that a payload shifted by a few bytes,
/// or unmasked with the key at the wrong offset, does not come back looking right.
pub fn binary_of_size(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8)
        .collect()
}

/// Every size of [`ECHO_SIZES`] as a text message comes back as the same text message,
/// on one connection.
pub fn echo_text_of_every_size(start: Start) {
    echo_every_size(start, |size| Message::from(text_of_size(size)));
}

/// Every size of [`ECHO_SIZES`] as a binary message comes back as the same binary
/// message, on one connection.
pub fn echo_binary_of_every_size(start: Start) {
    echo_every_size(start, |size| Message::from(binary_of_size(size)));
}

fn echo_every_size(start: Start, message_of_size: fn(usize) -> Message) {
    let server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    for size in ECHO_SIZES {
        let message = message_of_size(size);
        client.set_context(format!(
            "the echo of a {size}-byte {:?} message",
            message.opcode()
        ));
        // One at a time: the server reads a whole message before it echoes it, so a
        // blocking client can write 16 MiB and then read 16 MiB without deadlock.
        client.send_message(&message);
        client.expect_message(&message);
    }
    client.close_handshake();
}

/// A fragmented message (an empty fragment, a UTF-8 character split across two
/// fragments, a Ping between fragments) comes back as one message, and the Ping is
/// answered with its payload, before or after the message.
pub fn fragmented_message_is_echoed_whole(start: Start) {
    let server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    let text = "Hello, wörld!";
    let bytes = text.as_bytes();
    let split = text.find('ö').unwrap() + 1; // inside the two bytes of 'ö'
    let fragments = [
        Frame::new(OpCode::Text, bytes[..3].to_vec()).with_fin(false),
        Frame::new(OpCode::Continuation, Vec::new()).with_fin(false),
        Frame::new(OpCode::Continuation, bytes[3..split].to_vec()).with_fin(false),
        Frame::ping(&b"between fragments"[..]),
        Frame::new(OpCode::Continuation, bytes[split..10].to_vec()).with_fin(false),
        Frame::new(OpCode::Continuation, bytes[10..].to_vec()),
    ];
    for fragment in &fragments {
        client.send_frame(fragment);
    }
    // The Pong may come before or after the echo, and the echo may itself be sent in
    // fragments (RFC 6455 allows both); it must be the same text, and come once.
    let (mut pong, mut echoed, mut done) = (false, Vec::new(), false);
    while !(pong && done) {
        let frame = client.read_frame();
        match frame.opcode {
            OpCode::Pong if !pong => {
                assert_eq!(
                    frame.payload,
                    &b"between fragments"[..],
                    "the Pong's payload"
                );
                pong = true;
            }
            OpCode::Text if echoed.is_empty() => {}
            OpCode::Continuation if !echoed.is_empty() && !done => {}
            _ => panic!(
                "expected a Pong and the echoed text, got {} (Pong seen: {pong}, echo \
                 complete: {done})",
                client::describe(&frame)
            ),
        }
        if frame.opcode != OpCode::Pong {
            echoed.push(frame.payload.clone());
            done = frame.fin;
        }
    }
    assert_eq!(echoed.concat(), bytes, "the echo of the fragmented message");
    // A binary message in fragments, right behind: the server's reassembly was reset.
    let data = binary_of_size(1000);
    client.send_frame(&Frame::new(OpCode::Binary, data[..400].to_vec()).with_fin(false));
    client.send_frame(&Frame::new(OpCode::Continuation, data[400..].to_vec()));
    client.expect_message(&Message::from(data));
    client.close_handshake();
}

/// Every Ping is answered with a Pong carrying its payload (empty, short, and the
/// 125-byte maximum), and the connection goes on.
pub fn ping_is_answered_with_its_payload(start: Start) {
    let server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    let longest: Vec<u8> = (0..125).collect();
    for payload in [&b""[..], b"are you there?", &longest] {
        client.send_frame(&Frame::ping(payload.to_vec()));
        client.expect_pong(payload);
    }
    let message = Message::from("still open");
    client.send_message(&message);
    client.expect_message(&message);
    client.close_handshake();
}

/// A Close 1000 with a reason is answered by a Close 1000, and then the server closes
/// the TCP connection (RFC 6455 §7.1.1: the server closes first).
pub fn close_is_answered_with_1000(start: Start) {
    let server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    client.send_close(CloseCode::NORMAL, "goodbye, and thanks");
    client.expect_close(CloseCode::NORMAL);
    client.expect_transport_closed();
}

/// Opens a connection, lets `violate` break the protocol, and checks that the server
/// fails the connection with the Close code of `expected` and then closes it, and that
/// the server's handler saw the connection end with `Closed(Protocol(expected))`.
#[track_caller]
pub(crate) fn expect_failure(
    server: &Server,
    expected: ProtocolError,
    what: &str,
    violate: impl FnOnce(&mut RawClient),
) {
    let code = expected.close_code();
    let before = server.outcomes.len();
    let mut client = RawClient::open(server.addr);
    client.set_context(what);
    violate(&mut client);
    client.expect_close(code);
    client.reply_close_and_expect_end(code);
    server.expect_violation_seen(before, expected, what);
}

/// An unmasked frame from a client is a protocol error (RFC 6455 §5.1): Close 1002.
pub fn unmasked_frame_is_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    expect_failure(
        &server,
        ProtocolError::UnmaskedFrame,
        "an unmasked text frame",
        |c| {
            c.send_frame_with_mask(&Frame::text("not masked"), None);
        },
    );
}

/// A reserved opcode, data (0x3) or control (0xB), without an extension that defines
/// it: Close 1002 (RFC 6455 §5.2).
pub fn reserved_opcode_is_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    for nibble in [0x3, 0x7, 0xB, 0xF] {
        let what = format!("a frame with the reserved opcode {nibble:#x}");
        let expected = ProtocolError::ReservedOpcode(nibble);
        expect_failure(&server, expected, &what, |c| {
            c.send_frame(&Frame::new(OpCode::from_nibble(nibble), &b"?"[..]));
        });
    }
}

/// RSV1, RSV2 or RSV3 set when no extension was negotiated: Close 1002 (RFC 6455
/// §5.2).
pub fn rsv_bits_are_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    for bit in 0..3 {
        let mut rsv = [false; 3];
        rsv[bit] = true;
        let what = format!("a text frame with RSV{}", bit + 1);
        // As in the first header byte: RSV1 is 0x40, RSV3 0x10.
        let expected = ProtocolError::ReservedBits(0x40 >> bit);
        expect_failure(&server, expected, &what, |c| {
            c.send_frame(&Frame::text("compressed?").with_rsv(rsv));
        });
    }
}

/// A text message that is not UTF-8 (a stray byte, an overlong encoding, a surrogate,
/// a truncated sequence at the end): Close 1007 (RFC 6455 §8.1).
pub fn invalid_utf8_is_refused_with_1007(start: Start) {
    let server = Server::with_defaults(start);
    let cases: [(&str, &[u8]); 4] = [
        ("a stray 0xff", b"abc\xffdef"),
        ("an overlong '/'", b"\xc0\xaf"),
        ("a UTF-16 surrogate", b"\xed\xa0\x80"),
        ("a sequence cut at the end", b"caf\xc3"),
    ];
    for (what, payload) in cases {
        let what = format!("a text message with {what}");
        expect_failure(&server, ProtocolError::InvalidUtf8, &what, |c| {
            c.send_frame(&Frame::new(OpCode::Text, payload.to_vec()));
        });
    }
}

/// A message longer than the 16 MiB limit is refused with Close 1009 as soon as its
/// header announces it: only the header is sent, so a server that waited for the
/// payload (or buffered it) never answers.
pub fn oversized_message_is_refused_with_1009_from_its_header(start: Start) {
    let server = Server::with_defaults(start);
    for len in [MAX_MESSAGE_SIZE as u64 + 1, 1 << 40] {
        let what = format!("a frame header announcing {len} bytes");
        let expected = ProtocolError::FrameTooLarge {
            len,
            max: MAX_MESSAGE_SIZE,
        };
        expect_failure(&server, expected, &what, |c| {
            c.send_header(&Header {
                fin: true,
                rsv: 0,
                opcode: OpCode::Binary,
                mask: Some([0x12, 0x34, 0x56, 0x78]),
                payload_len: len,
            });
        });
    }
}

/// A Close with a code that may not be sent (RFC 6455 §7.4: below 1000, 1004-1006,
/// 1015, 1016-2999 unassigned, 5000 and above), or a one-byte body: Close 1002.
pub fn invalid_close_code_is_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let what = format!("a Close with the code {code}");
        let expected = ProtocolError::InvalidCloseCode(code);
        expect_failure(&server, expected, &what, |c| {
            c.send_frame(&Frame::close(CloseCode(code), ""));
        });
    }
    expect_failure(
        &server,
        ProtocolError::CloseTooShort,
        "a Close with a 1-byte body",
        |c| {
            c.send_frame(&Frame::new(OpCode::Close, vec![0x03]));
        },
    );
}

/// An `Origin` naming another host than `Host` is refused with 403 (cross-site
/// WebSocket hijacking); the same request with the server's own host as `Origin` is
/// accepted, so the refusal is about the origin and not about having one.
pub fn foreign_origin_is_refused_with_403(start: Start) {
    let server = Server::with_defaults(start);
    let foreign = Handshake::default().origin("https://evil.example");
    let response = RawClient::connect(server.addr).handshake(&foreign);
    assert_eq!(
        response.status,
        StatusCode::FORBIDDEN,
        "a foreign Origin was not refused:\n{}",
        response.head
    );
    let own = Handshake::default().origin(&format!("http://{}", server.addr));
    RawClient::open_with(server.addr, &own).close_handshake();
}

/// `Sec-WebSocket-Version: 12`, no `Sec-WebSocket-Version` at all, or the field twice
/// (13 and 8) is refused with 426 Upgrade Required, naming the version the server
/// speaks (RFC 6455 §4.2.2).
pub fn wrong_version_is_refused_with_426_naming_13(start: Start) {
    let server = Server::with_defaults(start);
    let host = server.addr.to_string();
    let good = client::upgrade_request_text("GET", &host, "13", true);
    let requests = [
        (
            "version 12",
            client::upgrade_request_text("GET", &host, "12", true),
        ),
        (
            "no version field",
            good.replace("Sec-WebSocket-Version: 13\r\n", ""),
        ),
        (
            "two version fields",
            good.replace(
                "Sec-WebSocket-Version: 13\r\n",
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n",
            ),
        ),
    ];
    for (what, request) in requests {
        let response = client::request(server.addr, &request);
        assert_eq!(
            response.status,
            StatusCode::UPGRADE_REQUIRED,
            "a request with {what} was not refused with 426:\n{}",
            response.head
        );
        let versions: Vec<_> = response
            .headers
            .get_all("sec-websocket-version")
            .iter()
            .collect();
        assert!(
            versions.len() == 1 && versions[0].as_bytes().trim_ascii() == b"13",
            "the 426 for a request with {what} does not name version 13:\n{}",
            response.head
        );
    }
}

/// An opening request that is a POST is refused with 405 Method Not Allowed (RFC 6455
/// §4.2.1: the opening request is a GET).
pub fn post_is_refused_with_405(start: Start) {
    let server = Server::with_defaults(start);
    let host = server.addr.to_string();
    let response = client::request(
        server.addr,
        &client::upgrade_request_text("POST", &host, "13", true),
    );
    assert_eq!(
        response.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "a POST was not refused with 405:\n{}",
        response.head
    );
}

/// An opening request without `Sec-WebSocket-Key` is refused with 400 Bad Request.
pub fn missing_key_is_refused_with_400(start: Start) {
    let server = Server::with_defaults(start);
    let host = server.addr.to_string();
    let response = client::request(
        server.addr,
        &client::upgrade_request_text("GET", &host, "13", false),
    );
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "a request without a key was not refused with 400:\n{}",
        response.head
    );
}

/// A client that sends part of its request and then nothing is dropped once the
/// handshake timeout passes: not before (it might be slow, not malicious), and not
/// much after (a stalled handshake must not hold a connection forever).
pub fn stalled_handshake_is_dropped_after_the_timeout(start: Start) {
    let timeout = SHORT_HANDSHAKE_TIMEOUT;
    let server = Server::start(
        start,
        ServerSetup {
            handshake_timeout: timeout,
            ..ServerSetup::default()
        },
    );
    let mut client = RawClient::connect(server.addr);
    client.set_context("a client that stalled in its opening request");
    let connected = Instant::now();
    client.send_raw(format!("GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: webs", server.addr).as_bytes());
    // Whatever the server says before it drops us (a 408, say) is its business.
    client.read_until_closed(timeout + Duration::from_secs(3));
    let elapsed = connected.elapsed();
    // Half the timeout: the server's clock starts when it accepts, a moment after ours.
    assert!(
        elapsed >= timeout / 2,
        "the stalled client was dropped after {elapsed:?}, before the handshake timeout of \
         {timeout:?}"
    );
}

/// The handshake timeout bounds the handshake only: a connection idle for several
/// times that timeout after its handshake still works.
pub fn handshake_timeout_spares_open_connections(start: Start) {
    let server = Server::start(
        start,
        ServerSetup {
            handshake_timeout: SHORT_HANDSHAKE_TIMEOUT,
            ..ServerSetup::default()
        },
    );
    let mut client = RawClient::open(server.addr);
    client.set_context("a connection idle for 3 handshake timeouts");
    thread::sleep(SHORT_HANDSHAKE_TIMEOUT * 3);
    let message = Message::from("still here");
    client.send_message(&message);
    client.expect_message(&message);
    client.close_handshake();
}

/// After `stop`, a connected client gets a Close 1001 (Going Away) and, once it
/// answers, the connection ends; a new client is then refused, or at least never gets
/// a 101 (a listener that is no longer accepted from may leave it waiting).
pub fn stop_sends_1001_and_refuses_new_clients(start: Start) {
    let mut server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    // An echo first: the server has surely handed the connection to its handler.
    let message = Message::from("before the stop");
    client.send_message(&message);
    client.expect_message(&message);

    server.stop();
    client.set_context("a connected client after the stop");
    client.expect_close(CloseCode::GOING_AWAY);
    client.reply_close_and_expect_end(CloseCode::GOING_AWAY);

    let Ok(mut late) = RawClient::try_connect(server.addr) else {
        return; // refused: the listener is closed
    };
    let request = client::upgrade_request_text("GET", &server.addr.to_string(), "13", true);
    if late.try_send_raw(request.as_bytes()).is_err() {
        return; // reset: the listener is closed
    }
    if let Ok(response) = late.try_read_response(Duration::from_secs(2)) {
        assert_ne!(
            response.status,
            StatusCode::SWITCHING_PROTOCOLS,
            "a client was accepted after the stop:\n{}",
            response.head
        );
    }
}

/// 32 clients at once, each on its own thread, each with 50 echoes of its own messages
/// (text and binary, sizes across the 125/126 boundary): nothing is lost, mixed up
/// between connections, or reordered.
pub fn concurrent_clients_get_their_own_echoes(start: Start) {
    const CLIENTS: usize = 32;
    const ECHOES: usize = 50;
    let server = Server::with_defaults(start);
    let addr = server.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            thread::Builder::new()
                .name(format!("client {id}"))
                .spawn(move || {
                    let mut client = RawClient::open(addr);
                    for n in 0..ECHOES {
                        client.set_context(format!("client {id}, echo {n}"));
                        let tag = format!("client {id} message {n} ");
                        let padding = (id * 7 + n * 13) % 200;
                        let message = if n % 2 == 0 {
                            Message::from(tag + &text_of_size(padding))
                        } else {
                            let mut data = tag.into_bytes();
                            data.extend(binary_of_size(padding));
                            Message::from(data)
                        };
                        client.send_message(&message);
                        client.expect_message(&message);
                    }
                    client.set_context(format!("client {id}, closing"));
                    client.close_handshake();
                })
                .expect("cannot spawn a client thread")
        })
        .collect();
    // Every client's waits are bounded, so every join returns; the first failure is
    // re-raised with its own message.
    let mut failure = None;
    for client in clients {
        if let Err(panic) = client.join() {
            failure.get_or_insert(panic);
        }
    }
    if let Some(panic) = failure {
        std::panic::resume_unwind(panic);
    }
}
