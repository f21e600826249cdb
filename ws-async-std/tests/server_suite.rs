//! The adapter-neutral server suite (`ws-testkit`) against this crate's server: a
//! standard server echoing every message, on async-std and on smol, each on a thread
//! of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use ws_async_std::async_net::{TcpListener, TcpStream};
use ws_async_std::{Event, MaybeTlsStream, ServerOptions, WebSocket, establish_standard_server};

use ws_testkit::{Handler, Outcomes, RunningServer, ServerSetup, numbered_message};

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
                let (handler, outcomes) = (handler.clone(), outcomes.clone());
                async move {
                    match handler {
                        Handler::Echo => echo(ws, outcomes).await,
                        Handler::Stream(accepted) => stream(ws, accepted).await,
                    }
                }
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

/// Answers every message with the same message, counting the echoes sent, and records
/// how the connection ended.
async fn echo(mut ws: WebSocket<MaybeTlsStream<TcpStream>>, outcomes: Outcomes) {
    while let Ok(Some(event)) = ws.recv().await {
        let sent = match event {
            Event::Message(message) => ws.send(message).await.inspect(|()| outcomes.count_sent()),
            Event::Closed(reason) => {
                outcomes.record(reason);
                Ok(())
            }
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
}

/// Sends numbered messages until a send fails, counting those accepted.
async fn stream(mut ws: WebSocket<MaybeTlsStream<TcpStream>>, accepted: Arc<AtomicUsize>) {
    for n in 0.. {
        if ws.send(numbered_message(n)).await.is_err() {
            break;
        }
        accepted.store(n + 1, Ordering::SeqCst);
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
