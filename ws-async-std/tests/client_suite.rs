//! The adapter-neutral client suite (`ws-testkit`) against this crate's client, on
//! async-std and on smol, each case blocking the thread the suite gives it.

use ws_async_std::{ConnectOptions, Error, connect};
use ws_testkit::client_suite::{ClientSetup, Received};

/// Connects with default options but the timeout, keepalive and close timeout, does
/// the case's action, and receives until the stream ends.
async fn connect_and_receive(setup: ClientSetup) -> Result<Received, Error> {
    let mut options = ConnectOptions {
        timeout: setup.timeout,
        ..ConnectOptions::default()
    };
    options.config.keepalive = setup.keepalive;
    options.config.close_timeout = setup.close_timeout;
    let ws = connect(&setup.url, options).await?;
    ws_testkit::drive::act_and_receive(ws, &setup.action).await
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
