//! An echo server on one of the implementations under test, on a current-thread tokio
//! runtime (the matrix pins it to one core):
//!
//! ```sh
//! server <ours|ours-send|tungstenite|fastwebsockets|tokio-websockets|ours-blocking|tungstenite-blocking> [ADDR]
//! ```
//!
//! Prints `listening ADDR` once bound. Every server echoes each data message with its
//! type. The peers write each answer out before reading the next message, the loop
//! each library's own echo example uses; `ours` queues its answers and lets `recv`
//! write them together when the input runs out (our `echo_server` example's loop),
//! and `ours-send` writes each one like the peers. The `-blocking` servers run a thread
//! per connection.

use std::io;

use tokio::net::TcpListener;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ours".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    if ws_bench::servers::is_blocking(&which) {
        let listener = std::net::TcpListener::bind(&addr)?;
        println!("listening {}", listener.local_addr()?);
        return ws_bench::servers::run_blocking(&which, listener);
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(&addr).await?;
            println!("listening {}", listener.local_addr()?);
            ws_bench::servers::run(&which, listener).await
        })
}
