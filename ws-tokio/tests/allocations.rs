//! No heap allocation per echoed message in steady state: a counting allocator around
//! the system's, a ws-tokio echo server, and a raw client whose loop allocates nothing
//! (`ws_testkit::allocations`). This counts allocations, a property of the code; speed
//! is for the benchmarks.

use ws_testkit::allocations::{Counting, assert_echo_allocates_nothing};
use ws_tokio::{ServerOptions, establish_standard_server};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn echoing_messages_up_to_64_kib_allocates_nothing_per_message() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            establish_standard_server(
                listener,
                ServerOptions::default(),
                std::future::pending(),
                |mut ws| async move {
                    while let Ok(Some(message)) = ws.recv_message().await {
                        if ws.queue(message).await.is_err() {
                            break;
                        }
                    }
                },
            )
            .await
            .unwrap();
        });
    });
    assert_echo_allocates_nothing(rx.recv().unwrap());
}
