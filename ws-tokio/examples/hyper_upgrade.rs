//! A hyper 1.x HTTP server that serves a page at `/` and upgrades `/ws` to an echo
//! WebSocket.
//!
//! ```sh
//! cargo run -p ws-tokio --features hyper --example hyper_upgrade -- [ADDR]   # 127.0.0.1:9002
//! ```

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ws_tokio::upgrade::{UpgradeOptions, is_upgrade_request, upgrade};
use ws_tokio::ws_proto::handshake::{check_origin_with_host, error_response};

async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/ws" || !is_upgrade_request(&request) {
        return Ok(Response::new(Full::new(Bytes::from(
            "connect a WebSocket to /ws\n",
        ))));
    }
    if !check_origin_with_host(&request) {
        return Ok(Response::builder()
            .status(403)
            .body(Full::default())
            .unwrap_or_default());
    }
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
            Ok(response)
        }
        Err(ws_tokio::Error::Request(e)) => {
            let (response, body) = error_response(&e);
            Ok(response.map(|()| Full::new(body)))
        }
        Err(_) => Ok(Response::builder()
            .status(500)
            .body(Full::default())
            .unwrap_or_default()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("http://{}/ (WebSocket at /ws)", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .with_upgrades()
                .await;
        });
    }
}
