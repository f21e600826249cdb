//! The connected socket: the drive loop of `ws-proto` around a tokio stream.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use ws_proto::{CloseCode, Connection, Event, Frame, Message, Policy};

use crate::Error;

/// How many bytes a read asks the transport for at most.
const DEFAULT_READ_SIZE: usize = 16 * 1024;

/// What the opening handshake left behind, for [`WebSocket::from_parts`].
#[derive(Debug, Default)]
pub struct Parts {
    /// The opening request (server side).
    pub request: Option<http::Request<()>>,
    /// The peer's address, when the transport has one.
    pub peer_addr: Option<SocketAddr>,
    /// The negotiated subprotocol.
    pub subprotocol: Option<String>,
}

/// A WebSocket connection over a tokio stream, client or server.
///
/// Every method is a loop around a [`ws_proto::Connection`]: the protocol (answers to
/// pings and closes, limits, timers) lives there. The bytes not yet written and the
/// partial frames live in this value, not in a future, so [`recv`](Self::recv) is
/// cancel safe: drop its future (in a `select!`) and nothing is lost.
#[derive(Debug)]
pub struct WebSocket<S> {
    io: S,
    conn: Connection,
    out: Vec<u8>,
    written: usize,
    read_size: usize,
    /// An event taken from the connection and not yet returned (kept across a
    /// cancelled `recv`).
    pending: Option<Event>,
    transport_closed: bool,
    parts: Parts,
    /// Set by a server's accept loop: when it flips, the connection closes with 1001.
    stop: Option<watch::Receiver<bool>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a transport whose opening handshake is done. `leftover` are the bytes that
    /// came after the handshake.
    pub fn from_parts(io: S, mut conn: Connection, leftover: &[u8], parts: Parts) -> Self {
        if !leftover.is_empty() {
            conn.handle_input(leftover, Instant::now().into_std());
        }
        Self {
            io,
            conn,
            out: Vec::new(),
            written: 0,
            read_size: DEFAULT_READ_SIZE,
            pending: None,
            transport_closed: false,
            parts,
            stop: None,
        }
    }

    /// Sets how many bytes one read asks the transport for (16 KiB by default).
    pub fn set_read_size(&mut self, bytes: usize) {
        self.read_size = bytes.max(1);
    }

    /// The opening request, on the server side (the OCaml `http_request`).
    pub fn http_request(&self) -> Option<&http::Request<()>> {
        self.parts.request.as_ref()
    }

    /// The peer's address (the OCaml `source`).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.parts.peer_addr
    }

    pub(crate) fn set_stop_signal(&mut self, stop: watch::Receiver<bool>) {
        self.stop = Some(stop);
    }

    pub(crate) fn set_peer_addr(&mut self, addr: Option<SocketAddr>) {
        self.parts.peer_addr = addr;
    }

    /// The subprotocol the handshake settled on.
    pub fn subprotocol(&self) -> Option<&str> {
        self.parts.subprotocol.as_deref()
    }

    /// The protocol machine, for what this type does not wrap.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Turns the standard replies on: a Pong for every Ping, a Close for a Close (the
    /// OCaml `make_standard`).
    pub fn make_standard(&mut self) {
        self.conn.set_policy(Policy::Standard);
    }

    /// The next event: a message, a ping or pong, a raw frame, or
    /// [`Event::Closed`] (then `Ok(None)` forever after).
    ///
    /// Cancel safe.
    pub async fn recv(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if self.pending.is_none() {
                self.pending = self.conn.poll_event();
            }
            // Write what decoding produced (pongs, a close reply) before returning, and
            // close the transport with the last event if it is time: a handler that
            // stops at `Event::Closed` still leaves the peer a clean shutdown.
            self.flush().await?;
            let last = self.pending.is_some() && self.conn.should_close_transport();
            if last {
                self.close_transport().await?;
            }
            if let Some(event) = self.pending.take() {
                return Ok(Some(event));
            }
            if self.transport_closed {
                return Ok(None);
            }
            if self.conn.should_close_transport() {
                self.close_transport().await?;
                return Ok(None);
            }
            self.read_or_wait().await?;
        }
    }

    /// The next message, skipping pings and pongs; `None` once the connection is over.
    pub async fn recv_message(&mut self) -> Result<Option<Message>, Error> {
        while let Some(event) = self.recv().await? {
            if let Event::Message(message) = event {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// Waits for bytes or for the next timer, and feeds the connection.
    async fn read_or_wait(&mut self) -> Result<(), Error> {
        let deadline = self.conn.poll_timeout().map(Instant::from_std);
        let buf = self.conn.read_buffer();
        buf.reserve(self.read_size);
        let stop_signal = &mut self.stop;
        let stop = async {
            match stop_signal {
                Some(stop) => {
                    if !*stop.borrow_and_update() {
                        // An error means the accept loop is gone: stop as well.
                        let _ = stop.changed().await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        let read = tokio::select! {
            read = self.io.read_buf(buf) => Some(read),
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => None,
            () = stop => {
                // The server is stopping: start the closing handshake, once.
                self.stop = None;
                let _ = self.conn.close(CloseCode::GOING_AWAY, "server stopping");
                return Ok(());
            }
        };
        let now = Instant::now().into_std();
        match read {
            None => self.conn.handle_timeout(now),
            Some(Ok(0)) => self.conn.handle_eof(now),
            Some(Ok(_)) => self.conn.handle_read(now),
            Some(Err(e)) if is_disconnect(&e) => self.conn.handle_eof(now),
            Some(Err(e)) => return Err(e.into()),
        }
        Ok(())
    }

    /// Queues a message and writes it.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.conn.send(message)?;
        self.flush().await
    }

    /// Queues several messages and writes them together, in as few writes as the
    /// connection's write chunk allows (the OCaml `send_multiple`).
    pub async fn send_multiple<M: Into<Message>>(
        &mut self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), Error> {
        for message in messages {
            self.conn.send(message)?;
        }
        self.flush().await
    }

    /// Queues one frame as it is and writes it (the OCaml `write`).
    pub async fn send_frame(&mut self, frame: Frame) -> Result<(), Error> {
        self.conn.send_frame(frame)?;
        self.flush().await
    }

    /// Sends a Ping.
    pub async fn ping(&mut self, payload: impl Into<bytes::Bytes>) -> Result<(), Error> {
        self.conn.ping(payload)?;
        self.flush().await
    }

    /// The full closing handshake: sends a Close after everything queued, waits for the
    /// peer's (events that arrive meanwhile are dropped), and closes the transport.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.send_close(code, reason).await?;
        while self.recv().await?.is_some() {}
        Ok(())
    }

    /// Starts the closing handshake and returns: keep calling [`recv`](Self::recv) to
    /// get what the peer still sends, then [`Event::Closed`], then `None`.
    pub async fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.conn.close(code, reason)?;
        self.flush().await
    }

    /// Closes the transport at once, without a closing handshake (the OCaml
    /// `close_transport`).
    pub async fn close_transport(&mut self) -> Result<(), Error> {
        if !self.transport_closed {
            self.transport_closed = true;
            match self.io.shutdown().await {
                Err(e) if !is_disconnect(&e) => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes everything the connection has to send. Cancel safe: what was written is
    /// recorded before every await.
    async fn flush(&mut self) -> Result<(), Error> {
        if self.transport_closed {
            return Ok(());
        }
        loop {
            if self.written == self.out.len() {
                self.out.clear();
                self.written = 0;
                if self.conn.poll_transmit(&mut self.out) == 0 {
                    break;
                }
            }
            match self.io.write(&self.out[self.written..]).await {
                Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero).into()),
                Ok(n) => self.written += n,
                Err(e) => return Err(e.into()),
            }
        }
        self.io.flush().await?;
        Ok(())
    }
}

/// Errors that mean the peer is gone rather than that something is broken here
/// (`UnexpectedEof`: a TLS peer that closed TCP without a close_notify).
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::BrokenPipe
            | ErrorKind::NotConnected
            | ErrorKind::UnexpectedEof
    )
}
