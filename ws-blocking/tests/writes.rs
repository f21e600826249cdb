//! How many system calls the output takes: frames of several messages go out in one
//! write, and large server payloads are written from the application's buffer.

use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

use ws_blocking::ws_proto::{Connection, Role};
use ws_blocking::{Config, Message, Parts, Untimed, WebSocket};

/// A transport that records what it is asked to write, and how many times.
#[derive(Default)]
struct Counted {
    wire: Vec<u8>,
    writes: usize,
}

impl Read for Counted {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        self.wire.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Takes every slice, as a socket with room would.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writes += 1;
        bufs.iter().for_each(|b| self.wire.extend_from_slice(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn server() -> WebSocket<Untimed<Counted>> {
    let conn = Connection::new(Role::Server, Config::default(), Instant::now());
    WebSocket::from_parts(Untimed(Counted::default()), conn, &[], Parts::default())
}

#[test]
fn send_multiple_writes_many_frames_with_one_call() {
    let mut ws = server();
    let messages: Vec<Message> = (0..20).map(|i| Message::from(format!("m{i}"))).collect();
    ws.send_multiple(messages).unwrap();
    let io = &ws.get_ref().0;
    assert_eq!(io.writes, 1);
    // Ten frames of 4 bytes ("m0".."m9"), ten of 5.
    assert_eq!(io.wire.len(), 90);
    assert_eq!(&io.wire[..4], &[0x81, 2, b'm', b'0']);
    assert_eq!(&io.wire[85..], &[0x81, 3, b'm', b'1', b'9']);
}

#[test]
fn large_payloads_go_out_beside_their_headers_in_one_call() {
    let mut ws = server();
    let big = vec![9u8; 1 << 20];
    ws.send_multiple([Message::Binary(big.into()), Message::from("after")])
        .unwrap();
    let io = &ws.get_ref().0;
    // Header, the 1 MiB payload (referenced), the next frame: one vectored write.
    assert_eq!(io.writes, 1);
    assert_eq!(io.wire.len(), 10 + (1 << 20) + 7);
    assert_eq!(&io.wire[..2], &[0x82, 127]);
    assert!(io.wire[10..10 + (1 << 20)].iter().all(|&b| b == 9));
    assert_eq!(
        &io.wire[10 + (1 << 20)..],
        &[0x81, 5, b'a', b'f', b't', b'e', b'r']
    );
}
