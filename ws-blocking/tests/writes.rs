//! How many system calls the output takes: frames of several messages go out in one
//! write, and large server payloads are written from the application's buffer.

use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

use ws_blocking::ws_proto::{Connection, Role, SeededEntropy};
use ws_blocking::{Config, Frame, Message, OpCode, Parts, Untimed, WebSocket};

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
fn send_frames_writes_raw_frames_with_one_call() {
    let mut ws = server();
    ws.send_frames([
        Frame::new(OpCode::Text, "ab").with_fin(false),
        Frame::new(OpCode::Continuation, "cd"),
        Frame::new(OpCode::Ping, "p"),
    ])
    .unwrap();
    let io = &ws.get_ref().0;
    assert_eq!(io.writes, 1);
    // Control frames go ahead of queued data frames: the Ping, then the fragments.
    assert_eq!(
        io.wire,
        [0x89, 1, b'p', 0x01, 2, b'a', b'b', 0x80, 2, b'c', b'd']
    );
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

/// A transport whose input is a client's burst of messages, taken in one read.
struct Burst {
    input: Vec<u8>,
    writes: usize,
}

impl Burst {
    fn of(count: usize) -> Self {
        let mut client = Connection::with_entropy(
            Role::Client,
            Config::default(),
            Instant::now(),
            Box::new(SeededEntropy::new(3)),
        );
        for i in 0..count {
            client.send(format!("message {i}")).unwrap();
        }
        let mut input = Vec::new();
        while client.poll_transmit(&mut input) > 0 {}
        Self { input, writes: 0 }
    }
}

impl Read for Burst {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.drain(..n);
        Ok(n)
    }
}

impl Write for Burst {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writes += 1;
        Ok(bufs.iter().map(|b| b.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn over(io: Burst) -> WebSocket<Untimed<Burst>> {
    let conn = Connection::new(Role::Server, Config::default(), Instant::now());
    WebSocket::from_parts(Untimed(io), conn, &[], Parts::default())
}

/// Takes the three messages of the burst, queuing an echo of each; the writes made
/// by the time the last one is in hand.
fn echo_three(ws: &mut WebSocket<Untimed<Burst>>) -> usize {
    for i in 0..3 {
        let message = ws.recv_message().unwrap().expect("a message");
        assert_eq!(message, Message::from(format!("message {i}")));
        ws.queue(message).unwrap();
    }
    ws.get_ref().0.writes
}

// One test, not two: whether a connection is alone is a question about the process.
#[test]
fn a_lone_connection_writes_each_answer_at_the_next_recv_and_a_busy_process_batches() {
    // Nothing else in the process has input in hand: the answers to messages 0 and
    // 1 went out at the recv of the next message.
    let mut alone = over(Burst::of(3));
    assert_eq!(echo_three(&mut alone), 2);
    drop(alone);

    // Another connection holds a message it has not answered: the answers wait for
    // the input to run out.
    let mut other = over(Burst::of(1));
    assert!(other.recv_message().unwrap().is_some());
    let mut crowded = over(Burst::of(3));
    assert_eq!(echo_three(&mut crowded), 0);
    drop(other);
}
