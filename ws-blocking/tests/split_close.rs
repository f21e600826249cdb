//! A split server socket ends the stream only after everything it handed out was
//! written: the end of the closing handshake must not cut what is still being
//! written. The first test has the writer finish what the reader started; the second
//! has the reader finish it, the writer idle. The race in which the reader finds the
//! handshake over while the writer is in the middle of a write (the writer then ends
//! the stream) depends on timing and is not forced here.

mod support;

use std::time::Duration;

use ws_blocking::{CloseCode, Message, ServerOptions};
use ws_testkit::client::RawClient;

#[test]
fn the_close_waits_for_the_writer_to_finish_its_message() {
    const BIG: usize = 32 << 20;
    let server = support::serve(ServerOptions::default(), |ws| {
        let (mut reader, mut writer) = ws.split().unwrap();
        let writing = std::thread::spawn(move || {
            // Queued, not written: the reader's own turn starts writing it (with its
            // answer to the Close behind it), and the writer finishes it later.
            writer.queue(vec![7u8; BIG]).unwrap();
            std::thread::sleep(Duration::from_millis(600));
            let _ = writer.flush();
        });
        while let Ok(Some(_)) = reader.recv() {}
        writing.join().unwrap();
    });
    let mut client = RawClient::open(server.addr);
    client.set_context("a client that closes while the server writes 32 MiB");
    // The server's reader takes our Close and writes what it can of the message and
    // its answer (the rest waits for us to read): the closing handshake is over, but
    // the stream must end only once the writer has written the rest.
    // First the server starts its message (and fills the socket's buffers, as we do
    // not read yet).
    std::thread::sleep(Duration::from_millis(300));
    client.send_close(CloseCode::NORMAL, "done");
    std::thread::sleep(Duration::from_millis(700));
    let message = client.read_message();
    assert_eq!(message, Message::Binary(vec![7u8; BIG].into()));
    client.expect_close(CloseCode::NORMAL);
    client.expect_transport_closed();
}

/// The same, when the writer never writes again: the reader, finding the handshake
/// over with its own writes left for later, writes them (within the close timer) and
/// ends the stream itself, rather than leave the end to a writer that will not come.
#[test]
fn the_reader_ends_the_stream_after_what_it_left_when_the_writer_is_idle() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const BIG: usize = 8 << 20;
    let done = Arc::new(AtomicBool::new(false));
    let writer_done = done.clone();
    let server = support::serve(ServerOptions::default(), move |ws| {
        let (mut reader, mut writer) = ws.split().unwrap();
        let done = writer_done.clone();
        let idle_writer = std::thread::spawn(move || {
            // Queued just before the client's Close arrives, so that the reader's next
            // write takes the message and the answer to the Close together; then the
            // writer stays, idle, until the test is over.
            std::thread::sleep(Duration::from_millis(250));
            writer.queue(vec![5u8; BIG]).unwrap();
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        while let Ok(Some(_)) = reader.recv() {}
        idle_writer.join().unwrap();
    });
    let mut client = RawClient::open(server.addr);
    client.set_context("a client that closes while an idle writer's message waits");
    std::thread::sleep(Duration::from_millis(300));
    client.send_close(CloseCode::NORMAL, "done");
    std::thread::sleep(Duration::from_millis(700));
    let message = client.read_message();
    assert_eq!(message, Message::Binary(vec![5u8; BIG].into()));
    client.expect_close(CloseCode::NORMAL);
    client.expect_transport_closed();
    done.store(true, Ordering::SeqCst);
}
