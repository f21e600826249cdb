//! The adapter-neutral server suite (`ws-testkit`) against the tokio server: a
//! standard server echoing every message, on a runtime of its own thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ws_testkit::{Handler, Outcomes, RunningServer, ServerSetup, numbered_message};
use ws_tokio::{Event, MaybeTlsStream, ServerOptions, WebSocket, establish_standard_server};

/// Starts an echo server for one case. The listener is bound here, before returning,
/// so the address accepts connections at once; the server runs until `stop` fires the
/// oneshot its stop future waits for.
fn start(setup: ServerSetup) -> RunningServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let mut options = ServerOptions {
                handshake_timeout: setup.handshake_timeout,
                ..ServerOptions::default()
            };
            options.config.close_timeout = setup.close_timeout;
            options.config.keepalive = setup.keepalive;
            let stop = async {
                let _ = stop_rx.await;
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
        });
    });
    RunningServer {
        addr,
        stop: Box::new(move || {
            let _ = stop_tx.send(());
        }),
    }
}

/// Answers every message with the same message, counting the echoes sent, and records
/// how the connection ended.
async fn echo(mut ws: WebSocket<MaybeTlsStream<tokio::net::TcpStream>>, outcomes: Outcomes) {
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
async fn stream(
    mut ws: WebSocket<MaybeTlsStream<tokio::net::TcpStream>>,
    accepted: Arc<AtomicUsize>,
) {
    for n in 0.. {
        if ws.send(numbered_message(n)).await.is_err() {
            break;
        }
        accepted.store(n + 1, Ordering::SeqCst);
    }
}

ws_testkit::server_suite!(start);
