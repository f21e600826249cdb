//! The client side: `connect` to a URI, or `client` over a stream you already have.

use std::net::{TcpStream, ToSocketAddrs};
#[cfg(feature = "rustls")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientHandshake, ClientOptions, Target};
use ws_proto::{Config, Connection, DEFAULT_READ_SIZE_ZEROED, Entropy, OsEntropy, Role};

use crate::Error;
use crate::driver::is_timeout;
use crate::socket::{Parts, WebSocket};
use crate::transport::{MaybeTlsStream, Transport};

/// What a client asks for and how it runs.
pub struct ConnectOptions {
    /// The request: Origin, subprotocols, extra header fields, response limits.
    pub handshake: ClientOptions,
    /// The connection: limits, keepalive, fragmentation, timers; `write_chunk_size` is
    /// the write buffer.
    pub config: Config,
    /// The read buffer: how many bytes one read asks the transport for (16 KiB by
    /// default: `std::io::Read` wants zeroed room, so the room starts at 4 KiB and
    /// grows up to this while reads fill it).
    pub read_size: usize,
    /// Where masking keys and the handshake nonce come from (the OCaml
    /// `random_string`); the OS CSPRNG by default.
    pub entropy: Box<dyn Entropy>,
    /// Bound on the TCP connect, and on the TLS and opening handshakes together.
    pub timeout: Duration,
    /// The TLS configuration for `wss://` (the OCaml `ctx`); by default
    /// [`default_client_config`](crate::tls::default_client_config).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            handshake: ClientOptions::default(),
            config: Config::default(),
            read_size: DEFAULT_READ_SIZE_ZEROED,
            entropy: Box::new(OsEntropy::new()),
            timeout: Duration::from_secs(30),
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("handshake", &self.handshake)
            .field("config", &self.config)
            .field("read_size", &self.read_size)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Connects to a `ws://` or `wss://` URI and performs the opening handshake.
pub fn connect(uri: &str, options: ConnectOptions) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let parsed: http::Uri = uri.parse().map_err(|_| ws_proto::UsageError::InvalidUri)?;
    let target = Target::from_uri(&parsed)?;
    let stream = connect_tcp(&target.host, target.port, options.timeout)?;
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr().ok();
    let stream = if target.tls {
        wrap_tls(stream, &target.host, &options)?
    } else {
        MaybeTlsStream::Plain(stream)
    };
    let mut ws = client(stream, &parsed, options)?;
    ws.set_peer_addr(peer);
    Ok(ws)
}

/// Tries every address the host resolves to, each within the timeout.
fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
    // A bracketed IPv6 literal from the URI.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Io(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
    })))
}

#[cfg(feature = "rustls")]
fn wrap_tls(
    stream: TcpStream,
    host: &str,
    options: &ConnectOptions,
) -> Result<MaybeTlsStream, Error> {
    use rustls::pki_types::ServerName;
    let config = options
        .tls
        .clone()
        .unwrap_or_else(crate::tls::default_client_config);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name =
        ServerName::try_from(host.to_owned()).map_err(|_| ws_proto::UsageError::InvalidUri)?;
    let session = rustls::ClientConnection::new(config, name)
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    // The TLS handshake runs with the first bytes of the opening handshake, within its
    // timeout.
    Ok(MaybeTlsStream::ClientTls(Box::new(
        rustls::StreamOwned::new(session, stream),
    )))
}

#[cfg(not(feature = "rustls"))]
fn wrap_tls(
    _stream: TcpStream,
    _host: &str,
    _options: &ConnectOptions,
) -> Result<MaybeTlsStream, Error> {
    Err(Error::TlsUnavailable)
}

/// Performs the client's opening handshake over a stream the caller connected, within
/// `options.timeout` (when the transport has timeouts).
pub fn client<S: Transport>(
    mut io: S,
    uri: &http::Uri,
    mut options: ConnectOptions,
) -> Result<WebSocket<S>, Error> {
    let mut handshake = ClientHandshake::new(uri, &options.handshake, options.entropy.as_mut())?;
    handshake.offer_extensions(&options.config);
    let deadline = Instant::now() + options.timeout;
    io.set_write_timeout(Some(options.timeout))?;
    let mut out = Vec::new();
    handshake.write_request(&mut out);
    let exchange = (|| {
        io.write_all(&out)?;
        io.flush()?;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::HandshakeTimeout);
            }
            io.set_read_timeout(Some(left))?;
            let n = io.read(&mut buf)?;
            if n == 0 {
                return Err(Error::HandshakeEof);
            }
            if let Some(response) = handshake.handle_input(&buf[..n])? {
                return Ok(response);
            }
        }
    })();
    let response = exchange.map_err(|e| match e {
        Error::Io(e) if is_timeout(&e) => Error::HandshakeTimeout,
        e => e,
    })?;
    io.set_read_timeout(None)?;
    io.set_write_timeout(None)?;
    let conn = Connection::with_entropy(
        Role::Client,
        options.config,
        Instant::now(),
        options.entropy,
    )
    .with_extensions(response.extensions);
    let parts = Parts {
        request: None,
        peer_addr: None,
        subprotocol: response.subprotocol,
    };
    let mut ws = WebSocket::from_parts(io, conn, &response.leftover, parts);
    ws.set_read_size(options.read_size);
    Ok(ws)
}
