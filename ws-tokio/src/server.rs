//! The server side: `accept` one stream, or `establish_server` for an accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use ws_proto::adapter::{ACCEPT_ERROR_PAUSE, AnswerOptions, UpgradeOptions};
use ws_proto::drive::{AcceptOptions, DEFAULT_READ_SIZE};
use ws_proto::handshake::{CheckRequest, SelectSubprotocol, check_origin_with_host};
use ws_proto::{Config, HandshakeLimits, Policy};

use crate::stream::MaybeTlsStream;
use crate::{Error, Tokio, WebSocket};

/// Told about every connection that failed before or during its handler.
pub type OnError = Arc<dyn Fn(Error) + Send + Sync>;

/// Where a server listens: a bound listener, or an address to bind.
#[derive(Debug)]
pub enum Listen {
    /// A listener the caller bound.
    Listener(TcpListener),
    /// An address to bind, such as `"127.0.0.1:9001"`.
    Addr(SocketAddr),
}

impl From<TcpListener> for Listen {
    fn from(listener: TcpListener) -> Self {
        Self::Listener(listener)
    }
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Self {
        Self::Addr(addr)
    }
}

/// How a server accepts and runs connections.
#[derive(Clone)]
pub struct ServerOptions {
    /// The connection settings (limits, keepalive...). `establish_server` and
    /// `establish_standard_server` set the policy. `config.write_chunk_size` is the
    /// write buffer: how much is encoded and written at a time.
    pub config: Config,
    /// The read buffer: how many bytes one read asks the transport for (64 KiB by
    /// default: only reserved, the pages a read does not fill are never touched).
    pub read_size: usize,
    /// Bounds on the opening request.
    pub limits: HandshakeLimits,
    /// How long a client has to send its opening request (slow clients are dropped).
    pub handshake_timeout: Duration,
    /// Run before the upgrade; `false` answers 403. Default:
    /// [`check_origin_with_host`], which stops other sites' pages from connecting.
    pub check_request: CheckRequest,
    /// Chooses the subprotocol; by default none is chosen. A name the client did not
    /// offer is ignored.
    pub select_subprotocol: SelectSubprotocol,
    /// Extra fields for the 101 response.
    pub response_headers: HeaderMap,
    /// The OCaml `on_exn`: errors of connections that failed (a refused handshake, an
    /// I/O error). Ignored by default.
    pub on_error: OnError,
    /// After `stop`, how long live connections have to finish their closing handshake
    /// before they are dropped.
    pub stop_grace: Duration,
    /// Serve `wss://`: every accepted connection starts with a TLS handshake (within
    /// the handshake timeout). See [`server_config_from_pem`](crate::tls::server_config_from_pem).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            read_size: DEFAULT_READ_SIZE,
            limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            check_request: Arc::new(check_origin_with_host),
            select_subprotocol: Arc::new(|_| None),
            response_headers: HeaderMap::new(),
            on_error: Arc::new(|_| {}),
            stop_grace: Duration::from_secs(5),
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("config", &self.config)
            .field("limits", &self.limits)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("stop_grace", &self.stop_grace)
            .finish_non_exhaustive()
    }
}

impl ServerOptions {
    /// What the opening handshake needs.
    fn accept_options(&self) -> AcceptOptions<'_> {
        AcceptOptions {
            answer: AnswerOptions {
                config: &self.config,
                check_request: &*self.check_request,
                select_subprotocol: &*self.select_subprotocol,
                response_headers: &self.response_headers,
            },
            limits: self.limits,
            timeout: self.handshake_timeout,
        }
    }
}

/// Performs the server's opening handshake over an accepted stream: reads the request
/// (within the handshake timeout), runs the request check, and answers 101 or the
/// error's status (400, 403, 405, 426, 431).
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    peer_addr: Option<SocketAddr>,
    options: &ServerOptions,
) -> Result<WebSocket<S>, Error> {
    ws_proto::drive::accept(Tokio(io), peer_addr, options.accept_options()).await
}

/// The handshake of a request that another HTTP server already read and parsed (the
/// OCaml `upgrade_connection`), over the stream it hands over, with the bytes it read
/// past the request's head: see [`ws_proto::drive::accept_parsed`]. Run your own
/// checks (origin, path, authentication) first. With hyper, `upgrade::upgrade`
/// (feature `hyper`) does this inside a hyper service.
pub async fn accept_parsed<S: AsyncRead + AsyncWrite + Unpin, B>(
    io: S,
    request: &http::Request<B>,
    leftover: &[u8],
    peer_addr: Option<SocketAddr>,
    options: UpgradeOptions,
) -> Result<WebSocket<S>, Error> {
    ws_proto::drive::accept_parsed(Tokio(io), request, leftover, peer_addr, options).await
}

/// The accept loop with the raw policy (the OCaml `establish_server`): every frame is
/// handed to `handler` as it came, and nothing is answered on its behalf.
///
/// Runs until `stop` completes; then it stops accepting, and every live connection
/// starts its closing handshake with 1001 (Going Away) the next time it is read or
/// written, after the messages already sent; after `stop_grace`, connections still
/// running are dropped.
pub async fn establish_server<F, Fut>(
    listen: impl Into<Listen>,
    options: ServerOptions,
    stop: impl Future<Output = ()>,
    handler: F,
) -> std::io::Result<()>
where
    F: Fn(WebSocket<MaybeTlsStream<TcpStream>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve(listen.into(), options, Policy::Raw, stop, handler).await
}

/// The accept loop with the standard policy (the OCaml `establish_standard_server`):
/// a Pong for every Ping and a Close for a Close are sent automatically, messages are
/// assembled, and every event is still handed to `handler`.
pub async fn establish_standard_server<F, Fut>(
    listen: impl Into<Listen>,
    options: ServerOptions,
    stop: impl Future<Output = ()>,
    handler: F,
) -> std::io::Result<()>
where
    F: Fn(WebSocket<MaybeTlsStream<TcpStream>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve(listen.into(), options, Policy::Standard, stop, handler).await
}

async fn serve<F, Fut>(
    listen: Listen,
    mut options: ServerOptions,
    policy: Policy,
    stop: impl Future<Output = ()>,
    handler: F,
) -> std::io::Result<()>
where
    F: Fn(WebSocket<MaybeTlsStream<TcpStream>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = match listen {
        Listen::Listener(listener) => listener,
        Listen::Addr(addr) => TcpListener::bind(addr).await?,
    };
    options.config.policy = policy;
    let options = Arc::new(options);
    let handler = Arc::new(handler);
    let (stopping_tx, stopping_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    // Out of descriptors or a connection reset before accept: keep
                    // going, after a pause rather than spinning while it lasts.
                    Err(e) => {
                        (options.on_error)(Error::Io(e));
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let options = options.clone();
                let handler = handler.clone();
                let stopping = stopping_rx.clone();
                tasks.spawn(async move {
                    let _ = stream.set_nodelay(true);
                    // The handshakes' state (TLS, HTTP) lives in a box freed as soon as
                    // they are done, and the conversation in a box of its own: the task
                    // itself stays small, which is most of what an idle connection costs.
                    let handshake = Box::pin(async {
                        // One time limit for both handshakes: what TLS took is not
                        // given to the HTTP request again.
                        let started = tokio::time::Instant::now();
                        let stream = wrap_tls(stream, &options).await?;
                        let mut accept = options.accept_options();
                        accept.timeout = accept.timeout.saturating_sub(started.elapsed());
                        ws_proto::drive::accept(Tokio(stream), Some(peer), accept).await
                    });
                    let conversation = match handshake.await {
                        Ok(ws) => Box::pin(handler(prepare(ws, options.read_size, stopping))),
                        Err(e) => return (options.on_error)(e),
                    };
                    conversation.await;
                });
            }
            // Reap finished connections so the set does not grow.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    let grace = options.stop_grace;
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tasks.shutdown().await;
    }
    Ok(())
}

/// A server connection's settings: read size, and the stop signal from the accept
/// loop.
fn prepare(
    mut ws: WebSocket<MaybeTlsStream<TcpStream>>,
    read_size: usize,
    mut stopping: watch::Receiver<bool>,
) -> WebSocket<MaybeTlsStream<TcpStream>> {
    ws.set_read_size(read_size);
    ws.set_stop_signal(async move {
        if !*stopping.borrow_and_update() {
            // An error means the accept loop is gone: stop too.
            let _ = stopping.changed().await;
        }
    });
    ws
}

#[cfg(feature = "rustls")]
async fn wrap_tls(
    stream: TcpStream,
    options: &ServerOptions,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let Some(config) = &options.tls else {
        return Ok(MaybeTlsStream::Plain(stream));
    };
    let accept = tokio_rustls::TlsAcceptor::from(config.clone()).accept(stream);
    let tls = tokio::time::timeout(options.handshake_timeout, accept)
        .await
        .map_err(|_| Error::HandshakeTimeout)??;
    Ok(MaybeTlsStream::ServerTls(Box::new(tls)))
}

#[cfg(not(feature = "rustls"))]
async fn wrap_tls(
    stream: TcpStream,
    _options: &ServerOptions,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    Ok(MaybeTlsStream::Plain(stream))
}
