//! A socket split into a reader and a writer for two tasks.
//!
//! Both halves drive one [`Driver`] behind a mutex that is only held for the length of
//! a non-blocking `poll` call. Two rules keep both halves awake:
//!
//! - The transport keeps one waker per direction, so whichever half registers last
//!   would be the only one woken. Both halves therefore poll the transport with one
//!   shared waker that wakes them both.
//! - A half can finish the other's work (the reader writes the writer's queued bytes
//!   while flushing its pongs), with no readiness event to tell the other. So a half
//!   that moves bytes or feeds input wakes the other. A half that made no progress
//!   wakes no one, so the two never wake each other in a loop.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;

use super::driver::Driver;
use super::socket::{Parts, SINK_HIGH_WATER};
use super::transport::Transport;
use crate::{CloseCode, Connection, Error, Event, Frame, Message, State, UsageError};

#[derive(Debug)]
struct Shared<T: Transport> {
    driver: Driver<T>,
    wakers: Arc<BothHalves>,
    /// A waker that wakes both halves, handed to the transport and the timers.
    both: Waker,
}

/// The wakers of the two halves' tasks.
#[derive(Debug, Default)]
struct BothHalves {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

impl BothHalves {
    fn slot(&self, half: Half) -> &Mutex<Option<Waker>> {
        match half {
            Half::Reader => &self.reader,
            Half::Writer => &self.writer,
        }
    }

    fn wake_half(&self, half: Half) {
        let waker = self
            .slot(half)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Wake for BothHalves {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_half(Half::Reader);
        self.wake_half(Half::Writer);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    Reader,
    Writer,
}

type SharedRef<T> = Arc<Mutex<Shared<T>>>;

/// Runs one poll step of `half` on the shared driver, and keeps the wakers straight.
fn poll_with<T: Transport, R>(
    shared: &SharedRef<T>,
    half: Half,
    cx: &mut Context<'_>,
    step: impl FnOnce(&mut Driver<T>, &mut Context<'_>) -> Poll<R>,
) -> Poll<R> {
    let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let shared = &mut *guard;
    // Registered before polling, so a wake-up during the poll is not lost; a stale
    // entry after a Ready poll costs one spurious wake-up at most.
    *shared
        .wakers
        .slot(half)
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
    let before = shared.driver.progress;
    let mut both = Context::from_waker(&shared.both);
    let result = step(&mut shared.driver, &mut both);
    if shared.driver.progress != before {
        let other = match half {
            Half::Reader => Half::Writer,
            Half::Writer => Half::Reader,
        };
        shared.wakers.wake_half(other);
    }
    result
}

pub(crate) fn split<T: Transport>(driver: Driver<T>, parts: Parts) -> (WsReader<T>, WsWriter<T>) {
    let wakers = Arc::new(BothHalves::default());
    let shared = Arc::new(Mutex::new(Shared {
        driver,
        both: Waker::from(wakers.clone()),
        wakers,
    }));
    (
        WsReader {
            shared: shared.clone(),
            parts,
        },
        WsWriter { shared },
    )
}

/// The receiving half of a split [`WebSocket`](super::WebSocket): events, and the
/// automatic answers to pings and closes.
#[derive(Debug)]
pub struct WsReader<T: Transport> {
    shared: SharedRef<T>,
    parts: Parts,
}

/// The sending half of a split [`WebSocket`](super::WebSocket).
#[derive(Debug)]
pub struct WsWriter<T: Transport> {
    shared: SharedRef<T>,
}

impl<T: Transport> WsReader<T> {
    /// The next event (see [`WebSocket::recv`](super::WebSocket::recv)). Cancel safe.
    pub async fn recv(&mut self) -> Result<Option<Event>, Error> {
        poll_fn(|cx| poll_with(&self.shared, Half::Reader, cx, Driver::poll_recv)).await
    }

    /// The next message, skipping pings and pongs. Cancel safe.
    pub async fn recv_message(&mut self) -> Result<Option<Message>, Error> {
        while let Some(event) = self.recv().await? {
            if let Event::Message(message) = event {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// The opening request, on the server side.
    pub fn http_request(&self) -> Option<&http::Request<()>> {
        self.parts.request.as_ref()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.parts.peer_addr
    }
}

impl<T: Transport> Stream for WsReader<T> {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_with(&self.shared, Half::Reader, cx, Driver::poll_recv).map(Result::transpose)
    }
}

impl<T: Transport> WsWriter<T> {
    /// Runs `command` on the connection, then writes what it queued.
    async fn command(
        &mut self,
        command: impl FnOnce(&mut Connection) -> Result<(), UsageError>,
    ) -> Result<(), Error> {
        {
            let mut guard = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            command(&mut guard.driver.conn)?;
        }
        self.flush().await
    }

    /// Queues a message and writes it.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        self.command(|conn| conn.send(message)).await
    }

    /// Queues several messages and writes them together.
    pub async fn send_multiple<M: Into<Message>>(
        &mut self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<(), Error> {
        self.command(|conn| messages.into_iter().try_for_each(|m| conn.send(m)))
            .await
    }

    /// Queues one frame as it is and writes it.
    pub async fn send_frame(&mut self, frame: Frame) -> Result<(), Error> {
        self.command(|conn| conn.send_frame(frame)).await
    }

    /// Queues several frames as they are and writes them together.
    pub async fn send_frames(
        &mut self,
        frames: impl IntoIterator<Item = Frame>,
    ) -> Result<(), Error> {
        self.command(|conn| frames.into_iter().try_for_each(|f| conn.send_frame(f)))
            .await
    }

    /// Sends a Ping.
    pub async fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.command(|conn| conn.ping(payload)).await
    }

    /// Starts the closing handshake (unless it has started already); the reader sees
    /// the rest of it.
    pub async fn send_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.command(|conn| match conn.state() {
            State::Open => conn.close(code, reason),
            _ => Ok(()),
        })
        .await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| poll_with(&self.shared, Half::Writer, cx, Driver::poll_flush)).await
    }

    /// Closes the transport at once, without a closing handshake.
    pub async fn close_transport(&mut self) -> Result<(), Error> {
        poll_fn(|cx| poll_with(&self.shared, Half::Writer, cx, Driver::poll_shutdown)).await
    }
}

impl<T: Transport, M: Into<Message>> Sink<M> for WsWriter<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_with(&self.shared, Half::Writer, cx, |driver, cx| {
            if driver.conn.buffered_amount() > SINK_HIGH_WATER {
                ready!(driver.poll_flush(cx))?;
            }
            Poll::Ready(Ok(()))
        })
    }

    fn start_send(self: Pin<&mut Self>, message: M) -> Result<(), Error> {
        let mut guard = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(guard.driver.conn.send(message)?)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_with(&self.shared, Half::Writer, cx, Driver::poll_flush)
    }

    /// Sends a normal Close (1000) if none was sent and writes it; the reader sees the
    /// peer's answer and the end.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        poll_with(&self.shared, Half::Writer, cx, |driver, cx| {
            if driver.conn.state() == State::Open {
                driver.conn.close(CloseCode::NORMAL, "")?;
            }
            driver.poll_flush(cx)
        })
    }
}
