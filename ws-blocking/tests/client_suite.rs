//! The adapter-neutral client suite (`ws-testkit`) against the blocking client, on the
//! thread the suite gives each case.

use ws_blocking::{ConnectOptions, Error, Event, connect};
use ws_testkit::client_suite::{ClientSetup, Received};

/// Connects with default options but the timeout and keepalive, and receives until
/// the stream ends.
fn connect_and_receive(setup: ClientSetup) -> Result<Received, Error> {
    let mut options = ConnectOptions {
        timeout: setup.timeout,
        ..ConnectOptions::default()
    };
    options.config.keepalive = setup.keepalive;
    let mut ws = connect(&setup.url, options)?;
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
