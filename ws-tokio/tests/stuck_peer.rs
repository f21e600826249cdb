//! A peer that stops reading cannot hold a connection (or a thread) forever.

use std::pin::Pin;
use std::time::Duration;

use futures_sink::Sink;
use tokio::io::AsyncWriteExt;
use ws_tokio::ws_proto::{Connection, Role};
use ws_tokio::{CloseReason, Config, Event, Message, Parts, WebSocket};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eof_while_our_writes_are_blocked_ends_within_the_close_timeout() {
    let (ours, mut theirs) = tokio::io::duplex(1024);
    let config = Config {
        close_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let conn = Connection::new(Role::Server, config, tokio::time::Instant::now().into_std());
    let mut ws = WebSocket::from_parts(ours, conn, &[], Parts::default());
    let run = tokio::spawn(async move {
        // A megabyte the peer will never read, queued without waiting for it.
        Pin::new(&mut ws)
            .start_send(Message::from(vec![0u8; 1 << 20]))
            .unwrap();
        let mut events = Vec::new();
        while let Some(event) = ws.recv().await.unwrap() {
            events.push(event);
        }
        events
    });
    // The peer sends one masked message, then closes its sending side, and never reads.
    let mut frame = Vec::new();
    ws_tokio::Frame::text("hi").encode(Some([1, 2, 3, 4]), &mut frame);
    theirs.write_all(&frame).await.unwrap();
    theirs.shutdown().await.unwrap();
    let events = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the socket gave up on the stuck peer")
        .unwrap();
    assert_eq!(
        events,
        [Event::Message("hi".into()), Event::Closed(CloseReason::Eof)]
    );
    drop(theirs);
}
