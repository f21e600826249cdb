//! The drive loop over an in-memory transport and a clock that moves only when told:
//! the things an adapter relies on, shown without a runtime.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::driver::{BUSY_POLL_ROUNDS, YIELD_EVERY};
use super::{AcceptOptions, Parts, Runtime, Transport, WebSocket, accept};
use crate::adapter::{AnswerOptions, IDLE_RELEASE};
use crate::{
    Config, Connection, Error, Event, HandshakeLimits, Message, RequestError, Role, SeededEntropy,
};
use crate::{DEFAULT_READ_SIZE, DEFAULT_READ_SIZE_ZEROED};

thread_local! {
    static CLOCK: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The timers polled while not yet due (by name), and whom to wake when they are.
    static TIMERS: RefCell<Vec<(u64, Instant, Waker)>> = const { RefCell::new(Vec::new()) };
    static NEXT_TIMER: Cell<u64> = const { Cell::new(0) };
    /// How many times a timer was set again.
    static RESETS: Cell<usize> = const { Cell::new(0) };
    /// How many times the code under test read the clock.
    static CLOCK_READS: Cell<usize> = const { Cell::new(0) };
}

/// The test clock's time, without counting it as a reading by the code under test.
fn clock() -> Instant {
    CLOCK.with(|c| c.get().expect("the test clock is set"))
}

/// A clock that stands still until [`advance`] moves it; a timer is due once it has,
/// and wakes the task that polled it last then, as a runtime's timers do (the drive
/// loop does not poll a registered timer again until it has woken it).
struct Manual;

/// A test timer: its name (for its registration) and the instant it is set for.
struct ManualSleep {
    id: u64,
    at: Instant,
}

impl ManualSleep {
    /// Drops the timer's registration: a timer wakes only the task of its last poll.
    fn unregister(&self) {
        TIMERS.with(|t| t.borrow_mut().retain(|(id, _, _)| *id != self.id));
    }
}

impl Runtime for Manual {
    type Sleep = ManualSleep;

    fn now() -> Instant {
        CLOCK_READS.with(|r| r.set(r.get() + 1));
        clock()
    }

    fn sleep_until(at: Instant) -> ManualSleep {
        let id = NEXT_TIMER.with(|n| n.replace(n.get() + 1));
        ManualSleep { id, at }
    }

    fn reset(sleep: &mut ManualSleep, at: Instant) {
        RESETS.with(|r| r.set(r.get() + 1));
        sleep.unregister();
        sleep.at = at;
    }

    fn poll_sleep(sleep: &mut ManualSleep, cx: &mut Context<'_>) -> Poll<()> {
        sleep.unregister();
        if clock() >= sleep.at {
            Poll::Ready(())
        } else {
            TIMERS.with(|t| {
                t.borrow_mut()
                    .push((sleep.id, sleep.at, cx.waker().clone()));
            });
            Poll::Pending
        }
    }
}

fn start_clock() -> Instant {
    // The one real reading, as the origin of the test clock.
    #[allow(clippy::disallowed_methods)]
    let origin = Instant::now();
    CLOCK.with(|c| c.set(Some(origin)));
    origin
}

fn advance(by: Duration) {
    CLOCK.with(|c| c.set(c.get().map(|t| t + by)));
    let now = clock();
    let due: Vec<Waker> = TIMERS.with(|t| {
        let mut timers = t.borrow_mut();
        let (due, later) = timers.drain(..).partition(|(_, at, _)| *at <= now);
        *timers = later;
        due.into_iter().map(|(_, _, waker)| waker).collect()
    });
    for waker in due {
        waker.wake();
    }
}

/// Both directions of the in-memory wire, as the transport sees them.
#[derive(Debug, Default)]
struct Wire {
    /// What the peer sent and we have not read.
    input: Vec<u8>,
    /// The peer closed its side.
    eof: bool,
    /// Everything we wrote, and in how many write calls.
    written: Vec<u8>,
    writes: usize,
    /// The peer takes no more bytes.
    stalled: bool,
    /// The most room a read into spare capacity was offered.
    largest_read: usize,
    /// The most bytes one read takes (all it is offered when `None`).
    read_chunk: Option<usize>,
    shut_down: bool,
}

/// The transport over a [`Wire`]. `spare` says whether it reads into the buffer's spare
/// capacity (as tokio's streams do) or wants initialised room (as `futures-io`'s do).
struct Mock {
    wire: Rc<RefCell<Wire>>,
    spare: bool,
}

impl Mock {
    /// Takes up to `max` bytes of input: `None` while there is none yet.
    fn take(&self, max: usize) -> Option<Vec<u8>> {
        let mut wire = self.wire.borrow_mut();
        if wire.input.is_empty() && !wire.eof {
            return None;
        }
        let n = max
            .min(wire.input.len())
            .min(wire.read_chunk.unwrap_or(usize::MAX));
        Some(wire.input.drain(..n).collect())
    }
}

impl Transport for Mock {
    type Runtime = Manual;

    fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let Some(bytes) = self.take(buf.len()) else {
            return Poll::Pending;
        };
        buf[..bytes.len()].copy_from_slice(&bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn reads_into_spare_capacity(&self) -> bool {
        self.spare
    }

    fn poll_read_buf(
        &mut self,
        _cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        assert!(
            self.spare,
            "only a transport that said so is handed the spare capacity"
        );
        let room = (buf.capacity() - buf.len()).min(max);
        assert!(room > 0, "the read buffer has room");
        {
            let mut wire = self.wire.borrow_mut();
            wire.largest_read = wire.largest_read.max(room);
        }
        let Some(bytes) = self.take(room) else {
            return Poll::Pending;
        };
        buf.extend_from_slice(&bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(_cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        &mut self,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut wire = self.wire.borrow_mut();
        if wire.stalled {
            return Poll::Pending;
        }
        wire.writes += 1;
        let before = wire.written.len();
        for buf in bufs {
            wire.written.extend_from_slice(buf);
        }
        Poll::Ready(Ok(wire.written.len() - before))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.wire.borrow_mut().shut_down = true;
        Poll::Ready(Ok(()))
    }
}

/// The test's one task: it counts its wake-ups, and the test moves the world.
#[derive(Default)]
struct Task(AtomicUsize);

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

thread_local! {
    static TASK: (Arc<Task>, Waker) = {
        let task = Arc::new(Task::default());
        (task.clone(), Waker::from(task))
    };
}

/// How many times the test's task was woken so far.
fn wakes() -> usize {
    TASK.with(|(task, _)| task.0.load(Ordering::Relaxed))
}

/// Polls `future` once, as the same task every time (as a runtime would poll one
/// connection's task).
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    TASK.with(|(_, waker)| pin!(future).poll(&mut Context::from_waker(waker)))
}

/// A server socket over a fresh wire, and the client machine that talks to it.
fn pair(spare: bool) -> (WebSocket<Mock>, Rc<RefCell<Wire>>, Connection) {
    pair_with(spare, Config::default())
}

/// The same, with the server's connection on `config`.
fn pair_with(spare: bool, config: Config) -> (WebSocket<Mock>, Rc<RefCell<Wire>>, Connection) {
    let now = start_clock();
    let wire = Rc::new(RefCell::new(Wire::default()));
    let io = Mock {
        wire: wire.clone(),
        spare,
    };
    let conn = Connection::new(Role::Server, config, now);
    let ws = WebSocket::from_parts(io, conn, &[], Parts::default());
    let client = Connection::with_entropy(
        Role::Client,
        Config::default(),
        now,
        Box::new(SeededEntropy::new(7)),
    );
    (ws, wire, client)
}

/// What `client` has to send, onto the wire.
fn transmit(client: &mut Connection, wire: &RefCell<Wire>) {
    let mut out = Vec::new();
    while client.poll_transmit(&mut out) > 0 {}
    wire.borrow_mut().input.extend_from_slice(&out);
}

/// Everything the server wrote so far, decoded by `client`.
fn received(client: &mut Connection, wire: &RefCell<Wire>) -> Vec<Event> {
    let written = std::mem::take(&mut wire.borrow_mut().written);
    client.handle_input(&written, clock());
    std::iter::from_fn(|| client.poll_event()).collect()
}

#[test]
fn the_reader_half_answers_a_ping_while_the_writer_is_idle() {
    let (ws, wire, mut client) = pair(true);
    let (mut reader, _writer) = ws.split();
    client.ping("are you there").unwrap();
    transmit(&mut client, &wire);
    let Poll::Ready(Ok(Some(Event::Ping(payload)))) = poll_once(reader.recv()) else {
        panic!("the ping comes up to the reader");
    };
    assert_eq!(&payload[..], b"are you there");
    // The answer goes out when the reader waits for more input.
    assert!(poll_once(reader.recv()).is_pending());
    assert_eq!(
        received(&mut client, &wire),
        [Event::Pong("are you there".into())]
    );
}

/// Input that never runs out (here, frames of 10 bytes read 5 at a time) makes the
/// task yield now and then, woken to run again at once, so that the other tasks of an
/// executor without a budget of its own get their turn; nothing is lost or reordered
/// across a yield.
#[test]
fn a_connection_whose_input_never_runs_out_yields_its_thread_now_and_then() {
    // Two reads a message: about two yields for every YIELD_EVERY messages.
    let count = 2 * YIELD_EVERY as usize;
    for spare in [true, false] {
        let (mut ws, wire, mut client) = pair(spare);
        wire.borrow_mut().read_chunk = Some(5);
        for i in 0..count {
            client.send(format!("m{i:03}")).unwrap();
        }
        transmit(&mut client, &wire);
        let (mut got, mut yields) = (0, 0);
        while got < count {
            let before = wakes();
            match poll_once(ws.recv_message()) {
                Poll::Ready(Ok(Some(message))) => {
                    assert_eq!(message, Message::from(format!("m{got:03}")));
                    got += 1;
                }
                Poll::Pending => {
                    assert_eq!(wakes(), before + 1, "a yield wakes its own task");
                    yields += 1;
                }
                other => panic!("message {got}: {other:?}"),
            }
        }
        // 2 × count reads, a yield after every YIELD_EVERY of them.
        assert!((3..=4).contains(&yields), "{yields} yields");
    }
}

/// The same for a loop of `send`s to a peer that takes every write at once: its
/// task yields now and then, and every message goes out once, in order.
#[test]
fn a_loop_whose_sends_never_wait_yields_its_thread_now_and_then() {
    let count = 3 * YIELD_EVERY as usize + 10;
    let (mut ws, wire, mut client) = pair(true);
    let mut yields = 0;
    for i in 0..count {
        let mut send = pin!(ws.send(format!("m{i:03}")));
        loop {
            let before = wakes();
            let poll = TASK.with(|(_, waker)| send.as_mut().poll(&mut Context::from_waker(waker)));
            match poll {
                Poll::Ready(result) => break result.unwrap(),
                Poll::Pending => {
                    assert_eq!(wakes(), before + 1, "a yield wakes its own task");
                    yields += 1;
                }
            }
        }
    }
    // A write each, a yield after every YIELD_EVERY of them.
    assert_eq!(yields, 3);
    let expected: Vec<Event> = (0..count)
        .map(|i| Event::Message(Message::from(format!("m{i:03}"))))
        .collect();
    assert_eq!(received(&mut client, &wire), expected);
}

/// Busy polling: once the input runs dry, the task wakes itself to read again, until
/// the input has been dry for the budget, and then waits as usual; new input starts
/// a new budget. Only for a connection alone on its thread (no other one went to
/// wait between its wait and its input), and off by default, when a read that finds
/// nothing waits at once.
#[test]
fn a_busy_polling_connection_reads_again_until_its_budget_runs_out() {
    for spare in [true, false] {
        let (mut ws, wire, mut client) = pair(spare);
        let (mut other, _other_wire, _other_client) = pair(spare);
        // Polls `recv` once, which finds nothing: whether the task woke itself.
        let dry_poll = |ws: &mut WebSocket<Mock>| {
            let before = wakes();
            assert!(poll_once(ws.recv()).is_pending());
            wakes() - before
        };
        // Sends `text` and has `ws` take it.
        let mut input = |ws: &mut WebSocket<Mock>, text: &str| {
            client.send(text).unwrap();
            transmit(&mut client, &wire);
            let Poll::Ready(Ok(Some(Event::Message(message)))) = poll_once(ws.recv()) else {
                panic!("{text} comes");
            };
            assert_eq!(message, Message::from(text));
        };
        input(&mut ws, "first");
        assert_eq!(dry_poll(&mut ws), 0, "off by default");

        ws.set_busy_poll(Duration::from_micros(50));
        input(&mut ws, "hello");
        assert_eq!(dry_poll(&mut ws), 1, "the budget starts");
        advance(Duration::from_micros(30));
        assert_eq!(dry_poll(&mut ws), 1, "30 of 50 µs");
        advance(Duration::from_micros(20));
        assert_eq!(dry_poll(&mut ws), 0, "the budget is spent: the task waits");
        assert_eq!(dry_poll(&mut ws), 0);

        input(&mut ws, "again");
        assert_eq!(dry_poll(&mut ws), 1, "input gave a new budget");
        advance(Duration::from_micros(60));
        assert_eq!(dry_poll(&mut ws), 0);

        // Another connection on the same thread waits meanwhile.
        assert!(poll_once(other.recv()).is_pending());
        input(&mut ws, "shared");
        assert_eq!(dry_poll(&mut ws), 0, "not alone on its thread");
        // Or goes to wait between two rounds: the polling stops there.
        input(&mut ws, "alone");
        assert_eq!(dry_poll(&mut ws), 1);
        assert_eq!(dry_poll(&mut ws), 1);
        assert!(poll_once(other.recv()).is_pending());
        assert_eq!(dry_poll(&mut ws), 0, "another connection waited since");
        assert_eq!(dry_poll(&mut ws), 0);

        // A clock that stands still ends the polling after so many rounds.
        input(&mut ws, "stopped clock");
        for round in 0..BUSY_POLL_ROUNDS {
            assert_eq!(dry_poll(&mut ws), 1, "round {round}");
        }
        assert_eq!(dry_poll(&mut ws), 0, "the rounds are spent");

        ws.set_busy_poll(Duration::ZERO);
        input(&mut ws, "alone again");
        assert_eq!(dry_poll(&mut ws), 0, "turned off again");

        // Half a frame in: the rest comes at the sender's pace, and is waited for.
        ws.set_busy_poll(Duration::from_micros(50));
        client.send(vec![7u8; 1000]).unwrap();
        let mut frame = Vec::new();
        while client.poll_transmit(&mut frame) > 0 {}
        wire.borrow_mut().input.extend_from_slice(&frame[..500]);
        assert_eq!(dry_poll(&mut ws), 0, "half a frame is in");
        wire.borrow_mut().input.extend_from_slice(&frame[500..]);
        assert!(matches!(
            poll_once(ws.recv()),
            Poll::Ready(Ok(Some(Event::Message(_))))
        ));
        assert_eq!(dry_poll(&mut ws), 1, "the whole frame is in");
    }
}

#[test]
fn queued_answers_to_a_burst_go_out_in_one_write() {
    for spare in [true, false] {
        let (mut ws, wire, mut client) = pair(spare);
        for i in 0..3 {
            client.send(format!("message {i}")).unwrap();
        }
        transmit(&mut client, &wire);
        for i in 0..3 {
            let Poll::Ready(Ok(Some(message))) = poll_once(ws.recv_message()) else {
                panic!("message {i} is there");
            };
            assert_eq!(message, Message::from(format!("message {i}")));
            assert!(poll_once(ws.queue(message)).is_ready());
        }
        assert_eq!(wire.borrow().writes, 0, "queue does not write");
        assert!(poll_once(ws.recv()).is_pending());
        assert_eq!(wire.borrow().writes, 1, "one write for the three answers");
        let echoes = received(&mut client, &wire);
        let expected: Vec<Event> = (0..3)
            .map(|i| Event::Message(Message::from(format!("message {i}"))))
            .collect();
        assert_eq!(echoes, expected);
    }
}

/// Echoes the burst of `count` messages of `size` bytes the client sent, with
/// `queue`, and returns how many writes the answers took.
fn echo_burst(
    ws: &mut WebSocket<Mock>,
    wire: &RefCell<Wire>,
    client: &mut Connection,
    count: usize,
    size: usize,
) -> usize {
    for i in 0..count {
        client.send(vec![i as u8; size]).unwrap();
    }
    transmit(client, wire);
    let before = wire.borrow().writes;
    for i in 0..count {
        let Poll::Ready(Ok(Some(message))) = poll_once(ws.recv_message()) else {
            panic!("message {i} is there");
        };
        assert!(poll_once(ws.queue(message)).is_ready());
    }
    assert!(poll_once(ws.recv()).is_pending());
    let echoes = received(client, wire);
    let expected: Vec<Event> = (0..count)
        .map(|i| Event::Message(Message::Binary(vec![i as u8; size].into())))
        .collect();
    assert_eq!(echoes, expected);
    wire.borrow().writes - before
}

/// A read that filled all its room says more input is likely waiting: the loop reads
/// it before it writes, and the answers to large messages that came in several reads
/// go out in one write. A `futures-io` read is given room up to the end of a large
/// frame, so without this every message's read ended there and every answer had a
/// write of its own (BENCHMARKS.md, "2026-12-05 evening").
#[test]
fn answers_to_large_messages_read_one_by_one_go_out_in_one_write() {
    for (spare, size) in [(false, 20_000), (true, 40_000)] {
        let (mut ws, wire, mut client) = pair(spare);
        assert_eq!(
            echo_burst(&mut ws, &wire, &mut client, 3, size),
            1,
            "spare capacity: {spare}"
        );
    }
}

#[test]
fn a_connection_alone_on_its_thread_writes_each_small_answer_as_it_is_queued() {
    for spare in [true, false] {
        let (mut ws, wire, mut client) = pair(spare);
        // It waits for its input, and nothing else on the thread waits meanwhile.
        assert!(poll_once(ws.recv()).is_pending());
        assert_eq!(echo_burst(&mut ws, &wire, &mut client, 3, 100), 3);
    }
    // Answers too large to be worth a write each still go out together (two that
    // are both whole before the first is handed up: the first read after a wait
    // takes 4 KiB, the next one, into spare capacity, up to 64 KiB).
    let (mut ws, wire, mut client) = pair(true);
    assert!(poll_once(ws.recv()).is_pending());
    assert_eq!(
        echo_burst(
            &mut ws,
            &wire,
            &mut client,
            2,
            crate::pacing::EAGER_WRITE_MAX + 1
        ),
        1
    );
}

#[test]
fn with_another_connection_waiting_meanwhile_a_burst_is_answered_in_one_write() {
    let (mut ws, wire, mut client) = pair(true);
    let (mut other, _other_wire, _other_client) = pair(true);
    assert!(poll_once(ws.recv()).is_pending());
    // Another connection on the same thread waits after this one did.
    assert!(poll_once(other.recv()).is_pending());
    assert_eq!(echo_burst(&mut ws, &wire, &mut client, 3, 100), 1);
}

#[test]
fn a_large_message_arrives_whole_through_either_kind_of_read() {
    for spare in [true, false] {
        let (mut ws, wire, mut client) = pair(spare);
        let payload: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        client.send(payload.clone()).unwrap();
        transmit(&mut client, &wire);
        let Poll::Ready(Ok(Some(message))) = poll_once(ws.recv_message()) else {
            panic!("the message is there (spare capacity: {spare})");
        };
        assert_eq!(message, Message::from(payload));
    }
}

/// Sends one message of `len` bytes to a server reading into spare capacity, with
/// `read_size` set if given, checks that it arrives whole, and returns the most room
/// any read was offered.
fn largest_read_of_a_message(read_size: Option<usize>, len: usize) -> usize {
    let (mut ws, wire, mut client) = pair(true);
    if let Some(read_size) = read_size {
        ws.set_read_size(read_size);
    }
    let payload: Vec<u8> = (0..len as u32).map(|i| (i >> 3) as u8).collect();
    client.send(payload.clone()).unwrap();
    transmit(&mut client, &wire);
    let Poll::Ready(Ok(Some(message))) = poll_once(ws.recv_message()) else {
        panic!("the message is there");
    };
    assert_eq!(message, Message::from(payload));
    wire.borrow().largest_read
}

#[test]
fn a_frame_larger_than_the_read_size_is_read_at_most_max_read_size_at_a_time() {
    // Room for the whole frame is reserved, but no read is offered more than the cap,
    // and the reads inside the frame are offered all of it.
    assert_eq!(
        largest_read_of_a_message(None, 3 * crate::MAX_READ_SIZE),
        crate::MAX_READ_SIZE
    );
}

#[test]
fn a_read_size_above_max_read_size_is_the_limit_of_a_read_inside_a_frame() {
    assert_eq!(
        largest_read_of_a_message(Some(2 * crate::MAX_READ_SIZE), 5 * crate::MAX_READ_SIZE),
        2 * crate::MAX_READ_SIZE
    );
}

#[test]
fn an_idle_connection_gives_its_buffers_back_on_the_runtime_clock() {
    let (mut ws, wire, mut client) = pair(true);
    client.send("hello").unwrap();
    transmit(&mut client, &wire);
    assert!(matches!(poll_once(ws.recv()), Poll::Ready(Ok(Some(_)))));
    assert!(poll_once(ws.recv()).is_pending());
    assert!(ws.connection().buffer_capacity() > 0);
    advance(Duration::from_secs(1));
    assert!(poll_once(ws.recv()).is_pending());
    assert!(
        ws.connection().buffer_capacity() > 0,
        "not idle long enough"
    );
    let before = wakes();
    advance(Duration::from_secs(2));
    assert!(wakes() > before, "the idle check's timer woke the task");
    assert!(poll_once(ws.recv()).is_pending());
    // With no deadline the read was not timed: the check counted it as traffic when
    // it fired, and gives the buffers back one period later.
    assert!(ws.connection().buffer_capacity() > 0);
    advance(IDLE_RELEASE);
    assert!(poll_once(ws.recv()).is_pending());
    assert_eq!(ws.connection().buffer_capacity(), 0);
    // And it still works: the next read waits in the scratch buffer.
    client.send("again").unwrap();
    transmit(&mut client, &wire);
    let Poll::Ready(Ok(Some(Event::Message(message)))) = poll_once(ws.recv()) else {
        panic!("the message after the release is there");
    };
    assert_eq!(message, Message::from("again"));
}

/// A read needs the time only while the connection has a deadline that the read
/// moves (the keepalive) or that waits to be armed: otherwise a busy connection reads
/// the clock once in a while, not once per message.
#[test]
fn reads_take_the_time_only_while_the_connection_has_a_deadline() {
    for keepalive in [false, true] {
        for spare in [true, false] {
            let config = Config {
                keepalive: keepalive.then_some(crate::KeepAlive {
                    interval: Duration::from_secs(60),
                    timeout: Duration::from_secs(60),
                }),
                ..Config::default()
            };
            let (mut ws, wire, mut client) = pair_with(spare, config);
            let before = CLOCK_READS.with(Cell::get);
            let messages = 100;
            for i in 0..messages {
                client.send(format!("m{i}")).unwrap();
                transmit(&mut client, &wire);
                assert!(matches!(poll_once(ws.recv()), Poll::Ready(Ok(Some(_)))));
                assert!(poll_once(ws.recv()).is_pending());
            }
            let reads = CLOCK_READS.with(Cell::get) - before;
            if keepalive {
                assert!(
                    reads >= messages,
                    "spare {spare}: with a keepalive each read is timed ({reads} readings)"
                );
            } else {
                assert!(
                    reads < 5,
                    "spare {spare}: {reads} clock readings for {messages} messages"
                );
            }
        }
    }
}

#[test]
fn a_connection_that_hears_from_its_peer_keeps_a_full_read_buffer() {
    // A new connection, and one whose idle buffers went, wait in the stack buffer;
    // their first bytes must give them a buffer of the read size back, or every later
    // read would wait there too (zeroing it, and copying each read out of it).
    for spare in [true, false] {
        let read_size = if spare {
            DEFAULT_READ_SIZE
        } else {
            DEFAULT_READ_SIZE_ZEROED
        };
        let (mut ws, wire, mut client) = pair(spare);
        assert_eq!(
            ws.connection().buffer_capacity(),
            0,
            "none before any input"
        );
        for round in 0..2 {
            client.send("hello").unwrap();
            transmit(&mut client, &wire);
            assert!(matches!(poll_once(ws.recv()), Poll::Ready(Ok(Some(_)))));
            assert!(poll_once(ws.recv()).is_pending());
            assert!(
                ws.connection().buffer_capacity() >= read_size - "hello".len() - 6,
                "round {round}, spare {spare}: the buffer has room for the next read"
            );
            // An untimed read counts as traffic when the idle check first fires.
            advance(IDLE_RELEASE + Duration::from_secs(1));
            assert!(poll_once(ws.recv()).is_pending());
            advance(IDLE_RELEASE);
            assert!(poll_once(ws.recv()).is_pending());
            assert_eq!(ws.connection().buffer_capacity(), 0, "released when idle");
        }
    }
}

/// A stop signal the test fires, waking whoever polled it last.
#[derive(Default)]
struct Stop(std::sync::Mutex<(bool, Option<Waker>)>);

impl Stop {
    fn fire(&self) {
        let mut state = self.0.lock().unwrap();
        state.0 = true;
        if let Some(waker) = state.1.take() {
            waker.wake();
        }
    }

    fn signal(self: &Arc<Self>) -> impl Future<Output = ()> + Send + Sync + 'static {
        let stop = self.clone();
        std::future::poll_fn(move |cx| {
            let mut state = stop.0.lock().unwrap();
            if state.0 {
                return Poll::Ready(());
            }
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

/// Whether `events` end with the peer's Close carrying `code`.
fn closed_with(events: &[Event], code: crate::CloseCode) -> bool {
    matches!(
        events.last(),
        Some(Event::Closed(crate::CloseReason::Handshake { peer: Some(frame), .. }))
            if frame.code == code
    )
}

#[test]
fn a_stop_that_fires_while_the_connection_waits_is_heard() {
    // The wait registers the stop signal once; the loop must still hear it fire,
    // although it does not poll a registered, silent signal again at each wait.
    let (mut ws, wire, mut client) = pair(true);
    let stop = Arc::new(Stop::default());
    ws.set_stop_signal(stop.signal());
    client.send("hello").unwrap();
    transmit(&mut client, &wire);
    assert!(matches!(poll_once(ws.recv()), Poll::Ready(Ok(Some(_)))));
    for _ in 0..3 {
        assert!(poll_once(ws.recv()).is_pending());
    }
    assert!(received(&mut client, &wire).is_empty(), "no Close yet");
    let before = wakes();
    stop.fire();
    assert_eq!(wakes(), before + 1, "the stop woke the task");
    assert!(poll_once(ws.recv()).is_pending());
    assert!(
        closed_with(&received(&mut client, &wire), crate::CloseCode::GOING_AWAY),
        "the stop sent a Close with 1001"
    );
}

#[test]
fn a_stop_signal_set_after_the_connection_waited_is_heard() {
    // A connection that already waited has its wake-ups registered; a stop signal
    // set then has never been polled, and must be.
    let (mut ws, wire, mut client) = pair(false);
    assert!(poll_once(ws.recv()).is_pending());
    assert!(poll_once(ws.recv()).is_pending());
    ws.set_stop_signal(std::future::ready(()));
    assert!(poll_once(ws.recv()).is_pending());
    assert!(
        closed_with(&received(&mut client, &wire), crate::CloseCode::GOING_AWAY),
        "the stop sent a Close with 1001"
    );
}

#[test]
fn the_keepalive_pings_once_the_peer_goes_quiet_and_not_before() {
    // The keepalive's deadline moves with every message (and comes before the idle
    // check's here); the timer is not moved with it, but fires at the old deadline
    // and is set again then. Neither may make a ping early, nor lose the one due.
    let (mut ws, wire, mut client) = pair_with(
        true,
        Config {
            keepalive: Some(crate::KeepAlive {
                interval: Duration::from_millis(1000),
                timeout: Duration::from_millis(1000),
            }),
            ..Config::default()
        },
    );
    assert!(poll_once(ws.recv()).is_pending());
    let resets = RESETS.with(Cell::get);
    // A message every 400 ms for 4 s: ten deadlines moved, never 1 s of silence.
    let rounds = 10;
    for round in 0..rounds {
        advance(Duration::from_millis(400));
        client.send(format!("message {round}")).unwrap();
        transmit(&mut client, &wire);
        assert!(matches!(poll_once(ws.recv()), Poll::Ready(Ok(Some(_)))));
        assert!(poll_once(ws.recv()).is_pending());
        assert!(
            received(&mut client, &wire).is_empty(),
            "round {round}: no ping while the peer talks"
        );
    }
    let resets = RESETS.with(Cell::get) - resets;
    assert!(
        resets <= rounds / 2,
        "the timer was set again {resets} times for {rounds} moved deadlines"
    );
    advance(Duration::from_millis(900));
    assert!(poll_once(ws.recv()).is_pending());
    assert!(
        received(&mut client, &wire).is_empty(),
        "0.9 s quiet: no ping"
    );
    let before = wakes();
    advance(Duration::from_millis(100));
    assert!(wakes() > before, "the keepalive's timer woke the task");
    assert!(poll_once(ws.recv()).is_pending());
    assert!(
        matches!(&received(&mut client, &wire)[..], [Event::Ping(_)]),
        "1 s quiet: a ping"
    );
}

#[test]
fn a_flush_to_a_peer_that_stopped_reading_ends_with_the_close_timeout() {
    // The Close cannot be written: the close timeout first ends the conversation,
    // then (another timeout later, for the bytes still unwritten) gives up on them
    // and closes the transport. The flush must see both, not wait for ever.
    let (mut ws, wire, _client) = pair(true);
    let close_timeout = Config::default().close_timeout;
    wire.borrow_mut().stalled = true;
    assert!(poll_once(ws.send_close(crate::CloseCode::NORMAL, "bye")).is_pending());
    let before = wakes();
    advance(close_timeout);
    assert!(wakes() > before, "the close timer woke the task");
    assert!(
        poll_once(ws.flush()).is_pending(),
        "the peer still has time"
    );
    advance(close_timeout);
    assert!(matches!(poll_once(ws.flush()), Poll::Ready(Ok(()))));
    assert!(wire.borrow().shut_down, "the transport is closed");
    assert!(matches!(
        poll_once(ws.recv()),
        Poll::Ready(Ok(Some(Event::Closed(crate::CloseReason::CloseTimeout))))
    ));
}

#[test]
fn the_peer_closing_ends_the_stream_with_a_clean_shutdown() {
    let (mut ws, wire, mut client) = pair(false);
    client.close(crate::CloseCode::NORMAL, "bye").unwrap();
    transmit(&mut client, &wire);
    assert!(matches!(
        poll_once(ws.recv()),
        Poll::Ready(Ok(Some(Event::Closed(_))))
    ));
    assert!(matches!(poll_once(ws.recv()), Poll::Ready(Ok(None))));
    assert!(
        wire.borrow().shut_down,
        "a server closes the transport first"
    );
    let answer = received(&mut client, &wire);
    assert!(matches!(answer.as_slice(), [Event::Closed(_)]));
}

fn accept_options<'a>(config: &'a Config, headers: &'a http::HeaderMap) -> AcceptOptions<'a> {
    AcceptOptions {
        answer: AnswerOptions {
            config,
            check_request: &|_| true,
            select_subprotocol: &|_| Some("not offered".to_owned()),
            response_headers: headers,
        },
        limits: HandshakeLimits::default(),
        timeout: Duration::from_secs(10),
    }
}

#[test]
fn accept_times_out_on_the_runtime_clock() {
    start_clock();
    let wire = Rc::new(RefCell::new(Wire::default()));
    let io = Mock {
        wire: wire.clone(),
        spare: true,
    };
    let (config, headers) = (Config::default(), http::HeaderMap::new());
    let mut accepting = Box::pin(accept(io, None, accept_options(&config, &headers)));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(accepting.as_mut().poll(&mut cx).is_pending());
    advance(Duration::from_secs(9));
    assert!(accepting.as_mut().poll(&mut cx).is_pending());
    advance(Duration::from_secs(1));
    let Poll::Ready(Err(Error::HandshakeTimeout)) = accepting.as_mut().poll(&mut cx) else {
        panic!("the handshake timed out");
    };
}

#[test]
fn accept_answers_a_bad_request_and_closes() {
    start_clock();
    let wire = Rc::new(RefCell::new(Wire::default()));
    wire.borrow_mut().input =
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n".to_vec();
    wire.borrow_mut().eof = true;
    let io = Mock {
        wire: wire.clone(),
        spare: true,
    };
    let (config, headers) = (Config::default(), http::HeaderMap::new());
    let Poll::Ready(Err(Error::Request(error))) =
        poll_once(accept(io, None, accept_options(&config, &headers)))
    else {
        panic!("the request is refused");
    };
    assert_ne!(error, RequestError::Forbidden);
    let wire = wire.borrow();
    assert!(
        wire.written.starts_with(b"HTTP/1.1 4"),
        "an error status is sent"
    );
    assert!(wire.shut_down);
}

#[test]
fn accept_ignores_a_subprotocol_the_client_did_not_offer() {
    start_clock();
    let wire = Rc::new(RefCell::new(Wire::default()));
    wire.borrow_mut().input = b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n".to_vec();
    let io = Mock {
        wire: wire.clone(),
        spare: true,
    };
    let (config, headers) = (Config::default(), http::HeaderMap::new());
    let Poll::Ready(Ok(ws)) = poll_once(accept(io, None, accept_options(&config, &headers))) else {
        panic!("the request is accepted");
    };
    assert_eq!(ws.subprotocol(), None);
    assert_eq!(ws.http_request().map(|r| r.uri().path()), Some("/"));
    assert!(wire.borrow().written.starts_with(b"HTTP/1.1 101"));
}

/// Clients on one thread sending large messages the application still holds mask
/// each into a buffer from the thread's pool, written and given back, so they take
/// turns with the same warm memory instead of keeping a message-sized buffer each.
#[test]
fn clients_on_one_thread_take_turns_with_one_buffer_for_their_masked_copies() {
    use crate::BufferPool;

    let now = start_clock();
    super::pool::release();
    let payload = bytes::Bytes::from(vec![9u8; 100_000]);
    let mut sockets: Vec<_> = (0..3)
        .map(|seed| {
            let wire = Rc::new(RefCell::new(Wire::default()));
            let io = Mock {
                wire: wire.clone(),
                spare: true,
            };
            let conn = Connection::with_entropy(
                Role::Client,
                Config::default(),
                now,
                Box::new(SeededEntropy::new(seed)),
            );
            let ws: WebSocket<Mock> = WebSocket::from_parts(io, conn, &[], Parts::default());
            (ws, wire)
        })
        .collect();
    let mut first: Option<*const u8> = None;
    for _ in 0..2 {
        for (ws, _) in &mut sockets {
            assert!(matches!(
                poll_once(ws.send(payload.clone())),
                Poll::Ready(Ok(()))
            ));
            // Written whole, and the copy's buffer is back in the pool: the same one
            // every time, whichever connection sent.
            let buf = super::pool::THREAD_POOL
                .take(payload.len())
                .expect("the buffer went back to the pool");
            assert_eq!(*first.get_or_insert(buf.as_ptr()), buf.as_ptr());
            super::pool::THREAD_POOL.give(buf);
        }
    }
    // What went out on each wire is the message, twice, masked.
    for (_, wire) in &sockets {
        let mut server = Connection::new(Role::Server, Config::default(), now);
        server.handle_input(&wire.borrow().written, now);
        for _ in 0..2 {
            let Some(Event::Message(m)) = server.poll_event() else {
                panic!("a message");
            };
            assert_eq!(m, Message::from(payload.clone()));
        }
    }
    // A connection that ends gives the thread's buffers back.
    drop(sockets);
    assert!(super::pool::THREAD_POOL.take(0).is_none());
}
