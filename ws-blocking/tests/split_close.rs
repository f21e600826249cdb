//! A split server socket ends the stream only after everything it handed out was
//! written: the end of the closing handshake must not cut what is still being
//! written. Here the reader writes part of a large message and its answer to the
//! Close (the rest waits for the peer) and the writer finishes them; the narrower race
//! in which the reader finds the handshake over while the writer is in the middle of
//! its last batch depends on timing and is not forced here.

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
