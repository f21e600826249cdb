//! An echo server on one of the implementations under test, on a current-thread tokio
//! runtime unless the implementation needs another (the matrix pins it to one core):
//!
//! ```sh
//! server <ours|ours-send|ours-busy|ours-async-std|ours-smol|tungstenite|fastwebsockets|tokio-websockets|ours-blocking|tungstenite-blocking> [ADDR]
//! ```
//!
//! Prints `listening ADDR` once bound. Every server echoes each data message with its
//! type. The peers write each answer out before reading the next message, the loop
//! each library's own echo example uses; `ours` queues its answers and lets `recv`
//! write them together when the input runs out (our `echo_server` example's loop),
//! and `ours-send` writes each one like the peers; `ours-busy` is `ours` with busy
//! polling (`WS_BUSY_POLL` microseconds, 50 by default); `ours-smol` is the
//! `ours-async-std` loop on one smol executor run by the server's thread (not in
//! `matrix`'s default list). The `-blocking` servers run a thread per connection.

use std::io;

fn main() -> io::Result<()> {
    ws_bench::raise_fd_limit();
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ours".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    ws_bench::servers::serve_forever(&which, &addr, |addr| println!("listening {addr}"))
}
