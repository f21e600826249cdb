//! The adapter-neutral server suite (`ws-testkit`) against the tokio server: a
//! standard server echoing every message, on a runtime of its own thread.

use ws_testkit::{RunningServer, ServerSetup};
use ws_tokio::{ServerOptions, establish_standard_server};

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
                ws_testkit::drive::handle(ws, handler.clone(), outcomes.clone())
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

ws_testkit::server_suite!(start);
