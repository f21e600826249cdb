//! The server side: `accept` one stream, or `establish_server` for an accept loop that
//! serves each connection on its own thread.

use std::collections::HashMap;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::HeaderMap;
use ws_proto::adapter::{
    ACCEPT_ERROR_PAUSE, Answer, AnswerOptions, REFUSE_DRAIN, REFUSE_LINGER, UpgradeOptions,
    answer_parsed, answer_request,
};
use ws_proto::handshake::{
    CheckRequest, SelectSubprotocol, ServerHandshake, check_origin_with_host,
};
use ws_proto::{Config, DEFAULT_READ_SIZE_ZEROED, HandshakeLimits, Policy};

use crate::Error;
use crate::driver::is_timeout;
use crate::socket::WebSocket;
use crate::transport::{MaybeTlsStream, Transport};

/// Told about every connection that failed before or during its handshake.
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
    /// The read buffer: how many bytes one read asks the transport for (16 KiB by
    /// default: `std::io::Read` wants zeroed room, so the room starts at 4 KiB and
    /// grows up to this while reads fill it).
    pub read_size: usize,
    /// Bounds on the opening request.
    pub limits: HandshakeLimits,
    /// How long a client has for the TLS handshake and its opening request, together
    /// (slow clients are dropped).
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
    /// I/O error, a client turned away because the server is full). Ignored by default.
    pub on_error: OnError,
    /// After a stop, how long live connections have to finish their closing handshake
    /// before their transports are shut down under them.
    pub stop_grace: Duration,
    /// At most this many connections (threads) at once; one more is answered
    /// 503 Service Unavailable. 1024 by default.
    ///
    /// Each connection holds two file descriptors: the server keeps a second handle on
    /// every socket so that it can shut down, after `stop_grace`, a connection whose
    /// thread is blocked in a write or busy elsewhere. Allow the process twice this
    /// many descriptors and a few more (`ulimit -n`); past its limit, `accept` fails,
    /// `on_error` hears of it, and new clients wait in the listen backlog.
    pub max_connections: usize,
    /// Serve `wss://`: every accepted connection starts with a TLS handshake (within
    /// the handshake timeout). See [`server_config_from_pem`](crate::tls::server_config_from_pem).
    #[cfg(feature = "rustls")]
    pub tls: Option<Arc<rustls::ServerConfig>>,
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
            max_connections: 1024,
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
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// Stops a server from another thread: the accept loop ends, and every live connection
/// starts its closing handshake with 1001 (Going Away) within a fraction of a second.
/// Clones stop the same servers.
#[derive(Debug, Clone, Default)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

#[derive(Debug, Default)]
struct StopInner {
    /// Shared with every connection's driver.
    flag: Arc<AtomicBool>,
    /// The listening addresses to connect to, to wake accept loops blocked in `accept`.
    listeners: Mutex<Vec<SocketAddr>>,
}

impl StopHandle {
    /// A handle that has not stopped anything yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the servers this handle was given to. Returns at once; the servers' own
    /// calls return once their connections are done (or `stop_grace` has passed).
    pub fn stop(&self) {
        self.inner.flag.store(true, Ordering::Release);
        let listeners = self
            .inner
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for mut addr in listeners {
            // A blocked `accept` returns when someone connects.
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr.ip() {
                    IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                    IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
                });
            }
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.flag.load(Ordering::Acquire)
    }
}

/// Performs the server's opening handshake over an accepted stream: reads the request
/// (within the handshake timeout, through socket timeouts), runs the request check, and
/// answers 101 or the error's status (400, 403, 405, 426, 431).
pub fn accept<S: Transport>(
    mut io: S,
    peer_addr: Option<SocketAddr>,
    options: &ServerOptions,
) -> Result<WebSocket<S>, Error> {
    let deadline = Instant::now() + options.handshake_timeout;
    io.set_write_timeout(Some(options.handshake_timeout))?;
    let mut handshake = ServerHandshake::new(options.limits);
    let mut buf = [0u8; 4096];
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::HandshakeTimeout);
        }
        io.set_read_timeout(Some(left))?;
        let n = match io.read(&mut buf) {
            Ok(0) => return Err(Error::HandshakeEof),
            Ok(n) => n,
            Err(e) if is_timeout(&e) => return Err(Error::HandshakeTimeout),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        match handshake.handle_input(&buf[..n]) {
            Ok(Some(upgrade)) => break Ok(upgrade),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
    };
    let answer_options = AnswerOptions {
        config: &options.config,
        check_request: &*options.check_request,
        select_subprotocol: &*options.select_subprotocol,
        response_headers: &options.response_headers,
    };
    let mut out = Vec::new();
    let up = match answer_request(outcome, &answer_options, Instant::now(), &mut out)? {
        Answer::Upgrade(up) => up,
        Answer::Refuse(error) => {
            refuse(io, &out, REFUSE_LINGER);
            return Err(Error::Request(error));
        }
    };
    io.write_all(&out)?;
    io.flush()?;
    io.set_read_timeout(None)?;
    io.set_write_timeout(None)?;
    let (conn, leftover, parts) = up.into_parts(peer_addr);
    let mut ws = WebSocket::from_parts(io, conn, &leftover, parts);
    ws.set_read_size(options.read_size);
    Ok(ws)
}

/// Performs the server's side of an opening handshake whose request another HTTP
/// server already read and parsed (the OCaml `upgrade_connection`), over the stream it
/// hands over: answers 101 and returns the socket, or, for a bad request, answers the
/// error's status (400, 405, 426...), closes the stream cleanly and returns
/// [`Error::Request`]. `leftover` is whatever that server read past the request's
/// head (the connection's first bytes). Run your own checks (origin, path,
/// authentication) first. The answer is written under the stream's own write
/// timeout, which stays as it was: set one first if the client may not be reading.
pub fn accept_parsed<S: Transport, B>(
    mut io: S,
    request: &http::Request<B>,
    leftover: &[u8],
    peer_addr: Option<SocketAddr>,
    options: UpgradeOptions,
) -> Result<WebSocket<S>, Error> {
    let mut out = Vec::new();
    match answer_parsed(request, leftover, options, Instant::now(), &mut out)? {
        Answer::Upgrade(up) => {
            io.write_all(&out)?;
            io.flush()?;
            let (conn, leftover, parts) = up.into_parts(peer_addr);
            Ok(WebSocket::from_parts(io, conn, &leftover, parts))
        }
        Answer::Refuse(error) => {
            refuse(io, &out, REFUSE_LINGER);
            Err(Error::Request(error))
        }
    }
}

/// The accept loop with the raw policy (the OCaml `establish_server`): every frame is
/// handed to `handler` as it came, and nothing is answered on its behalf. Each
/// connection runs `handler` on a thread of its own.
///
/// Blocks until `stop` is stopped; then it stops accepting, every live connection
/// starts its closing handshake with 1001 (Going Away) the next time it reads or
/// writes, after the messages already sent, and after `stop_grace` the transports of
/// connections still running are shut down.
pub fn establish_server<F>(
    listen: impl Into<Listen>,
    options: ServerOptions,
    stop: StopHandle,
    handler: F,
) -> std::io::Result<()>
where
    F: Fn(WebSocket<MaybeTlsStream>) + Send + Sync + 'static,
{
    serve(listen.into(), options, Policy::Raw, stop, handler)
}

/// The accept loop with the standard policy (the OCaml `establish_standard_server`):
/// a Pong for every Ping and a Close for a Close are sent automatically, messages are
/// assembled, and every event is still handed to `handler`.
///
/// ```no_run
/// use ws_blocking::{ServerOptions, StopHandle, establish_standard_server};
///
/// let stop = StopHandle::new();
/// establish_standard_server("127.0.0.1:9001".parse::<std::net::SocketAddr>().unwrap(),
///     ServerOptions::default(), stop, |mut ws| {
///     while let Ok(Some(message)) = ws.recv_message() {
///         if ws.send(message).is_err() {
///             break;
///         }
///     }
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn establish_standard_server<F>(
    listen: impl Into<Listen>,
    options: ServerOptions,
    stop: StopHandle,
    handler: F,
) -> std::io::Result<()>
where
    F: Fn(WebSocket<MaybeTlsStream>) + Send + Sync + 'static,
{
    serve(listen.into(), options, Policy::Standard, stop, handler)
}

/// The live connections: how many, and a handle on each one's socket to shut it down
/// when the grace period after a stop runs out.
#[derive(Default)]
struct Live {
    sockets: Mutex<HashMap<u64, TcpStream>>,
    gone: Condvar,
}

impl Live {
    fn count(&self) -> usize {
        self.sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Takes a connection off the live set when its thread ends, however it ends.
struct LiveGuard {
    live: Arc<Live>,
    id: u64,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut sockets = self
            .live
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sockets.remove(&self.id);
        self.live.gone.notify_all();
    }
}

fn serve<F>(
    listen: Listen,
    mut options: ServerOptions,
    policy: Policy,
    stop: StopHandle,
    handler: F,
) -> std::io::Result<()>
where
    F: Fn(WebSocket<MaybeTlsStream>) + Send + Sync + 'static,
{
    let listener = match listen {
        Listen::Listener(listener) => listener,
        Listen::Addr(addr) => TcpListener::bind(addr)?,
    };
    stop.inner
        .listeners
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(listener.local_addr()?);
    options.config.policy = policy;
    let options = Arc::new(options);
    let handler = Arc::new(handler);
    let live = Arc::new(Live::default());
    let mut next_id = 0u64;
    while !stop.is_stopped() {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                (options.on_error)(Error::Io(e));
                std::thread::sleep(ACCEPT_ERROR_PAUSE);
                continue;
            }
        };
        if stop.is_stopped() {
            break;
        }
        if live.count() >= options.max_connections {
            let (response, body) = ws_proto::handshake::unavailable_response();
            let mut out = Vec::new();
            ws_proto::handshake::write_response(&response, &body, &mut out);
            // Briefly: the accept loop waits meanwhile.
            refuse(stream, &out, Duration::from_millis(200));
            (options.on_error)(Error::TooManyConnections);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let id = next_id;
        next_id += 1;
        if let Ok(clone) = stream.try_clone() {
            live.sockets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, clone);
        }
        let guard = LiveGuard {
            live: live.clone(),
            id,
        };
        let on_error = options.on_error.clone();
        let options = options.clone();
        let handler = handler.clone();
        let flag = stop.inner.flag.clone();
        let spawned = std::thread::Builder::new()
            .name("ws-connection".into())
            .spawn(move || {
                let _guard = guard;
                let handshake = wrap_tls(stream, &options)
                    .and_then(|stream| accept(stream, Some(peer), &options));
                match handshake {
                    Ok(mut ws) => {
                        ws.set_stop_flag(flag);
                        handler(ws);
                    }
                    Err(e) => (options.on_error)(e),
                }
            });
        if let Err(e) = spawned {
            // The closure (and the guard in it) is dropped: the socket closes.
            on_error(Error::Io(e));
        }
    }
    drop(listener);
    // Connections see the flag within `STOP_CHECK`, close with 1001, and end.
    let deadline = Instant::now() + options.stop_grace;
    let mut sockets = live.sockets.lock().unwrap_or_else(PoisonError::into_inner);
    while !sockets.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            for socket in sockets.values() {
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
            break;
        }
        sockets = live
            .gone
            .wait_timeout(sockets, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    Ok(())
}

#[cfg(feature = "rustls")]
fn wrap_tls(stream: TcpStream, options: &ServerOptions) -> Result<MaybeTlsStream, Error> {
    let Some(config) = &options.tls else {
        return Ok(MaybeTlsStream::Plain(stream));
    };
    let session = rustls::ServerConnection::new(config.clone())
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    // The TLS handshake runs in the first reads of `accept`, within its deadline.
    Ok(MaybeTlsStream::ServerTls(Box::new(
        rustls::StreamOwned::new(session, stream),
    )))
}

#[cfg(not(feature = "rustls"))]
fn wrap_tls(stream: TcpStream, _options: &ServerOptions) -> Result<MaybeTlsStream, Error> {
    Ok(MaybeTlsStream::Plain(stream))
}

/// Sends a refusal and closes the stream cleanly: the answer is flushed (through TLS
/// too), the write side shut down, and what the client still sends is read and
/// dropped for a moment, so that closing with unread bytes does not reset the
/// connection and destroy the answer before the client reads it. Bounded by `limit`.
fn refuse<S: Transport>(mut io: S, answer: &[u8], limit: Duration) {
    let deadline = Instant::now() + limit;
    let _ = (|| {
        io.set_write_timeout(Some(limit))?;
        io.write_all(answer)?;
        io.flush()?;
        io.shutdown()?;
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < REFUSE_DRAIN {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            io.set_read_timeout(Some(left))?;
            match io.read(&mut sink)? {
                0 => break,
                n => drained += n,
            }
        }
        Ok::<(), std::io::Error>(())
    })();
}
