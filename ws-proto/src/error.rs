//! Errors, split by whose fault they are.
//!
//! - [`ProtocolError`]: the peer broke RFC 6455 after the handshake. Each knows the close
//!   code it is answered with; the connection queues that Close frame and ends with
//!   [`Event::Closed`](crate::Event::Closed). It is never returned as an `Err` from
//!   feeding bytes: a misbehaving peer is an event, not a failure of the caller.
//! - [`RequestError`]: a server received a bad opening request; knows its HTTP status.
//! - [`ResponseError`]: a client received a bad (or refusing) opening response.
//! - [`UsageError`]: the caller asked for something the protocol does not allow.
//! - [`Error`]: what an adapter's operations return: one of the above, or what the
//!   transport and the clock add (I/O errors, timeouts). Every adapter returns this one
//!   type.

use std::fmt;
use std::io;

use http::{HeaderMap, StatusCode};

use crate::close::CloseCode;

/// A violation of RFC 6455 by the peer, after the opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A server received a frame without a mask (§5.1).
    UnmaskedFrame,
    /// A client received a masked frame (§5.1).
    MaskedFrame,
    /// RSV bits were set that no negotiated extension defines (§5.2); the bits as in the
    /// first header byte.
    ReservedBits(u8),
    /// An opcode RFC 6455 reserves (§5.2).
    ReservedOpcode(u8),
    /// A control frame with more than 125 bytes of payload (§5.5).
    ControlFrameTooLong(u64),
    /// A control frame without FIN (§5.5).
    FragmentedControlFrame,
    /// A continuation frame with no fragmented message to continue (§5.4).
    UnexpectedContinuation,
    /// A new data message started before the fragmented one ended (§5.4).
    ExpectedContinuation,
    /// A 64-bit payload length with its most significant bit set (§5.2).
    LengthTopBitSet,
    /// A frame longer than the configured limit.
    FrameTooLarge {
        /// The announced payload length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A message longer than the configured limit.
    MessageTooLarge {
        /// The message length including the frame that crossed the limit.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A text message, or part of one, that is not UTF-8 (§8.1).
    InvalidUtf8,
    /// A compressed message (permessage-deflate) whose data does not inflate.
    BadCompressedData,
    /// A Close frame with a 1-byte payload (§5.5.1).
    CloseTooShort,
    /// A Close frame with a status code that may not be sent (§7.4).
    InvalidCloseCode(u16),
    /// A Close frame whose reason is not UTF-8 (§5.5.1).
    InvalidCloseReason,
}

impl ProtocolError {
    /// The status code sent to the peer in the Close frame that fails the connection.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::BadCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnmaskedFrame => f.write_str("client frame is not masked"),
            Self::MaskedFrame => f.write_str("server frame is masked"),
            Self::ReservedBits(b) => write!(f, "reserved bits {b:#04x} set without an extension"),
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::ControlFrameTooLong(n) => write!(f, "control frame of {n} bytes (max 125)"),
            Self::FragmentedControlFrame => f.write_str("fragmented control frame"),
            Self::UnexpectedContinuation => f.write_str("continuation frame outside a message"),
            Self::ExpectedContinuation => f.write_str("new data frame inside a fragmented message"),
            Self::LengthTopBitSet => f.write_str("64-bit payload length has its top bit set"),
            Self::FrameTooLarge { len, max } => write!(f, "frame of {len} bytes (max {max})"),
            Self::MessageTooLarge { len, max } => write!(f, "message of {len} bytes (max {max})"),
            Self::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            Self::BadCompressedData => f.write_str("compressed message does not inflate"),
            Self::CloseTooShort => f.write_str("close frame with a 1-byte payload"),
            Self::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            Self::InvalidCloseReason => f.write_str("close reason is not valid UTF-8"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// What was wrong with an opening request a server received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// Not parseable as HTTP/1.x.
    Malformed(httparse::Error),
    /// The head is longer than the configured limit.
    TooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// More header fields than the configured limit.
    TooManyHeaders,
    /// The method is not GET (§4.2.1 item 1).
    MethodNotGet,
    /// HTTP/1.0 (§4.2.1 item 1 asks for 1.1 or higher).
    HttpVersion,
    /// No `Host` field, or more than one (§4.2.1 item 2).
    Host,
    /// No `Upgrade: websocket` (§4.2.1 item 3).
    NoUpgradeWebSocket,
    /// No `Connection: upgrade` (§4.2.1 item 4).
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Key` missing, repeated, or not 16 bytes in base64 (§4.2.1 item 5).
    BadKey,
    /// `Sec-WebSocket-Version` is not 13 (§4.2.1 item 6): answered with 426 and
    /// `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// The caller's request check said no (403).
    Forbidden,
}

impl RequestError {
    /// The HTTP status the request is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } | Self::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Self::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed HTTP request: {e}"),
            Self::TooLarge { max } => write!(f, "request head longer than {max} bytes"),
            Self::TooManyHeaders => f.write_str("too many header fields"),
            Self::MethodNotGet => f.write_str("method is not GET"),
            Self::HttpVersion => f.write_str("HTTP version below 1.1"),
            Self::Host => f.write_str("missing or repeated Host"),
            Self::NoUpgradeWebSocket => f.write_str("no `Upgrade: websocket`"),
            Self::NoConnectionUpgrade => f.write_str("no `Connection: upgrade`"),
            Self::BadKey => f.write_str("missing or invalid Sec-WebSocket-Key"),
            Self::UnsupportedVersion => f.write_str("Sec-WebSocket-Version is not 13"),
            Self::Forbidden => f.write_str("request refused by the server's check"),
        }
    }
}

impl std::error::Error for RequestError {}

/// What was wrong with the opening response a client received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not parseable as HTTP/1.x.
    Malformed(httparse::Error),
    /// The head is longer than the configured limit.
    TooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// More header fields than the configured limit.
    TooManyHeaders,
    /// The server answered with something other than 101 (boxed: it is large and
    /// rare).
    Rejected(Box<Rejection>),
    /// No `Upgrade: websocket`.
    NoUpgradeWebSocket,
    /// No `Connection: upgrade`.
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Accept` missing or not the hash of our key.
    BadAccept,
    /// A subprotocol the client did not offer, or more than one.
    UnexpectedSubprotocol,
    /// An extension the client did not offer, or an answer to its permessage-deflate
    /// offer that RFC 7692 does not allow.
    UnexpectedExtension,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed HTTP response: {e}"),
            Self::TooLarge { max } => write!(f, "response head longer than {max} bytes"),
            Self::TooManyHeaders => f.write_str("too many header fields"),
            Self::Rejected(r) => write!(f, "server refused the upgrade: {}", r.status),
            Self::NoUpgradeWebSocket => f.write_str("no `Upgrade: websocket`"),
            Self::NoConnectionUpgrade => f.write_str("no `Connection: upgrade`"),
            Self::BadAccept => f.write_str("missing or wrong Sec-WebSocket-Accept"),
            Self::UnexpectedSubprotocol => f.write_str("subprotocol not offered"),
            Self::UnexpectedExtension => f.write_str("extension not offered"),
        }
    }
}

impl std::error::Error for ResponseError {}

/// A server's refusal of the upgrade: what it said, and the part of the body that came
/// with the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status.
    pub status: StatusCode,
    /// The header fields.
    pub headers: HeaderMap,
    /// The body bytes received so far (possibly incomplete).
    pub body: bytes::Bytes,
}

/// The caller asked for something the protocol or the connection's state forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// A Close frame was already queued: nothing may follow it (§5.5.1).
    CloseAlreadySent,
    /// The connection is closed.
    Closed,
    /// A control frame payload over 125 bytes (§5.5).
    ControlPayloadTooLong(usize),
    /// A control frame without FIN (§5.5).
    FragmentedControlFrame,
    /// A close code that may not be sent (1005, 1006, 1015, reserved ranges).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes.
    CloseReasonTooLong(usize),
    /// A URI that is not `ws://` or `wss://` with a host.
    InvalidUri,
    /// A header name or value `http` refuses, or a subprotocol that is not a token.
    InvalidHeader,
    /// The server chose a subprotocol the client did not offer.
    SubprotocolNotOffered,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CloseAlreadySent => f.write_str("a Close frame was already sent"),
            Self::Closed => f.write_str("the connection is closed"),
            Self::ControlPayloadTooLong(n) => write!(f, "control payload of {n} bytes (max 125)"),
            Self::FragmentedControlFrame => f.write_str("control frames cannot be fragmented"),
            Self::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            Self::CloseReasonTooLong(n) => write!(f, "close reason of {n} bytes (max 123)"),
            Self::InvalidUri => f.write_str("URI is not ws:// or wss:// with a host"),
            Self::InvalidHeader => f.write_str("invalid header name or value"),
            Self::SubprotocolNotOffered => f.write_str("subprotocol was not offered"),
        }
    }
}

impl std::error::Error for UsageError {}

/// Why a connection attempt, a handshake or an operation on a socket failed: the error
/// of every adapter (`ws-tokio`, `ws-async-std`, `ws-blocking`, and `ws_proto::drive`
/// with the `drive` feature).
///
/// A peer that breaks the protocol after the handshake is not an error: it shows up as
/// [`Event::Closed`](crate::Event::Closed) with the reason.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The server refused or botched the opening handshake (client side).
    Response(ResponseError),
    /// The client's opening request was bad or refused (server side); the answer with
    /// its status was sent.
    Request(RequestError),
    /// The call is not allowed in the connection's state.
    Usage(UsageError),
    /// The opening handshake did not finish in time.
    HandshakeTimeout,
    /// The transport closed during the opening handshake.
    HandshakeEof,
    /// `wss://` needs TLS, and this build has the `rustls` feature off.
    TlsUnavailable,
    /// The server already serves its maximum number of connections: the client was
    /// answered 503 Service Unavailable (server side, reported to the error hook of an
    /// adapter that bounds its connections).
    TooManyConnections,
    /// A receive with a time limit (`ws-blocking`'s `WebSocket::recv_timeout`) ran out
    /// of time; the connection is fine.
    RecvTimeout,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Response(e) => write!(f, "opening handshake failed: {e}"),
            Self::Request(e) => write!(f, "opening request refused: {e}"),
            Self::Usage(e) => write!(f, "{e}"),
            Self::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Self::HandshakeEof => f.write_str("transport closed during the opening handshake"),
            Self::TlsUnavailable => f.write_str("wss:// is not supported by this build"),
            Self::TooManyConnections => f.write_str("connection refused: the server is full"),
            Self::RecvTimeout => f.write_str("nothing received in time"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Response(e) => Some(e),
            Self::Request(e) => Some(e),
            Self::Usage(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Self::Usage(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Self {
        Self::Response(e)
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_and_statuses() {
        assert_eq!(
            ProtocolError::InvalidUtf8.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::MessageTooLarge { len: 9, max: 8 }.close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
        assert_eq!(
            ProtocolError::MaskedFrame.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        assert_eq!(RequestError::UnsupportedVersion.status(), 426);
        assert_eq!(RequestError::Forbidden.status(), 403);
        assert_eq!(RequestError::BadKey.status(), 400);
    }
}
