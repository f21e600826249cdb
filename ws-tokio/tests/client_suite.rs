//! The adapter-neutral client suite (`ws-testkit`) against the tokio client: each case
//! connects from a runtime of its own, on the thread the suite gives it.

use ws_testkit::client_suite::{ClientSetup, Received};
use ws_tokio::{ConnectOptions, Error, connect};

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
        let ws = connect(&setup.url, options).await?;
        ws_testkit::drive::act_and_receive(ws, &setup.action).await
    })
}

ws_testkit::client_suite!(connect_and_receive);
