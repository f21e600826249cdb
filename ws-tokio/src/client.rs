//! The client side: `connect` to a URI, or `client` over a stream you already have.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_proto::handshake::{ClientHandshake, ClientOptions, Target};
use ws_proto::{Config, Connection, Entropy, OsEntropy, Role};

use crate::Error;
use crate::socket::{Parts, WebSocket};

/// What a client asks for and how it runs.
pub struct ConnectOptions {
    /// The request: Origin, subprotocols, extra header fields, response limits.
    pub handshake: ClientOptions,
    /// The connection: limits, keepalive, fragmentation, timers.
    pub config: Config,
    /// Where masking keys and the handshake nonce come from (the OCaml
    /// `random_string`); the OS CSPRNG by default.
    pub entropy: Box<dyn Entropy>,
    /// Bound on the TCP connect and on the opening handshake, each.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            handshake: ClientOptions::default(),
            config: Config::default(),
            entropy: Box::new(OsEntropy::new()),
            timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("handshake", &self.handshake)
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Connects to a `ws://` URI and performs the opening handshake.
pub async fn connect(uri: &str, options: ConnectOptions) -> Result<WebSocket<TcpStream>, Error> {
    let parsed: http::Uri = uri.parse().map_err(|_| ws_proto::UsageError::InvalidUri)?;
    let target = Target::from_uri(&parsed)?;
    if target.tls {
        return Err(Error::TlsUnavailable);
    }
    let stream = tokio::time::timeout(
        options.timeout,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    .map_err(|_| Error::Io(std::io::ErrorKind::TimedOut.into()))??;
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr().ok();
    let mut ws = client(stream, &parsed, options).await?;
    ws.set_peer_addr(peer);
    Ok(ws)
}

/// Performs the client's opening handshake over a stream the caller connected.
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    uri: &http::Uri,
    mut options: ConnectOptions,
) -> Result<WebSocket<S>, Error> {
    let mut handshake = ClientHandshake::new(uri, &options.handshake, options.entropy.as_mut())?;
    let exchange = async {
        let mut out = Vec::new();
        handshake.write_request(&mut out);
        io.write_all(&out).await?;
        io.flush().await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = io.read(&mut buf).await?;
            if n == 0 {
                return Err(Error::HandshakeEof);
            }
            if let Some(response) = handshake.handle_input(&buf[..n])? {
                return Ok(response);
            }
        }
    };
    let response = tokio::time::timeout(options.timeout, exchange)
        .await
        .map_err(|_| Error::HandshakeTimeout)??;
    let conn = Connection::with_entropy(
        Role::Client,
        options.config,
        tokio::time::Instant::now().into_std(),
        options.entropy,
    );
    let parts = Parts {
        request: None,
        peer_addr: None,
        subprotocol: response.subprotocol,
    };
    Ok(WebSocket::from_parts(io, conn, &response.leftover, parts))
}
