//! Busy polling on async-io (smol's executor on the client's thread), through the
//! public API: a connection whose input ran dry keeps polling for its budget, a round
//! at a time (its reads try the socket first), so its thread still runs its other
//! tasks and its input is still seen.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ws_async_std::{ConnectOptions, Message, ServerOptions, connect};
use ws_testkit::drive::CountPolls;

// Its runtime pair is for tests that run on both; this one needs smol's local
// executor on the test's own thread.
#[allow(unused_macros)]
mod support;

use support::{Runtime, limit};

const LIMIT: Duration = Duration::from_secs(20);

/// An echo server whose connections run on smol's executor threads, so that the
/// client has its thread to itself (a connection polls only then).
fn echo_server() -> SocketAddr {
    smol::block_on(async {
        let (addr, stop) = support::echo_server(Runtime::Smol, ServerOptions::default()).await;
        // The server lives as long as the test process.
        std::mem::forget(stop);
        addr
    })
}

/// How many times the client's reader, busy polling for `budget`, was polled during
/// 50 ms without input, on a local executor whose other task waited on a timer
/// through them; the reader then still gets the next echo.
fn reader_polls_while_input_is_dry(budget: Duration) -> usize {
    let addr = echo_server();
    let local = smol::LocalExecutor::new();
    smol::block_on(local.run(limit(LIMIT, async {
        let mut ws = connect(&format!("ws://{addr}/"), ConnectOptions::default())
            .await
            .unwrap();
        ws.set_busy_poll(budget);
        let (mut reader, mut writer) = ws.split();
        writer.send(Message::from("first")).await.unwrap();
        assert_eq!(
            reader.recv_message().await.unwrap(),
            Some(Message::from("first"))
        );
        let (next, polls) = CountPolls::new(async move { reader.recv_message().await });
        let next = local.spawn(next);
        async_io::Timer::after(Duration::from_millis(50)).await;
        let during = polls.load(Ordering::Relaxed);
        writer.send(Message::from("second")).await.unwrap();
        assert_eq!(next.await.unwrap(), Some(Message::from("second")));
        during
    })))
}

#[test]
fn a_busy_polling_reader_polls_round_after_round_and_its_thread_still_serves_others() {
    let busy = reader_polls_while_input_is_dry(Duration::from_secs(10));
    assert!(busy > 20, "{busy} polls while busy polling");
    let waiting = reader_polls_while_input_is_dry(Duration::ZERO);
    assert!(waiting < 5, "{waiting} polls with busy polling off");
}
