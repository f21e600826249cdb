//! How many system calls the output takes: frames of several messages go out in one
//! write, and large server payloads are written from the application's buffer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream, ReadBuf};
use ws_tokio::ws_proto::{Connection, Role};
use ws_tokio::{Config, Frame, Message, OpCode, Parts, WebSocket};

/// A transport that counts the writes it is asked for.
struct Counted {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        // Takes every slice, as a socket with room would.
        let mut total = 0;
        for b in bufs {
            match Pin::new(&mut self.inner).poll_write(cx, b) {
                Poll::Ready(Ok(n)) => {
                    total += n;
                    if n < b.len() {
                        break;
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if total > 0 => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn server() -> (WebSocket<Counted>, DuplexStream, Arc<AtomicUsize>) {
    let (ours, theirs) = tokio::io::duplex(16 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let io = Counted {
        inner: ours,
        writes: writes.clone(),
    };
    let conn = Connection::new(
        Role::Server,
        Config::default(),
        tokio::time::Instant::now().into_std(),
    );
    (
        WebSocket::from_parts(io, conn, &[], Parts::default()),
        theirs,
        writes,
    )
}

#[tokio::test]
async fn send_multiple_writes_many_frames_with_one_call() {
    let (mut ws, mut theirs, writes) = server();
    let messages: Vec<Message> = (0..20).map(|i| Message::from(format!("m{i}"))).collect();
    ws.send_multiple(messages).await.unwrap();
    assert_eq!(writes.load(Ordering::Relaxed), 1);
    // Ten frames of 4 bytes ("m0".."m9"), ten of 5.
    let mut wire = vec![0u8; 90];
    theirs.read_exact(&mut wire).await.unwrap();
    assert_eq!(&wire[..4], &[0x81, 2, b'm', b'0']);
    assert_eq!(&wire[85..], &[0x81, 3, b'm', b'1', b'9']);
}

#[tokio::test]
async fn send_frames_writes_raw_frames_with_one_call() {
    let (mut ws, mut theirs, writes) = server();
    ws.send_frames([
        Frame::new(OpCode::Text, "ab").with_fin(false),
        Frame::new(OpCode::Continuation, "cd"),
        Frame::new(OpCode::Ping, "p"),
    ])
    .await
    .unwrap();
    assert_eq!(writes.load(Ordering::Relaxed), 1);
    // Control frames go ahead of queued data frames: the Ping, then the fragments.
    let mut wire = vec![0u8; 11];
    theirs.read_exact(&mut wire).await.unwrap();
    assert_eq!(
        wire,
        [0x89, 1, b'p', 0x01, 2, b'a', b'b', 0x80, 2, b'c', b'd']
    );
}

#[tokio::test]
async fn large_payloads_go_out_beside_their_headers_in_one_call() {
    let (mut ws, mut theirs, writes) = server();
    let big = vec![9u8; 1 << 20];
    ws.send_multiple([Message::Binary(big.clone().into()), Message::from("after")])
        .await
        .unwrap();
    // Header, the 1 MiB payload (referenced), the next frame: one vectored write.
    assert_eq!(writes.load(Ordering::Relaxed), 1);
    let mut wire = vec![0u8; 10 + (1 << 20) + 7];
    theirs.read_exact(&mut wire).await.unwrap();
    assert_eq!(&wire[..2], &[0x82, 127]);
    assert!(wire[10..10 + (1 << 20)].iter().all(|&b| b == 9));
    assert_eq!(
        &wire[10 + (1 << 20)..],
        &[0x81, 5, b'a', b'f', b't', b'e', b'r']
    );
}
