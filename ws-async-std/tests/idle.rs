//! A busy connection keeps its buffers (no allocation per message); one that has moved
//! no bytes for two to four seconds gives their memory back, and still works afterwards.
//!
//! Real time: the release is due two to four seconds after the last read (a read that
//! took no clock reading counts as traffic when the idle check first fires, two
//! seconds after the connection began), and the check comes a second later, so the
//! margin is a whole second either way.

use std::time::{Duration, Instant};

use futures_lite::AsyncWriteExt;
use ws_async_std::ws_proto::{Connection, Role};
use ws_async_std::{Config, Frame, Parts, WebSocket};

#[macro_use]
mod support;

use support::{Runtime, limit, pipe, timeout};

on_both_runtimes!(an_idle_connection_gives_its_buffers_back);

async fn an_idle_connection_gives_its_buffers_back(_rt: Runtime) {
    limit(Duration::from_secs(20), async {
        let (ours, mut theirs) = pipe(1 << 20);
        let conn = Connection::new(Role::Server, Config::default(), Instant::now());
        let mut ws = WebSocket::from_parts(ours, conn, &[], Parts::default());
        let mut frame = Vec::new();
        Frame::binary(vec![7u8; 1000]).encode(Some([1, 2, 3, 4]), &mut frame);
        // Two messages: the second is read into the connection's own buffer, allocated
        // for the first.
        for _ in 0..2 {
            theirs.write_all(&frame).await.unwrap();
            let got = ws.recv_message().await.unwrap().unwrap();
            assert_eq!(got.as_bytes().len(), 1000);
        }
        assert!(ws.connection().buffer_capacity() > 0);
        // Nothing moves for five seconds.
        assert!(timeout(Duration::from_secs(5), ws.recv()).await.is_none());
        assert_eq!(ws.connection().buffer_capacity(), 0);
        // And the next message still arrives.
        theirs.write_all(&frame).await.unwrap();
        let got = ws.recv_message().await.unwrap().unwrap();
        assert_eq!(got.as_bytes().len(), 1000);
    })
    .await;
}
