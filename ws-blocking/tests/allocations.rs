//! No heap allocation per echoed message in steady state, on the blocking adapter too
//! (a thread per connection). This counts allocations, a property of the code; speed
//! is for the benchmarks.

use std::net::TcpListener;

use ws_blocking::{ServerOptions, StopHandle, establish_standard_server};
use ws_testkit::allocations::{Counting, assert_echo_allocates_nothing};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn echoing_messages_up_to_64_kib_allocates_nothing_per_message() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = StopHandle::new();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            establish_standard_server(listener, ServerOptions::default(), stop, |mut ws| {
                while let Ok(Some(message)) = ws.recv_message() {
                    if ws.queue(message).is_err() {
                        break;
                    }
                }
            })
        })
    };
    assert_echo_allocates_nothing(addr);
    stop.stop();
    server.join().unwrap().unwrap();
}
