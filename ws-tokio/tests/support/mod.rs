//! Servers for the tests: a standard server on a free loopback port.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use ws_tokio::{MaybeTlsStream, ServerOptions, WebSocket, establish_standard_server};

/// The socket a test server's handler gets.
pub type ServerSocket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Starts a standard server running `handler` for every connection; returns its
/// address and the trigger that stops it (dropping the trigger stops it too).
pub async fn serve<F, Fut>(options: ServerOptions, handler: F) -> (SocketAddr, oneshot::Sender<()>)
where
    F: Fn(ServerSocket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stop = async {
        let _ = stop_rx.await;
    };
    tokio::spawn(establish_standard_server(listener, options, stop, handler));
    (addr, stop_tx)
}

/// Answers every message with the same message.
pub async fn echo(mut ws: ServerSocket) {
    while let Ok(Some(message)) = ws.recv_message().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// An echo server.
pub async fn echo_server(options: ServerOptions) -> (SocketAddr, oneshot::Sender<()>) {
    serve(options, echo).await
}
