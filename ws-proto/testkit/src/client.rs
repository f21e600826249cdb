//! A raw WebSocket client over a blocking [`TcpStream`], for testing servers.
//!
//! The adapters' own clients are built to be correct, so they cannot be asked to send an
//! unmasked frame, a reserved opcode or half a request. This one sends whatever it is
//! told: well-formed frames through ws-proto's encoder ([`Frame::encode`]), the opening
//! request through ws-proto's [`ClientHandshake`], and anything else as bytes.
//!
//! It reads just as literally: frames come back one by one as the server wrote them, so
//! a test sees the exact close code, the Pong's payload, or bytes that arrive where
//! none should.
//!
//! Every wait has a deadline ([`WAIT`] unless a method takes its own): a server that
//! never answers fails the test with a message saying what was awaited, instead of
//! hanging the test run. Methods that check something panic when it is not so and are
//! `#[track_caller]`, so the failure points at the line of the test, not at this file.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use ws_proto::frame::{Frame, Header, OpCode};
use ws_proto::handshake::{ClientHandshake, ClientOptions};
use ws_proto::{CloseCode, CloseFrame, Entropy, Message, SeededEntropy, Utf8Bytes};

/// How long any single expectation waits before it fails the test.
///
/// Generous, because debug builds on a loaded machine are slow (a 16 MiB echo takes a
/// good part of a second); a correct server never comes close to it, so it only
/// decides how long a broken one takes to fail.
pub const WAIT: Duration = Duration::from_secs(10);

/// The longest response head accepted: what ws-proto allows a request, so that a
/// server answering with garbage cannot make the client buffer forever.
const MAX_HEAD: usize = 16 << 10;

/// The longest frame payload accepted from a server: far above what any case expects
/// (16 MiB), far below what a corrupt length could make us allocate.
const MAX_PAYLOAD: u64 = 64 << 20;

/// Seeds the clients' masking keys and handshake nonces: each client gets its own, so
/// that concurrent clients do not all use the same keys, yet runs are reproducible.
static NEXT_SEED: AtomicU64 = AtomicU64::new(1);

/// What an opening handshake asks for: the path, an `Origin` as a browser would send
/// it, and extra fields. The default is a plain request for `/` with no `Origin`.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The request target, starting with `/`.
    pub path: String,
    /// An `Origin` field.
    pub origin: Option<String>,
    /// Extra fields, sent after the standard ones.
    pub headers: HeaderMap,
}

impl Default for Handshake {
    fn default() -> Self {
        Self {
            path: "/".to_owned(),
            origin: None,
            headers: HeaderMap::new(),
        }
    }
}

impl Handshake {
    /// The request target (path and query).
    pub fn path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.path);
        self
    }

    /// Sends `Origin: origin`.
    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }

    /// Adds a field. Panics on a name or value HTTP does not allow: a test that wants
    /// to send one writes the whole request with [`RawClient::send_raw`].
    #[track_caller]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|e| panic!("invalid header name {name:?}: {e}"));
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("invalid header value {value:?}: {e}"));
        self.headers.append(name, value);
        self
    }
}

/// The head of the server's answer to an opening request.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The fields.
    pub headers: HeaderMap,
    /// The head as received, for failure messages.
    pub head: String,
}

/// Why [`RawClient::try_read_frame`] returned no frame.
#[derive(Debug)]
pub enum NoFrame {
    /// The server closed the connection (a clean end of stream).
    Closed,
    /// Nothing (or only part of a frame) arrived before the deadline.
    TimedOut,
    /// The server sent something that is not a frame a server may send.
    Invalid(String),
    /// The socket failed, typically a reset.
    Io(io::Error),
}

impl fmt::Display for NoFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the server closed the connection"),
            Self::TimedOut => f.write_str("nothing arrived in time"),
            Self::Invalid(what) => write!(f, "the server sent an invalid frame: {what}"),
            Self::Io(e) => write!(f, "the connection failed: {e}"),
        }
    }
}

/// One client connection, speaking the client's side of RFC 6455 as loosely as a test
/// needs.
#[derive(Debug)]
pub struct RawClient {
    stream: TcpStream,
    /// Bytes received and not consumed yet: the rest of a frame, or frames that came
    /// right behind the 101 response.
    input: Vec<u8>,
    entropy: SeededEntropy,
    /// Put in front of failure messages (see [`RawClient::set_context`]).
    context: String,
}

/// Connects, sends `text` as it is, and reads the response head: for requests a
/// conforming client would never send.
#[track_caller]
pub fn request(addr: SocketAddr, text: &str) -> Response {
    let mut client = RawClient::connect(addr);
    client.send_raw(text.as_bytes());
    client.read_response()
}

/// The text of a request that is a valid opening request for `host` but for what the
/// arguments change: the method, the `Sec-WebSocket-Version` value, and whether a
/// `Sec-WebSocket-Key` is sent (the RFC 6455 §1.3 sample key).
pub fn upgrade_request_text(method: &str, host: &str, version: &str, with_key: bool) -> String {
    let key = if with_key {
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    } else {
        ""
    };
    format!(
        "{method} / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         {key}Sec-WebSocket-Version: {version}\r\n\r\n"
    )
}

impl RawClient {
    /// Opens a TCP connection, without any handshake. Panics if it fails.
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> Self {
        Self::try_connect(addr).unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"))
    }

    /// Opens a TCP connection, without any handshake; an error is the caller's to judge
    /// (after a server's stop, a refusal is the expected outcome).
    pub fn try_connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, WAIT)?;
        // Small frames are sent as they are written, as a real client would.
        stream.set_nodelay(true)?;
        // A server that stops reading must fail the test, not block a write forever.
        stream.set_write_timeout(Some(WAIT))?;
        Ok(Self {
            stream,
            input: Vec::new(),
            entropy: SeededEntropy::new(NEXT_SEED.fetch_add(1, Ordering::Relaxed)),
            context: String::new(),
        })
    }

    /// Names what the test is doing (the size being echoed, which of many clients
    /// this is) at the start of every failure message of this client, since the line of
    /// the test alone does not say which turn of a loop failed.
    pub fn set_context(&mut self, context: impl Into<String>) {
        self.context = context.into();
    }

    /// Fails the test with `message`, after the context if one was set.
    #[track_caller]
    fn fail(&self, message: fmt::Arguments<'_>) -> ! {
        if self.context.is_empty() {
            panic!("{message}");
        }
        panic!("{}: {message}", self.context);
    }

    /// Connects and completes a plain opening handshake for `/`. Panics unless the
    /// server accepts with a valid 101.
    #[track_caller]
    pub fn open(addr: SocketAddr) -> Self {
        Self::open_with(addr, &Handshake::default())
    }

    /// Connects and completes the opening handshake `handshake` describes. Panics
    /// unless the server accepts with a valid 101.
    #[track_caller]
    pub fn open_with(addr: SocketAddr, handshake: &Handshake) -> Self {
        let mut client = Self::connect(addr);
        let response = client.handshake(handshake);
        if response.status != StatusCode::SWITCHING_PROTOCOLS {
            client.fail(format_args!(
                "the server refused the opening handshake:\n{}",
                response.head
            ));
        }
        client
    }

    /// Sends an opening request built by ws-proto's [`ClientHandshake`] and returns the
    /// answer. A 101 is checked as a client must check it (`Upgrade`, `Connection`, the
    /// `Sec-WebSocket-Accept` for our key), and the test fails if it is wrong; any other
    /// status is returned for the test to judge.
    #[track_caller]
    pub fn handshake(&mut self, handshake: &Handshake) -> Response {
        let addr = self.peer_addr();
        let uri: http::Uri = format!("ws://{addr}{}", handshake.path)
            .parse()
            .unwrap_or_else(|e| panic!("invalid path {:?}: {e}", handshake.path));
        let options = ClientOptions {
            origin: handshake.origin.clone(),
            headers: handshake.headers.clone(),
            ..ClientOptions::default()
        };
        let mut machine = ClientHandshake::new(&uri, &options, &mut self.entropy)
            .unwrap_or_else(|e| panic!("cannot build the opening request: {e:?}"));
        let mut request = Vec::new();
        machine.write_request(&mut request);
        self.send_raw(&request);
        let response = self.read_response();
        if response.status == StatusCode::SWITCHING_PROTOCOLS {
            match machine.handle_input(response.head.as_bytes()) {
                Ok(Some(_)) => {}
                other => self.fail(format_args!(
                    "the server's 101 is not a valid WebSocket answer ({other:?}):\n{}",
                    response.head
                )),
            }
        }
        response
    }

    /// Reads the head of an HTTP response. Panics if none arrives within [`WAIT`].
    #[track_caller]
    pub fn read_response(&mut self) -> Response {
        match self.try_read_response(WAIT) {
            Ok(response) => response,
            Err(e) => self.fail(format_args!("expected an HTTP response: {e}")),
        }
    }

    /// Reads the head of an HTTP response within `wait`. Bytes after the head stay
    /// buffered: after a 101 they are the first frames.
    pub fn try_read_response(&mut self, wait: Duration) -> Result<Response, NoFrame> {
        let deadline = Instant::now() + wait;
        let head_len = loop {
            if let Some(end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if self.input.len() > MAX_HEAD {
                return Err(NoFrame::Invalid(format!(
                    "no end of the response head in {MAX_HEAD} bytes"
                )));
            }
            self.fill(self.input.len() + 1, deadline)?;
        };
        let head: Vec<u8> = self.input.drain(..head_len).collect();
        let head = String::from_utf8(head)
            .map_err(|_| NoFrame::Invalid("the response head is not UTF-8".to_owned()))?;
        parse_head(&head).ok_or_else(|| NoFrame::Invalid(format!("malformed head:\n{head}")))
    }

    /// Writes `bytes` as they are: a hand-made request, a partial frame, garbage.
    #[track_caller]
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.try_send_raw(bytes) {
            // Most often the server failed the connection and closed it: what it said
            // before is the useful part of the message.
            let said = match self.try_read_frame(Duration::from_millis(500)) {
                Ok(frame) => format!(" (the server had sent {})", describe(&frame)),
                Err(_) => String::new(),
            };
            self.fail(format_args!(
                "cannot send {} bytes to the server: {e}{said}",
                bytes.len()
            ));
        }
    }

    /// Writes `bytes`, leaving a failure to the caller: a test that replies to a server
    /// which may already have closed the connection does not care whether it arrives.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends `frame` masked with a fresh key, as a client must. The frame is sent as it
    /// is: FIN, RSV bits, a reserved opcode or an over-long control payload included.
    #[track_caller]
    pub fn send_frame(&mut self, frame: &Frame) {
        let key = self.next_mask();
        self.send_frame_with_mask(frame, Some(key));
    }

    /// Sends `frame` masked with `mask`, or unmasked with `None` (a protocol violation
    /// from a client).
    #[track_caller]
    pub fn send_frame_with_mask(&mut self, frame: &Frame, mask: Option<[u8; 4]>) {
        let mut wire = Vec::with_capacity(frame.payload.len() + 14);
        frame.encode(mask, &mut wire);
        self.send_raw(&wire);
    }

    /// Sends only a frame header: the payload it announces is left for the test to
    /// send, or never sent (a server must refuse an oversized frame from its header).
    #[track_caller]
    pub fn send_header(&mut self, header: &Header) {
        let mut wire = Vec::with_capacity(14);
        header.encode(&mut wire);
        self.send_raw(&wire);
    }

    /// Sends a message as one masked frame.
    #[track_caller]
    pub fn send_message(&mut self, message: &Message) {
        self.send_frame(&message.clone().into_frame());
    }

    /// Sends a masked Close with `code` and `reason`.
    #[track_caller]
    pub fn send_close(&mut self, code: CloseCode, reason: &str) {
        self.send_frame(&Frame::close(code, reason));
    }

    /// Reads the next frame within `wait`, as the server sent it (fragments and control
    /// frames are not combined or answered).
    pub fn try_read_frame(&mut self, wait: Duration) -> Result<Frame, NoFrame> {
        let deadline = Instant::now() + wait;
        let (header, header_len) = loop {
            match Header::decode(&self.input) {
                Ok(Some(decoded)) => break decoded,
                Ok(None) => self.fill(self.input.len() + 1, deadline)?,
                Err(e) => return Err(NoFrame::Invalid(format!("{e:?}"))),
            }
        };
        // RFC 6455 §5.1: a server never masks.
        if header.mask.is_some() {
            return Err(NoFrame::Invalid(format!("a masked frame: {header:?}")));
        }
        if header.payload_len > MAX_PAYLOAD {
            return Err(NoFrame::Invalid(format!(
                "a payload of {} bytes announced",
                header.payload_len
            )));
        }
        let end = header_len + header.payload_len as usize;
        self.fill(end, deadline)?;
        let rest = self.input.split_off(end);
        let frame = Bytes::from(std::mem::replace(&mut self.input, rest));
        Ok(header.into_frame(frame.slice(header_len..)))
    }

    /// Reads the next frame. Panics if none arrives within [`WAIT`].
    #[track_caller]
    pub fn read_frame(&mut self) -> Frame {
        self.read_frame_for("a frame")
    }

    /// Reads the next frame, failing with what was `expected` if there is none.
    #[track_caller]
    fn read_frame_for(&mut self, expected: &str) -> Frame {
        match self.try_read_frame(WAIT) {
            Ok(frame) => frame,
            Err(NoFrame::TimedOut) => self.fail(format_args!(
                "expected {expected}, but nothing arrived within {WAIT:?}"
            )),
            Err(e) => self.fail(format_args!("expected {expected}, but {e}")),
        }
    }

    /// Reads the next data message, assembling its fragments. Panics on a control
    /// frame (the servers under test send none unprompted), a Close included, with its
    /// code; on text that is not UTF-8; and on a broken fragment sequence.
    #[track_caller]
    pub fn read_message(&mut self) -> Message {
        let first = self.read_frame_for("a message");
        let opcode = first.opcode;
        if !matches!(opcode, OpCode::Text | OpCode::Binary) {
            self.fail(format_args!("expected a message, got {}", describe(&first)));
        }
        let mut fin = first.fin;
        let mut payload = first.payload;
        if !fin {
            let mut assembled = payload.to_vec();
            while !fin {
                let next = self.read_frame_for("the rest of a fragmented message");
                if next.opcode != OpCode::Continuation {
                    self.fail(format_args!(
                        "expected the continuation of a {opcode:?} message, got {}",
                        describe(&next)
                    ));
                }
                assembled.extend_from_slice(&next.payload);
                fin = next.fin;
            }
            payload = Bytes::from(assembled);
        }
        if opcode == OpCode::Binary {
            return Message::Binary(payload);
        }
        match Utf8Bytes::try_from_bytes(payload) {
            Ok(text) => Message::Text(text),
            Err(_) => self.fail(format_args!(
                "the server sent a text message that is not UTF-8"
            )),
        }
    }

    /// Reads the next message and checks it is `expected`. On a mismatch the failure
    /// says where the payloads differ rather than printing megabytes.
    #[track_caller]
    pub fn expect_message(&mut self, expected: &Message) {
        let got = self.read_message();
        if let Some(difference) = message_difference(&got, expected) {
            self.fail(format_args!("{difference}"));
        }
    }

    /// Reads the next frame and checks it is a Pong carrying `payload`.
    #[track_caller]
    pub fn expect_pong(&mut self, payload: &[u8]) {
        let frame = self.read_frame_for("a Pong");
        if !(frame.opcode == OpCode::Pong && frame.fin && frame.payload == payload) {
            self.fail(format_args!(
                "expected a Pong with {payload:02x?}, got {}",
                describe(&frame)
            ));
        }
    }

    /// Reads the next frame and checks it is a Close with `code`; returns its reason.
    #[track_caller]
    pub fn expect_close(&mut self, code: CloseCode) -> String {
        let frame = self.read_frame_for(&format!("a Close {code}"));
        if close_code(&frame) != Some(code) {
            self.fail(format_args!(
                "expected a Close {code}, got {}",
                describe(&frame)
            ));
        }
        String::from_utf8_lossy(&frame.payload[2..]).into_owned()
    }

    /// The end of a closing handshake the server started, or of a failed connection:
    /// answers its Close with `code` (ignoring a failure to send, since the server may
    /// already be gone), then checks that the server closes the TCP connection.
    #[track_caller]
    pub fn reply_close_and_expect_end(&mut self, code: CloseCode) {
        let mut wire = Vec::new();
        Frame::close(code, "").encode(Some(self.next_mask()), &mut wire);
        let _ = self.try_send_raw(&wire);
        self.expect_transport_closed();
    }

    /// A closing handshake started by the client: Close 1000, the server's Close 1000
    /// in return, then the server closes the TCP connection (RFC 6455 §7.1.1).
    #[track_caller]
    pub fn close_handshake(&mut self) {
        self.send_close(CloseCode::NORMAL, "done");
        self.expect_close(CloseCode::NORMAL);
        self.expect_transport_closed();
    }

    /// Checks that the server closes the connection within [`WAIT`] and sends nothing
    /// more before it. A reset counts as closed: it is what a client that wrote after
    /// the server's close gets.
    #[track_caller]
    pub fn expect_transport_closed(&mut self) {
        let extra = self.read_until_closed(WAIT);
        if !extra.is_empty() {
            self.fail(format_args!(
                "the server sent {} more bytes where it should only have closed the \
                 connection (starting {:02x?})",
                extra.len(),
                &extra[..extra.len().min(16)]
            ));
        }
    }

    /// Reads until the server closes the connection and returns everything it sent
    /// (for a server that may answer before dropping a client, like a 408). Panics if
    /// the connection is still open after `wait`.
    #[track_caller]
    pub fn read_until_closed(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        loop {
            match self.fill(self.input.len() + 1, deadline) {
                Ok(()) => {}
                Err(NoFrame::Closed | NoFrame::Io(_)) => return std::mem::take(&mut self.input),
                Err(NoFrame::TimedOut) => self.fail(format_args!(
                    "expected the server to close the connection, but it was still open \
                     after {wait:?}"
                )),
                Err(NoFrame::Invalid(e)) => unreachable!("reading bytes cannot be invalid: {e}"),
            }
        }
    }

    /// The underlying stream, for what this type does not wrap (half-closing it,
    /// for one).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// The server's address.
    #[track_caller]
    pub fn peer_addr(&self) -> SocketAddr {
        self.stream
            .peer_addr()
            .unwrap_or_else(|e| self.fail(format_args!("the connection has no peer address: {e}")))
    }

    /// A fresh masking key. Never all zeros: a zero key leaves the payload as it is, so
    /// a server that forgot to unmask would pass.
    fn next_mask(&mut self) -> [u8; 4] {
        let mut key = [0u8; 4];
        while key == [0; 4] {
            self.entropy.fill(&mut key);
        }
        key
    }

    /// Reads until at least `want` bytes are buffered, or the deadline passes.
    fn fill(&mut self, want: usize, deadline: Instant) -> Result<(), NoFrame> {
        while self.input.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NoFrame::TimedOut);
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(NoFrame::Io)?;
            // Read straight into the buffer: at least a page, at most 1 MiB at a time,
            // so that a 16 MiB frame takes a few dozen reads and a small one one read.
            let start = self.input.len();
            let room = (want - start).clamp(4 << 10, 1 << 20);
            self.input.resize(start + room, 0);
            let read = self.stream.read(&mut self.input[start..]);
            self.input.truncate(start + read.as_ref().map_or(0, |&n| n));
            match read {
                Ok(0) => return Err(NoFrame::Closed),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(NoFrame::TimedOut);
                }
                Err(e) => return Err(NoFrame::Io(e)),
            }
        }
        Ok(())
    }
}

/// Checks two messages are the same, describing the first difference (never the whole
/// payload, which may be 16 MiB).
#[track_caller]
pub fn assert_same_message(got: &Message, expected: &Message) {
    if let Some(difference) = message_difference(got, expected) {
        panic!("{difference}");
    }
}

/// How `got` differs from `expected`, if it does: the type, the length, or the first
/// differing bytes.
fn message_difference(got: &Message, expected: &Message) -> Option<String> {
    let (a, b) = (got.as_bytes(), expected.as_bytes());
    let kind = expected.opcode();
    if got.opcode() != kind {
        return Some(format!(
            "expected a {kind:?} message of {} bytes, got a {:?} message of {} bytes",
            b.len(),
            got.opcode(),
            a.len()
        ));
    }
    if a.len() != b.len() {
        return Some(format!(
            "expected a {kind:?} message of {} bytes, got {} bytes",
            b.len(),
            a.len()
        ));
    }
    let at = a.iter().zip(b).position(|(x, y)| x != y)?;
    Some(format!(
        "the {kind:?} message of {} bytes came back different from byte {at}: got \
         {:02x?}, sent {:02x?}",
        b.len(),
        &a[at..a.len().min(at + 8)],
        &b[at..b.len().min(at + 8)]
    ))
}

/// The code of a valid Close frame; `None` for any other frame.
pub fn close_code(frame: &Frame) -> Option<CloseCode> {
    if frame.opcode != OpCode::Close {
        return None;
    }
    CloseFrame::parse(&frame.payload)
        .ok()
        .flatten()
        .map(|close| close.code)
}

/// A frame in a failure message: its kind, its close code if any, and the start of its
/// payload (never megabytes of it).
pub fn describe(frame: &Frame) -> String {
    let payload = &frame.payload[..frame.payload.len().min(32)];
    match frame.opcode {
        OpCode::Close => match CloseFrame::parse(&frame.payload) {
            Ok(Some(close)) => format!("a Close {} {:?}", close.code, close.reason.as_str()),
            Ok(None) => "a Close without a code".to_owned(),
            Err(e) => format!("an invalid Close ({e:?}): {payload:02x?}"),
        },
        opcode => format!(
            "a {opcode:?} frame (fin {}, rsv {:?}) of {} bytes starting {payload:02x?}",
            frame.fin,
            frame.rsv,
            frame.payload.len()
        ),
    }
}

/// Parses `HTTP/1.1 <code> <reason>` and the fields of a response head.
fn parse_head(head: &str) -> Option<Response> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = StatusCode::from_bytes(parts.next()?.as_bytes()).ok()?;
    let mut headers = HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    Some(Response {
        status,
        headers,
        head: head.to_owned(),
    })
}
