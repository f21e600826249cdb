//! What the tests share: the two runtimes, a standard server on a free loopback port,
//! a time limit, and an in-memory pipe.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use ws_async_std::TcpStream;
use ws_async_std::async_net::TcpListener;
use ws_async_std::{MaybeTlsStream, ServerOptions, Spawn, WebSocket, establish_standard_server};

/// The socket a test server's handler gets.
pub type ServerSocket = WebSocket<MaybeTlsStream<TcpStream>>;

/// The executor a test runs on: its tasks, and its server's connections.
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    AsyncStd,
    Smol,
}

impl Runtime {
    /// Runs a task in the background.
    pub fn spawn(self, task: impl Future<Output = ()> + Send + 'static) {
        match self {
            Self::AsyncStd => {
                async_std::task::spawn(task);
            }
            Self::Smol => smol::spawn(task).detach(),
        }
    }

    /// The server's `spawn` option for this runtime.
    pub fn spawner(self) -> Spawn {
        match self {
            Self::AsyncStd => Arc::new(|task| {
                async_std::task::spawn(task);
            }),
            Self::Smol => Arc::new(|task| smol::spawn(task).detach()),
        }
    }
}

/// Runs each of the named `async fn(Runtime)` tests on async-std and on smol.
macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod on_async_std {
            $(
                #[async_std::test]
                async fn $name() {
                    super::$name(super::support::Runtime::AsyncStd).await
                }
            )*
        }
        mod on_smol {
            $(
                #[test]
                fn $name() {
                    smol::block_on(super::$name(super::support::Runtime::Smol))
                }
            )*
        }
    };
}

/// `future`'s output; panics if it takes longer than `limit`.
pub async fn limit<T>(limit: Duration, future: impl Future<Output = T>) -> T {
    futures_lite::future::or(future, async {
        async_io::Timer::after(limit).await;
        panic!("the test took longer than {limit:?}")
    })
    .await
}

/// `future`'s output, or `None` if `limit` passes first.
pub async fn timeout<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        async_io::Timer::after(limit).await;
        None
    })
    .await
}

/// Starts a standard server running `handler` for every connection, on `runtime`;
/// returns its address and the trigger that stops it (dropping the trigger stops it
/// too).
pub async fn serve<F, Fut>(
    runtime: Runtime,
    mut options: ServerOptions,
    handler: F,
) -> (SocketAddr, async_channel::Sender<()>)
where
    F: Fn(ServerSocket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
    let stop = async move {
        let _ = stop_rx.recv().await;
    };
    options.spawn = runtime.spawner();
    runtime.spawn(async move {
        establish_standard_server(listener, options, stop, handler)
            .await
            .unwrap();
    });
    (addr, stop_tx)
}

/// Answers every message with the same message.
pub async fn echo(mut ws: ServerSocket) {
    while let Ok(Some(message)) = ws.recv_message().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// An echo server.
pub async fn echo_server(
    runtime: Runtime,
    options: ServerOptions,
) -> (SocketAddr, async_channel::Sender<()>) {
    serve(runtime, options, echo).await
}

/// One direction of an in-memory pipe.
#[derive(Debug, Default)]
struct Direction {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The writer closed its side (or was dropped): the reader gets end of file.
    writer_closed: bool,
    /// The reader was dropped: writes fail.
    reader_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// One end of an in-memory, bounded, two-way pipe (`futures-io`).
#[derive(Debug)]
pub struct Pipe {
    incoming: Arc<Mutex<Direction>>,
    outgoing: Arc<Mutex<Direction>>,
}

/// Two connected ends; each direction holds at most `capacity` bytes.
pub fn pipe(capacity: usize) -> (Pipe, Pipe) {
    let direction = || {
        Arc::new(Mutex::new(Direction {
            capacity,
            ..Direction::default()
        }))
    };
    let (a, b) = (direction(), direction());
    (
        Pipe {
            incoming: a.clone(),
            outgoing: b.clone(),
        },
        Pipe {
            incoming: b,
            outgoing: a,
        },
    )
}

impl AsyncRead for Pipe {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut d = self.incoming.lock().unwrap();
        if d.bytes.is_empty() {
            if d.writer_closed {
                return Poll::Ready(Ok(0));
            }
            d.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(d.bytes.len());
        for (dst, src) in buf.iter_mut().zip(d.bytes.drain(..n)) {
            *dst = src;
        }
        if let Some(w) = d.writer.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut d = self.outgoing.lock().unwrap();
        if d.reader_gone || d.writer_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = d.capacity - d.bytes.len();
        if room == 0 {
            d.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        d.bytes.extend(&buf[..n]);
        if let Some(w) = d.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut d = self.outgoing.lock().unwrap();
        d.writer_closed = true;
        if let Some(w) = d.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        for (direction, as_writer) in [(&self.outgoing, true), (&self.incoming, false)] {
            let mut d = direction.lock().unwrap_or_else(|e| e.into_inner());
            if as_writer {
                d.writer_closed = true;
            } else {
                d.reader_gone = true;
            }
            let wakers = [d.reader.take(), d.writer.take()];
            drop(d);
            wakers.into_iter().flatten().for_each(Waker::wake);
        }
    }
}
