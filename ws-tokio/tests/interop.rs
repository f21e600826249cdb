//! Interop with tokio-tungstenite, both ways: their client against our server, our
//! client against their server.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use ws_tokio::{
    CloseCode, CloseFrame, CloseReason, ConnectOptions, Event, Message, ServerOptions, connect,
};

mod support;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn their_client_against_our_server() {
    tokio::time::timeout(LIMIT, async {
        let (addr, _stop) = support::echo_server(ServerOptions::default()).await;
        let (mut theirs, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        let big = vec![7u8; 1 << 20];
        for message in [
            TMessage::text("hello"),
            TMessage::binary(big.clone()),
            TMessage::text(""),
        ] {
            theirs.send(message.clone()).await.unwrap();
            assert_eq!(theirs.next().await.unwrap().unwrap(), message);
        }
        theirs
            .send(TMessage::Ping(b"p".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            theirs.next().await.unwrap().unwrap(),
            TMessage::Pong(b"p".to_vec().into())
        );
        theirs
            .close(Some(TCloseFrame {
                code: TCloseCode::Away,
                reason: "bye".into(),
            }))
            .await
            .unwrap();
        // Our server answered the Close with the same code.
        let last = theirs.next().await.unwrap().unwrap();
        let TMessage::Close(Some(frame)) = last else {
            panic!("{last:?}");
        };
        assert_eq!(frame.code, TCloseCode::Away);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn our_client_against_their_server() {
    tokio::time::timeout(LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut theirs = tokio_tungstenite::accept_async(tcp).await.unwrap();
            while let Some(Ok(message)) = theirs.next().await {
                if message.is_text() || message.is_binary() {
                    theirs.send(message).await.unwrap();
                }
            }
        });
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        let texts = ["κόσμε", "", "plain"];
        ws.send_multiple(texts).await.unwrap();
        for text in texts {
            assert_eq!(ws.recv_message().await.unwrap(), Some(Message::from(text)));
        }
        let big = Message::Binary(vec![3u8; 5 << 20].into());
        ws.send(big.clone()).await.unwrap();
        assert_eq!(ws.recv_message().await.unwrap(), Some(big));
        ws.send_close(CloseCode::NORMAL, "done").await.unwrap();
        let mut last = None;
        while let Some(event) = ws.recv().await.unwrap() {
            last = Some(event);
        }
        assert_eq!(
            last,
            Some(Event::Closed(CloseReason::Handshake {
                peer: Some(CloseFrame::new(CloseCode::NORMAL, "done")),
                initiated_locally: true,
            }))
        );
    })
    .await
    .unwrap();
}
