//! The client-side bad-input table: what an adapter's client does when the server
//! misbehaves, one case per row. It mirrors [`bad_input`](crate::bad_input), with a raw
//! *server* here: a client faces servers it does not control, and a hostile or broken
//! one must end in a typed error and the right close code, never in a hang, a panic or
//! a message made of garbage.
//!
//! | the server sends | the client sends | the client's user sees |
//! |---|---|---|
//! | a masked frame | Close 1002 | `Closed(Protocol(MaskedFrame))` |
//! | RSV1, RSV2 or RSV3 without a negotiated extension | Close 1002 | `Closed(Protocol(ReservedBits))` |
//! | a reserved opcode (0x3, 0x7, 0xB, 0xF) | Close 1002 | `Closed(Protocol(ReservedOpcode))` |
//! | a Ping of 126 bytes | Close 1002 | `Closed(Protocol(ControlFrameTooLong))` |
//! | a Ping without FIN | Close 1002 | `Closed(Protocol(FragmentedControlFrame))` |
//! | a continuation with no message to continue | Close 1002 | `Closed(Protocol(UnexpectedContinuation))` |
//! | a new data frame inside a fragmented message | Close 1002 | `Closed(Protocol(ExpectedContinuation))` |
//! | text that is not UTF-8: in one frame, a code point split across fragments and continued wrongly, a bad byte in a later fragment, a message cut inside a code point | Close 1007 | `Closed(Protocol(InvalidUtf8))` |
//! | a Close with a code that may not be sent (0, 999, 1004-1006, 1015, 1016, 2999, 5000) | Close 1002 | `Closed(Protocol(InvalidCloseCode))` |
//! | a Close with a 1-byte payload | Close 1002 | `Closed(Protocol(CloseTooShort))` |
//! | a Close whose reason is not UTF-8 | Close 1007 | `Closed(Protocol(InvalidCloseReason))` |
//! | a 64-bit length with the top bit set | Close 1002 | `Closed(Protocol(LengthTopBitSet))` |
//! | a header announcing 1 GiB, and nothing after it | Close 1009, from the header | `Closed(Protocol(FrameTooLarge))` (or `MessageTooLarge`) |
//! | 200 or 404 instead of 101 | nothing | `Err(Response(Rejected))` with that status |
//! | a 101 with a wrong or missing `Sec-WebSocket-Accept` | nothing | `Err(Response(BadAccept))` |
//! | a 101 without `Upgrade: websocket` / `Connection: upgrade` | nothing | `Err(Response(NoUpgradeWebSocket))` / `Err(Response(NoConnectionUpgrade))` |
//! | a 101 choosing a subprotocol the client did not offer | nothing | `Err(Response(UnexpectedSubprotocol))` |
//! | a 101 accepting `permessage-deflate`, which the client did not offer | nothing | `Err(Response(UnexpectedExtension))` |
//! | a response head of more than 16 KiB, never ended | nothing | `Err(Response(TooLarge))`, without waiting for the end |
//! | no answer at all | nothing | `Err(HandshakeTimeout)` at the connect timeout |
//! | a 101, then silence: no Pong, no frame (with a keepalive configured) | a Ping, then the end of the connection at the deadline | `Closed(KeepAliveTimeout)` |
//! | no answer to the client's Close, and the connection left open | its Close, then the end of the connection at the close timeout | `Closed(CloseTimeout)` |
//! | nothing read, ever, while the client's user sends | what fits in the socket buffers: `send` waits (or blocks) once the output is full, and every message it accepted arrives once the server reads | `send` waits, nothing is dropped |
//! | frames in the same write as the 101 | (the Close answering ours) | the first messages |
//!
//! `Closed(..)` is the last event, `Event::Closed(CloseReason::Protocol(..))`, and
//! `Err(..)` what `connect` returns: once the connection is open, ws-proto reports a
//! peer's violation as the end of the conversation, not as a failed receive, so a
//! user's receive loop ends normally and still learns why.
//!
//! After its Close, a client sends nothing more and the connection ends; after a
//! failed handshake it sends no frame at all and closes the connection.
//!
//! # The client under test
//!
//! An adapter provides a [`Connect`] function. Given a [`ClientSetup`], it must connect
//! to `setup.url` with the adapter's `connect` and default options, except
//! `timeout = setup.timeout`, `config.keepalive = setup.keepalive` and
//! `config.close_timeout = setup.close_timeout`; do what `setup.action` says (most
//! often nothing: see [`ClientAction`]); receive events until the stream ends
//! (`Ok(None)`), keeping the messages and the reason of `Event::Closed`; and return the
//! first error, of `connect`, of the action's close, or of a receive, as it is. It is
//! called on a thread of its own, so it may block (a runtime of its own included).
//!
//! ```no_run
//! use ws_testkit::client_suite::{ClientSetup, Received};
//!
//! fn connect(setup: ClientSetup) -> Result<Received, ws_proto::Error> {
//!     let mut received = Received::default();
//!     // let mut ws = my_adapter::connect(&setup.url, options_from(&setup))?;
//!     // match &setup.action { /* nothing, send_close, or the numbered stream */ }
//!     // while let Some(event) = ws.recv()? {
//!     //     match event {
//!     //         Event::Message(message) => received.messages.push(message),
//!     //         Event::Closed(reason) => received.closed = Some(reason),
//!     //         _ => {}
//!     //     }
//!     // }
//!     # drop(setup);
//!     Ok(received)
//! }
//!
//! ws_testkit::client_suite!(connect);
//! # fn main() {}
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use ws_proto::frame::{Frame, Header, OpCode};
use ws_proto::handshake::{ServerHandshake, accept_key};
use ws_proto::mask::apply_mask;
use ws_proto::{
    CloseCode, CloseFrame, CloseReason, Config, Error, KeepAlive, Message, ProtocolError,
    ResponseError,
};

use crate::bad_input::INVALID_UTF8_FRAGMENTS;
use crate::client::{WAIT, close_code, describe};
use crate::{NUMBERED_MESSAGE_SIZE, numbered_message};

/// What a case asks of the client it connects.
#[derive(Debug, Clone)]
pub struct ClientSetup {
    /// `ws://127.0.0.1:PORT/`: the case's raw server, listening already.
    pub url: String,
    /// The connect timeout (the adapters' `ConnectOptions::timeout`). The silent-server
    /// case sets a short one and times it; the others keep [`WAIT`], which a working
    /// client never comes close to.
    pub timeout: Duration,
    /// The client's keepalive (`Config::keepalive`): `None`, the default, except in
    /// the keepalive case.
    pub keepalive: Option<KeepAlive>,
    /// How long the client waits for the server to end the connection after the
    /// closing handshake started (`Config::close_timeout`): ws-proto's default, 5 s,
    /// except in the close-timeout case.
    pub close_timeout: Duration,
    /// What the client does once connected, before it receives until the end.
    pub action: ClientAction,
}

/// What the client under test does between `connect` and receiving until the end.
#[derive(Debug, Clone, Default)]
pub enum ClientAction {
    /// Nothing of its own: it only receives. Most cases.
    #[default]
    Receive,
    /// Starts the closing handshake at once with the adapter's `send_close(1000,
    /// "done")`, which returns without waiting for the answer.
    Close,
    /// Sends [`numbered_message`]s 0, 1, 2... with `send`
    /// until a send fails, storing after each send that returns `Ok` how many have in
    /// the counter (n + 1 after message n); a send's error only ends the sending.
    Stream(Arc<AtomicUsize>),
}

/// What the client's user received once the connection was open, up to the end of the
/// stream.
#[derive(Debug, Default)]
pub struct Received {
    /// The messages, in order.
    pub messages: Vec<Message>,
    /// The reason `Event::Closed` carried; `None` if the stream ended without one, which
    /// no case accepts.
    pub closed: Option<CloseReason>,
}

/// How an adapter runs its client for a case (see the module documentation for what
/// it must do).
pub type Connect = fn(ClientSetup) -> Result<Received, Error>;

/// The connect timeout of the silent-server case: short, so the case is quick, and
/// long enough that a loaded machine's client never gives up early for other reasons.
const SHORT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The longest payload the raw server reads from a client: a Close is at most 125
/// bytes, and a corrupt length must not make it allocate gigabytes.
const MAX_PAYLOAD: u64 = 1 << 20;

/// The client of one case, on its thread: its outcome and how long `connect` plus the
/// receiving took.
struct ClientThread {
    outcome: mpsc::Receiver<(Result<Received, Error>, Duration)>,
}

impl ClientThread {
    fn start(connect: Connect, setup: ClientSetup) -> Self {
        let (tx, outcome) = mpsc::channel();
        thread::spawn(move || {
            let started = Instant::now();
            let result = connect(setup);
            let _ = tx.send((result, started.elapsed()));
        });
        Self { outcome }
    }

    /// Waits for the client to return: by then the case has ended the connection, so a
    /// client still running after [`WAIT`] is stuck.
    #[track_caller]
    fn finish(self, what: &str) -> (Result<Received, Error>, Duration) {
        match self.outcome.recv_timeout(WAIT) {
            Ok(outcome) => outcome,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{what}: the client had not returned {WAIT:?} after the connection ended")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{what}: the adapter's connect function panicked")
            }
        }
    }
}

impl ClientThread {
    /// Waits for the client, which must have reached the end of the stream without an
    /// error, and returns what its user received.
    #[track_caller]
    fn received(self, what: &str) -> Received {
        match self.finish(what).0 {
            Ok(received) => received,
            Err(e) => {
                panic!("{what}: the client's user got the error {e:?}, not the end of the stream")
            }
        }
    }
}

/// A listener on a free loopback port, for one connection.
struct RawServer {
    listener: TcpListener,
}

impl RawServer {
    fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        // Accepting polls, so that a client that never connects fails the case in time.
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        Self { listener }
    }

    fn setup(&self, timeout: Duration) -> ClientSetup {
        let addr = self.listener.local_addr().expect("the listener's address");
        ClientSetup {
            url: format!("ws://{addr}/"),
            timeout,
            keepalive: None,
            close_timeout: Config::default().close_timeout,
            action: ClientAction::Receive,
        }
    }

    /// Starts the client and accepts its connection.
    #[track_caller]
    fn connect(&self, connect: Connect, timeout: Duration, what: &str) -> (ClientThread, Peer) {
        self.connect_with(connect, self.setup(timeout), what)
    }

    /// Starts the client with `setup` and accepts its connection.
    #[track_caller]
    fn connect_with(
        &self,
        connect: Connect,
        setup: ClientSetup,
        what: &str,
    ) -> (ClientThread, Peer) {
        let client = ClientThread::start(connect, setup);
        let deadline = Instant::now() + WAIT;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        panic!("{what}: the client did not connect within {WAIT:?}");
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("{what}: cannot accept the client's connection: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("a blocking stream");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        // A client that stops reading must fail the case, not block a write forever.
        stream
            .set_write_timeout(Some(WAIT))
            .expect("a write timeout");
        let peer = Peer {
            stream,
            input: Vec::new(),
            what: what.to_owned(),
        };
        (client, peer)
    }
}

/// Why no bytes came.
enum NoBytes {
    Closed,
    TimedOut,
    Io(io::Error),
}

impl fmt::Display for NoBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the client closed the connection"),
            Self::TimedOut => write!(f, "nothing arrived within {WAIT:?}"),
            Self::Io(e) => write!(f, "the connection failed: {e}"),
        }
    }
}

/// The server's end of the client's connection.
struct Peer {
    stream: TcpStream,
    /// Bytes received and not consumed yet.
    input: Vec<u8>,
    /// The row, at the start of every failure message.
    what: String,
}

impl Peer {
    #[track_caller]
    fn fail(&self, message: fmt::Arguments<'_>) -> ! {
        panic!("{}: {message}", self.what);
    }

    /// Reads the opening request, checks it is one (the client's own bug otherwise, not
    /// the row's), and returns its `Sec-WebSocket-Key`.
    #[track_caller]
    fn read_request(&mut self) -> String {
        let deadline = Instant::now() + WAIT;
        let head_len = loop {
            if let Some(end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if let Err(e) = self.fill(self.input.len() + 1, deadline) {
                self.fail(format_args!("expected the opening request, but {e}"));
            }
        };
        let head: Vec<u8> = self.input.drain(..head_len).collect();
        if !self.input.is_empty() {
            self.fail(format_args!(
                "the client sent {} bytes behind its request, before any answer",
                self.input.len()
            ));
        }
        let upgrade = match ServerHandshake::default().handle_input(&head) {
            Ok(Some(upgrade)) => upgrade,
            other => self.fail(format_args!(
                "the client's opening request is not valid ({other:?}):\n{}",
                String::from_utf8_lossy(&head)
            )),
        };
        let key = &upgrade.request().headers()[http::header::SEC_WEBSOCKET_KEY];
        key.to_str().expect("a validated key is ASCII").to_owned()
    }

    /// Reads the request and accepts it with a valid 101.
    #[track_caller]
    fn accept(&mut self) {
        let key = self.read_request();
        self.send_raw(switching_protocols(&key).as_bytes());
    }

    #[track_caller]
    fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            self.fail(format_args!("cannot send {} bytes: {e}", bytes.len()));
        }
    }

    /// Sends `frame` unmasked, as a server must, whatever else is wrong with it.
    #[track_caller]
    fn send_frame(&mut self, frame: &Frame) {
        let mut wire = Vec::new();
        frame.encode(None, &mut wire);
        self.send_raw(&wire);
    }

    /// Reads the client's next frame, unmasked. A client's frame must be masked.
    #[track_caller]
    fn read_frame(&mut self, expected: &str) -> Frame {
        let deadline = Instant::now() + WAIT;
        let (header, header_len) = loop {
            match Header::decode(&self.input) {
                Ok(Some(decoded)) => break decoded,
                Ok(None) => {
                    if let Err(e) = self.fill(self.input.len() + 1, deadline) {
                        self.fail(format_args!("expected {expected}, but {e}"));
                    }
                }
                Err(e) => self.fail(format_args!("expected {expected}, got garbage ({e})")),
            }
        };
        let Some(key) = header.mask else {
            self.fail(format_args!("expected {expected}, got an unmasked frame"));
        };
        if header.payload_len > MAX_PAYLOAD {
            self.fail(format_args!(
                "expected {expected}, got a header announcing {} bytes",
                header.payload_len
            ));
        }
        let end = header_len + header.payload_len as usize;
        if let Err(e) = self.fill(end, deadline) {
            self.fail(format_args!("expected {expected}, but {e} inside a frame"));
        }
        let mut payload: Vec<u8> = self.input.drain(..end).skip(header_len).collect();
        apply_mask(&mut payload, key, 0);
        header.into_frame(Bytes::from(payload))
    }

    /// Reads the client's next frame and checks it is a Close with `code`.
    #[track_caller]
    fn expect_close(&mut self, code: CloseCode) {
        let frame = self.read_frame(&format!("a Close {code}"));
        if close_code(&frame) != Some(code) {
            self.fail(format_args!(
                "expected a Close {code}, got {}",
                describe(&frame)
            ));
        }
    }

    /// Checks that the client closes the connection within [`WAIT`] without sending
    /// anything more (a reset counts as closed).
    #[track_caller]
    fn expect_end(&mut self, after: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.fill(self.input.len() + 1, deadline) {
                Ok(()) => {}
                Err(NoBytes::Closed | NoBytes::Io(_)) => break,
                Err(NoBytes::TimedOut) => self.fail(format_args!(
                    "the connection was still open {WAIT:?} after {after}"
                )),
            }
        }
        if !self.input.is_empty() {
            self.fail(format_args!(
                "the client sent {} more bytes after {after} (starting {:02x?})",
                self.input.len(),
                &self.input[..self.input.len().min(16)]
            ));
        }
    }

    /// Reads until at least `want` bytes are buffered, or the deadline passes.
    fn fill(&mut self, want: usize, deadline: Instant) -> Result<(), NoBytes> {
        let mut buf = [0u8; 4096];
        while self.input.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NoBytes::TimedOut);
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(NoBytes::Io)?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(NoBytes::Closed),
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(NoBytes::TimedOut);
                }
                Err(e) => return Err(NoBytes::Io(e)),
            }
        }
        Ok(())
    }
}

/// A valid 101 for the client's `key`, for the handshake rows to spoil.
fn switching_protocols(key: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    )
}

/// `frame` as a server writes it.
fn wire(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(None, &mut out);
    out
}

/// Opens a connection, sends `bytes` after the 101, and checks that the client fails
/// the connection with a Close `code`, then ends it, and that its user sees no message
/// and the connection closed with one of `errors`.
#[track_caller]
fn expect_failure(
    connect: Connect,
    what: &str,
    bytes: &[u8],
    code: CloseCode,
    errors: &[ProtocolError],
) {
    let server = RawServer::bind();
    let (client, mut peer) = server.connect(connect, WAIT, what);
    peer.accept();
    peer.send_raw(bytes);
    peer.expect_close(code);
    peer.expect_end("its Close");
    let received = match client.finish(what).0 {
        Ok(received) => received,
        Err(e) => panic!(
            "{what}: the client's user got the error {e:?}, not the end of the stream with \
             {errors:?}"
        ),
    };
    assert!(
        received.messages.is_empty(),
        "{what}: the client's user got messages: {:?}",
        received.messages
    );
    match &received.closed {
        Some(CloseReason::Protocol(e)) if errors.contains(e) => {}
        other => panic!("{what}: the client's user should see {errors:?}, and saw {other:?}"),
    }
}

/// A masked frame from the server (RFC 6455 §5.1: a client MUST close the connection
/// on one): Close 1002.
pub fn masked_frame_is_refused_with_1002(connect: Connect) {
    let mut bytes = Vec::new();
    Frame::text("masked").encode(Some([1, 2, 3, 4]), &mut bytes);
    expect_failure(
        connect,
        "a masked text frame",
        &bytes,
        CloseCode::PROTOCOL_ERROR,
        &[ProtocolError::MaskedFrame],
    );
}

/// RSV1, RSV2 or RSV3 when no extension was negotiated (RFC 6455 §5.2): Close 1002.
/// RSV1 is the bit permessage-deflate would claim, and the client did not offer it.
pub fn rsv_bits_are_refused_with_1002(connect: Connect) {
    for bit in 0..3 {
        let mut rsv = [false; 3];
        rsv[bit] = true;
        let frame = Frame::text("compressed?").with_rsv(rsv);
        expect_failure(
            connect,
            &format!("a text frame with RSV{}", bit + 1),
            &wire(&frame),
            CloseCode::PROTOCOL_ERROR,
            &[ProtocolError::ReservedBits(frame.rsv_bits())],
        );
    }
}

/// A reserved opcode, data or control (RFC 6455 §5.2): Close 1002.
pub fn reserved_opcode_is_refused_with_1002(connect: Connect) {
    for nibble in [0x3, 0x7, 0xB, 0xF] {
        expect_failure(
            connect,
            &format!("a frame with the reserved opcode {nibble:#x}"),
            &wire(&Frame::new(OpCode::from_nibble(nibble), &b"?"[..])),
            CloseCode::PROTOCOL_ERROR,
            &[ProtocolError::ReservedOpcode(nibble)],
        );
    }
}

/// A Ping with 126 bytes of payload (RFC 6455 §5.5: at most 125): Close 1002.
pub fn control_frame_over_125_bytes_is_refused_with_1002(connect: Connect) {
    expect_failure(
        connect,
        "a Ping of 126 bytes",
        &wire(&Frame::ping(vec![b'p'; 126])),
        CloseCode::PROTOCOL_ERROR,
        &[ProtocolError::ControlFrameTooLong(126)],
    );
}

/// A Ping without FIN (RFC 6455 §5.5: control frames are not fragmented): Close 1002.
pub fn fragmented_control_frame_is_refused_with_1002(connect: Connect) {
    expect_failure(
        connect,
        "a Ping without FIN",
        &wire(&Frame::ping(&b"half"[..]).with_fin(false)),
        CloseCode::PROTOCOL_ERROR,
        &[ProtocolError::FragmentedControlFrame],
    );
}

/// A continuation frame with no message to continue, and a new data frame inside a
/// fragmented message (RFC 6455 §5.4): Close 1002, and the unfinished message is not
/// delivered.
pub fn misplaced_fragments_are_refused_with_1002(connect: Connect) {
    expect_failure(
        connect,
        "a continuation frame with no message to continue",
        &wire(&Frame::new(OpCode::Continuation, &b"orphan"[..])),
        CloseCode::PROTOCOL_ERROR,
        &[ProtocolError::UnexpectedContinuation],
    );
    let mut bytes = wire(&Frame::text("part one").with_fin(false));
    bytes.extend(wire(&Frame::text("a new message")));
    expect_failure(
        connect,
        "a text frame inside a fragmented message",
        &bytes,
        CloseCode::PROTOCOL_ERROR,
        &[ProtocolError::ExpectedContinuation],
    );
}

/// Text that is not UTF-8 (RFC 6455 §8.1): a stray byte in one frame, and, in a
/// fragmented message, a code point split across fragments and continued with a
/// byte that does not continue it, a stray byte in a later fragment, and a last
/// fragment that ends inside a code point. Close 1007.
pub fn invalid_utf8_is_refused_with_1007(connect: Connect) {
    expect_failure(
        connect,
        "a text message with a stray 0xff",
        &wire(&Frame::new(OpCode::Text, &b"abc\xffdef"[..])),
        CloseCode::INVALID_PAYLOAD,
        &[ProtocolError::InvalidUtf8],
    );
    for (what, fragments) in INVALID_UTF8_FRAGMENTS {
        let mut bytes = Vec::new();
        for (i, piece) in fragments.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Text
            } else {
                OpCode::Continuation
            };
            let fin = i + 1 == fragments.len();
            bytes.extend(wire(&Frame::new(opcode, piece.to_vec()).with_fin(fin)));
        }
        expect_failure(
            connect,
            &format!("a fragmented text message with {what}"),
            &bytes,
            CloseCode::INVALID_PAYLOAD,
            &[ProtocolError::InvalidUtf8],
        );
    }
}

/// A Close with a code that may not be sent (RFC 6455 §7.4: below 1000, 1004-1006,
/// 1015, unassigned 1016-2999, 5000 and above), or with a 1-byte payload (§5.5.1):
/// Close 1002.
pub fn invalid_close_code_is_refused_with_1002(connect: Connect) {
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        expect_failure(
            connect,
            &format!("a Close with the code {code}"),
            &wire(&Frame::close(CloseCode(code), "")),
            CloseCode::PROTOCOL_ERROR,
            &[ProtocolError::InvalidCloseCode(code)],
        );
    }
    expect_failure(
        connect,
        "a Close with a 1-byte payload",
        &wire(&Frame::new(OpCode::Close, vec![0x03])),
        CloseCode::PROTOCOL_ERROR,
        &[ProtocolError::CloseTooShort],
    );
}

/// A Close whose reason is not UTF-8 (RFC 6455 §5.5.1): Close 1007.
pub fn close_reason_not_utf8_is_refused_with_1007(connect: Connect) {
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye \xff");
    expect_failure(
        connect,
        "a Close whose reason is not UTF-8",
        &wire(&Frame::new(OpCode::Close, payload)),
        CloseCode::INVALID_PAYLOAD,
        &[ProtocolError::InvalidCloseReason],
    );
}

/// A 64-bit payload length with its most significant bit set (RFC 6455 §5.2): Close
/// 1002, from the header alone.
pub fn length_with_the_top_bit_set_is_refused_with_1002(connect: Connect) {
    let mut bytes = vec![0x82, 127];
    bytes.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    expect_failure(
        connect,
        "a 64-bit length with its top bit set",
        &bytes,
        CloseCode::PROTOCOL_ERROR,
        &[ProtocolError::LengthTopBitSet],
    );
}

/// A header announcing 1 GiB, far over the 16 MiB limit, and nothing after it: Close
/// 1009 from the header, so a client that waited for the payload (or allocated it)
/// fails the case. The frame limit and the message limit are both 16 MiB by default;
/// either may be the one that speaks.
pub fn oversized_frame_is_refused_with_1009_from_its_header(connect: Connect) {
    let len = 1u64 << 30;
    let mut bytes = Vec::new();
    Header {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: None,
        payload_len: len,
    }
    .encode(&mut bytes);
    let limits = Config::default();
    expect_failure(
        connect,
        "a frame header announcing 1 GiB",
        &bytes,
        CloseCode::MESSAGE_TOO_BIG,
        &[
            ProtocolError::FrameTooLarge {
                len,
                max: limits.max_frame_size,
            },
            ProtocolError::MessageTooLarge {
                len,
                max: limits.max_message_size,
            },
        ],
    );
}

/// Opens a connection, answers the request with what `answer` makes of the valid 101
/// (keeping the connection open, so that the client cannot lean on its end), and
/// checks that the client sends nothing, closes the connection, and returns an error
/// that `check` accepts (`expected` describes it).
#[track_caller]
fn expect_handshake_error(
    connect: Connect,
    what: &str,
    answer: impl FnOnce(String) -> String,
    expected: &str,
    check: impl Fn(&Error) -> bool,
) {
    let server = RawServer::bind();
    let (client, mut peer) = server.connect(connect, WAIT, what);
    let key = peer.read_request();
    let answer = answer(switching_protocols(&key));
    peer.send_raw(answer.as_bytes());
    peer.expect_end("the answer");
    match client.finish(what).0 {
        Err(e) if check(&e) => {}
        Err(e) => panic!("{what}: expected {expected}, got the error {e:?}"),
        Ok(received) => panic!("{what}: expected {expected}, but connect succeeded: {received:?}"),
    }
}

/// A refusing status where a 101 should be: `connect` returns it, with the status.
pub fn refusals_are_typed_errors(connect: Connect) {
    for status in [StatusCode::OK, StatusCode::NOT_FOUND] {
        expect_handshake_error(
            connect,
            &format!("a {status} answer"),
            |_| format!("HTTP/1.1 {status}\r\nContent-Length: 9\r\n\r\nnot here."),
            &format!("Response(Rejected) with {status}"),
            |e| matches!(e, Error::Response(ResponseError::Rejected(r)) if r.status == status),
        );
    }
}

/// A 101 that is not a valid WebSocket answer (RFC 6455 §4.1): a `Sec-WebSocket-Accept`
/// for another key, none at all, no `Upgrade: websocket`, no `Connection: upgrade`.
pub fn invalid_101_answers_are_typed_errors(connect: Connect) {
    type Edit = fn(String) -> String;
    let rows: [(&str, Edit, ResponseError); 5] = [
        (
            "an accept for another key",
            |r| {
                let start = r.find("Sec-WebSocket-Accept: ").unwrap() + 22;
                let end = start + r[start..].find("\r\n").unwrap();
                let other = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
                format!("{}{other}{}", &r[..start], &r[end..])
            },
            ResponseError::BadAccept,
        ),
        (
            "no Sec-WebSocket-Accept",
            |r| without_field(&r, "Sec-WebSocket-Accept"),
            ResponseError::BadAccept,
        ),
        (
            "no Upgrade field",
            |r| without_field(&r, "Upgrade"),
            ResponseError::NoUpgradeWebSocket,
        ),
        (
            "Upgrade: h2c",
            |r| r.replace("Upgrade: websocket", "Upgrade: h2c"),
            ResponseError::NoUpgradeWebSocket,
        ),
        (
            "no Connection field",
            |r| without_field(&r, "Connection"),
            ResponseError::NoConnectionUpgrade,
        ),
    ];
    for (what, edit, error) in rows {
        expect_handshake_error(
            connect,
            &format!("a 101 with {what}"),
            edit,
            &format!("Response({error:?})"),
            |e| matches!(e, Error::Response(got) if *got == error),
        );
    }
}

/// `head` without its `name` field.
fn without_field(head: &str, name: &str) -> String {
    let start = head.find(&format!("\r\n{name}:")).unwrap() + 2;
    let end = start + head[start..].find("\r\n").unwrap() + 2;
    format!("{}{}", &head[..start], &head[end..])
}

/// A 101 choosing a subprotocol the client did not offer, or accepting an extension it
/// did not offer (`permessage-deflate`): the client cannot speak what the server would
/// then speak, so `connect` fails.
pub fn unoffered_subprotocol_and_extension_are_typed_errors(connect: Connect) {
    let rows = [
        (
            "Sec-WebSocket-Protocol: chat",
            ResponseError::UnexpectedSubprotocol,
        ),
        (
            "Sec-WebSocket-Extensions: permessage-deflate",
            ResponseError::UnexpectedExtension,
        ),
    ];
    for (field, error) in rows {
        expect_handshake_error(
            connect,
            &format!("a 101 with {field}"),
            |r| r.replacen("\r\n\r\n", &format!("\r\n{field}\r\n\r\n"), 1),
            &format!("Response({error:?})"),
            |e| matches!(e, Error::Response(got) if *got == error),
        );
    }
}

/// A response head over the 16 KiB limit that never ends: `connect` fails with
/// `TooLarge` once the limit is crossed, rather than buffering on until its timeout.
pub fn oversized_response_head_fails_before_its_end(connect: Connect) {
    let what = "a 101 head of 32 KiB that never ends";
    let server = RawServer::bind();
    let (client, mut peer) = server.connect(connect, WAIT, what);
    let key = peer.read_request();
    let valid = switching_protocols(&key);
    let mut head = valid.trim_end_matches("\r\n").to_owned();
    for i in 0..16 {
        head.push_str(&format!("\r\nX-Padding-{i}: {}", "a".repeat(2 << 10)));
    }
    // The client may close before it has all of it; what it says is the point.
    let _ = peer.stream.write_all(head.as_bytes());
    peer.expect_end("the oversized head");
    let max = 16 << 10;
    match client.finish(what).0 {
        Err(Error::Response(ResponseError::TooLarge { max: got })) if got == max => {}
        other => panic!("{what}: expected Response(TooLarge {{ max: {max} }}), got {other:?}"),
    }
}

/// A server that accepts the TCP connection and never answers: `connect` gives up at
/// its timeout with `HandshakeTimeout`, neither sooner nor much later, and sends
/// nothing after its request.
pub fn silent_server_fails_at_the_connect_timeout(connect: Connect) {
    let what = "a server that never answers";
    let timeout = SHORT_CONNECT_TIMEOUT;
    let server = RawServer::bind();
    let (client, mut peer) = server.connect(connect, timeout, what);
    peer.read_request();
    peer.expect_end("its request");
    let (result, elapsed) = client.finish(what);
    match result {
        Err(Error::HandshakeTimeout) => {}
        other => panic!("{what}: expected HandshakeTimeout, got {other:?}"),
    }
    assert!(
        elapsed >= timeout * 9 / 10 && elapsed < timeout + Duration::from_secs(2),
        "{what}: the client gave up after {elapsed:?}, not at its timeout ({timeout:?})"
    );
}

/// A server that completes the handshake and then goes silent (it reads, but never
/// answers a Ping): a client with a keepalive pings it after the interval, gives up
/// once the timeout passes after that Ping, ends the connection, and its user sees
/// `Closed(KeepAliveTimeout)`, neither before the interval and timeout nor long after.
pub fn silent_peer_is_dropped_by_the_keepalive(connect: Connect) {
    let what = "a server that never answers a Ping";
    let keepalive = KeepAlive {
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(300),
    };
    let server = RawServer::bind();
    let setup = ClientSetup {
        keepalive: Some(keepalive),
        ..server.setup(WAIT)
    };
    let (client, mut peer) = server.connect_with(connect, setup, what);
    peer.accept();
    let opened = Instant::now();
    let ping = peer.read_frame("the keepalive's Ping");
    if ping.opcode != OpCode::Ping {
        peer.fail(format_args!("expected a Ping, got {}", describe(&ping)));
    }
    // Whether the client says goodbye with a Close before it drops the connection is
    // its choice: the peer has shown it is not listening.
    let deadline = Instant::now() + WAIT;
    loop {
        match peer.fill(peer.input.len() + 1, deadline) {
            Ok(()) => {}
            Err(NoBytes::Closed | NoBytes::Io(_)) => break,
            Err(NoBytes::TimedOut) => peer.fail(format_args!(
                "the connection was still open {WAIT:?} after the Ping"
            )),
        }
    }
    let ended = opened.elapsed();
    let received = client.received(what);
    assert_eq!(
        received.closed,
        Some(CloseReason::KeepAliveTimeout),
        "{what}: the connection did not end with the keepalive timeout"
    );
    let due = keepalive.interval + keepalive.timeout;
    assert!(
        ended >= due * 9 / 10 && ended < due + Duration::from_secs(3),
        "{what}: the client dropped the connection after {ended:?}, not at its keepalive \
         deadline ({due:?})"
    );
}

/// A server that never answers the client's Close, and never ends the connection, is
/// dropped once the client's close timeout has passed: not at once, since the client
/// waits for the server's answer, and not much later, since a silent peer must not hold
/// a connection for ever. The client's user sees `Closed(CloseTimeout)`.
pub fn server_that_never_answers_the_close_is_dropped_after_the_close_timeout(connect: Connect) {
    let what = "a server that never answers the client's Close";
    let close_timeout = Duration::from_millis(500);
    let server = RawServer::bind();
    let setup = ClientSetup {
        close_timeout,
        action: ClientAction::Close,
        ..server.setup(WAIT)
    };
    let (client, mut peer) = server.connect_with(connect, setup, what);
    peer.accept();
    peer.expect_close(CloseCode::NORMAL);
    let closed = Instant::now();
    peer.expect_end("its Close, which the server did not answer");
    let elapsed = closed.elapsed();
    assert!(
        elapsed >= close_timeout / 2 && elapsed < close_timeout + Duration::from_secs(3),
        "{what}: the client dropped the connection {elapsed:?} after its Close, not at its \
         close timeout ({close_timeout:?})"
    );
    let received = client.received(what);
    assert_eq!(
        received.closed,
        Some(CloseReason::CloseTimeout),
        "{what}: the connection did not end with the close timeout"
    );
}

/// A server that never reads cannot make the client buffer what its user sends: the
/// client's `send` must wait (async) or block once its output is full, so the count of
/// messages it accepted stops growing after the socket buffers fill (a few MiB on
/// loopback), far short of unbounded. When the server then reads, every message the
/// client accepted arrives, in order: the client waited, it did not drop anything.
pub fn server_that_never_reads_cannot_grow_the_clients_memory(connect: Connect) {
    let what = "a server that never reads";
    // Socket buffers both ways at their largest Linux defaults, plus the client's own
    // buffers, with room to spare; unbounded buffering passes it at once.
    const BOUND: usize = 64 << 20;
    let accepted = Arc::new(AtomicUsize::new(0));
    let server = RawServer::bind();
    let setup = ClientSetup {
        action: ClientAction::Stream(accepted.clone()),
        ..server.setup(WAIT)
    };
    let (client, mut peer) = server.connect_with(connect, setup, what);
    peer.accept();
    // The count must stall: wait until it has not moved for half a second.
    let deadline = Instant::now() + WAIT;
    let mut last = accepted.load(Ordering::SeqCst);
    let stalled_at = loop {
        thread::sleep(Duration::from_millis(500));
        let now = accepted.load(Ordering::SeqCst);
        if now == last && now > 0 {
            break now;
        }
        if now * NUMBERED_MESSAGE_SIZE >= BOUND || Instant::now() > deadline {
            panic!(
                "{what}: the client's user had {now} messages of {NUMBERED_MESSAGE_SIZE} bytes \
                 accepted by `send` without the server reading any: the client buffers \
                 without bound"
            );
        }
        last = now;
    };
    for n in 0..stalled_at {
        let frame = peer.read_frame(&format!("message {n} of the {stalled_at} accepted"));
        let got = Message::Binary(frame.payload.clone());
        if !frame.fin || got != numbered_message(n) {
            peer.fail(format_args!(
                "message {n} of the {stalled_at} the client accepted came as {}",
                describe(&frame)
            ));
        }
    }
    // Dropping the connection ends the client's stream of sends with an error.
    drop(peer);
    let _ = client.finish(what);
}

/// Frames written in the same write as the 101 are the connection's first messages,
/// not lost with the rest of the handshake's read. The closing handshake after them
/// is the normal one: the client answers the server's Close and lets the server close
/// the TCP connection first (RFC 6455 §7.1.1).
pub fn frames_in_the_same_write_as_the_101_are_delivered(connect: Connect) {
    let what = "two messages in the same write as the 101";
    let server = RawServer::bind();
    let (client, mut peer) = server.connect(connect, WAIT, what);
    let key = peer.read_request();
    let mut bytes = switching_protocols(&key).into_bytes();
    for text in ["first", "second"] {
        bytes.extend(wire(&Frame::text(text)));
    }
    peer.send_raw(&bytes);
    peer.send_frame(&Frame::close(CloseCode::NORMAL, "done"));
    peer.expect_close(CloseCode::NORMAL);
    let _ = peer.stream.shutdown(Shutdown::Write);
    peer.expect_end("its Close");
    let received = client.received(what);
    assert_eq!(
        received.messages,
        [Message::from("first"), Message::from("second")],
        "{what}: the client's user got other messages"
    );
    let closed = CloseReason::Handshake {
        peer: Some(CloseFrame {
            code: CloseCode::NORMAL,
            reason: "done".into(),
        }),
        initiated_locally: false,
    };
    assert_eq!(
        received.closed,
        Some(closed),
        "{what}: the connection did not end with the server's Close"
    );
}

/// Expands to one `#[test]` per case of [`client_suite`](mod@crate::client_suite),
/// each calling the case with the given [`Connect`] function, so that a failing case
/// is reported by its own name.
///
/// ```ignore
/// ws_testkit::client_suite!(connect);
/// ```
///
/// Use it once per test file (or module), at the top level: the tests are named after
/// the cases.
#[macro_export]
macro_rules! client_suite {
    ($connect:expr) => {
        $crate::client_suite!(@cases $connect;
            masked_frame_is_refused_with_1002,
            rsv_bits_are_refused_with_1002,
            reserved_opcode_is_refused_with_1002,
            control_frame_over_125_bytes_is_refused_with_1002,
            fragmented_control_frame_is_refused_with_1002,
            misplaced_fragments_are_refused_with_1002,
            invalid_utf8_is_refused_with_1007,
            invalid_close_code_is_refused_with_1002,
            close_reason_not_utf8_is_refused_with_1007,
            length_with_the_top_bit_set_is_refused_with_1002,
            oversized_frame_is_refused_with_1009_from_its_header,
            refusals_are_typed_errors,
            invalid_101_answers_are_typed_errors,
            unoffered_subprotocol_and_extension_are_typed_errors,
            oversized_response_head_fails_before_its_end,
            silent_server_fails_at_the_connect_timeout,
            silent_peer_is_dropped_by_the_keepalive,
            server_that_never_answers_the_close_is_dropped_after_the_close_timeout,
            server_that_never_reads_cannot_grow_the_clients_memory,
            frames_in_the_same_write_as_the_101_are_delivered,
        );
    };
    (@cases $connect:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::client_suite::$case($connect);
            }
        )*
    };
}
