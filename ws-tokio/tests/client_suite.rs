//! The adapter-neutral client suite (`ws-testkit`) against the tokio client: each case
//! connects from a runtime of its own, on the thread the suite gives it.

use ws_testkit::client_suite::{ClientSetup, Received};
use ws_tokio::{ConnectOptions, Error, Event, connect};

/// Connects with default options but the timeout and keepalive, and receives until
/// the stream ends.
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
        let mut ws = connect(&setup.url, options).await?;
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
