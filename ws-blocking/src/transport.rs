//! What the driver needs from a blocking transport beyond `Read + Write`: read timeouts
//! (the only way a blocked thread wakes up to run the connection's timers), a clean
//! shutdown, and a second handle for the split socket.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
#[cfg(feature = "rustls")]
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A blocking byte stream a WebSocket runs over.
///
/// Implemented for [`TcpStream`], Unix sockets, [`MaybeTlsStream`], and, for any other
/// `Read + Write` (a pipe, an in-memory stream), through [`Untimed`].
pub trait Transport: Read + Write {
    /// Bounds the next reads (`None`: no bound). A transport that cannot answers
    /// `Ok(false)`, and then the keepalive and close timers only run when bytes arrive.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool>;

    /// Bounds the next writes, for the opening handshake (`None`: no bound).
    fn set_write_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<()> {
        Ok(())
    }

    /// Ends the write side cleanly (TLS close_notify, then TCP FIN); reading may go on.
    fn shutdown(&mut self) -> io::Result<()>;

    /// A second handle on the same stream, for [`WebSocket::split`](crate::WebSocket::split):
    /// one thread reads through it while another writes through the first.
    fn try_clone(&self) -> io::Result<Self>
    where
        Self: Sized,
    {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this transport cannot be read and written from two threads",
        ))
    }

    /// Ends both directions at once, from any thread holding a handle (used to drop the
    /// connections a stopping server could not close in time).
    fn shutdown_both(&self) -> io::Result<()> {
        Ok(())
    }

    /// Whether bytes that a write reported as written still wait inside the transport
    /// for a [`flush`](Write::flush) (a split TLS socket's records that the peer did
    /// not take in time).
    fn wants_flush(&self) -> bool {
        false
    }

    /// Two handles on the same stream for [`WebSocket::split`](crate::WebSocket::split):
    /// the first for the writer, the second for the reader. By default `self` and
    /// [`try_clone`](Self::try_clone); a TLS stream first moves its session to where
    /// both handles share it.
    fn into_pair(self) -> io::Result<(Self, Self)>
    where
        Self: Sized,
    {
        let other = self.try_clone()?;
        Ok((self, other))
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        Self::set_read_timeout(self, timeout).map(|()| true)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_write_timeout(self, timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        Self::shutdown(self, Shutdown::Write)
    }

    fn try_clone(&self) -> io::Result<Self> {
        Self::try_clone(self)
    }

    fn shutdown_both(&self) -> io::Result<()> {
        Self::shutdown(self, Shutdown::Both)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        Self::set_read_timeout(self, timeout).map(|()| true)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_write_timeout(self, timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        Self::shutdown(self, Shutdown::Write)
    }

    fn try_clone(&self) -> io::Result<Self> {
        Self::try_clone(self)
    }

    fn shutdown_both(&self) -> io::Result<()> {
        Self::shutdown(self, Shutdown::Both)
    }
}

/// Any `Read + Write` as a [`Transport`] without timeouts: timers run only when bytes
/// arrive, shutdown only flushes, and the socket cannot be split.
#[derive(Debug)]
pub struct Untimed<T>(pub T);

impl<T: Read> Read for Untimed<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<T: Write> Write for Untimed<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<T: Read + Write> Transport for Untimed<T> {
    fn set_read_timeout(&mut self, _timeout: Option<Duration>) -> io::Result<bool> {
        Ok(false)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A TCP stream, plain or wrapped in TLS (`ws://` or `wss://`).
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// No TLS.
    Plain(TcpStream),
    /// TLS, client side (boxed: a TLS session is large).
    #[cfg(feature = "rustls")]
    ClientTls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// TLS, server side (boxed: a TLS session is large).
    #[cfg(feature = "rustls")]
    ServerTls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    /// TLS, either side, its session shared by the two halves of a split socket.
    #[cfg(feature = "rustls")]
    SharedTls(SharedTls),
}

impl MaybeTlsStream {
    /// A TLS stream whose session can be shared by the two halves of a split socket.
    #[cfg(feature = "rustls")]
    fn into_shared(self) -> Self {
        match self {
            Self::ClientTls(s) => {
                let rustls::StreamOwned { conn, sock } = *s;
                Self::SharedTls(SharedTls::new(rustls::Connection::Client(conn), sock))
            }
            Self::ServerTls(s) => {
                let rustls::StreamOwned { conn, sock } = *s;
                Self::SharedTls(SharedTls::new(rustls::Connection::Server(conn), sock))
            }
            other => other,
        }
    }

    /// The TCP stream under the TLS layer.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => &s.sock,
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => &s.sock,
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => &s.sock,
        }
    }
}

impl Read for MaybeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => s.read(buf),
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => s.read(buf),
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => s.read(buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => s.write(buf),
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => s.write(buf),
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => s.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => s.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => s.flush(),
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => s.flush(),
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => s.flush(),
        }
    }
}

impl Transport for MaybeTlsStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        self.tcp().set_read_timeout(timeout).map(|()| true)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => TcpStream::shutdown(s, Shutdown::Write),
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => {
                s.conn.send_close_notify();
                s.flush()?;
                s.sock.shutdown(Shutdown::Write)
            }
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => {
                s.conn.send_close_notify();
                s.flush()?;
                s.sock.shutdown(Shutdown::Write)
            }
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => s.shutdown(),
        }
    }

    /// Plain TCP, and a TLS stream that [`into_pair`](Transport::into_pair) made
    /// shareable; a TLS stream that owns its session alone cannot be cloned.
    fn try_clone(&self) -> io::Result<Self> {
        match self {
            Self::Plain(s) => s.try_clone().map(Self::Plain),
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => s.try_clone().map(Self::SharedTls),
            #[cfg(feature = "rustls")]
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a TLS stream owns its session: split it with into_pair",
            )),
        }
    }

    fn into_pair(self) -> io::Result<(Self, Self)> {
        #[cfg(feature = "rustls")]
        let this = self.into_shared();
        #[cfg(not(feature = "rustls"))]
        let this = self;
        let other = this.try_clone()?;
        Ok((this, other))
    }

    fn shutdown_both(&self) -> io::Result<()> {
        self.tcp().shutdown(Shutdown::Both)
    }

    fn wants_flush(&self) -> bool {
        match self {
            #[cfg(feature = "rustls")]
            Self::SharedTls(s) => s.wants_flush(),
            _ => false,
        }
    }
}

/// A TLS session shared by the two halves of a split socket, each with its own handle
/// on the TCP stream.
///
/// The split socket writes through one handle only (the writer's, under the driver's
/// write lock); the reader's handle only reads, and never waits for the write side:
/// records the session wants to send while it reads (a TLS 1.3 key update) go out
/// with the next write or flush, and the fatal alert for a record the session refused
/// goes out at once unless the writer is writing. Nothing holds the session's lock
/// while it waits on the socket. Records that a write could not send in time (the reader's
/// answers wait 1 ms at most) are kept, in order, and sent before anything else: a
/// write that handed its bytes to the session reports them as written, so they are
/// never encrypted twice.
#[cfg(feature = "rustls")]
#[derive(Debug)]
pub struct SharedTls {
    sock: TcpStream,
    session: Arc<Mutex<rustls::Connection>>,
    /// Records encrypted but not yet written to the socket, in order.
    unsent: Arc<Mutex<Vec<u8>>>,
    /// Ciphertext read from the socket that the session has not taken yet:
    /// `incoming[start..end]`.
    incoming: Vec<u8>,
    start: usize,
    end: usize,
}

#[cfg(feature = "rustls")]
impl SharedTls {
    /// How much ciphertext one socket read takes: a TLS record and a bit.
    const READ_CHUNK: usize = 17 * 1024;

    /// How long closing the write side waits for the peer to take the last records.
    const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

    /// How long a read that failed on a bad record waits to send the fatal alert: the
    /// connection is over, and the reader must not hang on a peer that stopped reading.
    const ALERT_WAIT: Duration = Duration::from_millis(10);

    fn new(session: rustls::Connection, sock: TcpStream) -> Self {
        Self {
            sock,
            session: Arc::new(Mutex::new(session)),
            unsent: Arc::new(Mutex::new(Vec::new())),
            incoming: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            sock: self.sock.try_clone()?,
            session: self.session.clone(),
            unsent: self.unsent.clone(),
            incoming: Vec::new(),
            start: 0,
            end: 0,
        })
    }

    fn session(&self) -> MutexGuard<'_, rustls::Connection> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves what the session has to send behind the unsent records, then writes them
    /// all. On an error (a write timeout) what is left stays for the next call.
    fn send(&self, unsent: &mut Vec<u8>) -> io::Result<()> {
        {
            let mut session = self.session();
            while session.wants_write() {
                session.write_tls(unsent)?;
            }
        }
        let mut sent = 0;
        let result = loop {
            if sent == unsent.len() {
                break Ok(());
            }
            match (&self.sock).write(&unsent[sent..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        unsent.drain(..sent);
        result
    }

    fn unsent(&self) -> MutexGuard<'_, Vec<u8>> {
        self.unsent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands plaintext to the session (`write` being its `write` or `write_vectored`)
    /// once the records before it are out, then sends the new records.
    fn write_with(
        &mut self,
        write: impl FnOnce(&mut rustls::Writer<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut unsent = self.unsent();
        // Until earlier records are out, take nothing new: an error here means the
        // bytes were not taken, and the caller may offer them again.
        self.send(&mut unsent)?;
        let n = write(&mut self.session().writer())?;
        // The session has the bytes now: they count as written, and records this
        // cannot send in time go out with the next write or flush.
        let _ = self.send(&mut unsent);
        Ok(n)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.session().send_close_notify();
        // A peer that stopped reading, the reason for an abort, takes nothing: the
        // close_notify gets `SHUTDOWN_WAIT`, and the TCP end goes out whatever
        // happens to it.
        self.send_within(Self::SHUTDOWN_WAIT);
        self.sock.shutdown(Shutdown::Write)
    }

    /// Sends what is unsent and what the session has queued, waiting `wait` at most,
    /// without waiting for the other half: while the writer is writing (it holds the
    /// unsent records' lock), the records go out with its next write instead. Every
    /// write to the socket happens under that lock, so no other write sees the
    /// timeout, and the socket's own comes back after.
    fn send_within(&self, wait: Duration) {
        let Ok(mut unsent) = self.unsent.try_lock() else {
            return;
        };
        let before = self.sock.write_timeout().unwrap_or(None);
        if self.sock.set_write_timeout(Some(wait)).is_ok() {
            let _ = self.send(&mut unsent);
            let _ = self.sock.set_write_timeout(before);
        }
    }

    /// Lets the session process what it was given. A record it refuses ends the
    /// connection: the session's lock is let go, and the fatal alert it queued gets a
    /// last try at going out, so that the peer learns why (what rustls's own stream
    /// does too).
    fn process(&self, mut session: MutexGuard<'_, rustls::Connection>) -> io::Result<()> {
        let Err(error) = session.process_new_packets() else {
            return Ok(());
        };
        drop(session);
        self.send_within(Self::ALERT_WAIT);
        Err(io::Error::new(io::ErrorKind::InvalidData, error))
    }

    fn wants_flush(&self) -> bool {
        self.unsent
            .try_lock()
            .is_ok_and(|unsent| !unsent.is_empty())
            || self.session().wants_write()
    }
}

#[cfg(feature = "rustls")]
impl Read for SharedTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
                match session.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if self.start < self.end {
                    // Only while no plaintext waits: the session refuses more input
                    // while its plaintext buffer is full.
                    let mut rest = &self.incoming[self.start..self.end];
                    let taken = session.read_tls(&mut rest)?;
                    // After a close_notify the session takes nothing more: what the
                    // peer sent after it is dropped.
                    self.start = if taken == 0 {
                        self.end
                    } else {
                        self.end - rest.len()
                    };
                    self.process(session)?;
                    continue;
                }
            }
            // The socket's read timeout applies here, with no lock held.
            self.incoming.resize(Self::READ_CHUNK, 0);
            let n = (&self.sock).read(&mut self.incoming)?;
            (self.start, self.end) = (0, n);
            if n == 0 {
                // The end of the stream: a `read_tls` of nothing tells the session so,
                // and its reader then answers the end (after a close_notify) or
                // `UnexpectedEof`.
                let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
                session.read_tls(&mut &[][..])?;
                self.process(session)?;
            }
        }
    }
}

#[cfg(feature = "rustls")]
impl Write for SharedTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|writer| writer.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.write_with(|writer| writer.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut unsent = self.unsent();
        self.send(&mut unsent)
    }
}
