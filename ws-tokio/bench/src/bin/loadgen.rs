//! The neutral load generator: raw TCP, frames built and masked once up front, none of
//! the libraries under test.
//!
//! ```sh
//! loadgen echo ADDR SIZE CONNS WINDOW WARMUP_SECS SECS   # prints messages per second
//! loadgen idle ADDR CONNS                                 # opens CONNS and holds them
//! ```
//!
//! In `echo` mode each connection keeps WINDOW messages in flight: it sends WINDOW
//! frames, then one more for every echo that comes back (written in batches: as many
//! as the last read completed). Reading and writing are separate tasks so a window of
//! large messages cannot deadlock on full socket buffers.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use ws_bench::{FrameSplitter, Piece};

static ECHOED: AtomicU64 = AtomicU64::new(0);

fn main() -> io::Result<()> {
    ws_bench::raise_fd_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            match args.first().map(String::as_str) {
                Some("echo") if args.len() == 7 => {
                    let size = ws_bench::parse_size(&args[2]);
                    let conns: usize = args[3].parse().expect("connections");
                    let window: usize = args[4].parse().expect("window");
                    echo(&args[1], size, conns, window, ws_bench::secs(&args[5]), ws_bench::secs(&args[6])).await
                }
                Some("idle") if args.len() == 3 => idle(&args[1], args[2].parse().expect("connections")).await,
                _ => Err(io::Error::other("usage: loadgen echo ADDR SIZE CONNS WINDOW WARMUP SECS | loadgen idle ADDR CONNS")),
            }
        })
}

async fn open(addr: &str) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    ws_bench::raw_client_handshake(&mut stream, addr).await?;
    ws_bench::connected();
    Ok(stream)
}

async fn echo(
    addr: &str,
    size: usize,
    conns: usize,
    window: usize,
    warmup: Duration,
    secs: Duration,
) -> io::Result<()> {
    let one = ws_bench::frame(size, true);
    let batch: &'static [u8] = one.repeat(window).leak();
    let frame_len = one.len();
    // All connections open before any echoes: opened one by one next to echoing ones,
    // 1 000 handshakes waited behind the echo traffic (10 to 30 s a run against the
    // slower servers).
    for stream in open_all(addr, conns).await? {
        tokio::spawn(async move {
            if let Err(e) = connection(stream, batch, frame_len, window).await {
                eprintln!("loadgen connection: {e}");
                std::process::exit(1);
            }
        });
    }
    ws_bench::report_rate(&ECHOED, conns, warmup, secs).await
}

async fn connection(
    stream: TcpStream,
    batch: &'static [u8],
    frame_len: usize,
    window: usize,
) -> io::Result<()> {
    let (mut rd, mut wr) = stream.into_split();
    let (credit, mut credits) = mpsc::unbounded_channel::<usize>();
    let writer = tokio::spawn(async move {
        let mut owed = window;
        loop {
            wr.write_all(&batch[..owed * frame_len]).await?;
            owed = match credits.recv().await {
                Some(n) => n,
                None => return Ok::<_, io::Error>(()),
            };
            while let Ok(n) = credits.try_recv() {
                owed += n;
            }
        }
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut splitter = FrameSplitter::default();
    loop {
        let n = rd.read(&mut buf).await?;
        if n == 0 {
            writer.abort();
            return Err(io::Error::other("server closed the connection"));
        }
        let mut done = 0;
        splitter.feed(&buf[..n], |piece| {
            if let Piece::End(h) = piece
                && h.ends_message()
            {
                done += 1;
            }
        });
        if done > 0 {
            ECHOED.fetch_add(done as u64, Ordering::Relaxed);
            let _ = credit.send(done);
        }
    }
}

/// Opens `conns` connections, a few hundred handshakes at a time (well inside the
/// listen backlog).
async fn open_all(addr: &str, conns: usize) -> io::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(conns);
    for chunk in (0..conns).collect::<Vec<_>>().chunks(200) {
        let opened = futures_util::future::join_all(chunk.iter().map(|_| open(addr))).await;
        for s in opened {
            streams.push(s?);
        }
    }
    Ok(streams)
}

async fn idle(addr: &str, conns: usize) -> io::Result<()> {
    let streams = open_all(addr, conns).await?;
    println!("ready {}", streams.len());
    // Hold them until killed.
    std::future::pending::<()>().await;
    Ok(())
}
