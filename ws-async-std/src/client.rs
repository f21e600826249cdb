//! The client side: `connect` to a URI, or `client` over a stream you already have.

#[cfg(feature = "rustls")]
use std::sync::Arc;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::drive::DEFAULT_READ_SIZE_ZEROED;
use ws_proto::handshake::{ClientOptions, Target};
use ws_proto::{Config, Entropy, OsEntropy};

use crate::stream::MaybeTlsStream;
use crate::{Error, FuturesIo, TcpStream, WebSocket, timeout};

/// What a client asks for and how it runs.
pub struct ConnectOptions {
    /// The request: Origin, subprotocols, extra header fields, response limits.
    pub handshake: ClientOptions,
    /// The connection: limits, keepalive, fragmentation, timers; `write_chunk_size` is
    /// the write buffer.
    pub config: Config,
    /// The read buffer: how many bytes one read asks the transport for (16 KiB by
    /// default: `futures-io` reads want zeroed room, so the room starts at 4 KiB and
    /// grows up to this while reads fill it).
    pub read_size: usize,
    /// Where masking keys and the handshake nonce come from (the OCaml
    /// `random_string`); the OS CSPRNG by default.
    pub entropy: Box<dyn Entropy>,
    /// Bound on the TCP connect, the TLS handshake and the opening handshake, each.
    pub timeout: Duration,
    /// The TLS configuration for `wss://` (the OCaml `ctx`); by default
    /// [`default_client_config`](crate::tls::default_client_config).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<futures_rustls::rustls::ClientConfig>>,
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
///
/// The TCP stream is a [`TcpStream`] (async-net's, with reads that wait for the reactor
/// after a short read), on the `async-io` reactor that async-std and smol both run, so
/// this works under either (or under any executor).
pub async fn connect(
    uri: &str,
    options: ConnectOptions,
) -> Result<WebSocket<MaybeTlsStream<TcpStream>>, Error> {
    let parsed: http::Uri = uri.parse().map_err(|_| ws_proto::UsageError::InvalidUri)?;
    let target = Target::from_uri(&parsed)?;
    let stream = timeout(
        options.timeout,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .ok_or_else(|| Error::Io(std::io::ErrorKind::TimedOut.into()))??;
    stream.get_ref().set_nodelay(true)?;
    let peer = stream.peer_addr().ok();
    let stream = if target.tls {
        wrap_tls(stream, &target.host, &options).await?
    } else {
        MaybeTlsStream::Plain(stream)
    };
    let mut ws = client(stream, &parsed, options).await?;
    ws.set_peer_addr(peer);
    Ok(ws)
}

#[cfg(feature = "rustls")]
async fn wrap_tls(
    stream: TcpStream,
    host: &str,
    options: &ConnectOptions,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    use futures_rustls::rustls::pki_types::ServerName;
    let config = options
        .tls
        .clone()
        .unwrap_or_else(crate::tls::default_client_config);
    let name =
        ServerName::try_from(host.to_owned()).map_err(|_| ws_proto::UsageError::InvalidUri)?;
    let tls = timeout(
        options.timeout,
        futures_rustls::TlsConnector::from(config).connect(name, stream),
    )
    .await
    .ok_or(Error::HandshakeTimeout)??;
    Ok(MaybeTlsStream::ClientTls(Box::new(tls)))
}

#[cfg(not(feature = "rustls"))]
async fn wrap_tls(
    _stream: TcpStream,
    _host: &str,
    _options: &ConnectOptions,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    Err(Error::TlsUnavailable)
}

/// Performs the client's opening handshake over a stream the caller connected (an
/// async-std or smol `TcpStream`, a Unix socket, a TLS stream: any `futures-io`
/// stream).
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    uri: &http::Uri,
    options: ConnectOptions,
) -> Result<WebSocket<S>, Error> {
    let mut ws = ws_proto::drive::client(
        FuturesIo(io),
        uri,
        &options.handshake,
        options.config,
        options.entropy,
        options.timeout,
    )
    .await?;
    ws.set_read_size(options.read_size);
    Ok(ws)
}
