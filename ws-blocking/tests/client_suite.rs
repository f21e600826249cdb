//! The adapter-neutral client suite (`ws-testkit`) against the blocking client, on the
//! thread the suite gives each case.

use std::sync::atomic::Ordering;
use ws_blocking::{CloseCode, ConnectOptions, Error, Event, connect};

use ws_testkit::client_suite::{ClientAction, ClientSetup, Received};
use ws_testkit::numbered_message;

/// Connects with default options but the timeout, keepalive and close timeout, does
/// the case's action, and receives until the stream ends.
fn connect_and_receive(setup: ClientSetup) -> Result<Received, Error> {
    let mut options = ConnectOptions {
        timeout: setup.timeout,
        ..ConnectOptions::default()
    };
    options.config.keepalive = setup.keepalive;
    options.config.close_timeout = setup.close_timeout;
    let mut ws = connect(&setup.url, options)?;
    match &setup.action {
        ClientAction::Receive => {}
        ClientAction::Close => ws.send_close(CloseCode::NORMAL, "done")?,
        ClientAction::Stream(accepted) => {
            for n in 0.. {
                if ws.send(numbered_message(n)).is_err() {
                    break;
                }
                accepted.store(n + 1, Ordering::SeqCst);
            }
        }
    }
    let mut received = Received::default();
    while let Some(event) = ws.recv()? {
        match event {
            Event::Message(message) => received.messages.push(message),
            Event::Closed(reason) => received.closed = Some(reason),
            _ => {}
        }
    }
    Ok(received)
}

ws_testkit::client_suite!(connect_and_receive);
