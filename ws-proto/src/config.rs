//! Connection settings: the policy, limits and timers.

use std::time::Duration;

/// How much of the protocol the connection handles by itself (the OCaml
/// `establish_standard_server` versus `establish_server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Full RFC 6455: data frames are assembled into messages (UTF-8 checked as they
    /// arrive), every Ping is answered with a Pong carrying its payload, a Close is
    /// answered with a Close, and every violation fails the connection with its code.
    #[default]
    Standard,
    /// Every frame is handed up as it arrived ([`Event::Frame`](crate::Event::Frame)),
    /// and nothing is answered on the user's behalf. Only what keeps the byte stream
    /// sound is enforced (masking direction, size limits, control frames short and
    /// unfragmented); fragments, reserved opcodes and RSV bits are the user's business.
    Raw,
}

/// A ping sent after a quiet spell, and a deadline for any sign of life after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Send a Ping when nothing has been received for this long.
    pub interval: Duration,
    /// Give up when nothing at all has been received this long after that Ping.
    pub timeout: Duration,
}

/// Settings of a [`Connection`](crate::Connection).
///
/// The defaults are meant for a server on the open internet: frames and messages up to
/// 16 MiB (the largest Autobahn sends), which memory grows to only as fast as the peer
/// really sends bytes: a length the peer announced reserves at most 1 MiB of room,
/// and beyond that room grows with what arrives (at most about twice that, plus
/// 1 MiB).
///
/// Build one with `Config { max_message_size: 1 << 20, ..Config::default() }`; new
/// fields will come with defaults, so spell out only what you change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Standard or raw handling.
    pub policy: Policy,
    /// The longest frame payload accepted; a longer one fails the connection with 1009
    /// as soon as its header arrives.
    pub max_frame_size: usize,
    /// The longest message accepted (the sum of its fragments); 1009 beyond.
    pub max_message_size: usize,
    /// Split outgoing messages into frames of at most this many payload bytes. `None`
    /// sends each message as one frame.
    pub fragment_size: Option<usize>,
    /// How many bytes [`Connection::poll_transmit`](crate::Connection::poll_transmit)
    /// appends at most per call (at least one whole control frame is always written,
    /// and a payload whose rest is within an eighth of the chunk is finished in it, so
    /// the peer does not wait for a last sliver in a write of its own).
    /// Large messages are encoded piece by piece, so the caller's output buffer stays
    /// this size whatever the message size. 1 MiB by default: in the client
    /// benchmarks (masked 64 KiB and 1 MiB messages, tokio and blocking), 256 KiB
    /// pieces took 1.4-1.5 times the messages per second of 64 KiB ones, and 1 MiB
    /// pieces 1.2-1.3 times those of 256 KiB at 1 MiB × 1 connection × 1 in flight,
    /// where a message then goes out in one write and its echo comes back in fewer
    /// pieces (BENCHMARKS.md). With
    /// [`poll_transmit_into`](crate::Connection::poll_transmit_into), as the adapters
    /// write, payloads the [`OutputBuffer`](crate::OutputBuffer) references are not
    /// copied and not bounded by it, so the chunk bounds a client's masked copies and
    /// small frames; the adapters give the buffer back when the connection goes idle,
    /// and the async ones put masked copies of 64 KiB and more in buffers that the
    /// connections of a thread share ([`BufferPool`](crate::BufferPool)).
    pub write_chunk_size: usize,
    /// Keepalive pings; off by default.
    pub keepalive: Option<KeepAlive>,
    /// How long to wait for the peer's Close (or, as a client, for the server to close
    /// the transport) after the closing handshake started.
    pub close_timeout: Duration,
    /// permessage-deflate: what a client offers and a server accepts (`None`, the
    /// default: no compression). The handshake negotiates it; the adapters hand the
    /// outcome to the connection.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            policy: Policy::Standard,
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            fragment_size: None,
            write_chunk_size: 1 << 20,
            keepalive: None,
            close_timeout: Duration::from_secs(5),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl Config {
    /// The default settings with the given policy.
    pub fn with_policy(policy: Policy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }
}
