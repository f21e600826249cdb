//! The connected socket.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;

use super::driver::Driver;
use super::split::{WsReader, WsWriter, split};
use super::transport::{Runtime, Transport};
use crate::{CloseCode, Connection, Error, Event, Frame, Message, Policy, State, UsageError};

pub use crate::adapter::Parts;

/// Above this many queued payload bytes, `Sink::poll_ready` writes before accepting more.
pub(crate) const SINK_HIGH_WATER: usize = 128 * 1024;

/// A WebSocket connection over a stream of any runtime, client or server.
///
/// Every method is a loop around a [`Connection`]: the protocol (answers to pings and
/// closes, limits, timers) lives there. The bytes not yet written and the partial
/// frames live in this value, not in a future, so every method is cancel safe: drop its
/// future (when it loses a race in a `select!`) and nothing is lost.
///
/// It is also a [`Stream`] of events that ends after [`Event::Closed`] (the OCaml
/// `mk_frame_stream`) and a [`Sink`] of messages; [`split`](Self::split) gives a reader
/// and a writer for two tasks.
///
/// `T` is the [`Transport`]: an adapter's wrapper around its stream, which an adapter
/// names for you (`ws_tokio::WebSocket<S>` is this type over tokio's stream `S`).
#[derive(Debug)]
pub struct WebSocket<T: Transport> {
    driver: Driver<T>,
    parts: Parts,
}

impl<T: Transport> WebSocket<T> {
    /// Wraps a transport whose opening handshake is done. `io` is the transport, or
    /// the stream it wraps (a tokio stream `S` converts into `ws_tokio::Tokio<S>`);
    /// `leftover` are the bytes that came after the handshake.
    pub fn from_parts(
        io: impl Into<T>,
        mut conn: Connection,
        leftover: &[u8],
        parts: Parts,
    ) -> Self {
        if !leftover.is_empty() {
            conn.handle_input(leftover, T::Runtime::now());
        }
        Self {
            driver: Driver::new(io.into(), conn),
            parts,
        }
    }

    /// Sets how many bytes one read asks the transport for (by default 64 KiB when the
    /// transport reads into spare capacity, 16 KiB when it wants zeroed room).
    pub fn set_read_size(&mut self, bytes: usize) {
        self.driver.read_size = bytes.max(1);
    }

    /// Turns busy polling on: once its input runs dry, the connection keeps trying to
    /// read for up to `budget` (on its executor, a round at a time, other tasks
    /// running in between) before its task goes to wait; `Duration::ZERO`, the
    /// default, turns it off.
    ///
    /// For latency-bound connections, on hosts where waking an idle core is slow
    /// (virtual machines whose idle vCPUs halt): a peer that answers within the
    /// budget is heard without that wake-up. It applies only while the connection
    /// has its thread to itself (no other connection went to wait on the thread
    /// between this one's last wait and its input), so a server can turn it on for
    /// every connection: under load the thread has other connections to serve, and
    /// none of them polls. Every burst of input to a lone connection costs up to
    /// `budget` of CPU time (and never more than a few thousand rounds, should the
    /// runtime's clock stand still), so keep it to tens of microseconds. It pays on executors that poll for I/O between a task's
    /// rounds (tokio's current-thread runtime, async-std and smol); on tokio's
    /// multi-thread runtime another worker may be the one waiting on the I/O driver,
    /// and the readiness then still waits for it to wake. BENCHMARKS.md has the
    /// measurements.
    pub fn set_busy_poll(&mut self, budget: Duration) {
        self.driver.busy_poll = budget;
    }

    /// Stops the connection when `stop` completes: the next read or write (`recv`,
    /// `send`, `flush`, the `Stream` or `Sink`, either half) starts the closing
    /// handshake with 1001 (Going Away), after what is already queued; later sends
    /// fail, and the first of them on the whole socket finishes the closing handshake
    /// before it returns, so that a handler that ends on the error leaves nothing
    /// unsent. The servers' accept loops set it, to stop their connections.
    pub fn set_stop_signal(&mut self, stop: impl Future<Output = ()> + Send + Sync + 'static) {
        self.driver.set_stop(Box::pin(stop));
    }

    /// Sets the peer's address that [`peer_addr`](Self::peer_addr) answers.
    pub fn set_peer_addr(&mut self, addr: Option<SocketAddr>) {
        self.parts.peer_addr = addr;
    }

    /// The opening request, on the server side (the OCaml `http_request`).
    pub fn http_request(&self) -> Option<&http::Request<()>> {
        self.parts.request.as_ref()
    }

    /// The peer's address (the OCaml `source`).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.parts.peer_addr
    }

    /// The subprotocol the handshake settled on.
    pub fn subprotocol(&self) -> Option<&str> {
        self.parts.subprotocol.as_deref()
    }

    /// The protocol machine, for what this type does not wrap.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// Turns the standard replies on: a Pong for every Ping, a Close for a Close (the
    /// OCaml `make_standard`). It applies from the next frame header; a fragmented
    /// message the raw policy let through is not continued under the standard one
    /// (its next fragment fails the connection), so switch between messages.
    pub fn make_standard(&mut self) {
        self.driver.conn.set_policy(Policy::Standard);
    }

    /// Splits the socket into a reader and a writer that two tasks can use at once;
    /// answers to pings and closes still go out while only the reader runs.
    pub fn split(self) -> (WsReader<T>, WsWriter<T>) {
        split(self.driver, self.parts)
    }

    /// The next event: a message, a ping or pong, a raw frame, or
    /// [`Event::Closed`] (then `Ok(None)` forever after).
    ///
    /// Cancel safe.
    pub async fn recv(&mut self) -> Result<Option<Event>, Error> {
        poll_fn(|cx| self.driver.poll_recv(cx)).await
    }

    /// The next message, skipping pings and pongs (already answered under the standard
    /// policy); `None` once the connection is over.
    ///
    /// Cancel safe.
    pub async fn recv_message(&mut self) -> Result<Option<Message>, Error> {
        while let Some(event) = self.recv().await? {
            if let Event::Message(message) = event {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// Queues a message and writes it.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.command(|conn| conn.send(message)).await?;
        self.flush().await
    }

    /// Queues a message, and writes only if more than 128 KiB already wait: the
    /// message goes out with the next [`flush`](Self::flush) or `send`, or when
    /// [`recv`](Self::recv) has handled all the input received so far and is about to
    /// wait for more. An echo or request-response loop that `queue`s its answers
    /// therefore writes the answers to a burst of messages with one system call
    /// instead of one each, and still waits (like `send`) for a peer that does not
    /// read, so its queue cannot grow without bound.
    ///
    /// One exception: when no other connection went to wait for input on this
    /// connection's thread since it last did (on a multi-threaded runtime, the task
    /// must also be back on the same thread), what was queued is written at each
    /// `recv` while at most 16 KiB wait. Such a connection has, as far as it can
    /// tell, the thread to itself: the peer then starts on the first answers while
    /// the rest are made, instead of idling until the burst's last one. Decided at
    /// the first read after each wait; tasks other than connections are not seen.
    ///
    /// ```no_run
    /// # use ws_proto::drive::{Transport, WebSocket};
    /// # async fn f<T: Transport>(mut ws: WebSocket<T>) -> Result<(), ws_proto::Error> {
    /// while let Some(message) = ws.recv_message().await? {
    ///     ws.queue(message).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn queue(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        if crate::pacing::write_before_queue(self.driver.unwritten()) {
            self.flush().await?;
        }
        self.command(|conn| conn.send(message)).await
    }

    /// Queues several messages and writes them together, in as few writes as the
    /// connection's write chunk allows (the OCaml `send_multiple`).
    pub async fn send_multiple<M: Into<Message>>(
        &mut self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), Error> {
        self.send_each(messages, |conn, message| conn.send(message))
            .await
    }

    /// Queues one frame as it is and writes it (the OCaml `write`).
    pub async fn send_frame(&mut self, frame: Frame) -> Result<(), Error> {
        self.command(|conn| conn.send_frame(frame)).await?;
        self.flush().await
    }

    /// Queues several frames as they are and writes them together (the OCaml
    /// `send_multiple`, which takes frames): fragments, reserved opcodes and RSV bits
    /// in one write. A frame the connection refuses stops there; those before it are
    /// still queued.
    pub async fn send_frames(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
    ) -> Result<(), Error> {
        self.send_each(frames, Connection::send_frame).await
    }

    /// Queues each of `items` with `queue`, then writes them together: the loop of
    /// [`send_multiple`](Self::send_multiple) and [`send_frames`](Self::send_frames).
    async fn send_each<I>(
        &mut self,
        items: impl IntoIterator<Item = I>,
        queue: impl Fn(&mut Connection, I) -> Result<(), UsageError>,
    ) -> Result<(), Error> {
        for item in items {
            self.command(|conn| queue(conn, item)).await?;
        }
        self.flush().await
    }

    /// Sends a Ping.
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.command(|conn| conn.ping(payload)).await?;
        self.flush().await
    }

    /// Runs a send command on the connection. When the server's stop has started the
    /// closing handshake, a refused command first finishes that handshake (reading
    /// until the peer's answer, or the close timeout), then fails: the handler is about
    /// to give the connection up on this error, as a send loop does, and dropping it
    /// with the handshake half done would reset the transport under the messages
    /// already written, losing what the sends before had accepted.
    async fn command(
        &mut self,
        command: impl FnOnce(&mut Connection) -> Result<(), UsageError>,
    ) -> Result<(), Error> {
        let Err(refused) = command(&mut self.driver.conn) else {
            return Ok(());
        };
        if self.driver.stopped {
            while let Ok(Some(_)) = self.recv().await {}
        }
        Err(refused.into())
    }

    /// The full closing handshake: sends a Close after everything queued, waits for the
    /// peer's (events that arrive meanwhile are dropped), and closes the transport.
    /// Calling it again, or after the peer closed, just finishes what is left.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.send_close(code, reason).await?;
        while self.recv().await?.is_some() {}
        Ok(())
    }

    /// Starts the closing handshake and returns: keep calling [`recv`](Self::recv) to
    /// get what the peer still sends, then [`Event::Closed`], then `None`. Once the
    /// handshake has started (from either side), only flushes.
    pub async fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.driver.conn.state() == State::Open {
            self.driver.conn.close(code, reason)?;
        }
        self.flush().await
    }

    /// Closes the transport at once, without a closing handshake (the OCaml
    /// `close_transport`).
    pub async fn close_transport(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_shutdown(cx)).await
    }

    /// Writes everything queued, waiting as long as the peer takes to read it, except
    /// once the conversation is closing: a peer that still has not read our last bytes
    /// when the close timeout gives up on it (see
    /// [`Config::close_timeout`](crate::Config::close_timeout)) loses them, and the
    /// transport is closed, so that it cannot hold the connection open.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_flush(cx)).await
    }
}

impl<T: Transport> Stream for WebSocket<T> {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().driver.poll_recv(cx).map(Result::transpose)
    }
}

impl<T: Transport, M: Into<Message>> Sink<M> for WebSocket<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let driver = &mut self.get_mut().driver;
        if driver.conn.buffered_amount() > SINK_HIGH_WATER {
            ready!(driver.poll_flush(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: M) -> Result<(), Error> {
        Ok(self.get_mut().driver.conn.send(message)?)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().driver.poll_flush(cx)
    }

    /// Sends a normal Close (1000) if none was sent, then runs the closing handshake to
    /// its end, dropping what still arrives.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let driver = &mut self.get_mut().driver;
        if driver.conn.state() == State::Open {
            driver.conn.close(CloseCode::NORMAL, "")?;
        }
        while ready!(driver.poll_recv(cx))?.is_some() {}
        Poll::Ready(Ok(()))
    }
}
