//! Busy polling on tokio, through the public API: a connection whose input ran dry
//! keeps polling for its budget, a round at a time through the scheduler, so the
//! other tasks of its thread still run and its input is still seen.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::timeout;
use ws_testkit::drive::CountPolls;
use ws_tokio::{ConnectOptions, Message, ServerOptions, connect};

mod support;

const LIMIT: Duration = Duration::from_secs(20);

/// An echo server on a runtime of its own thread, so that the client has its thread
/// to itself (a connection polls only then).
fn echo_server_on_another_thread() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (addr, _stop) = support::echo_server(ServerOptions::default()).await;
            tx.send(addr).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

/// How many times the client's reader, busy polling for `budget`, was polled during
/// 50 ms without input, on a current-thread runtime whose other task slept through
/// them; the reader then still gets the next echo.
fn reader_polls_while_input_is_dry(budget: Duration) -> usize {
    let addr = echo_server_on_another_thread();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        timeout(LIMIT, async {
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
            let next = tokio::spawn(next);
            // The runtime's only thread: this timer fires only if the reader's rounds
            // hand it back.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let during = polls.load(Ordering::Relaxed);
            writer.send(Message::from("second")).await.unwrap();
            assert_eq!(next.await.unwrap().unwrap(), Some(Message::from("second")));
            during
        })
        .await
        .expect("in time")
    })
}

#[test]
fn a_busy_polling_reader_polls_round_after_round_and_its_thread_still_serves_others() {
    let busy = reader_polls_while_input_is_dry(Duration::from_secs(10));
    assert!(busy > 20, "{busy} polls while busy polling");
    let waiting = reader_polls_while_input_is_dry(Duration::ZERO);
    assert!(waiting < 5, "{waiting} polls with busy polling off");
}
