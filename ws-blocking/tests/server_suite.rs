//! The adapter-neutral server suite (`ws-testkit`) against the blocking server: a
//! standard server echoing every message, a thread per connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use ws_blocking::{
    MaybeTlsStream, ServerOptions, StopHandle, WebSocket, establish_standard_server,
};

use ws_testkit::{Handler, Outcomes, RunningServer, ServerSetup, numbered_message};

/// Starts an echo server for one case on a thread of its own; `stop` stops it through
/// its stop handle.
fn start(setup: ServerSetup) -> RunningServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = StopHandle::new();
    let mut options = ServerOptions {
        handshake_timeout: setup.handshake_timeout,
        ..ServerOptions::default()
    };
    options.config.close_timeout = setup.close_timeout;
    options.config.keepalive = setup.keepalive;
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (handler, outcomes) = (setup.handler, setup.outcomes);
            establish_standard_server(listener, options, stop, move |ws| match &handler {
                Handler::Echo => echo(ws, &outcomes),
                Handler::Stream(accepted) => stream(ws, accepted),
            })
            .unwrap();
        });
    }
    RunningServer {
        addr,
        // `stop` only wakes the accept loop and returns.
        stop: Box::new(move || stop.stop()),
    }
}

/// Answers every message with the same message, counting the echoes sent, and records
/// how the connection ended.
fn echo(mut ws: WebSocket<MaybeTlsStream>, outcomes: &Outcomes) {
    while let Ok(Some(event)) = ws.recv() {
        if let Some(message) = outcomes.echo_of(event) {
            if ws.send(message).is_err() {
                break;
            }
            outcomes.count_sent();
        }
    }
}

/// Sends numbered messages until a send fails, counting those accepted.
fn stream(mut ws: WebSocket<MaybeTlsStream>, accepted: &AtomicUsize) {
    for n in 0.. {
        if ws.send(numbered_message(n)).is_err() {
            break;
        }
        accepted.store(n + 1, Ordering::SeqCst);
    }
}

ws_testkit::server_suite!(start);
