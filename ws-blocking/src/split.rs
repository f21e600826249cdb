//! A socket split into a reader and a writer for two threads.
//!
//! The reader blocks in reads on a clone of the stream, without holding any lock; the
//! protocol machine sits behind one mutex and the write side behind another, each held
//! only for a step that does not wait for the peer, except writing itself. Writes are
//! serialised by the write mutex, so frames never interleave.
//!
//! The reader must never wait for the write mutex: the writer may be blocked writing to
//! a peer that is itself waiting for us to read. So the reader only *tries* to take it
//! to send its automatic answers (pongs, the closing Close); when the writer holds it,
//! the reader raises `flush_wanted`, and the writer looks at that flag after letting
//! the mutex go and writes once more. Either the reader's try succeeds or the writer
//! sees the flag: no answer is left behind.
//!
//! Closing the transport follows the same rule. Once the closing handshake is over the
//! reader ends the stream, but only after everything handed out was written: while the
//! writer is writing, the reader raises `shutdown_wanted` instead, and the writer ends
//! the stream once its write is done; what the reader itself left for later, it
//! writes first (each write waiting up to the close timeout). Ending the stream under
//! a write in progress would cut the last message and the Close.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ws_proto::{CloseCode, Connection, Event, Frame, Message, State};

use crate::Error;
use crate::driver::{Driver, Machine, Next, Output, ReadTimeout, Writer, is_timeout};
use crate::socket::{Parts, next_event};
use crate::transport::Transport;

#[derive(Debug)]
struct Shared<S> {
    machine: Mutex<Machine>,
    write: Mutex<Output<S>>,
    flush_wanted: AtomicBool,
    shutdown_wanted: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

pub(crate) fn split<S: Transport>(
    mut driver: Driver<S>,
    parts: Parts,
) -> io::Result<(WsReader<S>, WsWriter<S>)> {
    let (mine, io) = driver.output.io.into_pair()?;
    driver.output.io = mine;
    let read_size = driver.machine.read_size;
    let shared = Arc::new(Shared {
        machine: Mutex::new(driver.machine),
        write: Mutex::new(driver.output),
        flush_wanted: AtomicBool::new(false),
        shutdown_wanted: AtomicBool::new(false),
    });
    Ok((
        WsReader {
            shared: shared.clone(),
            io,
            buf: Vec::new(),
            read_size,
            timeout: ReadTimeout::default(),
            parts,
            done: false,
        },
        WsWriter { shared },
    ))
}

/// The receiving half of a split [`WebSocket`](crate::WebSocket): events, and the
/// automatic answers to pings and closes. It is also an [`Iterator`] of events that
/// ends after the close.
#[derive(Debug)]
pub struct WsReader<S> {
    shared: Arc<Shared<S>>,
    /// The reader's own handle on the stream.
    io: S,
    /// Reads land here, outside the machine's lock, then are copied in.
    buf: Vec<u8>,
    read_size: usize,
    timeout: ReadTimeout,
    parts: Parts,
    done: bool,
}

/// The sending half of a split [`WebSocket`](crate::WebSocket).
#[derive(Debug)]
pub struct WsWriter<S> {
    shared: Arc<Shared<S>>,
}

/// The write side as the reader sees it: it writes only when no one else is.
struct ReaderSide<'a, S> {
    shared: &'a Shared<S>,
    io: &'a mut S,
}

impl<S: Transport> Writer for ReaderSide<'_, S> {
    fn flush(&mut self, m: &mut Machine) -> Result<(), Error> {
        self.shared.flush_wanted.store(true, Ordering::SeqCst);
        match try_lock(&self.shared.write) {
            Some(mut output) => {
                self.shared.flush_wanted.store(false, Ordering::SeqCst);
                if !output.flush_machine_for_reader(m)? {
                    // The peer is not taking it now: the writer finishes it when it
                    // next writes, or this half on its next turn, after reading.
                    self.shared.flush_wanted.store(true, Ordering::SeqCst);
                }
                Ok(())
            }
            // The writer is writing; it sees the flag when it is done.
            None => Ok(()),
        }
    }

    fn shutdown(&mut self, m: &mut Machine) -> Result<(), Error> {
        if m.transport_closed {
            return Ok(());
        }
        // Not under bytes still being written. An abort (the peer stopped reading), or
        // a peer that ended its side (the reader could not wait for it: nothing more
        // will come to read), ends the stream at once.
        if !m.read_eof && !m.conn.should_abort_transport() {
            match try_lock(&self.shared.write) {
                // The writer is writing: it ends the stream after its write (it looks at
                // the flag before it lets the write lock go).
                None => {
                    self.shared.shutdown_wanted.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                // What this half left for later goes out first, each write waiting
                // up to the close timeout: the peer has sent its Close, so it has
                // nothing more for us to read, and waiting on it cannot hold it up. A
                // write it does not take in that time drops the rest with the
                // transport, as the close timer would.
                Some(mut output) if output.len() > 0 || output.io.wants_flush() => {
                    let wait = m.conn.config().close_timeout.max(Duration::from_millis(1));
                    output.flush_machine_within(m, Some(wait))?;
                    output.clear();
                }
                Some(_) => {}
            }
        }
        // The reader's clone ends the write side of the same socket.
        let result = self.io.shutdown();
        m.shut_down(result)
    }

    fn discard(&mut self) {
        if let Some(mut output) = try_lock(&self.shared.write) {
            output.clear();
        }
    }

    fn unwritten(&self) -> usize {
        try_lock(&self.shared.write).map_or(0, |output| output.len())
    }

    fn capacity(&self) -> usize {
        try_lock(&self.shared.write).map_or(0, |output| output.capacity())
    }

    fn shrink(&mut self) {
        if let Some(mut output) = try_lock(&self.shared.write) {
            output.shrink();
        }
    }
}

impl<S: Transport> WsReader<S> {
    /// The next event (see [`WebSocket::recv`](crate::WebSocket::recv)).
    pub fn recv(&mut self) -> Result<Option<Event>, Error> {
        loop {
            let next = {
                let mut machine = lock(&self.shared.machine);
                let mut side = ReaderSide {
                    shared: &self.shared,
                    io: &mut self.io,
                };
                machine.next(&mut side)?
            };
            match next {
                Next::Event(event) => return Ok(Some(event)),
                Next::Done => return Ok(None),
                Next::Read(timeout) => self.read(timeout)?,
            }
        }
    }

    fn read(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        if let Err(e) = self.timeout.apply(&mut self.io, timeout) {
            return lock(&self.shared.machine).after_read(Err(e));
        }
        if self.buf.is_empty() {
            self.buf = vec![0; self.read_size];
        }
        let result = self.io.read(&mut self.buf);
        if matches!(&result, Err(e) if is_timeout(e)) {
            self.timeout.expired();
        }
        let mut machine = lock(&self.shared.machine);
        if let Ok(n) = result {
            machine.conn.read_buffer().extend_from_slice(&self.buf[..n]);
        }
        machine.after_read(result)
    }

    /// The next message, skipping pings and pongs.
    pub fn recv_message(&mut self) -> Result<Option<Message>, Error> {
        while let Some(event) = self.recv()? {
            if let Event::Message(message) = event {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// The opening request, on the server side.
    pub fn http_request(&self) -> Option<&http::Request<()>> {
        self.parts.request.as_ref()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.parts.peer_addr
    }
}

impl<S: Transport> Iterator for WsReader<S> {
    type Item = Result<Event, Error>;

    /// Fused: after the close or an error, nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        let mut done = self.done;
        let next = next_event(&mut done, || self.recv());
        self.done = done;
        next
    }
}

impl<S: Transport> WsWriter<S> {
    /// Runs `command` on the connection, then writes what it queued.
    fn command(
        &mut self,
        command: impl FnOnce(&mut Connection) -> Result<(), ws_proto::UsageError>,
    ) -> Result<(), Error> {
        command(&mut lock(&self.shared.machine).conn)?;
        self.flush()
    }

    /// Queues a message and writes it.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.command(|conn| conn.send(message))
    }

    /// Queues a message, and writes only if more than 128 KiB already wait (see
    /// [`WebSocket::queue`](crate::WebSocket::queue)); the reader writes it when it
    /// next waits for input, or the next `send` or `flush`.
    pub fn queue(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let waiting = {
            let machine = lock(&self.shared.machine);
            machine.conn.buffered_amount() + try_lock(&self.shared.write).map_or(0, |o| o.len())
        };
        if ws_proto::pacing::write_before_queue(waiting) {
            self.flush()?;
        }
        Ok(lock(&self.shared.machine).conn.send(message)?)
    }

    /// Queues several messages and writes them together.
    pub fn send_multiple<M: Into<Message>>(
        &mut self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), Error> {
        self.command(|conn| messages.into_iter().try_for_each(|m| conn.send(m)))
    }

    /// Queues one frame as it is and writes it.
    pub fn send_frame(&mut self, frame: Frame) -> Result<(), Error> {
        self.command(|conn| conn.send_frame(frame))
    }

    /// Queues several frames as they are and writes them together.
    pub fn send_frames(&mut self, frames: impl IntoIterator<Item = Frame>) -> Result<(), Error> {
        self.command(|conn| frames.into_iter().try_for_each(|f| conn.send_frame(f)))
    }

    /// Sends a Ping.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.command(|conn| conn.ping(payload))
    }

    /// Starts the closing handshake (unless it has started already); the reader sees
    /// the rest of it.
    pub fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.command(|conn| match conn.state() {
            State::Open => conn.close(code, reason),
            _ => Ok(()),
        })
    }

    /// Writes everything queued, the reader's answers included.
    pub fn flush(&mut self) -> Result<(), Error> {
        lock(&self.shared.machine).check_stop();
        loop {
            let mut output = lock(&self.shared.write);
            let written = output.write_from(|out| {
                let mut machine = lock(&self.shared.machine);
                if machine.transport_closed {
                    0
                } else {
                    machine.conn.poll_transmit_into(out)
                }
            });
            match written {
                Ok(true) => lock(&self.shared.machine).last_io = Instant::now(),
                Ok(false) => {}
                Err(e) => {
                    output.clear();
                    drop(output);
                    return lock(&self.shared.machine).write_failed(e);
                }
            }
            if self.shared.shutdown_wanted.load(Ordering::SeqCst) && output.len() == 0 {
                // The reader found the conversation over while this was writing.
                let mut machine = lock(&self.shared.machine);
                self.shared.shutdown_wanted.store(false, Ordering::SeqCst);
                if !machine.transport_closed {
                    Writer::shutdown(&mut *output, &mut machine)?;
                }
            }
            drop(output);
            if !self.shared.flush_wanted.swap(false, Ordering::SeqCst) {
                return Ok(());
            }
        }
    }

    /// Closes the transport at once, without a closing handshake.
    pub fn close_transport(&mut self) -> Result<(), Error> {
        let mut output = lock(&self.shared.write);
        let mut machine = lock(&self.shared.machine);
        Writer::shutdown(&mut *output, &mut machine)
    }
}
