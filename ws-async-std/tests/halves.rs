//! Split halves used from two tasks at once, and the Stream / Sink faces of a socket,
//! on async-std and on smol.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ws_async_std::{
    CloseCode, CloseReason, ConnectOptions, Event, Message, ServerOptions, connect,
};

#[macro_use]
mod support;

use support::{Runtime, echo_server, limit, serve};

const LIMIT: Duration = Duration::from_secs(30);

on_both_runtimes!(
    a_writer_task_and_a_reader_task_at_once,
    the_reader_alone_answers_pings,
    sink_and_stream,
);

async fn a_writer_task_and_a_reader_task_at_once(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
        let ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        let (mut reader, mut writer) = ws.split();
        // 16 MiB in all: far more than the socket buffers hold, so without a reader
        // running at the same time both sides would block on full buffers.
        let count = 256;
        let (done_tx, done_rx) = async_channel::bounded(1);
        rt.spawn(async move {
            for i in 0..count {
                writer.send(vec![i as u8; 64 * 1024]).await.unwrap();
            }
            writer
                .send_close(CloseCode::NORMAL, "all sent")
                .await
                .unwrap();
            done_tx.send(()).await.unwrap();
        });
        let mut received = 0;
        while let Some(event) = reader.recv().await.unwrap() {
            match event {
                Event::Message(Message::Binary(data)) => {
                    assert_eq!(data.len(), 64 * 1024);
                    assert!(data.iter().all(|&b| b == received as u8));
                    received += 1;
                }
                Event::Closed(reason) => {
                    assert!(matches!(
                        reason,
                        CloseReason::Handshake {
                            initiated_locally: true,
                            ..
                        }
                    ));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(received, count);
        done_rx.recv().await.expect("the writer task finished");
    })
    .await;
}

async fn the_reader_alone_answers_pings(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = serve(rt, ServerOptions::default(), |mut ws| async move {
            ws.ping(&b"are you there"[..]).await.unwrap();
            while let Ok(Some(event)) = ws.recv().await {
                if let Event::Pong(payload) = event {
                    let text = format!("pong: {}", String::from_utf8_lossy(&payload));
                    ws.send(text).await.unwrap();
                }
            }
        })
        .await;
        let ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        let (mut reader, _writer) = ws.split();
        assert_eq!(
            reader.recv().await.unwrap(),
            Some(Event::Ping(bytes::Bytes::from_static(b"are you there")))
        );
        assert_eq!(
            reader.recv_message().await.unwrap(),
            Some(Message::from("pong: are you there"))
        );
    })
    .await;
}

async fn sink_and_stream(rt: Runtime) {
    limit(LIMIT, async {
        let (addr, _stop) = echo_server(rt, ServerOptions::default()).await;
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        for text in ["a", "b", "c"] {
            ws.feed(Message::from(text)).await.unwrap();
        }
        SinkExt::<Message>::flush(&mut ws).await.unwrap();
        let echoed: Vec<Event> = (&mut ws).take(3).map(Result::unwrap).collect().await;
        assert_eq!(echoed, ["a", "b", "c"].map(|t| Event::Message(t.into())));
        // Closing the sink runs the whole closing handshake; the stream then ends.
        SinkExt::<Message>::close(&mut ws).await.unwrap();
        assert!(ws.next().await.is_none());

        // The halves too.
        let ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        let (reader, mut writer) = ws.split();
        writer
            .send_all(&mut futures_util::stream::iter(
                ["x", "y"].map(|t| Ok(Message::from(t))),
            ))
            .await
            .unwrap();
        SinkExt::<Message>::close(&mut writer).await.unwrap();
        let events: Vec<Event> = reader.map(Result::unwrap).collect().await;
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[..2], ["x", "y"].map(|t| Event::Message(t.into())));
        assert!(matches!(events[2], Event::Closed(_)));
    })
    .await;
}
