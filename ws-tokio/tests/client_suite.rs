//! The adapter-neutral client suite (`ws-testkit`) against the tokio client: each case
//! connects from a runtime of its own, on the thread the suite gives it.

use std::sync::atomic::Ordering;

use ws_testkit::client_suite::{ClientAction, ClientSetup, Received};
use ws_testkit::numbered_message;
use ws_tokio::{CloseCode, ConnectOptions, Error, Event, connect};

/// Connects with default options but the timeout, keepalive and close timeout, does
/// the case's action, and receives until the stream ends.
fn connect_and_receive(setup: ClientSetup) -> Result<Received, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut options = ConnectOptions {
            timeout: setup.timeout,
            ..ConnectOptions::default()
        };
        options.config.keepalive = setup.keepalive;
        options.config.close_timeout = setup.close_timeout;
        let mut ws = connect(&setup.url, options).await?;
        match &setup.action {
            ClientAction::Receive => {}
            ClientAction::Close => ws.send_close(CloseCode::NORMAL, "done").await?,
            ClientAction::Stream(accepted) => {
                for n in 0.. {
                    if ws.send(numbered_message(n)).await.is_err() {
                        break;
                    }
                    accepted.store(n + 1, Ordering::SeqCst);
                }
            }
        }
        let mut received = Received::default();
        while let Some(event) = ws.recv().await? {
            match event {
                Event::Message(message) => received.messages.push(message),
                Event::Closed(reason) => received.closed = Some(reason),
                _ => {}
            }
        }
        Ok(received)
    })
}

ws_testkit::client_suite!(connect_and_receive);
