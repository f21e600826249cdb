//! The upgrade inside an axum router: `/ws` is an echo WebSocket.
//!
//! ```sh
//! cargo run -p ws-tokio --features hyper --example axum_upgrade -- [ADDR]   # 127.0.0.1:9003
//! ```

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::any;
use ws_tokio::upgrade::{UpgradeOptions, upgrade};
use ws_tokio::ws_proto::handshake::error_response;

async fn echo(mut request: Request) -> Response {
    match upgrade(&mut request, UpgradeOptions::default()) {
        Ok((response, socket)) => {
            tokio::spawn(async move {
                let Ok(mut ws) = socket.await else { return };
                while let Ok(Some(message)) = ws.recv_message().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
            response
        }
        Err(ws_tokio::Error::Request(e)) => {
            let (response, body) = error_response(&e);
            response.map(|()| Body::from(body))
        }
        Err(_) => Response::builder()
            .status(500)
            .body(Body::empty())
            .unwrap_or_default(),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("ws://{}/ws", listener.local_addr()?);
    axum::serve(listener, Router::new().route("/ws", any(echo))).await
}
