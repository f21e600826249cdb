//! What the async adapters' suites run on their sockets, written once: `ws-tokio` and
//! `ws-async-std` both hand out a [`ws_proto::drive::WebSocket`], so the server
//! handlers and the client's part of a [`client_suite`](mod@crate::client_suite) case are
//! the same code on either runtime. (`ws-blocking` has its own, over its blocking
//! socket.)

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use ws_proto::drive::{Transport, WebSocket};
use ws_proto::{CloseCode, Error, Event};

use crate::client_suite::{ClientAction, Received};
use crate::{Handler, Outcomes, numbered_message};

/// Runs the setup's [`Handler`] on a server connection.
pub async fn handle<T: Transport>(ws: WebSocket<T>, handler: Handler, outcomes: Outcomes) {
    match handler {
        Handler::Echo => echo(ws, &outcomes).await,
        Handler::Stream(accepted) => stream(ws, &accepted).await,
    }
}

/// Answers every message with the same message, counting the echoes sent, and records
/// how the connection ended.
async fn echo<T: Transport>(mut ws: WebSocket<T>, outcomes: &Outcomes) {
    while let Ok(Some(event)) = ws.recv().await {
        if let Some(message) = outcomes.echo_of(event) {
            if ws.send(message).await.is_err() {
                break;
            }
            outcomes.count_sent();
        }
    }
}

/// Sends numbered messages until a send fails, counting those accepted.
async fn stream<T: Transport>(mut ws: WebSocket<T>, accepted: &Arc<AtomicUsize>) {
    for n in 0.. {
        if ws.send(numbered_message(n)).await.is_err() {
            break;
        }
        accepted.store(n + 1, Ordering::SeqCst);
    }
}

/// The client's part of a case once connected: does `action`, then receives until the
/// stream ends, as [`client_suite`](mod@crate::client_suite) asks.
pub async fn act_and_receive<T: Transport>(
    mut ws: WebSocket<T>,
    action: &ClientAction,
) -> Result<Received, Error> {
    match action {
        ClientAction::Receive => {}
        ClientAction::Close => ws.send_close(CloseCode::NORMAL, "done").await?,
        ClientAction::Stream(accepted) => {
            for n in 0.. {
                if ws.send(numbered_message(n)).await.is_err() {
                    break;
                }
                accepted.store(n + 1, Ordering::SeqCst);
            }
        }
    }
    let mut received = Received::default();
    while let Some(event) = ws.recv().await? {
        match event {
            Event::Message(message) => received.messages.push(message),
            Event::Closed(reason) => received.closed = Some(reason),
            _ => {}
        }
    }
    Ok(received)
}

/// A future that counts how many times it was polled: how a test sees a task that
/// keeps running (busy polling) from one that waits.
#[derive(Debug)]
pub struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> CountPolls<F> {
    /// Wraps `inner`; the count is the returned counter's.
    pub fn new(inner: F) -> (Self, Arc<AtomicUsize>) {
        let polls = Arc::new(AtomicUsize::new(0));
        let this = Self {
            inner: Box::pin(inner),
            polls: polls.clone(),
        };
        (this, polls)
    }
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}
