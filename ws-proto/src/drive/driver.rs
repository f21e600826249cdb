//! The drive loop around a [`Transport`], written as `poll` functions so that it serves
//! `async fn`s, `Stream`/`Sink`, and the two halves of a split socket alike.
//!
//! All the state (unwritten bytes, the partial frame, the event about to be returned)
//! lives here rather than in a future, which is what makes every operation cancel safe.

use std::future::Future;
use std::io::{self, ErrorKind, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::{Duration, Instant};

use super::transport::{Runtime, Transport};
use crate::adapter::{IDLE_RELEASE, STOP_REASON, is_disconnect};
use crate::{
    CloseCode, Connection, DEFAULT_READ_SIZE, DEFAULT_READ_SIZE_ZEROED, Error, Event, OutputBuffer,
    pacing,
};

/// At most this many reads in a row without a look at the stop signal and the timer.
const CHECK_EVERY: u32 = 16;

/// At most this many reads and writes in a row that the transport completed at once
/// before the task hands its thread back ([`Driver::poll_yield`]). As many as tokio's
/// own budget per task poll: at 32, 64 connections that always had input (1 MiB
/// messages, 16 in flight each) echoed 12 % fewer messages than with no yield at all,
/// and at 128 as many (BENCHMARKS.md).
pub(super) const YIELD_EVERY: u32 = 128;

/// The most rounds a busy-polling connection polls after its input runs dry, however
/// long its budget (see [`Driver::keep_polling`]): a round takes a microsecond or
/// two, so this is milliseconds, more than any sensible budget.
pub(super) const BUSY_POLL_ROUNDS: u32 = 4096;

/// The stack buffer a connection without a read buffer waits for input in.
const SCRATCH_SIZE: usize = 4096;

/// The most slices one vectored write is given (a frame header and its payload take
/// two).
const MAX_SLICES: usize = 32;

thread_local! {
    /// How many times a connection on this thread went to wait for input. A
    /// connection that finds it unchanged when its input comes, on the same thread,
    /// was the only one that waited here meanwhile: see [`Driver::eager`].
    static WAITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Bumps this thread's [`WAITS`]: the count after, and which thread's it is (the
/// counter's address, unique among live threads).
fn note_wait() -> (u64, usize) {
    WAITS.with(|waits| {
        let n = waits.get() + 1;
        waits.set(n);
        (n, std::ptr::from_ref(waits).addr())
    })
}

/// True when this thread's [`WAITS`] is still what [`note_wait`] returned.
fn no_wait_since(noted: (u64, usize)) -> bool {
    WAITS.with(|waits| (waits.get(), std::ptr::from_ref(waits).addr()) == noted)
}

/// A future that completes when a server stops (see `WebSocket::set_stop_signal`).
pub(crate) type StopSignal = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

/// The waker the stop signal and the timer are polled with: it notes that one of them
/// fired before it wakes the task.
///
/// A connection waiting for its next message would otherwise poll both again every
/// time its read comes up empty, once per message, only to register the waker they
/// already hold. With this, a wait whose stop and timer are registered for the same
/// task, silent since, and set early enough, costs an atomic load.
#[derive(Debug, Default)]
struct Alarm {
    rung: AtomicBool,
    /// The task to wake.
    task: Mutex<Option<Waker>>,
}

impl Wake for Alarm {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.rung.store(true, Ordering::Release);
        // Woken outside the lock: an executor that runs the task inline on a wake
        // would otherwise find the lock taken when the task polls again.
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// The clock of `T`'s runtime.
fn now<T: Transport>() -> Instant {
    T::Runtime::now()
}

/// Why a read into the connection's buffer gave nothing: `read_with` restores the
/// buffer on any error, "not ready yet" included.
enum ReadError {
    Pending,
    Io(io::Error),
}

pub(crate) struct Driver<T: Transport> {
    pub(crate) io: T,
    pub(crate) conn: Connection,
    /// Written with vectored writes: large payloads are referenced, not copied.
    out: OutputBuffer,
    pub(crate) read_size: usize,
    /// An event taken from the connection and not yet returned.
    pending: Option<Event>,
    transport_closed: bool,
    /// The read side reached end of file: it is not polled again (it would answer
    /// at once, forever).
    read_eof: bool,
    /// One timer for the connection's deadlines and the idle check, and the instant it
    /// is set for (`None` once it fired: a fired timer is set again before it is
    /// polled).
    timer: Option<<T::Runtime as Runtime>::Sleep>,
    timer_at: Option<Instant>,
    /// When bytes last moved (reads are timed when the connection has a deadline;
    /// writes and other reads are seen by the idle check through `untimed_io`), and
    /// when to check whether the buffers can go.
    last_io: Instant,
    /// The last time read from the clock: what a read is told when the connection has
    /// no deadline that its time could move (see [`Driver::time_of_read`]).
    clock: Instant,
    release_at: Option<Instant>,
    stop: Option<StopSignal>,
    /// The stop signal fired and started the closing handshake.
    pub(crate) stopped: bool,
    /// Bumped whenever bytes move or input is fed: a split half that sees it change
    /// wakes the other half, which may have been waiting on the same readiness.
    pub(crate) progress: u64,
    /// Reads since the stop signal and the timer were last polled.
    reads_unchecked: u32,
    /// The last read filled all the room it was given: the transport likely has more
    /// (see [`pacing::read_before_write`]).
    last_read_full: bool,
    /// Reads and writes the transport completed at once since it last had to wait or
    /// the task last yielded (see [`Driver::poll_yield`]).
    ready_in_a_row: u32,
    /// Bytes were written, or read without the clock, since the idle check was last
    /// looked at.
    untimed_io: bool,
    alarm: Arc<Alarm>,
    /// The task waker the alarm wakes (a copy, to compare without locking).
    alarm_task: Option<Waker>,
    /// The stop signal and the timer were last polled through `alarm`, and neither
    /// was ready.
    armed: bool,
    /// What [`note_wait`] said when this connection last went to wait for input
    /// (`None` once its input came).
    waited: Option<(u64, usize)>,
    /// No other connection went to wait on this thread between this one's last wait
    /// and its input (and the task did not move to another thread): the answers
    /// queued are written at the next `recv`, one write each, rather than together
    /// when the input runs out. A connection with the thread to itself that answers
    /// a burst in one write leaves its peer idle until the last answer is ready, and
    /// both sides fall asleep once per burst (a wake-up costs tens of microseconds);
    /// writing each answer keeps the peer busy. When other connections run in
    /// between, the single write is what keeps the system calls per message down.
    /// Decided again at the first read after each wait; other kinds of task, and
    /// connections that never wait, are not seen.
    eager: bool,
    /// How long after its input stops the task keeps polling for more instead of
    /// going to wait (zero: it waits at once). See [`Driver::keep_polling`].
    pub(crate) busy_poll: Duration,
    /// When the current run of reads that found nothing began, and how many rounds
    /// it polled (only kept while busy polling is on).
    dry_since: Option<Instant>,
    dry_rounds: u32,
}

impl<T: Transport> std::fmt::Debug for Driver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("conn", &self.conn)
            .field("unwritten", &self.out.len())
            .field("transport_closed", &self.transport_closed)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Drop for Driver<T> {
    fn drop(&mut self) {
        // The thread's spare buffers are not kept for connections that may never come.
        super::pool::release();
    }
}

impl<T: Transport> Driver<T> {
    pub(crate) fn new(io: T, conn: Connection) -> Self {
        let read_size = if io.reads_into_spare_capacity() {
            DEFAULT_READ_SIZE
        } else {
            DEFAULT_READ_SIZE_ZEROED
        };
        let started = now::<T>();
        Self {
            alarm: Arc::default(),
            alarm_task: None,
            armed: false,
            io,
            conn,
            out: OutputBuffer::with_pool(&super::pool::THREAD_POOL),
            read_size,
            pending: None,
            transport_closed: false,
            read_eof: false,
            timer: None,
            timer_at: None,
            last_io: started,
            clock: started,
            release_at: None,
            stop: None,
            stopped: false,
            progress: 0,
            reads_unchecked: 0,
            ready_in_a_row: 0,
            last_read_full: false,
            untimed_io: false,
            waited: None,
            eager: false,
            busy_poll: Duration::ZERO,
            dry_since: None,
            dry_rounds: 0,
        }
    }

    /// The next event, or `None` once the transport is closed.
    ///
    /// An event already received is returned at once, without waiting to write: the
    /// answers queued while handling a burst of input (pongs, echoes queued with
    /// `WebSocket::queue`) go out together, in one write, when the input runs out and
    /// before waiting for more, or sooner, best effort, as [`pacing`] says (a long
    /// queue, or a small one while the connection is [eager](Self::eager)).
    ///
    /// Writing is best effort here: output that cannot be written now (the peer is not
    /// reading) never stops reading, or a peer that waits for us to read before it reads
    /// would deadlock with us. What stays unwritten goes out with the next write; it is
    /// `queue` and `send` that wait for the peer to read.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Event>, Error>> {
        loop {
            if self.pending.is_none() {
                self.pending = self.conn.poll_event();
            }
            if matches!(&self.pending, Some(e) if !matches!(e, Event::Closed(_))) {
                if pacing::write_before_event(self.unwritten(), self.eager) {
                    if let Poll::Ready(Err(e)) = self.poll_write(cx) {
                        return Poll::Ready(Err(e));
                    }
                }
                return Poll::Ready(Ok(self.pending.take()));
            }
            // The last read filled its room, so more input is likely waiting: read it
            // first, and the answers to it go out in the same write as these.
            let mut input_pending = false;
            if !self.read_eof
                && !self.transport_closed
                && pacing::read_before_write(self.last_read_full, self.unwritten())
            {
                match self.poll_input(cx) {
                    Poll::Ready(result) => {
                        result?;
                        continue;
                    }
                    Poll::Pending => input_pending = true,
                }
            }
            // Before waiting for input, write what was queued; with the last event,
            // close the transport when it is time: a handler that stops at
            // `Event::Closed` still leaves the peer a clean shutdown.
            let flushed = match self.poll_write(cx) {
                Poll::Ready(result) => {
                    result?;
                    true
                }
                Poll::Pending => false,
            };
            if self.conn.should_abort_transport() {
                ready!(self.poll_abort(cx))?;
            } else if flushed && self.conn.should_close_transport() {
                ready!(self.poll_shutdown(cx))?;
            }
            if let Some(event) = self.pending.take() {
                return Poll::Ready(Ok(Some(event)));
            }
            if self.transport_closed {
                return Poll::Ready(Ok(None));
            }
            if input_pending {
                // Registered above, and nothing was read since.
                return Poll::Pending;
            }
            ready!(self.poll_input(cx))?;
        }
    }

    /// Waits for bytes, the next timer or the server's stop, and feeds the connection.
    ///
    /// The read comes first: the stop signal and the timer are polled (which is what
    /// registers their wakers) when the read has nothing and the task is about to wait,
    /// and every [`CHECK_EVERY`] reads in between, so a peer that never lets the input
    /// run dry still meets its deadlines and the stop. Once registered, they are only
    /// polled again when one fired, another task polls, or a deadline comes sooner
    /// (see [`Alarm`]).
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_yield(cx));
        if self.reads_unchecked >= CHECK_EVERY {
            self.reads_unchecked = 0;
            if self.poll_wakeups(cx) {
                return Poll::Ready(Ok(()));
            }
        }
        if !self.read_eof {
            if let Poll::Ready(result) = self.poll_read_input(cx) {
                self.reads_unchecked += 1;
                self.ready_in_a_row += 1;
                return Poll::Ready(result);
            }
        }
        self.ready_in_a_row = 0;
        self.last_read_full = false;
        // Nothing to read (or the read side is over, and only writing, registered by
        // the flush, or the timer can move us on): register the other wake-ups.
        self.reads_unchecked = 0;
        if self.poll_wakeups(cx) {
            return Poll::Ready(Ok(()));
        }
        // Decided before this wait is noted: it looks at the waits since the last.
        let poll_again = self.keep_polling();
        self.waited = Some(note_wait());
        if poll_again {
            T::Runtime::poll_again(cx);
        }
        Poll::Pending
    }

    /// Whether the task, about to wait for input, runs again at once instead (busy
    /// polling, off unless [`busy_poll`](Self::busy_poll) is set): only until the
    /// input has been dry for `busy_poll`, and only while the connection is
    /// [eager](Self::eager), alone on its thread in effect, and no other connection
    /// went to wait on the thread since its last round. Where other connections
    /// wait on the same thread, the thread has work to go to and their input to
    /// wait for: polling one of them would only delay the others (two that poll see
    /// each other's rounds as waits, and both stop). Nor while half a frame is in.
    ///
    /// Waiting hands the thread to the kernel, and on hosts where an idle core halts
    /// (virtual machines especially) waking it again costs tens of microseconds; a
    /// peer that answers within the budget is then heard that much sooner. The price
    /// is a thread kept busy for up to the budget after every burst of input, so it
    /// is for latency-bound connections that own their thread, not a default. Each
    /// round goes through the executor ([`Runtime::poll_again`]), so other tasks
    /// still run, and the runtime looks for readiness in between. At most
    /// [`BUSY_POLL_ROUNDS`] rounds, whatever the clock says: a clock that stands
    /// still while the task runs (tokio's paused test clock advances only when every
    /// task waits) cannot keep it polling forever.
    fn keep_polling(&mut self) -> bool {
        if self.busy_poll.is_zero() || !self.eager || self.read_eof || self.transport_closed {
            return false;
        }
        if !self.conn.read_buffer().is_empty() {
            // Half a frame is in: the rest comes at the sender's pace, and polling
            // between its pieces measured slower than waiting for them (a 1 MiB
            // message, 16 in flight on one connection: 0.80 of not polling).
            return false;
        }
        // Polling already: `waited` is the last round's wait, and no other may have
        // come since.
        if self.dry_since.is_some() && !self.waited.is_some_and(no_wait_since) {
            self.eager = false;
            return false;
        }
        let now = now::<T>();
        let since = *self.dry_since.get_or_insert(now);
        self.dry_rounds = self.dry_rounds.saturating_add(1);
        self.dry_rounds <= BUSY_POLL_ROUNDS && now.saturating_duration_since(since) < self.busy_poll
    }

    /// Pending once every [`YIELD_EVERY`] reads and writes that completed at once,
    /// with the task woken to run again: a cooperative yield.
    ///
    /// A peer that sends without pause leaves input in the socket every time it is
    /// read, and a loop that reads and answers it then never waits. On an executor
    /// that gives a task no budget (async-std's, smol's: tokio's I/O yields on its
    /// own), the task would never hand its thread back, and every other task there
    /// (other connections, the accept loop, a handshake) would starve. Yielding before
    /// the read or write, not after, loses nothing: the state is as it was.
    fn poll_yield(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ready_in_a_row < YIELD_EVERY {
            return Poll::Ready(());
        }
        self.ready_in_a_row = 0;
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Polls the stop signal and the timer, through the alarm, unless they are already
    /// registered to wake this task and have not fired; true when one fired.
    fn poll_wakeups(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.next_deadline();
        let same_task = self
            .alarm_task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()));
        if self.armed
            && same_task
            && !self.alarm.rung.load(Ordering::Acquire)
            && deadline.is_none_or(|at| self.timer_at.is_some_and(|set| set <= at))
        {
            return false;
        }
        // Cleared before polling, so that a wake-up during the polls is not lost.
        self.alarm.rung.store(false, Ordering::Release);
        if !same_task {
            let task = cx.waker().clone();
            *self
                .alarm
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.clone());
            self.alarm_task = Some(task);
        }
        let waker = Waker::from(self.alarm.clone());
        let mut alarm = Context::from_waker(&waker);
        let fired = self.poll_stop(&mut alarm) || self.poll_timers(deadline, &mut alarm);
        self.armed = !fired;
        fired
    }

    /// One read into the connection's buffer, fed to the connection.
    fn poll_read_input(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // The time of a read the connection already took note of (see `time_of_read`).
        let mut noted = None;
        // The room this read was given.
        let mut room = SCRATCH_SIZE;
        let read = if self.conn.read_buffer().capacity() == 0 {
            // No buffer (a new connection, or one whose idle buffers were released):
            // wait for the bytes in a scratch buffer on the stack, so an idle connection
            // holds no read buffer while it waits.
            let mut scratch = [0u8; SCRATCH_SIZE];
            ready!(self.io.poll_read(cx, &mut scratch)).inspect(|&n| {
                // Noted below.
                self.conn.extend_read_buffer(&scratch[..n], self.read_size);
            })
        } else if self.io.reads_into_spare_capacity() {
            // Straight into the connection's buffer, without zeroing it first. Room
            // for a large frame's rest is reserved, but a read asks for at most the
            // limit the connection gives, so the peer's next bytes arrive while this
            // piece is handled.
            let (buf, max) = self.conn.read_buffer_for(self.read_size);
            room = (buf.capacity() - buf.len()).min(max);
            ready!(self.io.poll_read_buf(cx, buf, max))
        } else {
            // Straight into the connection's buffer; `read_with` takes note of the
            // bytes, and leaves the buffer as it was when the transport is not ready.
            let time = self.time_of_read();
            let io = &mut self.io;
            let read = self.conn.read_with(self.read_size, time.0, |into| {
                room = into.len();
                match io.poll_read(cx, into) {
                    Poll::Ready(result) => result.map_err(ReadError::Io),
                    Poll::Pending => Err(ReadError::Pending),
                }
            });
            noted = Some(time);
            match read {
                Ok(n) => Ok(n),
                Err(ReadError::Pending) => return Poll::Pending,
                Err(ReadError::Io(e)) => Err(e),
            }
        };
        self.progress += 1;
        self.last_read_full = matches!(read, Ok(n) if n > 0 && n >= room);
        match read {
            Ok(0) => self.eof(),
            Ok(_) => {
                self.dry_since = None;
                self.dry_rounds = 0;
                if let Some(waited) = self.waited.take() {
                    self.eager = no_wait_since(waited);
                }
                let time = noted.unwrap_or_else(|| self.time_of_read());
                if time.1 {
                    self.last_io = time.0;
                } else {
                    self.untimed_io = true;
                }
                if noted.is_none() {
                    self.conn.handle_read(time.0);
                }
            }
            Err(e) if is_disconnect(&e) => self.eof(),
            Err(e) => return Poll::Ready(Err(e.into())),
        }
        Poll::Ready(Ok(()))
    }

    /// The first of the connection's deadlines and the idle check, arming the idle
    /// check when the connection holds buffers.
    fn next_deadline(&mut self) -> Option<Instant> {
        if self.release_at.is_none() && (self.conn.buffer_capacity() > 0 || self.out.capacity() > 0)
        {
            self.release_at = Some(self.last_io + IDLE_RELEASE);
        }
        match (self.conn.poll_timeout(), self.release_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the connection's timers and the release of idle buffers on one timer, set
    /// for `deadline`; true when it fired.
    ///
    /// A timer set earlier than the deadline is left alone: it fires early, harmlessly,
    /// and is set again then. So a deadline that moves with every message (the
    /// keepalive's, from the last input) does not reset the timer every message, and
    /// neither does the idle check, which is armed once per idle period and re-armed
    /// from the last read when it fires early.
    fn poll_timers(&mut self, deadline: Option<Instant>, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = deadline else {
            // Whatever the timer is still set for is not relied on: it is reset and
            // polled before a deadline comes to depend on it (a timer that fires
            // meanwhile rings the alarm once, and not again).
            self.timer_at = None;
            return false;
        };
        match &mut self.timer {
            Some(_) if self.timer_at.is_some_and(|at| at <= deadline) => {}
            Some(timer) => {
                T::Runtime::reset(timer, deadline);
                self.timer_at = Some(deadline);
            }
            None => {
                self.timer = Some(T::Runtime::sleep_until(deadline));
                self.timer_at = Some(deadline);
            }
        }
        let Some(timer) = &mut self.timer else {
            return false;
        };
        if T::Runtime::poll_sleep(timer, cx).is_pending() {
            return false;
        }
        // A fired timer is set again before it is polled again.
        self.timer_at = None;
        let now = self.read_clock();
        if self.release_at.is_some_and(|at| now >= at) {
            if self.untimed_io {
                // Writes, and reads while the connection has no deadline, are not
                // timed (a clock reading each): one since the check was armed counts
                // as bytes moving now.
                self.untimed_io = false;
                self.last_io = now;
            }
            if now >= self.last_io + IDLE_RELEASE {
                self.conn.release_buffers();
                self.out.shrink();
                super::pool::release();
                // What still holds memory holds data (a partial frame, bytes the peer
                // has not taken): look again one period later, not in a loop.
                self.release_at = (self.conn.buffer_capacity() > 0 || self.out.capacity() > 0)
                    .then(|| now + IDLE_RELEASE);
            } else {
                self.release_at = Some(self.last_io + IDLE_RELEASE);
            }
        }
        self.progress += 1;
        // Spurious calls are harmless when it was only the idle check.
        self.conn.handle_timeout(now);
        true
    }

    /// Reads the runtime's clock, and keeps the reading for reads that need no new one.
    fn read_clock(&mut self) -> Instant {
        let now = now::<T>();
        self.clock = self.clock.max(now);
        now
    }

    /// The time to tell the connection a read happened at, and whether the clock was
    /// read for it.
    ///
    /// Only the connection's deadlines depend on that time: the keepalive, which each
    /// read moves, and a close timer waiting to be armed. Without one
    /// ([`Connection::poll_timeout`] is `None`), the last reading serves, as
    /// [`Connection::handle_read`] allows, and the idle check counts the read as it
    /// counts a write. On a busy connection of small messages a clock reading per read
    /// was 0.6-0.8 % of the time (BENCHMARKS.md, "fewer clock readings").
    fn time_of_read(&mut self) -> (Instant, bool) {
        if self.conn.poll_timeout().is_some() {
            (self.read_clock(), true)
        } else {
            (self.clock, false)
        }
    }

    fn eof(&mut self) {
        self.read_eof = true;
        let now = self.read_clock();
        self.conn.handle_eof(now);
    }

    /// Bytes queued or encoded and not yet written.
    pub(crate) fn unwritten(&self) -> usize {
        self.out.len() + self.conn.buffered_amount()
    }

    /// Replaces the stop signal; the new one is polled at the next look.
    pub(crate) fn set_stop(&mut self, stop: StopSignal) {
        self.stop = Some(stop);
        self.armed = false;
    }

    /// Starts the closing handshake with 1001 (Going Away) once the server's stop
    /// signal fires; true when it just did.
    ///
    /// Both directions look: a handler that only sends must see the stop as surely as
    /// one that only receives. The Close goes after everything already queued, so
    /// every message a `send` accepted reaches the peer first; the sends after it fail.
    fn poll_stop(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(stop) = &mut self.stop else {
            return false;
        };
        if stop.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.stop = None;
        self.stopped = true;
        self.progress += 1;
        // Refused only when the connection is already closing.
        let _ = self.conn.close(CloseCode::GOING_AWAY, STOP_REASON);
        true
    }

    /// Writes everything the connection has to send: the write side of `send`, `flush`
    /// and the `Sink`, which is where a handler that only sends sees a stop and its
    /// timers fire. A peer that stopped reading cannot hold it for ever once the
    /// conversation is closing: when the close timeout gives up on the peer, the
    /// unwritten bytes are dropped and the transport closed, as `poll_recv` does.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // A timer that fired is set for the next deadline (each firing moves the
        // connection on, so this ends: a close timer armed now fires at once and sets
        // its real deadline).
        while self.poll_wakeups(cx) {}
        if self.conn.should_abort_transport() {
            return self.poll_abort(cx);
        }
        self.poll_write(cx)
    }

    /// Writes everything the connection has to send. `poll_recv` writes with this
    /// directly: it looks at the stop signal itself before it waits for input, so it
    /// need not pay for a second look on every write.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.transport_closed {
            return Poll::Ready(Ok(()));
        }
        loop {
            if self.out.is_empty() && self.conn.poll_transmit_into(&mut self.out) == 0 {
                break;
            }
            ready!(self.poll_yield(cx));
            let written = if self.io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = self.out.io_slices(&mut slices);
                if n == 1 {
                    // One contiguous slice (small frames are copied together): a
                    // plain write, without the kernel importing a vector.
                    self.io.poll_write(cx, &slices[0])
                } else {
                    self.io.poll_write_vectored(cx, &slices[..n])
                }
            } else {
                self.io.poll_write(cx, self.out.first_slice())
            };
            let Poll::Ready(written) = written else {
                self.ready_in_a_row = 0;
                return Poll::Pending;
            };
            self.ready_in_a_row += 1;
            match written {
                Ok(0) => return Poll::Ready(self.write_failed(ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.untimed_io = true;
                    self.out.advance(n.min(self.out.len()));
                    self.progress += 1;
                }
                Err(e) => return Poll::Ready(self.write_failed(e)),
            }
        }
        match ready!(self.io.poll_flush(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(self.write_failed(e)),
        }
    }

    /// The transport cannot be written any more. A peer that is gone is an end of
    /// stream (the events already received still come out, then `Closed`); any other
    /// error is reported, once.
    fn write_failed(&mut self, e: io::Error) -> Result<(), Error> {
        self.transport_closed = true;
        self.progress += 1;
        self.out.clear();
        self.read_eof = true;
        let now = self.read_clock();
        self.conn.handle_write_error(now);
        if is_disconnect(&e) {
            Ok(())
        } else {
            Err(e.into())
        }
    }

    /// The close timeout gave up on a peer that did not take our last bytes: drops
    /// them, and closes the transport.
    fn poll_abort(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.out.clear();
        self.poll_shutdown(cx)
    }

    /// Closes the transport (TLS close_notify and FIN), once.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.transport_closed {
            return Poll::Ready(Ok(()));
        }
        let result = ready!(self.io.poll_shutdown(cx));
        self.transport_closed = true;
        self.progress += 1;
        match result {
            Err(e) if !is_disconnect(&e) => Poll::Ready(Err(e.into())),
            _ => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_noted_on_one_thread_is_not_taken_for_one_on_another() {
        let noted = note_wait();
        assert!(no_wait_since(noted));
        std::thread::spawn(move || {
            // The same count on another thread's counter.
            while WAITS.with(std::cell::Cell::get) < noted.0 {
                note_wait();
            }
            assert!(!no_wait_since(noted));
        })
        .join()
        .unwrap();
        note_wait();
        assert!(!no_wait_since(noted));
    }

    /// A task waker that, like an executor running the task inline, needs the
    /// alarm's lock while it wakes.
    struct Inline {
        alarm: Arc<Alarm>,
        lock_was_free: AtomicBool,
    }

    impl Wake for Inline {
        fn wake(self: Arc<Self>) {
            let free = self.alarm.task.try_lock().is_ok();
            self.lock_was_free.store(free, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_alarm_notes_that_it_rang_and_wakes_its_task_outside_its_lock() {
        let alarm = Arc::new(Alarm::default());
        let inline = Arc::new(Inline {
            alarm: alarm.clone(),
            lock_was_free: AtomicBool::new(false),
        });
        *alarm.task.lock().unwrap() = Some(Waker::from(inline.clone()));
        Waker::from(alarm.clone()).wake_by_ref();
        assert!(alarm.rung.load(Ordering::Acquire));
        assert!(inline.lock_was_free.load(Ordering::SeqCst));
    }
}
