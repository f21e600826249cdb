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
}

impl MaybeTlsStream {
    /// The TCP stream under the TLS layer.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => &s.sock,
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => &s.sock,
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
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => s.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            #[cfg(feature = "rustls")]
            Self::ClientTls(s) => s.flush(),
            #[cfg(feature = "rustls")]
            Self::ServerTls(s) => s.flush(),
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
        }
    }

    /// Plain TCP only: one TLS session cannot be driven from two threads.
    fn try_clone(&self) -> io::Result<Self> {
        match self {
            Self::Plain(s) => s.try_clone().map(Self::Plain),
            #[cfg(feature = "rustls")]
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a TLS stream cannot be split across threads",
            )),
        }
    }

    fn shutdown_both(&self) -> io::Result<()> {
        self.tcp().shutdown(Shutdown::Both)
    }
}
