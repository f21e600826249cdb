//! `accept_parsed`: a request that another HTTP server read and parsed is upgraded.

use std::sync::Arc;

use ws_tokio::{UpgradeOptions, accept_parsed};

#[test]
fn a_request_another_server_parsed_is_upgraded_or_refused() {
    ws_testkit::foreign::upgrade_after_another_server_parsed(Arc::new(
        |stream, request, leftover| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                stream.set_nonblocking(true).unwrap();
                let stream = tokio::net::TcpStream::from_std(stream).unwrap();
                let options = UpgradeOptions::default();
                let Ok(mut ws) = accept_parsed(stream, &request, &leftover, None, options).await
                else {
                    return;
                };
                while let Ok(Some(message)) = ws.recv_message().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        },
    ));
}
