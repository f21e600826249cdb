//! The server side: `accept` one stream, or `establish_server` for an accept loop.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_net::TcpListener;
use event_listener::Event;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::or;
use http::HeaderMap;
use ws_proto::adapter::{ACCEPT_ERROR_PAUSE, AnswerOptions, UpgradeOptions};
use ws_proto::drive::{AcceptOptions, DEFAULT_READ_SIZE_ZEROED};
use ws_proto::handshake::{CheckRequest, SelectSubprotocol, check_origin_with_host};
use ws_proto::{Config, HandshakeLimits, Policy};

use crate::stream::MaybeTlsStream;
use crate::{Error, FuturesIo, TcpStream, WebSocket, timeout};

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
    ws_proto::drive::accept(FuturesIo(io), peer_addr, options.accept_options()).await
}

/// The handshake of a request that another HTTP server already read and parsed (the
/// OCaml `upgrade_connection`), over the stream it hands over, with the bytes it read
/// past the request's head: see [`ws_proto::drive::accept_parsed`]. Run your own
/// checks (origin, path, authentication) first.
pub async fn accept_parsed<S: AsyncRead + AsyncWrite + Unpin, B>(
    io: S,
    request: &http::Request<B>,
    leftover: &[u8],
    peer_addr: Option<SocketAddr>,
    options: UpgradeOptions,
) -> Result<WebSocket<S>, Error> {
    ws_proto::drive::accept_parsed(FuturesIo(io), request, leftover, peer_addr, options).await
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

/// What the accept loop shares with its connections' tasks.
#[derive(Debug, Default)]
struct Lifecycle {
    /// 0 while the server accepts, then [`STOPPING`], then [`KILLED`]; it never goes
    /// back.
    state: AtomicU8,
    /// The futures waiting for `state` to move. Every idle connection waits twice
    /// (its task for the kill, its socket for the stop), so a waiter is a 16-byte
    /// slot of a shared list rather than a 56-byte event-listener node of its own.
    waiters: Mutex<Waiters>,
    /// Connections whose task has not ended, and a note each time one ends.
    live: AtomicUsize,
    ended: Event,
}

/// The server stops: connections close with 1001.
const STOPPING: u8 = 1;
/// The grace period is over (or the server was dropped): connections end now.
const KILLED: u8 = 2;

impl Lifecycle {
    fn reached(&self, state: u8) -> bool {
        self.state.load(Ordering::SeqCst) >= state
    }

    /// Moves to `state` (never back) and wakes every waiter to look.
    fn advance(&self, state: u8) {
        self.state.fetch_max(state, Ordering::SeqCst);
        // Woken outside the lock: an executor that runs a task inline on its wake
        // would otherwise find the lock taken when the task ends and its waits go.
        let wakers: Vec<Waker> = lock(&self.waiters)
            .slots
            .iter()
            .flatten()
            .cloned()
            .collect();
        for waker in wakers {
            waker.wake();
        }
    }

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

/// A slot per waiting future; freed slots are reused.
#[derive(Debug, Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Waiters {
    /// Puts `waker` in a free slot, or a new one; the slot's index.
    fn insert(&mut self, waker: Waker) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(waker);
                slot
            }
            None => {
                self.slots.push(Some(waker));
                self.slots.len() - 1
            }
        }
    }

    /// Frees `slot`; its waker is returned to be dropped after the lock.
    fn remove(&mut self, slot: usize) -> Option<Waker> {
        self.free.push(slot);
        self.slots[slot].take()
    }
}

fn lock(waiters: &Mutex<Waiters>) -> MutexGuard<'_, Waiters> {
    // Only wakers are cloned and dropped under the lock; a panic in one leaves the
    // slots consistent, so a poisoned lock is still good.
    waiters.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One future's wait for the lifecycle to reach a state: it holds a slot while it
/// waits, and a copy of the waker in it, so that a poll with the same waker (every
/// poll of a task, once) takes no lock.
#[derive(Debug)]
struct Wait {
    lifecycle: Arc<Lifecycle>,
    slot: Option<usize>,
    waker: Option<Waker>,
}

impl Wait {
    fn new(lifecycle: &Arc<Lifecycle>) -> Self {
        Self {
            lifecycle: lifecycle.clone(),
            slot: None,
            waker: None,
        }
    }

    fn poll_reached(&mut self, state: u8, cx: &mut Context<'_>) -> Poll<()> {
        if self.lifecycle.reached(state) {
            return Poll::Ready(());
        }
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            let mut waiters = lock(&self.lifecycle.waiters);
            // The waker replaced is dropped after the lock (below, with `replaced`).
            let mut replaced = None;
            match self.slot {
                Some(slot) => replaced = waiters.slots[slot].replace(waker.clone()),
                None => self.slot = Some(waiters.insert(waker.clone())),
            }
            drop(waiters);
            drop(replaced);
            self.waker = Some(waker);
        }
        // Looked at again once the waker is in place: an `advance` in between has
        // either been seen here or will find the waker.
        if self.lifecycle.reached(state) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            let waker = lock(&self.lifecycle.waiters).remove(slot);
            drop(waker);
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
        self.0.advance(KILLED);
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
            // Out of descriptors or a connection reset before accept: keep going,
            // after a pause rather than spinning while it lasts.
            Some(Err(e)) => {
                (options.on_error)(Error::Io(e));
                async_io::Timer::after(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        let guard = LiveGuard::new(&lifecycle);
        let task = connection(
            stream.into(),
            peer,
            options.clone(),
            handler.clone(),
            &lifecycle,
        );
        let mut kill = Wait::new(&lifecycle);
        (options.spawn)(Box::pin(async move {
            let _guard = guard;
            let mut task = pin!(task);
            poll_fn(|cx| match kill.poll_reached(KILLED, cx) {
                Poll::Ready(()) => Poll::Ready(()),
                Poll::Pending => task.as_mut().poll(cx),
            })
            .await;
        }));
    }
    drop(listener);
    lifecycle.advance(STOPPING);
    if timeout(options.stop_grace, lifecycle.drained())
        .await
        .is_none()
    {
        lifecycle.advance(KILLED);
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
        let _ = stream.get_ref().set_nodelay(true);
        // The handshakes' state (TLS, HTTP) lives in a box freed as soon as they are
        // done, and the conversation in a box of its own: the task itself stays small,
        // which is most of what an idle connection costs.
        let handshake = Box::pin(async {
            // One time limit for both handshakes: what TLS took is not given to the
            // HTTP request again.
            let started = std::time::Instant::now();
            let stream = wrap_tls(stream, &options).await?;
            let mut accept = options.accept_options();
            accept.timeout = accept.timeout.saturating_sub(started.elapsed());
            ws_proto::drive::accept(FuturesIo(stream), Some(peer), accept).await
        });
        let conversation = match handshake.await {
            Ok(mut ws) => {
                ws.set_read_size(options.read_size);
                let mut stop = Wait::new(&lifecycle);
                ws.set_stop_signal(poll_fn(move |cx| stop.poll_reached(STOPPING, cx)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::task::Wake;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn an_advance_wakes_each_waiter_that_waits_for_it_and_slots_are_reused() {
        let lifecycle = Arc::new(Lifecycle::default());
        let (stop_count, stop_waker) = waker();
        let (kill_count, kill_waker) = waker();
        let mut stop = Wait::new(&lifecycle);
        let mut kill = Wait::new(&lifecycle);
        let mut cx = Context::from_waker(&stop_waker);
        assert!(stop.poll_reached(STOPPING, &mut cx).is_pending());
        // The same waker again takes no second slot.
        assert!(stop.poll_reached(STOPPING, &mut cx).is_pending());
        let mut kx = Context::from_waker(&kill_waker);
        assert!(kill.poll_reached(KILLED, &mut kx).is_pending());
        assert_eq!(lock(&lifecycle.waiters).slots.len(), 2);

        // A waiter that goes gives its slot to the next one.
        let mut gone = Wait::new(&lifecycle);
        assert!(gone.poll_reached(KILLED, &mut kx).is_pending());
        drop(gone);
        let mut next = Wait::new(&lifecycle);
        assert!(next.poll_reached(KILLED, &mut kx).is_pending());
        assert_eq!(lock(&lifecycle.waiters).slots.len(), 3);
        drop(next);

        lifecycle.advance(STOPPING);
        assert_eq!(stop_count.0.load(Ordering::SeqCst), 1);
        assert_eq!(kill_count.0.load(Ordering::SeqCst), 1);
        assert!(stop.poll_reached(STOPPING, &mut cx).is_ready());
        // Woken to look, the kill finds the server only stopping.
        assert!(kill.poll_reached(KILLED, &mut kx).is_pending());
        lifecycle.advance(KILLED);
        assert!(kill.poll_reached(KILLED, &mut kx).is_ready());
        // The state never goes back.
        lifecycle.advance(STOPPING);
        assert!(lifecycle.reached(KILLED));
    }

    /// A waker that, like an executor running the task inline, needs the waiters'
    /// lock while it wakes.
    struct Inline {
        lifecycle: Arc<Lifecycle>,
        lock_was_free: AtomicBool,
    }

    impl Wake for Inline {
        fn wake(self: Arc<Self>) {
            let free = self.lifecycle.waiters.try_lock().is_ok();
            self.lock_was_free.store(free, Ordering::SeqCst);
        }
    }

    #[test]
    fn waiters_are_woken_outside_the_lock() {
        let lifecycle = Arc::new(Lifecycle::default());
        let inline = Arc::new(Inline {
            lifecycle: lifecycle.clone(),
            lock_was_free: AtomicBool::new(false),
        });
        let waker = Waker::from(inline.clone());
        let mut wait = Wait::new(&lifecycle);
        assert!(
            wait.poll_reached(KILLED, &mut Context::from_waker(&waker))
                .is_pending()
        );
        lifecycle.advance(KILLED);
        assert!(inline.lock_was_free.load(Ordering::SeqCst));
    }

    #[test]
    fn a_waiter_polled_by_a_new_waker_wakes_that_one() {
        let lifecycle = Arc::new(Lifecycle::default());
        let (old_count, old) = waker();
        let (new_count, new) = waker();
        let mut wait = Wait::new(&lifecycle);
        assert!(
            wait.poll_reached(STOPPING, &mut Context::from_waker(&old))
                .is_pending()
        );
        assert!(
            wait.poll_reached(STOPPING, &mut Context::from_waker(&new))
                .is_pending()
        );
        lifecycle.advance(STOPPING);
        assert_eq!(old_count.0.load(Ordering::SeqCst), 0);
        assert_eq!(new_count.0.load(Ordering::SeqCst), 1);
    }
}
