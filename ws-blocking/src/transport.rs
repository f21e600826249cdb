//! What the driver needs from a blocking transport beyond `Read + Write`: read timeouts
//! (the only way a blocked thread wakes up to run the connection's timers), a clean
//! shutdown, and a second handle for the split socket.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
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
}

/// A TLS session shared by the two halves of a split socket, each with its own handle
/// on the TCP stream.
///
/// Neither half holds the session's lock while it waits on the socket: a reader
/// blocked in a read must not stop the writer, and a writer blocked on a peer that
/// does not read must not stop the reader from taking what that peer sends (or both
/// ends could wait on each other for ever). Records are encrypted and written under
/// a second lock, in one order, so that their sequence numbers reach the peer in the
/// order they were given.
#[cfg(feature = "rustls")]
#[derive(Debug)]
pub struct SharedTls {
    sock: TcpStream,
    session: std::sync::Arc<std::sync::Mutex<rustls::Connection>>,
    writing: std::sync::Arc<std::sync::Mutex<()>>,
    /// Ciphertext read from the socket, for the session.
    incoming: Vec<u8>,
}

#[cfg(feature = "rustls")]
impl SharedTls {
    /// How much ciphertext one socket read takes: a TLS record and a bit.
    const READ_CHUNK: usize = 17 * 1024;

    fn new(session: rustls::Connection, sock: TcpStream) -> Self {
        Self {
            sock,
            session: std::sync::Arc::new(std::sync::Mutex::new(session)),
            writing: std::sync::Arc::new(std::sync::Mutex::new(())),
            incoming: Vec::new(),
        }
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            sock: self.sock.try_clone()?,
            session: self.session.clone(),
            writing: self.writing.clone(),
            incoming: Vec::new(),
        })
    }

    fn session(&self) -> std::sync::MutexGuard<'_, rustls::Connection> {
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes what the session has to send (records, alerts), outside its lock.
    fn send_pending(&self) -> io::Result<()> {
        let _order = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut records = Vec::new();
        {
            let mut session = self.session();
            while session.wants_write() {
                session.write_tls(&mut records)?;
            }
        }
        (&self.sock).write_all(&records)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.session().send_close_notify();
        self.send_pending()?;
        self.sock.shutdown(Shutdown::Write)
    }
}

#[cfg(feature = "rustls")]
impl Read for SharedTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let wants_write = {
                let mut session = self.session();
                match session.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                session.wants_write()
            };
            if wants_write {
                self.send_pending()?;
            }
            // The socket's read timeout applies here, with no lock held.
            self.incoming.resize(Self::READ_CHUNK, 0);
            let n = (&self.sock).read(&mut self.incoming)?;
            let mut session = self.session();
            let mut rest = &self.incoming[..n];
            loop {
                // At the end of the stream, `read_tls` of nothing tells the session so.
                session.read_tls(&mut rest)?;
                session
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if rest.is_empty() {
                    break;
                }
            }
        }
    }
}

#[cfg(feature = "rustls")]
impl Write for SharedTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.session().writer().write(buf)?;
        self.send_pending()?;
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.session().writer().write_vectored(bufs)?;
        self.send_pending()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_pending()
    }
}
