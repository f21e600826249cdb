//! The adapter-neutral server suite (`ws-testkit`) against this crate's server: a
//! standard server echoing every message, on async-std and on smol, each on a thread
//! of its own.

use std::sync::Arc;
use ws_async_std::async_net::TcpListener;
use ws_async_std::{ServerOptions, establish_standard_server};

use ws_testkit::{RunningServer, ServerSetup};

#[derive(Debug, Clone, Copy)]
enum Runtime {
    AsyncStd,
    Smol,
}

/// Starts an echo server for one case. The listener is bound here, before returning,
/// so the address accepts connections at once; the server runs until `stop` closes the
/// channel its stop future waits on.
fn start(setup: ServerSetup, runtime: Runtime) -> RunningServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        let serve = async move {
            let listener = TcpListener::try_from(listener).unwrap();
            let mut options = ServerOptions {
                handshake_timeout: setup.handshake_timeout,
                ..ServerOptions::default()
            };
            options.config.close_timeout = setup.close_timeout;
            options.config.keepalive = setup.keepalive;
            if let Runtime::Smol = runtime {
                options.spawn = Arc::new(|task| smol::spawn(task).detach());
            }
            let stop = async move {
                let _ = stop_rx.recv().await;
            };
            let (handler, outcomes) = (setup.handler, setup.outcomes);
            establish_standard_server(listener, options, stop, move |ws| {
                ws_testkit::drive::handle(ws, handler.clone(), outcomes.clone())
            })
            .await
            .unwrap();
        };
        match runtime {
            Runtime::AsyncStd => async_std::task::block_on(serve),
            Runtime::Smol => smol::block_on(serve),
        }
    });
    RunningServer {
        addr,
        stop: Box::new(move || {
            stop_tx.close();
        }),
    }
}

fn start_on_async_std(setup: ServerSetup) -> RunningServer {
    start(setup, Runtime::AsyncStd)
}

fn start_on_smol(setup: ServerSetup) -> RunningServer {
    start(setup, Runtime::Smol)
}

mod on_async_std {
    ws_testkit::server_suite!(super::start_on_async_std);
}

mod on_smol {
    ws_testkit::server_suite!(super::start_on_smol);
}
