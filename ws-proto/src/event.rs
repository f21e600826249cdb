//! What the connection reports to its user.

use bytes::Bytes;

use crate::close::CloseFrame;
use crate::error::ProtocolError;
use crate::frame::{Frame, OpCode};
use crate::utf8::Utf8Bytes;

/// A whole data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, validated UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) => b,
        }
    }

    /// The payload length.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The opcode of the message's first frame.
    pub fn opcode(&self) -> OpCode {
        match self {
            Self::Text(_) => OpCode::Text,
            Self::Binary(_) => OpCode::Binary,
        }
    }

    /// The message as one final frame.
    pub fn into_frame(self) -> Frame {
        match self {
            Self::Text(t) => Frame::new(OpCode::Text, t.into_bytes()),
            Self::Binary(b) => Frame::new(OpCode::Binary, b),
        }
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Self::Text(s.into())
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::Text(s.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Self::Binary(b.into())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}

/// Something that happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A whole message (standard policy).
    Message(Message),
    /// A Ping arrived (standard policy; the Pong is already queued).
    Ping(Bytes),
    /// A Pong arrived (standard policy).
    Pong(Bytes),
    /// A frame, exactly as received (raw policy).
    Frame(Frame),
    /// The WebSocket conversation is over; always the last event. Flush what
    /// [`Connection::poll_transmit`](crate::Connection::poll_transmit) still gives,
    /// then close the transport once
    /// [`Connection::should_close_transport`](crate::Connection::should_close_transport) says so.
    Closed(CloseReason),
}

/// Why the conversation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Both sides sent a Close frame. `peer` is what the peer's said (`None` when it
    /// carried no status code, 1005).
    Handshake {
        /// The peer's close frame.
        peer: Option<CloseFrame>,
        /// Whether our side sent its Close first.
        initiated_locally: bool,
    },
    /// The peer broke the protocol; a Close with [`ProtocolError::close_code`] is queued.
    Protocol(ProtocolError),
    /// The transport ended before the closing handshake (1006).
    Eof,
    /// No sign of life from the peer before the keepalive deadline.
    KeepAliveTimeout,
    /// The peer did not finish the closing handshake in time.
    CloseTimeout,
}
