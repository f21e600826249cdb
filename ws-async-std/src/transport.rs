//! The `futures-io` side of the drive loop: a `futures-io` stream as its transport, and
//! the `async-io` reactor's clock and timers.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Timer;
use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::drive::{Runtime, Transport};

/// A `futures-io` stream (`AsyncRead + AsyncWrite`: async-std's, smol's, a
/// futures-rustls TLS stream...) as the transport of a [`ws_proto::drive`] socket:
/// [`WebSocket<S>`](crate::WebSocket) is the socket over `FuturesIo<S>`.
///
/// `futures-io` reads want initialised memory, so the drive loop hands the stream
/// zeroed room at the end of the connection's buffer (sized to the read) rather than
/// its spare capacity. Writes are always vectored: `futures-io` has no
/// `is_write_vectored`, and a stream without vectored writes takes the first slice
/// (the trait's default), which is the plain write.
#[derive(Debug)]
pub struct FuturesIo<S>(pub S);

impl<S> From<S> for FuturesIo<S> {
    fn from(stream: S) -> Self {
        Self(stream)
    }
}

/// The clock and the timers of the `async-io` reactor ([`async_io::Timer`]), which
/// async-std and smol both run.
#[derive(Debug, Clone, Copy)]
pub struct AsyncIoRuntime;

impl Runtime for AsyncIoRuntime {
    type Sleep = Timer;

    fn now() -> Instant {
        Instant::now()
    }

    fn sleep_until(at: Instant) -> Timer {
        Timer::at(at)
    }

    fn reset(sleep: &mut Timer, at: Instant) {
        sleep.set_at(at);
    }

    fn poll_sleep(sleep: &mut Timer, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(sleep).poll(cx).map(drop)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for FuturesIo<S> {
    type Runtime = AsyncIoRuntime;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
