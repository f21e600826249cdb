//! A peer that stops reading cannot hold a connection (or a thread) forever.

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_lite::AsyncWriteExt;
use futures_sink::Sink;
use ws_async_std::ws_proto::{Connection, Role};
use ws_async_std::{CloseReason, Config, Event, Message, Parts, WebSocket};

#[macro_use]
mod support;

use support::{Runtime, limit, pipe};

on_both_runtimes!(eof_while_our_writes_are_blocked_ends_within_the_close_timeout);

async fn eof_while_our_writes_are_blocked_ends_within_the_close_timeout(rt: Runtime) {
    let (ours, mut theirs) = pipe(1024);
    let config = Config {
        close_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let conn = Connection::new(Role::Server, config, Instant::now());
    let mut ws = WebSocket::from_parts(ours, conn, &[], Parts::default());
    let (events_tx, events_rx) = async_channel::bounded(1);
    rt.spawn(async move {
        // A megabyte the peer will never read, queued without waiting for it.
        Pin::new(&mut ws)
            .start_send(Message::from(vec![0u8; 1 << 20]))
            .unwrap();
        let mut events = Vec::new();
        while let Some(event) = ws.recv().await.unwrap() {
            events.push(event);
        }
        events_tx.send(events).await.unwrap();
    });
    // The peer sends one masked message, then closes its sending side, and never reads.
    let mut frame = Vec::new();
    ws_async_std::Frame::text("hi").encode(Some([1, 2, 3, 4]), &mut frame);
    theirs.write_all(&frame).await.unwrap();
    theirs.close().await.unwrap();
    let events = limit(Duration::from_secs(10), events_rx.recv())
        .await
        .expect("the socket gave up on the stuck peer");
    assert_eq!(
        events,
        [Event::Message("hi".into()), Event::Closed(CloseReason::Eof)]
    );
    drop(theirs);
}
