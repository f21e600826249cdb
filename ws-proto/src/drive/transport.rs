//! What an adapter provides: a byte stream, and a clock with a timer.

use std::io::{self, IoSlice};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;

/// The clock and the timers of a runtime.
///
/// The drive loop keeps one [`Sleep`](Self::Sleep) per connection for all of its
/// deadlines (keepalive, close timeouts, the release of idle buffers) and moves it with
/// [`reset`](Self::reset) rather than making a new one.
pub trait Runtime {
    /// A timer, set for an instant. `Unpin`, as the sockets that hold it are: box a
    /// timer that is not (tokio's `Sleep`).
    type Sleep: Unpin;

    /// The current time, on the runtime's clock (a runtime with a test clock that can
    /// be paused answers that clock's time).
    fn now() -> Instant;

    /// A timer that fires at `at`.
    fn sleep_until(at: Instant) -> Self::Sleep;

    /// Sets `sleep` to fire at `at` instead.
    fn reset(sleep: &mut Self::Sleep, at: Instant);

    /// `Ready` once the instant `sleep` is set for has passed; until then, arranges for
    /// `cx` to be woken then. A timer that fired is [`reset`](Self::reset) before it is
    /// polled again, so it may stay ready or go silent after firing, as the runtime's
    /// timers do.
    fn poll_sleep(sleep: &mut Self::Sleep, cx: &mut Context<'_>) -> Poll<()>;

    /// Has the task polled again soon, once the runtime has looked for I/O readiness
    /// (what a busy-polling connection does instead of waiting: see
    /// [`WebSocket::set_busy_poll`](super::WebSocket::set_busy_poll)). The default
    /// wakes it at once, which suits a runtime whose reads try the socket before
    /// they look at readiness (async-io's); a runtime that reads only what its
    /// reactor saw ready should let the reactor look first (tokio's `yield_now`).
    fn poll_again(cx: &mut Context<'_>) {
        cx.waker().wake_by_ref();
    }
}

/// A byte stream the drive loop reads and writes: a TCP stream, a TLS stream, a pipe,
/// with the [`Runtime`] whose reactor wakes it.
///
/// The methods are those of the runtimes' `AsyncRead` and `AsyncWrite` traits, on
/// `&mut self` (the transport is `Unpin`): an adapter forwards each call to its
/// stream. They follow the same rules: `Pending` arranges for `cx` to be woken when
/// the call can make progress, a read of 0 bytes is the end of the stream, and a write
/// of 0 bytes means the transport can take no more.
pub trait Transport: Unpin {
    /// The runtime whose timers and clock go with this transport.
    type Runtime: Runtime;

    /// Reads into `buf`: how many bytes, 0 at the end of the stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Whether [`poll_read_buf`](Self::poll_read_buf) reads into the buffer's spare
    /// capacity as it is, without the bytes being initialised first (tokio's
    /// `poll_read_buf` does). Then the connection's read buffer is handed over as it
    /// is, and the transport may fill its spare capacity, up to the `max` it is given.
    /// When `false` (the default), the drive loop hands [`poll_read`](Self::poll_read)
    /// zeroed room at the end of the connection's buffer instead, sized to the read.
    fn reads_into_spare_capacity(&self) -> bool {
        false
    }

    /// Appends what the transport has to `buf`, into its spare capacity but at most
    /// `max` bytes, `max >= 1` (the limit
    /// [`Connection::read_buffer_for`](crate::Connection::read_buffer_for) gives): how
    /// many bytes, 0 at the end of the stream. Called only when
    /// [`reads_into_spare_capacity`](Self::reads_into_spare_capacity) says so; the
    /// default reads into zeroed room (at most 16 KiB) with
    /// [`poll_read`](Self::poll_read).
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        const ROOM: usize = 16 * 1024;
        let start = buf.len();
        let room = (buf.capacity() - start).min(max).clamp(1, ROOM);
        buf.resize(start + room, 0);
        let result = self.poll_read(cx, &mut buf[start..]);
        let n = match &result {
            Poll::Ready(Ok(n)) => (*n).min(room),
            _ => 0,
        };
        buf.truncate(start + n);
        result.map_ok(|_| n)
    }

    /// Writes some of `buf`: how many bytes it took.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes some of `bufs`, in order, with one call when the transport can: how many
    /// bytes it took. The default writes the first non-empty slice with
    /// [`poll_write`](Self::poll_write).
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, first)
    }

    /// Whether [`poll_write_vectored`](Self::poll_write_vectored) writes several
    /// slices at once. When it does, a frame's header and its payload (and the frames
    /// queued together) go out in one call, and large payloads are not copied; when
    /// not (the default), the drive loop writes one slice at a time with
    /// [`poll_write`](Self::poll_write).
    fn is_write_vectored(&self) -> bool {
        false
    }

    /// Pushes out what the transport buffers (a TLS session's records).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Closes the write side: a TLS close_notify, then the TCP FIN.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}
