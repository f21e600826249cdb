//! The adapter-neutral server suite (`ws-testkit`) against the blocking server: a
//! standard server echoing every message, a thread per connection.

use ws_blocking::{
    MaybeTlsStream, ServerOptions, StopHandle, WebSocket, establish_standard_server,
};
use ws_testkit::{RunningServer, ServerSetup};

/// Starts an echo server for one case on a thread of its own; `stop` stops it through
/// its stop handle.
fn start(setup: ServerSetup) -> RunningServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = StopHandle::new();
    let options = ServerOptions {
        handshake_timeout: setup.handshake_timeout,
        ..ServerOptions::default()
    };
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            establish_standard_server(listener, options, stop, echo).unwrap();
        });
    }
    RunningServer {
        addr,
        // `stop` only wakes the accept loop and returns.
        stop: Box::new(move || stop.stop()),
    }
}

/// Answers every message with the same message.
fn echo(mut ws: WebSocket<MaybeTlsStream>) {
    while let Ok(Some(message)) = ws.recv_message() {
        if ws.send(message).is_err() {
            break;
        }
    }
}

ws_testkit::server_suite!(start);
