//! The adapter's error: the core's typed errors, plus what the transport and the clock
//! add.

use std::fmt;
use std::io;

use ws_proto::{RequestError, ResponseError, UsageError};

/// Why a connection attempt, a handshake or an operation on a socket failed.
///
/// A peer that breaks the protocol after the handshake is not an error: it shows up as
/// [`Event::Closed`](ws_proto::Event::Closed) with the reason.
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
    /// answered 503 Service Unavailable (server side, reported to the error hook).
    TooManyConnections,
    /// [`WebSocket::recv_timeout`](crate::WebSocket::recv_timeout) ran out of time; the
    /// connection is fine.
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
