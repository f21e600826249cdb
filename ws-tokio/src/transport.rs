//! The tokio side of the drive loop: a tokio stream as its transport, and tokio's
//! clock and timers.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ws_proto::drive::{Runtime, Transport};

/// A tokio stream (`AsyncRead + AsyncWrite`) as the transport of a
/// [`ws_proto::drive`] socket: [`WebSocket<S>`](crate::WebSocket) is the socket over
/// `Tokio<S>`. Reads go straight into the connection's buffer, without zeroing it
/// first, and writes are vectored when the stream says it can take them.
#[derive(Debug)]
pub struct Tokio<S>(pub S);

impl<S> From<S> for Tokio<S> {
    fn from(stream: S) -> Self {
        Self(stream)
    }
}

/// tokio's clock and timers ([`tokio::time`]): a runtime whose clock is paused (in
/// tests) drives the connections' timers too.
#[derive(Debug, Clone, Copy)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    type Sleep = Pin<Box<tokio::time::Sleep>>;

    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(at: Instant) -> Self::Sleep {
        Box::pin(tokio::time::sleep_until(at.into()))
    }

    fn reset(sleep: &mut Self::Sleep, at: Instant) {
        sleep.as_mut().reset(at.into());
    }

    fn poll_sleep(sleep: &mut Self::Sleep, cx: &mut Context<'_>) -> Poll<()> {
        sleep.as_mut().poll(cx)
    }

    /// A tokio socket reads only what the I/O driver saw ready, so the task runs
    /// again after the driver has looked: `yield_now`'s first poll hands the waker to
    /// the scheduler for just that (outside a runtime it wakes the task at once).
    fn poll_again(cx: &mut Context<'_>) {
        let _ = pin!(tokio::task::yield_now()).poll(cx);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for Tokio<S> {
    type Runtime = TokioRuntime;

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }

    fn reads_into_spare_capacity(&self) -> bool {
        true
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        use bytes::BufMut;
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, &mut buf.limit(max))
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
        self.0.is_write_vectored()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_read_into_spare_capacity_takes_at_most_max_bytes() {
        let (mut peer, ours) = tokio::io::duplex(64 * 1024);
        peer.write_all(&[7; 5000]).await.unwrap();
        let mut transport = Tokio(ours);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let n = std::future::poll_fn(|cx| transport.poll_read_buf(cx, &mut buf, 1000))
            .await
            .unwrap();
        assert_eq!((n, buf.len()), (1000, 1000));
        let n = std::future::poll_fn(|cx| transport.poll_read_buf(cx, &mut buf, usize::MAX))
            .await
            .unwrap();
        assert_eq!((n, buf.len()), (4000, 5000));
    }
}
