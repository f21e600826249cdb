//! The server side: `accept` one stream, or `establish_server` for an accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_net::{TcpListener, TcpStream};
use event_listener::Event;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::or;
use http::HeaderMap;
use ws_proto::drive::{AcceptOptions, DEFAULT_READ_SIZE_ZEROED};
use ws_proto::handshake::{CheckRequest, SelectSubprotocol, check_origin_with_host};
use ws_proto::{Config, HandshakeLimits, Policy};

use crate::stream::MaybeTlsStream;
use crate::{Error, FuturesIo, WebSocket, timeout};

/// Told about every connection that failed before or during its handler.
pub type OnError = Arc<dyn Fn(Error) + Send + Sync>;
/// Runs a connection's task to its end, in the background: the server hands it every
/// accepted connection (its TLS and opening handshakes, then the handler).
///
/// For example `Arc::new(|task| { async_std::task::spawn(task); })` or
/// `Arc::new(|task| smol::spawn(task).detach())`, or a `spawn` on your own executor.
pub type Spawn = Arc<dyn Fn(Pin<Box<dyn Future<Output = ()> + Send>>) + Send + Sync>;

/// Where a server listens: a bound listener, or an address to bind.
#[derive(Debug)]
pub enum Listen {
    /// A listener the caller bound (an [`async_net::TcpListener`]: async-std's and
    /// smol's listeners run on the same reactor, but are types of their own).
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
    /// The read buffer: how many bytes one read asks the transport for (16 KiB by
    /// default: `futures-io` reads want zeroed room, so the room starts at 4 KiB and
    /// grows up to this while reads fill it).
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
    /// Where every connection runs. By default: with the `async-std` feature (on by
    /// default), `async_std::task::spawn`; else with the `smol` feature,
    /// `smol::spawn(task).detach()` (smol's global executor); with neither, a thread
    /// per connection running `async_io::block_on`. Set it to run connections on your
    /// own executor.
    pub spawn: Spawn,
    /// Serve `wss://`: every accepted connection starts with a TLS handshake (within
    /// the handshake timeout). See [`server_config_from_pem`](crate::tls::server_config_from_pem).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<futures_rustls::rustls::ServerConfig>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            config: Config::default(),
            read_size: DEFAULT_READ_SIZE_ZEROED,
            limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            check_request: Arc::new(check_origin_with_host),
            select_subprotocol: Arc::new(|_| None),
            response_headers: HeaderMap::new(),
            on_error: Arc::new(|_| {}),
            stop_grace: Duration::from_secs(5),
            spawn: default_spawn(),
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

/// The default [`ServerOptions::spawn`].
fn default_spawn() -> Spawn {
    #[cfg(feature = "async-std")]
    {
        Arc::new(|task| {
            async_std::task::spawn(task);
        })
    }
    #[cfg(all(feature = "smol", not(feature = "async-std")))]
    {
        Arc::new(|task| smol::spawn(task).detach())
    }
    #[cfg(not(any(feature = "async-std", feature = "smol")))]
    {
        Arc::new(|task| {
            // Without a thread the task is dropped, which closes its connection.
            let _ = std::thread::Builder::new()
                .name("ws-connection".into())
                .spawn(move || async_io::block_on(task));
        })
    }
}

impl ServerOptions {
    /// What the opening handshake needs.
    fn accept_options(&self) -> AcceptOptions<'_> {
        AcceptOptions {
            config: &self.config,
            limits: self.limits,
            timeout: self.handshake_timeout,
            check_request: &*self.check_request,
            select_subprotocol: &*self.select_subprotocol,
            response_headers: &self.response_headers,
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
    ws_proto::drive::accept(FuturesIo(io), peer_addr, options.accept_options()).await
}

/// The accept loop with the raw policy (the OCaml `establish_server`): every frame is
/// handed to `handler` as it came, and nothing is answered on its behalf.
///
/// Every connection runs as a task of its own, started with [`ServerOptions::spawn`].
/// Runs until `stop` completes; then it stops accepting, and every live connection
/// starts its closing handshake with 1001 (Going Away) the next time it is read or
/// written, after the messages already sent; after `stop_grace`, connections still
/// running are dropped. Dropping the returned future drops the live connections too.
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
///
/// Stopping and spawning work as in [`establish_server`].
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

/// A flag that, once raised, stays raised, and that tasks can wait for.
#[derive(Debug, Default)]
struct Signal {
    raised: AtomicBool,
    event: Event,
}

impl Signal {
    fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    async fn raised(&self) {
        loop {
            if self.raised.load(Ordering::SeqCst) {
                return;
            }
            // Listening before the second look: a raise in between is not lost.
            let listener = self.event.listen();
            if self.raised.load(Ordering::SeqCst) {
                return;
            }
            listener.await;
        }
    }
}

/// What the accept loop shares with its connections' tasks.
#[derive(Debug, Default)]
struct Lifecycle {
    /// The server stops: connections close with 1001.
    stopping: Signal,
    /// The grace period is over (or the server was dropped): connections end now.
    killed: Signal,
    /// Connections whose task has not ended, and a note each time one ends.
    live: AtomicUsize,
    ended: Event,
}

impl Lifecycle {
    /// Waits until no connection is live.
    async fn drained(&self) {
        loop {
            if self.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            let listener = self.ended.listen();
            if self.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            listener.await;
        }
    }
}

/// Counts one connection as live for as long as its task exists.
struct LiveGuard(Arc<Lifecycle>);

impl LiveGuard {
    fn new(lifecycle: &Arc<Lifecycle>) -> Self {
        lifecycle.live.fetch_add(1, Ordering::SeqCst);
        Self(lifecycle.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.ended.notify(usize::MAX);
    }
}

/// Ends every connection of an accept loop that is dropped (or that finished).
struct KillOnDrop(Arc<Lifecycle>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.killed.raise();
    }
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
    let lifecycle = Arc::new(Lifecycle::default());
    let _kill_on_drop = KillOnDrop(lifecycle.clone());
    let mut stop = pin!(stop);
    loop {
        let accepted = or(
            async {
                stop.as_mut().await;
                None
            },
            async { Some(listener.accept().await) },
        )
        .await;
        let (stream, peer) = match accepted {
            None => break,
            Some(Ok(accepted)) => accepted,
            // Out of descriptors or a connection reset before accept: keep going.
            Some(Err(e)) => {
                (options.on_error)(Error::Io(e));
                continue;
            }
        };
        let guard = LiveGuard::new(&lifecycle);
        let task = connection(stream, peer, options.clone(), handler.clone(), &lifecycle);
        let lifecycle = lifecycle.clone();
        (options.spawn)(Box::pin(async move {
            let _guard = guard;
            or(task, lifecycle.killed.raised()).await;
        }));
    }
    drop(listener);
    lifecycle.stopping.raise();
    if timeout(options.stop_grace, lifecycle.drained())
        .await
        .is_none()
    {
        lifecycle.killed.raise();
        // The killed tasks end at their next poll; wait for that, briefly.
        let _ = timeout(Duration::from_secs(1), lifecycle.drained()).await;
    }
    Ok(())
}

/// One accepted connection: its handshakes, then its handler.
fn connection<F, Fut>(
    stream: TcpStream,
    peer: SocketAddr,
    options: Arc<ServerOptions>,
    handler: Arc<F>,
    lifecycle: &Arc<Lifecycle>,
) -> impl Future<Output = ()> + Send + 'static
where
    F: Fn(WebSocket<MaybeTlsStream<TcpStream>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let lifecycle = lifecycle.clone();
    async move {
        let _ = stream.set_nodelay(true);
        // The handshakes' state (TLS, HTTP) lives in a box freed as soon as they are
        // done, and the conversation in a box of its own: the task itself stays small,
        // which is most of what an idle connection costs.
        let handshake = Box::pin(async {
            let stream = wrap_tls(stream, &options).await?;
            accept(stream, Some(peer), &options).await
        });
        let conversation = match handshake.await {
            Ok(mut ws) => {
                ws.set_read_size(options.read_size);
                ws.set_stop_signal(async move { lifecycle.stopping.raised().await });
                Box::pin(handler(ws))
            }
            Err(e) => return (options.on_error)(e),
        };
        conversation.await;
    }
}

#[cfg(feature = "rustls")]
async fn wrap_tls(
    stream: TcpStream,
    options: &ServerOptions,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let Some(config) = &options.tls else {
        return Ok(MaybeTlsStream::Plain(stream));
    };
    let accept = futures_rustls::TlsAcceptor::from(config.clone()).accept(stream);
    let tls = timeout(options.handshake_timeout, accept)
        .await
        .ok_or(Error::HandshakeTimeout)??;
    Ok(MaybeTlsStream::ServerTls(Box::new(tls)))
}

#[cfg(not(feature = "rustls"))]
async fn wrap_tls(
    stream: TcpStream,
    _options: &ServerOptions,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    Ok(MaybeTlsStream::Plain(stream))
}
