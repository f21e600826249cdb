//! The neutral echo server the clients are measured against: raw TCP and a hand-written
//! handshake, none of the libraries under test. It echoes every frame unmasked, payload
//! bytes as they came (the clients send binary messages, so nothing checks them), and
//! never stops reading, whatever the client's window.
//!
//! ```sh
//! neutral [ADDR]
//! ```

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use ws_bench::{FrameSplitter, Piece};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(&addr).await?;
            println!("listening {}", listener.local_addr()?);
            loop {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                tokio::spawn(async move {
                    let _ = echo(stream).await;
                });
            }
        })
}

async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let leftover = ws_bench::raw_server_handshake(&mut stream).await?;
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut splitter = FrameSplitter::default();
    let mut buf = vec![0u8; 256 * 1024];
    // The splitter carries partial headers across reads itself, so each read is
    // split straight from `buf`: one copy of the payload in user space, into `out`.
    let mut n = leftover.len();
    buf.resize(buf.len().max(n), 0);
    buf[..n].copy_from_slice(&leftover);
    loop {
        let mut out = Vec::with_capacity(n + 64);
        splitter.feed(&buf[..n], |piece| match piece {
            Piece::Header(h) => h.unmasked_bytes(&mut out),
            Piece::Payload(bytes) => out.extend_from_slice(bytes),
            Piece::End(_) => {}
        });
        if !out.is_empty() && tx.send(out).is_err() {
            return Ok(());
        }
        n = rd.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
    }
}
