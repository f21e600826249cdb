//! The adapter-neutral client suite (`ws-testkit`) against this crate's client, on
//! async-std and on smol, each case blocking the thread the suite gives it.

use std::sync::atomic::Ordering;

use ws_async_std::{CloseCode, ConnectOptions, Error, Event, connect};
use ws_testkit::client_suite::{ClientAction, ClientSetup, Received};
use ws_testkit::numbered_message;

/// Connects with default options but the timeout, keepalive and close timeout, does
/// the case's action, and receives until the stream ends.
async fn connect_and_receive(setup: ClientSetup) -> Result<Received, Error> {
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
}

fn connect_on_async_std(setup: ClientSetup) -> Result<Received, Error> {
    async_std::task::block_on(connect_and_receive(setup))
}

fn connect_on_smol(setup: ClientSetup) -> Result<Received, Error> {
    smol::block_on(connect_and_receive(setup))
}

mod on_async_std {
    ws_testkit::client_suite!(super::connect_on_async_std);
}

mod on_smol {
    ws_testkit::client_suite!(super::connect_on_smol);
}
