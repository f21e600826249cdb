//! The async drive loop, written once for every runtime (feature `drive`).
//!
//! [`Connection`](crate::Connection) is a state machine; something has to move its
//! bytes, read the clock and wake it up. This module is that loop for async code, as
//! `poll` functions that serve `async fn`s, `Stream`/`Sink`, and the two halves of a
//! split socket alike, with every performance property the adapters need: no
//! allocation per message, vectored writes, reads straight into the connection's
//! buffer, idle buffers given back, cancel safety, and a fair share of the thread: a
//! connection whose transport never makes it wait (a peer that sends without pause)
//! yields every 128 reads and writes, so that on an executor that gives tasks no budget
//! of its own (async-std's, smol's) it cannot starve the other tasks.
//!
//! It still never touches a socket, a runtime or the clock itself: it is generic over
//! two small traits that an adapter implements for its streams and its timers.
//!
//! - [`Transport`]: poll-based reads and writes (tokio's `AsyncRead`/`AsyncWrite`,
//!   `futures-io`'s, anything else), and, as an associated type, its [`Runtime`];
//! - [`Runtime`]: the clock and a resettable timer.
//!
//! On top of them: the socket [`WebSocket`] (a `Stream` of events and a `Sink` of
//! messages), its two halves [`WsReader`] and [`WsWriter`], and the opening handshakes
//! of both roles, [`accept`] and [`client`]. `ws-tokio` and `ws-async-std` are these
//! types with their own [`Transport`]; what remains in them is what is theirs: TCP,
//! TLS, and the accept loop that spawns connections.
//!
//! # An adapter in a few lines
//!
//! A transport that is already poll-based forwards each call; this one runs the loop
//! over an in-memory pipe whose clock is the system's:
//!
//! ```
//! use std::io::{self, IoSlice};
//! use std::task::{Context, Poll};
//! use std::time::Instant;
//!
//! use ws_proto::drive::{Runtime, Transport};
//!
//! /// A timer that is always due (a real one registers `cx.waker()` with a reactor).
//! struct Clock;
//!
//! impl Runtime for Clock {
//!     type Sleep = Instant;
//!     fn now() -> Instant {
//!         Instant::now()
//!     }
//!     fn sleep_until(at: Instant) -> Instant {
//!         at
//!     }
//!     fn reset(sleep: &mut Instant, at: Instant) {
//!         *sleep = at;
//!     }
//!     fn poll_sleep(_sleep: &mut Instant, _cx: &mut Context<'_>) -> Poll<()> {
//!         Poll::Ready(())
//!     }
//! }
//!
//! /// A transport that has nothing to read and takes every write.
//! struct Void;
//!
//! impl Transport for Void {
//!     type Runtime = Clock;
//!     fn poll_read(&mut self, _: &mut Context<'_>, _: &mut [u8]) -> Poll<io::Result<usize>> {
//!         Poll::Pending
//!     }
//!     fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
//!         Poll::Ready(Ok(buf.len()))
//!     }
//!     fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
//!         Poll::Ready(Ok(()))
//!     }
//!     fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
//!         Poll::Ready(Ok(()))
//!     }
//! }
//! ```

mod driver;
mod handshake;
mod pool;
mod socket;
mod split;
#[cfg(test)]
mod tests;
mod transport;

pub use crate::{DEFAULT_READ_SIZE, DEFAULT_READ_SIZE_ZEROED};
pub use handshake::{AcceptOptions, accept, accept_parsed, client, timeout};
pub use socket::{Parts, WebSocket};
pub use split::{WsReader, WsWriter};
pub use transport::{Runtime, Transport};

pub use crate::Error;
