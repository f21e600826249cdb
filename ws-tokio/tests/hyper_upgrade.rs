//! Upgrading inside a hyper 1.x server, with our client on the other end.
#![cfg(feature = "hyper")]

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use ws_tokio::upgrade::{UpgradeOptions, is_upgrade_request, upgrade};
use ws_tokio::ws_proto::handshake::ClientOptions;
use ws_tokio::{CloseCode, ConnectOptions, Error, Message, connect};

async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if !is_upgrade_request(&request) {
        return Ok(Response::new(Full::new(Bytes::from("plain HTTP"))));
    }
    let options = UpgradeOptions {
        subprotocol: Some("echo.v1".into()),
        ..UpgradeOptions::default()
    };
    match upgrade(&mut request, options) {
        Ok((response, socket)) => {
            tokio::spawn(async move {
                let mut ws = socket.await.unwrap();
                let path = ws.http_request().unwrap().uri().path().to_owned();
                ws.send(format!("hello {path}")).await.unwrap();
                while let Ok(Some(message)) = ws.recv_message().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
            Ok(response)
        }
        Err(Error::Request(e)) => {
            let (response, body) = ws_proto::handshake::error_response(&e);
            Ok(response.map(|()| Full::new(body)))
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn upgrade_inside_hyper() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(handle))
                        .with_upgrades(),
                );
            }
        });
        let options = ConnectOptions {
            handshake: ClientOptions {
                subprotocols: vec!["other".into(), "echo.v1".into()],
                ..ClientOptions::default()
            },
            ..ConnectOptions::default()
        };
        let mut ws = connect(&format!("ws://{addr}/live"), options)
            .await
            .unwrap();
        assert_eq!(ws.subprotocol(), Some("echo.v1"));
        assert_eq!(
            ws.recv_message().await.unwrap(),
            Some(Message::from("hello /live"))
        );
        ws.send(vec![1u8, 2, 3]).await.unwrap();
        assert_eq!(
            ws.recv_message().await.unwrap(),
            Some(Message::from(vec![1u8, 2, 3]))
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        // A request hyper parsed but that is not a valid upgrade gets its status.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tcp.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
        let mut answer = vec![0u8; 1024];
        let n = tcp.read(&mut answer).await.unwrap();
        assert!(
            answer[..n].starts_with(b"HTTP/1.1 400 "),
            "{}",
            String::from_utf8_lossy(&answer[..n])
        );
    })
    .await
    .unwrap();
}
