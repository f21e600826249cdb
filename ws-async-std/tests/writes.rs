//! How many system calls the output takes: frames of several messages go out in one
//! write, and large server payloads are written from the application's buffer beside
//! their headers, in one vectored write.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use ws_async_std::ws_proto::{Connection, Role};
use ws_async_std::{Config, Message, Parts, WebSocket};

#[macro_use]
mod support;

use support::Runtime;

on_both_runtimes!(
    send_multiple_writes_many_frames_with_one_call,
    large_payloads_go_out_beside_their_headers_in_one_call,
);

/// A transport that counts the writes it is asked for and keeps what they carry; it
/// takes every slice of a vectored write, as a socket with room would, and never has
/// anything to read.
struct Counted {
    wire: Arc<Mutex<Vec<u8>>>,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.wire.lock().unwrap().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let mut wire = self.wire.lock().unwrap();
        let before = wire.len();
        for b in bufs {
            wire.extend_from_slice(b);
        }
        Poll::Ready(Ok(wire.len() - before))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

type Wire = Arc<Mutex<Vec<u8>>>;

fn server() -> (WebSocket<Counted>, Wire, Arc<AtomicUsize>) {
    let wire = Arc::new(Mutex::new(Vec::new()));
    let writes = Arc::new(AtomicUsize::new(0));
    let io = Counted {
        wire: wire.clone(),
        writes: writes.clone(),
    };
    let conn = Connection::new(Role::Server, Config::default(), Instant::now());
    (
        WebSocket::from_parts(io, conn, &[], Parts::default()),
        wire,
        writes,
    )
}

async fn send_multiple_writes_many_frames_with_one_call(_rt: Runtime) {
    let (mut ws, wire, writes) = server();
    let messages: Vec<Message> = (0..20).map(|i| Message::from(format!("m{i}"))).collect();
    ws.send_multiple(messages).await.unwrap();
    assert_eq!(writes.load(Ordering::Relaxed), 1);
    // Ten frames of 4 bytes ("m0".."m9"), ten of 5.
    let wire = wire.lock().unwrap();
    assert_eq!(wire.len(), 90);
    assert_eq!(&wire[..4], &[0x81, 2, b'm', b'0']);
    assert_eq!(&wire[85..], &[0x81, 3, b'm', b'1', b'9']);
}

async fn large_payloads_go_out_beside_their_headers_in_one_call(_rt: Runtime) {
    let (mut ws, wire, writes) = server();
    let big = vec![9u8; 1 << 20];
    ws.send_multiple([Message::Binary(big.clone().into()), Message::from("after")])
        .await
        .unwrap();
    // Header, the 1 MiB payload (referenced), the next frame: one vectored write.
    assert_eq!(writes.load(Ordering::Relaxed), 1);
    let wire = wire.lock().unwrap();
    assert_eq!(wire.len(), 10 + (1 << 20) + 7);
    assert_eq!(&wire[..2], &[0x82, 127]);
    assert!(wire[10..10 + (1 << 20)].iter().all(|&b| b == 9));
    assert_eq!(
        &wire[10 + (1 << 20)..],
        &[0x81, 5, b'a', b'f', b't', b'e', b'r']
    );
}
