//! `accept_parsed`: a request that another HTTP server read and parsed is upgraded.

use std::sync::Arc;

use ws_blocking::{UpgradeOptions, accept_parsed};

#[test]
fn a_request_another_server_parsed_is_upgraded_or_refused() {
    ws_testkit::foreign::upgrade_after_another_server_parsed(Arc::new(
        |stream, request, leftover| {
            let Ok(mut ws) =
                accept_parsed(stream, &request, &leftover, None, UpgradeOptions::default())
            else {
                return;
            };
            while let Ok(Some(message)) = ws.recv_message() {
                if ws.send(message).is_err() {
                    break;
                }
            }
        },
    ));
}
