//! Slow, silent and demanding peers, and the promise that nothing accepted is lost:
//!
//! | peer | what the server must do |
//! |---|---|
//! | writes 256 MiB of messages and never reads the echoes | stop reading once its output is full (the peer's writes stall after a few MiB of socket buffers), then carry on when the peer reads |
//! | never answers the server's Close | drop the connection once the close timeout has passed, not before |
//! | opens a connection, then answers no Ping (with a keepalive configured) | a Ping, then drop the connection at the keepalive's deadline; the handler sees `Closed(KeepAliveTimeout)` |
//! | sends 10 000 messages then Close, without waiting | echo all 10 000, in order, before its own Close |
//! | is being streamed to when the server stops | receive every message whose `send` returned `Ok`, then the Close 1001 |
//! | streams messages to an echoing server when it stops | receive every echo whose `send` returned `Ok`, in order, then the Close 1001 |
//! | several send small messages without pause, more of them than the machine has cores | still accept, answer and echo a new client at once |
//!
//! The slowloris case (a request trickled a byte at a time) is in
//! [`bad_input`](crate::bad_input), with the other handshake rows.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ws_proto::frame::{Frame, OpCode};
use ws_proto::{CloseCode, CloseReason, KeepAlive, Message};

use crate::client::{self, RawClient, WAIT};
use crate::suite::{Server, binary_of_size, text_of_size};
use crate::{Handler, NUMBERED_MESSAGE_SIZE, ServerSetup, Start, numbered_message};

/// Writes `frames` masked, from a thread of its own, on a clone of `stream`: a client
/// that writes everything before reading would deadlock against a server whose
/// output is full, which is what a real peer reading and writing at once never does.
fn write_from_another_thread(
    stream: &TcpStream,
    frames: impl Iterator<Item = Frame> + Send + 'static,
) -> thread::JoinHandle<()> {
    let mut stream = stream
        .try_clone()
        .expect("cannot clone the client's socket");
    thread::spawn(move || {
        let mut wire = Vec::new();
        for (n, frame) in frames.enumerate() {
            wire.clear();
            frame.encode(
                Some((n as u32).wrapping_mul(0x9e37_79b9).to_le_bytes()),
                &mut wire,
            );
            if stream.write_all(&wire).is_err() {
                return; // the reader's assertions say what went wrong
            }
        }
    })
}

/// A client that writes 64 KiB messages as fast as it can and never reads cannot make
/// the server buffer them: once the server's output is full it must stop reading, so
/// the client's writes stall after the socket buffers fill (a few MiB on loopback),
/// far short of the 256 MiB it tries to send. Then, when the client reads, the echoes
/// come back intact: the server waited, it did not drop or fail.
pub fn a_client_that_never_reads_cannot_grow_the_servers_memory(start: Start) {
    const MESSAGE: usize = 64 << 10;
    const ATTEMPT: usize = 256 << 20;
    // Socket buffers on both sides, both ways, at their largest Linux defaults, plus the
    // server's read and write buffers, with room to spare; unbounded buffering passes it.
    const BOUND: usize = 64 << 20;
    let server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    client.set_context("a client that writes without reading");
    let message = Message::from(binary_of_size(MESSAGE));
    let mut wire = Vec::new();
    message
        .clone()
        .into_frame()
        .encode(Some([1, 2, 3, 4]), &mut wire);
    client
        .stream()
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut written = 0;
    let stalled = loop {
        if written >= ATTEMPT {
            break None;
        }
        match client.stream().write_all(&wire) {
            Ok(()) => written += wire.len(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break Some(e);
            }
            Err(e) => panic!("the server failed the connection after {written} bytes: {e}"),
        }
    };
    assert!(
        stalled.is_some(),
        "the server read all {ATTEMPT} bytes of a client that never reads its echoes: it \
         buffers its output without bound"
    );
    assert!(
        written < BOUND,
        "the server read {written} bytes before the client's writes stalled: its output \
         buffer is not capped"
    );
    client.stream().set_write_timeout(Some(WAIT)).unwrap();
    for n in 0..16 {
        client.set_context(format!("echo {n} once the client reads again"));
        client.expect_message(&message);
    }
}

/// A client that never answers the server's Close (here, the 1001 of a stop) is
/// dropped once the close timeout has passed: not at once, since the RFC has the
/// server wait for the answer, and not much later, since a silent peer must not hold
/// a connection for ever.
pub fn a_client_that_never_answers_the_close_is_dropped_after_the_close_timeout(start: Start) {
    let close_timeout = Duration::from_millis(500);
    let mut server = Server::start(
        start,
        ServerSetup {
            close_timeout,
            ..ServerSetup::default()
        },
    );
    let mut client = RawClient::open(server.addr);
    let message = Message::from("before the stop");
    client.send_message(&message);
    client.expect_message(&message);
    server.stop();
    client.set_context("a client that does not answer the Close 1001");
    client.expect_close(CloseCode::GOING_AWAY);
    let closed = Instant::now();
    let extra = client.read_until_closed(close_timeout + Duration::from_secs(3));
    let elapsed = closed.elapsed();
    assert!(
        extra.is_empty(),
        "the server sent {} bytes after its Close",
        extra.len()
    );
    assert!(
        elapsed >= close_timeout / 2,
        "the server dropped the connection {elapsed:?} after its Close, without waiting \
         the close timeout of {close_timeout:?} for the answer"
    );
}

/// A client that opens a connection and then goes silent, answering no Ping, is
/// dropped by a server with a keepalive at the keepalive's deadline (the interval,
/// then the timeout after its Ping), and the server's handler sees the connection end
/// with `Closed(KeepAliveTimeout)`.
pub fn a_silent_client_is_dropped_by_the_keepalive(start: Start) {
    let keepalive = KeepAlive {
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(300),
    };
    let server = Server::start(
        start,
        ServerSetup {
            keepalive: Some(keepalive),
            ..ServerSetup::default()
        },
    );
    let mut client = RawClient::open(server.addr);
    let opened = Instant::now();
    client.set_context("a client that answers no Ping");
    let ping = client.read_frame();
    assert_eq!(
        ping.opcode,
        OpCode::Ping,
        "expected the keepalive's Ping, got {}",
        client::describe(&ping)
    );
    // Whether a Close comes before the end is the server's choice: the peer has shown
    // it is not listening.
    client.read_until_closed(WAIT);
    let ended = opened.elapsed();
    let due = keepalive.interval + keepalive.timeout;
    assert!(
        ended >= due * 9 / 10 && ended < due + Duration::from_secs(3),
        "the server dropped a silent client after {ended:?}, not at its keepalive \
         deadline ({due:?})"
    );
    let seen = server
        .outcomes
        .wait_for(0, WAIT, |r| *r == CloseReason::KeepAliveTimeout);
    assert!(
        seen.is_some(),
        "the server's handler did not see Closed(KeepAliveTimeout), but {:?}",
        server.outcomes.wait_for(0, Duration::ZERO, |_| true)
    );
}

/// 10 000 messages (text and binary, 0 to 2 KiB) written back to back and then a
/// Close, without waiting for anything: every message is echoed, in order, before the
/// server's Close 1000. Neither the messages the server received before the Close
/// (handed to the handler before the close) nor the echoes it had queued (written
/// before its Close) may be lost.
pub fn ten_thousand_messages_then_close_are_all_echoed_first(start: Start) {
    const COUNT: usize = 10_000;
    fn message(n: usize) -> Message {
        let size = (n * 37) % 2048;
        if n % 2 == 0 {
            Message::from(format!("{n:05} {}", text_of_size(size)))
        } else {
            let mut data = (n as u64).to_le_bytes().to_vec();
            data.extend(binary_of_size(size));
            Message::from(data)
        }
    }
    let server = Server::with_defaults(start);
    let mut client = RawClient::open(server.addr);
    let frames = (0..COUNT)
        .map(|n| message(n).into_frame())
        .chain(std::iter::once(Frame::close(CloseCode::NORMAL, "all sent")));
    let writer = write_from_another_thread(client.stream(), frames);
    for n in 0..COUNT {
        client.set_context(format!("echo {n} of {COUNT}, sent before a Close"));
        client.expect_message(&message(n));
    }
    client.set_context(format!("after the {COUNT} echoes"));
    client.expect_close(CloseCode::NORMAL);
    client.expect_transport_closed();
    writer.join().unwrap();
}

/// Reads numbered messages 0, 1, 2... until a Close, calling `server.stop()` once
/// `stop_at` have arrived; checks each is the next in order, and that the Close is the
/// stop's 1001 after at least `stop_at` messages. Returns how many arrived.
fn read_numbered_until_the_stop(
    client: &mut RawClient,
    server: &mut Server,
    stop_at: usize,
) -> usize {
    let mut received = 0;
    let close = loop {
        client.set_context(format!("the stream, after {received} messages"));
        if received == stop_at {
            server.stop();
        }
        let frame = client.read_frame();
        match frame.opcode {
            OpCode::Binary if frame.fin => {
                let got = Message::Binary(frame.payload);
                client::assert_same_message(&got, &numbered_message(received));
                received += 1;
            }
            OpCode::Close => break frame,
            _ => panic!(
                "expected message {received} of the stream or a Close, got {}",
                client::describe(&frame)
            ),
        }
    };
    assert_eq!(
        client::close_code(&close),
        Some(CloseCode::GOING_AWAY),
        "the stop's Close, after {received} messages"
    );
    assert!(
        received >= stop_at,
        "the stream ended before the stop, at message {received}"
    );
    received
}

/// A server streaming messages as fast as it can is stopped while the client reads:
/// the client receives messages 0, 1, 2... with no gap, then the Close 1001, and every
/// message whose `send` had returned `Ok` in the server's handler is among them. What
/// the server accepted to send is written before its Close, not dropped by the stop.
pub fn stop_under_load_delivers_every_accepted_message(start: Start) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut server = Server::start(
        start,
        ServerSetup {
            handler: Handler::Stream(accepted.clone()),
            ..ServerSetup::default()
        },
    );
    let mut client = RawClient::open(server.addr);
    let received = read_numbered_until_the_stop(&mut client, &mut server, 2000);
    client.set_context(format!("after the stop's Close and {received} messages"));
    client.reply_close_and_expect_end(CloseCode::GOING_AWAY);
    // The handler stores its count just after each send returns; once its sends fail
    // the count no longer moves. Wait for that, bounded.
    let deadline = Instant::now() + WAIT;
    let mut last = accepted.load(Ordering::SeqCst);
    loop {
        thread::sleep(Duration::from_millis(100));
        let now = accepted.load(Ordering::SeqCst);
        if now == last || Instant::now() > deadline {
            break;
        }
        last = now;
    }
    assert!(
        last <= received,
        "the server's handler had {last} messages accepted by `send`, but only {received} \
         ({} bytes each) reached the client before the Close",
        NUMBERED_MESSAGE_SIZE
    );
}

/// The stop case again, with a handler that receives as well as sends: a client
/// streams numbered messages to the echo server without waiting, and the server is
/// stopped while it echoes them. The client receives echoes 0, 1, 2... with no gap,
/// then the Close 1001, and every echo whose `send` had returned `Ok` in the handler is
/// among them.
pub fn stop_while_echoing_under_load_delivers_every_accepted_echo(start: Start) {
    const COUNT: usize = 50_000;
    const STOP_AT: usize = 2000;
    let mut server = Server::with_defaults(start);
    let outcomes = server.outcomes.clone();
    let mut client = RawClient::open(server.addr);
    let frames = (0..COUNT).map(|n| numbered_message(n).into_frame());
    let stop_writing = Arc::new(AtomicBool::new(false));
    let frames = {
        let stop_writing = stop_writing.clone();
        frames.take_while(move |_| !stop_writing.load(Ordering::SeqCst))
    };
    let writer = write_from_another_thread(client.stream(), frames);
    let received = read_numbered_until_the_stop(&mut client, &mut server, STOP_AT);
    // As a real client does on a Close: stop sending data, then answer.
    stop_writing.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    client.set_context(format!("after the stop's Close and {received} echoes"));
    client.reply_close_and_expect_end(CloseCode::GOING_AWAY);
    let accepted = outcomes.sent();
    assert!(
        accepted <= received,
        "the server's handler had {accepted} echoes accepted by `send`, but only \
         {received} reached the client before the Close"
    );
}

/// Clients that send small messages without pause, and read their echoes: each
/// thread's socket on the server's side never runs out of input.
struct Floods {
    clients: Vec<RawClient>,
    /// The echo bytes each client has read so far.
    echoed: Vec<Arc<AtomicUsize>>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Floods {
    /// Opens `count` connections, then starts each one's writer and reader.
    fn start(addr: std::net::SocketAddr, count: usize) -> Self {
        let clients: Vec<RawClient> = (0..count).map(|_| RawClient::open(addr)).collect();
        // 16-byte messages, masked, in batches of about 64 KiB.
        let mut batch = Vec::new();
        let mut n = 0u32;
        while batch.len() < 64 << 10 {
            Frame::binary(binary_of_size(16))
                .encode(Some(n.wrapping_mul(0x9e37_79b9).to_le_bytes()), &mut batch);
            n += 1;
        }
        let batch = Arc::new(batch);
        let mut floods = Self {
            clients: Vec::new(),
            echoed: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        };
        for client in clients {
            let stream = client.stream();
            let mut writer = stream.try_clone().expect("cannot clone a client's socket");
            let mut reader = stream.try_clone().expect("cannot clone a client's socket");
            reader
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let echoed = Arc::new(AtomicUsize::new(0));
            let (stop, batch) = (floods.stop.clone(), batch.clone());
            floods.threads.push(thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && writer.write_all(&batch).is_ok() {}
            }));
            let (stop, count) = (floods.stop.clone(), echoed.clone());
            floods.threads.push(thread::spawn(move || {
                let mut buf = vec![0; 64 << 10];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            count.fetch_add(n, Ordering::Relaxed);
                        }
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(_) => return,
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            }));
            floods.echoed.push(echoed);
            floods.clients.push(client);
        }
        floods
    }

    /// Waits until every client has had `bytes` of echoes; panics after [`WAIT`].
    fn wait_for_echoes(&self, bytes: usize) {
        let deadline = Instant::now() + WAIT;
        for (n, echoed) in self.echoed.iter().enumerate() {
            while echoed.load(Ordering::Relaxed) < bytes {
                assert!(
                    Instant::now() < deadline,
                    "flooding client {n} of {} had {} bytes of echoes after {WAIT:?}: the \
                     others' connections keep the server from it",
                    self.echoed.len(),
                    echoed.load(Ordering::Relaxed)
                );
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

impl Drop for Floods {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for client in &self.clients {
            let _ = client.stream().shutdown(std::net::Shutdown::Both);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Peers that send small messages without pause, each with a socket that never runs
/// out of input on the server's side, cannot keep the server from its other
/// connections. On an executor that gives tasks no budget of its own (async-std's,
/// smol's), a connection task that always finds input would otherwise never hand its
/// thread back, and with as many such peers as the executor has threads, nothing
/// else would run there: not the other floods, not a new client's handshake. There
/// are more floods here than the machine has cores (so than a pool has threads by
/// default); each must get its echoes, and then a new client must open its
/// connection and get an echo, while all of them go on.
pub fn clients_that_never_pause_do_not_starve_the_others(start: Start) {
    let server = Server::with_defaults(start);
    let cores = thread::available_parallelism().map_or(2, usize::from);
    let floods = Floods::start(server.addr, cores.clamp(2, 8) + 1);
    floods.wait_for_echoes(256 << 10);
    let mut client = RawClient::open(server.addr);
    client.set_context("a new client while the others flood the server");
    let message = Message::from("not starved");
    client.send_message(&message);
    client.expect_message(&message);
    floods.wait_for_echoes(1 << 20);
    drop(floods);
}
