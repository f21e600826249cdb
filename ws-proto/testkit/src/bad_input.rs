//! The bad-input table: what a server answers to each kind of malformed input a peer
//! can send, one case per row, on top of the rows [`suite`](crate::suite) already
//! covers (unmasked frame, reserved opcode, RSV bits, invalid UTF-8 in one frame,
//! oversized message, bad close codes, 403, 405, 426 for a wrong, missing or repeated
//! version, missing key, stalled handshake).
//!
//! Every frame row also checks what the server's user sees: the handler records the
//! reason of its `Event::Closed` ([`Outcomes`](crate::Outcomes)), which must be
//! `CloseReason::Protocol` with the `ProtocolError` named below.
//!
//! | input | answer | the server's user sees |
//! |---|---|---|
//! | control frame with more than 125 bytes | Close 1002 | `ControlFrameTooLong(126)` |
//! | fragmented control frame (Ping without FIN) | Close 1002 | `FragmentedControlFrame` |
//! | continuation frame with no message to continue | Close 1002 | `UnexpectedContinuation` |
//! | new data frame inside a fragmented message | Close 1002 | `ExpectedContinuation` |
//! | invalid UTF-8 split across frames, inside a code point, or cut at the message's end | Close 1007 | `InvalidUtf8` |
//! | valid UTF-8 split inside a code point across frames | echoed | the message |
//! | Close whose reason is not UTF-8 | Close 1007 | `InvalidCloseReason` |
//! | 64-bit length with the top bit set | Close 1002 | `LengthTopBitSet` |
//! | `Sec-WebSocket-Key` twice, or not 16 bytes of base64 | 400 | (no connection) |
//! | no `Upgrade: websocket`, no `Connection: upgrade`, no or two `Host` | 400 | |
//! | HTTP/1.0 | 400 | |
//! | a request line of 1 MiB | 431, after reading at most the head limit | |
//! | 10 000 header fields | 431 | |
//! | frames sent in the same write as the request | handled as the first frames | the messages |
//! | a request trickled a byte at a time (slowloris) | dropped at the handshake deadline, which the bytes do not push back | |

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use http::StatusCode;
use ws_proto::frame::{Frame, OpCode};
use ws_proto::{Message, ProtocolError};

use crate::client::{self, RawClient};
use crate::suite::{SHORT_HANDSHAKE_TIMEOUT, Server, expect_failure};
use crate::{ServerSetup, Start};

/// A Ping with 126 bytes of payload (RFC 6455 §5.5: at most 125): Close 1002.
pub fn control_frame_over_125_bytes_is_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    expect_failure(
        &server,
        ProtocolError::ControlFrameTooLong(126),
        "a Ping of 126 bytes",
        |c| c.send_frame(&Frame::ping(vec![b'p'; 126])),
    );
}

/// A Ping without FIN (RFC 6455 §5.5: control frames are not fragmented): Close 1002.
pub fn fragmented_control_frame_is_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    expect_failure(
        &server,
        ProtocolError::FragmentedControlFrame,
        "a Ping without FIN",
        |c| {
            let mut ping = Frame::ping(&b"half"[..]);
            ping.fin = false;
            c.send_frame(&ping);
        },
    );
}

/// A continuation frame with no message to continue, and a new data frame inside a
/// fragmented message (RFC 6455 §5.4): Close 1002.
pub fn misplaced_fragments_are_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    expect_failure(
        &server,
        ProtocolError::UnexpectedContinuation,
        "a continuation frame with no message to continue",
        |c| c.send_frame(&Frame::new(OpCode::Continuation, &b"orphan"[..])),
    );
    expect_failure(
        &server,
        ProtocolError::ExpectedContinuation,
        "a text frame inside a fragmented message",
        |c| {
            let mut first = Frame::text("part one");
            first.fin = false;
            c.send_frame(&first);
            c.send_frame(&Frame::text("a new message"));
        },
    );
}

/// Text messages in fragments that are invalid UTF-8 only taken together, each with
/// what is wrong with it; the client suite sends the same from its raw server.
pub(crate) const INVALID_UTF8_FRAGMENTS: [(&str, &[&[u8]]); 3] = [
    (
        "a code point split across fragments, continued with a non-continuation byte",
        &[b"ab\xf0\x9f", b"(cd"],
    ),
    ("a stray 0xff in the second fragment", &[b"fine", b"x\xffy"]),
    (
        "a last fragment that ends inside a code point",
        &[b"ok", b"caf\xc3"],
    ),
];

/// Invalid UTF-8 that only shows across frames: a code point cut and continued wrongly,
/// invalid bytes in a later fragment, a message whose last fragment ends inside a code
/// point. Close 1007. The same code point split across two fragments correctly is
/// echoed whole.
pub fn invalid_utf8_across_frames_is_refused_with_1007(start: Start) {
    let server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    client.set_context("a 4-byte character split across two fragments");
    send_fragments(&mut client, &[b"ab\xf0\x9f", b"\x98\x80cd"]);
    client.expect_message(&Message::from("ab😀cd"));
    client.close_handshake();

    for (what, fragments) in INVALID_UTF8_FRAGMENTS {
        expect_failure(&server, ProtocolError::InvalidUtf8, what, |c| {
            send_fragments(c, fragments);
        });
    }
}

/// Sends a text message in the given fragments.
fn send_fragments(client: &mut RawClient, fragments: &[&[u8]]) {
    for (i, piece) in fragments.iter().enumerate() {
        let opcode = if i == 0 {
            OpCode::Text
        } else {
            OpCode::Continuation
        };
        let mut frame = Frame::new(opcode, piece.to_vec());
        frame.fin = i + 1 == fragments.len();
        client.send_frame(&frame);
    }
}

/// A Close whose reason is not UTF-8 (RFC 6455 §5.5.1): Close 1007.
pub fn close_reason_not_utf8_is_refused_with_1007(start: Start) {
    let server = Server::with_defaults(start);
    expect_failure(
        &server,
        ProtocolError::InvalidCloseReason,
        "a Close whose reason is not UTF-8",
        |c| {
            let mut payload = 1000u16.to_be_bytes().to_vec();
            payload.extend_from_slice(b"bye \xff");
            c.send_frame(&Frame::new(OpCode::Close, payload));
        },
    );
}

/// A 64-bit payload length with its most significant bit set (RFC 6455 §5.2): Close
/// 1002, from the header alone.
pub fn length_with_the_top_bit_set_is_refused_with_1002(start: Start) {
    let server = Server::with_defaults(start);
    expect_failure(
        &server,
        ProtocolError::LengthTopBitSet,
        "a 64-bit length with its top bit set",
        |c| {
            let mut header = vec![0x82, 0x80 | 127];
            header.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
            header.extend_from_slice(&[1, 2, 3, 4]);
            c.send_raw(&header);
        },
    );
}

/// A request as `upgrade_request_text` writes it, with its header block edited.
fn request_with(server: &Server, edit: impl FnOnce(String) -> String) -> client::Response {
    let host = server.addr.to_string();
    client::request(
        server.addr,
        &edit(client::upgrade_request_text("GET", &host, "13", true)),
    )
}

#[track_caller]
fn expect_status(response: &client::Response, status: StatusCode, what: &str) {
    assert_eq!(
        response.status, status,
        "{what} was not refused with {status}:\n{}",
        response.head
    );
}

/// A key sent twice, or one that is not 16 bytes of base64: 400 (RFC 6455 §4.2.1).
pub fn bad_keys_are_refused_with_400(start: Start) {
    let server = Server::with_defaults(start);
    let twice = request_with(&server, |r| {
        r.replacen(
            "Sec-WebSocket-Key:",
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Key:",
            1,
        )
    });
    expect_status(&twice, StatusCode::BAD_REQUEST, "a key sent twice");
    for key in ["dG9vIHNob3J0", "not base64 at all!!!!!==", ""] {
        let response = request_with(&server, |r| r.replace("dGhlIHNhbXBsZSBub25jZQ==", key));
        expect_status(
            &response,
            StatusCode::BAD_REQUEST,
            &format!("the key {key:?}"),
        );
    }
}

/// A request without `Upgrade: websocket`, without `Connection: upgrade`, without
/// `Host` or with two, or in HTTP/1.0: 400.
pub fn malformed_upgrade_requests_are_refused_with_400(start: Start) {
    let server = Server::with_defaults(start);
    type Edit = fn(String) -> String;
    let edits: [(&str, Edit); 5] = [
        ("no Upgrade field", |r| {
            r.replace("Upgrade: websocket\r\n", "")
        }),
        ("no Connection field", |r| {
            r.replace("Connection: Upgrade\r\n", "")
        }),
        ("no Host field", |r| {
            let start = r.find("Host:").unwrap();
            let end = start + r[start..].find("\r\n").unwrap() + 2;
            format!("{}{}", &r[..start], &r[end..])
        }),
        ("two Host fields", |r| {
            r.replacen("Host:", "Host: other.example\r\nHost:", 1)
        }),
        ("HTTP/1.0", |r| r.replacen("HTTP/1.1", "HTTP/1.0", 1)),
    ];
    for (what, edit) in edits {
        let response = request_with(&server, edit);
        expect_status(
            &response,
            StatusCode::BAD_REQUEST,
            &format!("a request with {what}"),
        );
    }
}

/// A request line of 1 MiB, and a request with 10 000 header fields: 431, answered
/// once the head limit (16 KiB, 64 fields by default) is crossed, while the client is
/// still sending. The client reads while it writes, as a browser would: a server that
/// buffered the whole request before answering would be caught by the time it takes.
pub fn oversized_request_heads_are_refused_with_431(start: Start) {
    let server = Server::with_defaults(start);
    let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(1 << 20));
    let mut many_fields = format!("GET / HTTP/1.1\r\nHost: {}\r\n", server.addr);
    for i in 0..10_000 {
        many_fields.push_str(&format!("X-Field-{i}: {i}\r\n"));
    }
    many_fields.push_str("\r\n");
    for (what, request) in [
        ("a 1 MiB request line", long_line),
        ("10 000 header fields", many_fields),
    ] {
        let client = RawClient::connect(server.addr);
        let mut writer = client.stream().try_clone().expect("a second handle");
        let sending = std::thread::spawn(move || {
            // The server may close before the request is all sent.
            let _ = writer.write_all(request.as_bytes());
        });
        let mut reader = client.stream().try_clone().expect("a second handle");
        reader
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("a read timeout");
        let mut answer = Vec::new();
        let deadline = Instant::now() + client::WAIT;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline && !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with("HTTP/1.1 431 "),
            "{what} was not refused with 431: {:?}",
            &text[..text.len().min(200)]
        );
        drop(client);
        let _ = sending.join();
    }
}

/// Frames written in the same packet as the opening request (a client that does not
/// wait for the 101) are the connection's first frames, not lost and not mistaken for
/// part of the request.
pub fn frames_pipelined_behind_the_request_are_handled(start: Start) {
    let server = Server::with_defaults(start);
    let mut client = RawClient::connect(server.addr);
    client.set_context("two messages sent in the same write as the request");
    let host = server.addr.to_string();
    let mut wire = client::upgrade_request_text("GET", &host, "13", true).into_bytes();
    for text in ["first", "second"] {
        Frame::text(text).encode(Some([9, 8, 7, 6]), &mut wire);
    }
    client.send_raw(&wire);
    let response = client.read_response();
    assert_eq!(
        response.status,
        StatusCode::SWITCHING_PROTOCOLS,
        "a pipelined request was not accepted:\n{}",
        response.head
    );
    client.expect_message(&Message::from("first"));
    client.expect_message(&Message::from("second"));
    client.close_handshake();
}

/// A client that trickles its opening request a byte every 20 ms (slowloris) is dropped
/// once the handshake timeout has passed since it connected: each byte it sends must
/// not start the timeout over, or it could hold the connection for ever.
pub fn trickled_request_is_dropped_at_the_handshake_deadline(start: Start) {
    let timeout = SHORT_HANDSHAKE_TIMEOUT;
    let server = Server::start(
        start,
        ServerSetup {
            handshake_timeout: timeout,
            ..ServerSetup::default()
        },
    );
    let client = RawClient::connect(server.addr);
    let mut stream = client.stream().try_clone().expect("a second handle");
    let request = client::upgrade_request_text("GET", &server.addr.to_string(), "13", true);
    let connected = Instant::now();
    let mut dropped_after = None;
    // A whole request takes about 3 s at this pace, ten times the timeout.
    for byte in request.as_bytes() {
        if stream.write_all(&[*byte]).is_err() {
            dropped_after = Some(connected.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        // The server's close shows as a read of 0 (or a reset) without blocking long.
        stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .expect("a read timeout");
        let mut probe = [0u8; 64];
        match stream.read(&mut probe) {
            Ok(0) => {
                dropped_after = Some(connected.elapsed());
                break;
            }
            Err(e)
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                dropped_after = Some(connected.elapsed());
                break;
            }
            // An answer (a 408, say) before the drop is the server's business.
            _ => {}
        }
    }
    let elapsed = dropped_after.expect("the trickling client was never dropped");
    assert!(
        elapsed >= timeout / 2 && elapsed < timeout + Duration::from_secs(2),
        "the trickling client was dropped after {elapsed:?}, not at the handshake \
         deadline ({timeout:?})"
    );
}
