//! The connected socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ws_proto::{CloseCode, Connection, Event, Frame, Message, Policy, State, UsageError};

use crate::Error;
use crate::driver::Driver;
use crate::split::{WsReader, WsWriter, split};
use crate::transport::Transport;

pub use ws_proto::adapter::Parts;

/// A WebSocket connection over a blocking stream, client or server.
///
/// Every method is a loop around a [`ws_proto::Connection`]: the protocol (answers to
/// pings and closes, limits, timers) lives there. [`recv`](Self::recv) blocks in reads
/// bounded by the connection's next deadline, so keepalive pings and the close timeout
/// run while it waits; nothing else blocks except writing to a peer that does not
/// read.
///
/// [`events`](Self::events) and [`messages`](Self::messages) are iterators that end
/// after the close (the OCaml `mk_frame_stream`); [`split`](Self::split) gives a reader
/// and a writer for two threads.
///
/// One thread both writing and reading can deadlock with a peer that does the same: if
/// you send megabytes to a peer that echoes them while you are not reading, both
/// sides end up blocked in writes. Split the socket and read on another thread then.
#[derive(Debug)]
pub struct WebSocket<S> {
    driver: Driver<S>,
    parts: Parts,
}

impl<S: Transport> WebSocket<S> {
    /// Wraps a transport whose opening handshake is done. `leftover` are the bytes that
    /// came after the handshake.
    pub fn from_parts(io: S, mut conn: Connection, leftover: &[u8], parts: Parts) -> Self {
        if !leftover.is_empty() {
            conn.handle_input(leftover, Instant::now());
        }
        Self {
            driver: Driver::new(io, conn),
            parts,
        }
    }

    /// Sets how many bytes one read asks the transport for (16 KiB by default).
    pub fn set_read_size(&mut self, bytes: usize) {
        self.driver.machine.read_size = bytes.max(1);
    }

    pub(crate) fn set_stop_flag(&mut self, stop: Arc<AtomicBool>) {
        self.driver.machine.stop = Some(stop);
    }

    pub(crate) fn set_peer_addr(&mut self, addr: Option<SocketAddr>) {
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
        &self.driver.machine.conn
    }

    /// The transport, for its settings (a write timeout, say). Reading or writing
    /// through it would corrupt the stream.
    pub fn get_ref(&self) -> &S {
        &self.driver.output.io
    }

    /// Turns the standard replies on: a Pong for every Ping, a Close for a Close (the
    /// OCaml `make_standard`). It applies from the next frame header, so switch between
    /// messages.
    pub fn make_standard(&mut self) {
        self.driver.machine.conn.set_policy(Policy::Standard);
    }

    /// Splits the socket into a reader and a writer that two threads can use at once;
    /// answers to pings and closes still go out while only the reader runs. Needs a
    /// transport with two handles ([`Transport::into_pair`]): TCP, TLS over TCP and
    /// Unix sockets, not [`Untimed`](crate::Untimed).
    pub fn split(self) -> std::io::Result<(WsReader<S>, WsWriter<S>)> {
        split(self.driver, self.parts)
    }

    /// The next event: a message, a ping or pong, a raw frame, or
    /// [`Event::Closed`] (then `Ok(None)` forever after). Blocks until one comes.
    pub fn recv(&mut self) -> Result<Option<Event>, Error> {
        self.driver.recv(None)
    }

    /// [`recv`](Self::recv), giving up after `timeout` with [`Error::RecvTimeout`]
    /// (nothing is lost: the next call goes on where this one stopped). For a thread
    /// that also has other work, such as the lines typed in a terminal.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, Error> {
        self.driver.recv(Some(Instant::now() + timeout))
    }

    /// The next message, skipping pings and pongs (already answered under the standard
    /// policy); `None` once the connection is over.
    pub fn recv_message(&mut self) -> Result<Option<Message>, Error> {
        while let Some(event) = self.recv()? {
            if let Event::Message(message) = event {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// The events until the connection is over, as an iterator (the OCaml
    /// `mk_frame_stream`): it ends after [`Event::Closed`], or after an error.
    pub fn events(&mut self) -> Events<'_, S> {
        Events {
            ws: self,
            done: false,
        }
    }

    /// The messages until the connection is over, skipping pings and pongs.
    pub fn messages(&mut self) -> Messages<'_, S> {
        Messages {
            events: self.events(),
        }
    }

    /// Queues a message and writes it.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.command(|conn| conn.send(message))?;
        self.flush()
    }

    /// Queues a message, and writes only if more than 128 KiB already wait: it goes
    /// out with the next [`flush`](Self::flush) or `send`, or when [`recv`](Self::recv)
    /// has handled all the input received so far and is about to block. An echo or
    /// request-response loop that `queue`s its answers writes the answers to a burst of
    /// messages with one system call.
    ///
    /// One exception: a connection whose input came while no other connection of the
    /// process had input in hand writes what was queued at each `recv`, while at most
    /// 16 KiB wait. The peer then starts on the first answers while the rest are made,
    /// instead of idling until the burst's last one.
    pub fn queue(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        if ws_proto::pacing::write_before_queue(self.driver.unwritten()) {
            self.flush()?;
        }
        self.command(|conn| conn.send(message))
    }

    /// Queues several messages and writes them together, in as few writes as the
    /// connection's write chunk allows (the OCaml `send_multiple`).
    pub fn send_multiple<M: Into<Message>>(
        &mut self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), Error> {
        self.send_each(messages, |conn, message| conn.send(message))
    }

    /// Queues one frame as it is and writes it (the OCaml `write`).
    pub fn send_frame(&mut self, frame: Frame) -> Result<(), Error> {
        self.command(|conn| conn.send_frame(frame))?;
        self.flush()
    }

    /// Queues several frames as they are and writes them together (the OCaml
    /// `send_multiple`, which takes frames): fragments, reserved opcodes and RSV bits
    /// in one write. A frame the connection refuses stops there; those before it are
    /// still queued.
    pub fn send_frames(&mut self, frames: impl IntoIterator<Item = Frame>) -> Result<(), Error> {
        self.send_each(frames, Connection::send_frame)
    }

    /// Queues each of `items` with `queue`, then writes them together: the loop of
    /// [`send_multiple`](Self::send_multiple) and [`send_frames`](Self::send_frames).
    fn send_each<I>(
        &mut self,
        items: impl IntoIterator<Item = I>,
        queue: impl Fn(&mut Connection, I) -> Result<(), UsageError>,
    ) -> Result<(), Error> {
        for item in items {
            self.command(|conn| queue(conn, item))?;
        }
        self.flush()
    }

    /// Sends a Ping.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.command(|conn| conn.ping(payload))?;
        self.flush()
    }

    /// Runs a send command on the connection. When the server's stop has started the
    /// closing handshake, a refused command first finishes that handshake (reading
    /// until the peer's answer, or the close timeout), then fails: the handler is about
    /// to give the connection up on this error, as a send loop does, and dropping it
    /// with the handshake half done would reset the transport under the messages
    /// already written, losing what the sends before had accepted.
    fn command(
        &mut self,
        command: impl FnOnce(&mut Connection) -> Result<(), UsageError>,
    ) -> Result<(), Error> {
        let Err(refused) = command(&mut self.driver.machine.conn) else {
            return Ok(());
        };
        if self.driver.machine.stopped {
            while let Ok(Some(_)) = self.recv() {}
        }
        Err(refused.into())
    }

    /// The full closing handshake: sends a Close after everything queued, waits for the
    /// peer's (events that arrive meanwhile are dropped), and closes the transport.
    /// Calling it again, or after the peer closed, just finishes what is left.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.send_close(code, reason)?;
        while self.recv()?.is_some() {}
        Ok(())
    }

    /// Starts the closing handshake and returns: keep calling [`recv`](Self::recv) to
    /// get what the peer still sends, then [`Event::Closed`], then `None`.
    pub fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.driver.machine.conn.state() == State::Open {
            self.driver.machine.conn.close(code, reason)?;
        }
        self.flush()
    }

    /// Closes the transport at once, without a closing handshake (the OCaml
    /// `close_transport`).
    pub fn close_transport(&mut self) -> Result<(), Error> {
        self.driver.shutdown()
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.driver.flush()
    }
}

/// The events of a [`WebSocket`], until the connection is over.
#[derive(Debug)]
pub struct Events<'a, S> {
    ws: &'a mut WebSocket<S>,
    done: bool,
}

impl<S: Transport> Iterator for Events<'_, S> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        next_event(&mut self.done, || self.ws.recv())
    }
}

/// One step of an event iterator, fused: after the close, the end or an error, nothing
/// more (`done` remembers it).
pub(crate) fn next_event(
    done: &mut bool,
    recv: impl FnOnce() -> Result<Option<Event>, Error>,
) -> Option<Result<Event, Error>> {
    if *done {
        return None;
    }
    let next = recv().transpose();
    *done = matches!(next, None | Some(Err(_)) | Some(Ok(Event::Closed(_))));
    next
}

/// The messages of a [`WebSocket`], until the connection is over.
#[derive(Debug)]
pub struct Messages<'a, S> {
    events: Events<'a, S>,
}

impl<S: Transport> Iterator for Messages<'_, S> {
    type Item = Result<Message, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.events.next()? {
                Ok(Event::Message(message)) => return Some(Ok(message)),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
