//! The drive loop of `ws-proto` around a blocking transport, in the shape of STYLE.md's
//! str0m loop: drain the events, write what the connection has to send, then block in
//! a read bounded by the connection's next deadline; a read that times out is how the
//! clock reaches the core.
//!
//! The loop is split in two so that one code path serves the whole socket and its split
//! halves: [`Machine`] decides (events, timers, when to close), a [`Writer`] writes.

use std::io::{self, ErrorKind, IoSlice};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ws_proto::adapter::{IDLE_RELEASE, STOP_REASON, is_disconnect};
use ws_proto::pacing;
use ws_proto::{CloseCode, Connection, DEFAULT_READ_SIZE_ZEROED, Event, OutputBuffer};

use crate::Error;
use crate::transport::Transport;

/// How long the reader half of a split socket waits for the peer to take a write
/// before it leaves the rest to the writer half (or its next turn) and reads.
const READER_WRITE_WAIT: Duration = Duration::from_millis(1);

/// How long a server connection blocked in a read goes without looking at the server's
/// stop flag: a blocked read cannot be woken any other way without losing the stream.
pub(crate) const STOP_CHECK: Duration = Duration::from_millis(200);

/// How many connections of this process are between a read that brought bytes and
/// their next blocking read: see [`Machine::eager`].
static BUSY: AtomicUsize = AtomicUsize::new(0);

/// The stack buffer a connection without a read buffer waits for input in.
const SCRATCH_SIZE: usize = 4096;

/// The most slices one vectored write is given.
const MAX_SLICES: usize = 32;

/// The protocol machine and the state of the read side.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) conn: Connection,
    /// An event taken from the connection and not yet returned.
    pending: Option<Event>,
    /// The read side reached end of file: it is not read again.
    pub(crate) read_eof: bool,
    pub(crate) transport_closed: bool,
    /// When bytes last moved either way, and when to check whether the buffers can go.
    pub(crate) last_io: Instant,
    release_at: Option<Instant>,
    /// The server's stop flag: once set, the connection closes with 1001.
    pub(crate) stop: Option<Arc<AtomicBool>>,
    /// The stop flag was seen and started the closing handshake.
    pub(crate) stopped: bool,
    pub(crate) read_size: usize,
    /// This connection is counted in [`BUSY`].
    busy: bool,
    /// No other connection was busy when this one's input came: the answers queued
    /// are written at the next `recv`, one write each, while at most
    /// [`EAGER_WRITE_MAX`](pacing::EAGER_WRITE_MAX) bytes wait, rather than together
    /// when the input runs out. Alone, answering a burst in one write leaves the peer
    /// idle until the last answer is ready, and both sides fall asleep once per
    /// burst; with other connections wanting the CPU, the single write keeps the
    /// system calls per message down. Decided again at the first read after each
    /// blocking one.
    eager: bool,
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.idle();
    }
}

/// What the loop does next.
pub(crate) enum Next {
    Event(Event),
    /// The transport is closed: nothing more will come.
    Done,
    /// Block in a read for at most this long.
    Read(Option<Duration>),
}

/// Where the machine's output goes: the socket's own stream, or the shared write side
/// of a split socket.
pub(crate) trait Writer {
    /// Writes everything the connection has to send.
    fn flush(&mut self, m: &mut Machine) -> Result<(), Error>;
    /// Ends the write side of the transport.
    fn shutdown(&mut self, m: &mut Machine) -> Result<(), Error>;
    /// Drops what is still unwritten (the peer stopped reading).
    fn discard(&mut self);
    /// Bytes encoded and not yet written.
    fn unwritten(&self) -> usize;
    /// Memory the output buffer holds, and giving it back when it is empty.
    fn capacity(&self) -> usize;
    fn shrink(&mut self);
}

impl Machine {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            conn,
            pending: None,
            read_eof: false,
            transport_closed: false,
            last_io: Instant::now(),
            release_at: None,
            stop: None,
            stopped: false,
            read_size: DEFAULT_READ_SIZE_ZEROED,
            busy: false,
            eager: false,
        }
    }

    /// Counts the connection out of [`BUSY`]: it is about to block in a read, or gone.
    fn idle(&mut self) {
        if self.busy {
            self.busy = false;
            BUSY.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Decides the next step: an event to return, the end, or a read to block in.
    ///
    /// An event already received is returned at once, without writing first: the
    /// answers queued while handling a burst of input go out together when the input
    /// runs out, or sooner as [`pacing`] says (a long queue, or a small one while the
    /// connection is [eager](Self::eager)).
    pub(crate) fn next(&mut self, w: &mut impl Writer) -> Result<Next, Error> {
        loop {
            if self.pending.is_none() {
                self.pending = self.conn.poll_event();
            }
            if matches!(&self.pending, Some(e) if !matches!(e, Event::Closed(_))) {
                if pacing::write_before_event(self.unwritten(w), self.eager) {
                    w.flush(self)?;
                }
                return Ok(self.pending.take().map_or(Next::Done, Next::Event));
            }
            // Before blocking, write what was queued; with the last event, close the
            // transport when it is time.
            w.flush(self)?;
            if self.conn.should_abort_transport() {
                w.discard();
                w.shutdown(self)?;
            } else if self.conn.should_close_transport() {
                w.shutdown(self)?;
            }
            if let Some(event) = self.pending.take() {
                return Ok(Next::Event(event));
            }
            if self.transport_closed {
                return Ok(Next::Done);
            }
            if self.check_stop() {
                continue;
            }
            let now = Instant::now();
            let deadline = self.deadline(w);
            if deadline.is_some_and(|at| at <= now) {
                self.fire_timers(now, w);
                continue;
            }
            let mut timeout = deadline.map(|at| at - now);
            if self.read_eof {
                // Only the clock can move the connection on.
                match timeout {
                    Some(t) => std::thread::sleep(t),
                    None => w.shutdown(self)?,
                }
                continue;
            }
            if self.stop.is_some() {
                timeout = Some(timeout.map_or(STOP_CHECK, |t| t.min(STOP_CHECK)));
            }
            self.idle();
            return Ok(Next::Read(timeout));
        }
    }

    /// Starts the closing handshake with 1001 (Going Away) once the server's stop flag
    /// is set; true when it just did.
    ///
    /// Writes look too, not only reads: a handler that only sends must see the stop as
    /// surely as one that only receives. The Close goes after everything already
    /// queued, so every message a `send` accepted reaches the peer first; the sends
    /// after it fail.
    pub(crate) fn check_stop(&mut self) -> bool {
        if !self
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Acquire))
        {
            return false;
        }
        self.stop = None;
        self.stopped = true;
        // Refused only when the connection is already closing.
        let _ = self.conn.close(CloseCode::GOING_AWAY, STOP_REASON);
        true
    }

    /// Bytes queued or encoded and not yet written.
    pub(crate) fn unwritten(&self, w: &impl Writer) -> usize {
        w.unwritten() + self.conn.buffered_amount()
    }

    /// The connection's next timer, and, while the buffers hold memory and bytes still
    /// come, the idle check (armed once per period, re-armed when it fires early).
    fn deadline(&mut self, w: &impl Writer) -> Option<Instant> {
        let timer = self.conn.poll_timeout();
        if self.read_eof {
            return timer;
        }
        if self.release_at.is_none() && (self.conn.buffer_capacity() > 0 || w.capacity() > 0) {
            self.release_at = Some(self.last_io + IDLE_RELEASE);
        }
        match (timer, self.release_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn fire_timers(&mut self, now: Instant, w: &mut impl Writer) {
        if self.release_at.is_some_and(|at| now >= at) {
            if now >= self.last_io + IDLE_RELEASE {
                self.conn.release_buffers();
                w.shrink();
                // What still holds memory holds data: look again one period later.
                self.release_at = (self.conn.buffer_capacity() > 0 || w.capacity() > 0)
                    .then(|| now + IDLE_RELEASE);
            } else {
                self.release_at = Some(self.last_io + IDLE_RELEASE);
            }
        }
        self.conn.handle_timeout(now);
    }

    /// Takes note of a read whose bytes (if any) are already in the read buffer.
    pub(crate) fn after_read(&mut self, result: io::Result<usize>) -> Result<(), Error> {
        let now = Instant::now();
        match result {
            Ok(0) => self.eof(now),
            Ok(_) => {
                if !self.busy {
                    self.busy = true;
                    self.eager = BUSY.fetch_add(1, Ordering::Relaxed) == 0;
                }
                self.last_io = now;
                self.conn.handle_read(now);
            }
            // The deadline passed: `next` runs the timers.
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_disconnect(&e) => self.eof(now),
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn eof(&mut self, now: Instant) {
        self.read_eof = true;
        self.conn.handle_eof(now);
    }

    /// The transport cannot be written any more. A peer that is gone is an end of
    /// stream (the events already received still come out, then `Closed`); any other
    /// error is reported, once.
    pub(crate) fn write_failed(&mut self, e: io::Error) -> Result<(), Error> {
        self.transport_closed = true;
        self.read_eof = true;
        self.conn.handle_write_error(Instant::now());
        if is_disconnect(&e) {
            Ok(())
        } else {
            Err(e.into())
        }
    }

    pub(crate) fn shut_down(&mut self, result: io::Result<()>) -> Result<(), Error> {
        self.transport_closed = true;
        match result {
            Err(e) if !is_disconnect(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// The write side: the stream and the bytes not yet written.
#[derive(Debug)]
pub(crate) struct Output<S> {
    pub(crate) io: S,
    out: OutputBuffer,
}

impl<S: Transport> Output<S> {
    pub(crate) fn new(io: S) -> Self {
        Self {
            io,
            out: OutputBuffer::new(),
        }
    }

    /// Writes what `transmit` hands over until it has nothing more, with vectored
    /// writes (large payloads are referenced, not copied); true when bytes moved.
    pub(crate) fn write_from(
        &mut self,
        mut transmit: impl FnMut(&mut OutputBuffer) -> usize,
    ) -> io::Result<bool> {
        let mut wrote = false;
        loop {
            if self.out.is_empty() && transmit(&mut self.out) == 0 {
                break;
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let n = self.out.io_slices(&mut slices);
            match self.io.write_vectored(&slices[..n]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.advance(n.min(self.out.len()));
                    wrote = true;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.io.flush()?;
        Ok(wrote)
    }

    /// Writes everything the connection has to send, waiting as long as the peer
    /// takes.
    pub(crate) fn flush_machine(&mut self, m: &mut Machine) -> Result<(), Error> {
        self.flush_machine_within(m, None).map(|_| ())
    }

    /// The reader half's flush: a write the peer does not take within
    /// [`READER_WRITE_WAIT`] is left for later (false). The reader must go back to
    /// reading, or a peer that waits for us to read before it reads again (an echo
    /// server under a large send) would wait for ever while we wait for it.
    pub(crate) fn flush_machine_for_reader(&mut self, m: &mut Machine) -> Result<bool, Error> {
        self.flush_machine_within(m, Some(READER_WRITE_WAIT))
    }

    /// Writes what the connection has to send, giving up after `wait` (when set)
    /// without the peer taking a write: false then, and what is unwritten stays. The
    /// wait is set only around these writes; every write happens under the write
    /// lock, so the other half never sees it.
    pub(crate) fn flush_machine_within(
        &mut self,
        m: &mut Machine,
        wait: Option<Duration>,
    ) -> Result<bool, Error> {
        m.check_stop();
        if m.transport_closed {
            return Ok(true);
        }
        if let Some(wait) = wait {
            if self.out.is_empty()
                && m.conn.poll_transmit_into(&mut self.out) == 0
                && !self.io.wants_flush()
            {
                // Nothing to write: spare the two timeout calls.
                return Ok(true);
            }
            let _ = self.io.set_write_timeout(Some(wait));
        }
        let result = self.write_from(|out| m.conn.poll_transmit_into(out));
        if wait.is_some() {
            let _ = self.io.set_write_timeout(None);
        }
        match result {
            Ok(wrote) => {
                if wrote {
                    m.last_io = Instant::now();
                }
                Ok(true)
            }
            Err(e) if wait.is_some() && is_timeout(&e) => Ok(false),
            Err(e) => {
                self.out.clear();
                m.write_failed(e).map(|()| true)
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.out.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.out.capacity()
    }

    pub(crate) fn shrink(&mut self) {
        self.out.shrink();
    }
}

impl<S: Transport> Writer for Output<S> {
    fn flush(&mut self, m: &mut Machine) -> Result<(), Error> {
        self.flush_machine(m)
    }

    fn shutdown(&mut self, m: &mut Machine) -> Result<(), Error> {
        if m.transport_closed {
            return Ok(());
        }
        let result = self.io.shutdown();
        m.shut_down(result)
    }

    fn discard(&mut self) {
        self.out.clear();
    }

    fn unwritten(&self) -> usize {
        self.out.len()
    }

    fn capacity(&self) -> usize {
        self.out.capacity()
    }

    fn shrink(&mut self) {
        self.out.shrink();
    }
}

/// The read timeout last given to the transport: it is changed only when the next
/// deadline needs it, since a system call per read would cost as much as the read.
/// A timer may fire a little late (an eighth of its delay, at most 5 ms more), never
/// early by more than one spurious wake-up.
#[derive(Debug, Default)]
pub(crate) struct ReadTimeout {
    current: Option<Option<Duration>>,
}

impl ReadTimeout {
    pub(crate) fn apply<S: Transport>(
        &mut self,
        io: &mut S,
        want: Option<Duration>,
    ) -> io::Result<()> {
        // A zero timeout means "none" to the OS.
        let want = want.map(|t| t.max(Duration::from_millis(1)));
        let keep = match (self.current, want) {
            (Some(None), None) => true,
            (Some(Some(current)), Some(want)) => {
                current <= want + want / 8 + Duration::from_millis(5)
            }
            // Wakes once for nothing, then it is set again.
            (Some(Some(_)), None) => true,
            _ => false,
        };
        if !keep {
            io.set_read_timeout(want)?;
            self.current = Some(want);
        }
        Ok(())
    }

    /// After a read timed out, the next one sets its timeout afresh.
    pub(crate) fn expired(&mut self) {
        self.current = None;
    }
}

/// The whole socket's loop: one stream, read and written by one thread.
#[derive(Debug)]
pub(crate) struct Driver<S> {
    pub(crate) machine: Machine,
    pub(crate) output: Output<S>,
    timeout: ReadTimeout,
}

impl<S: Transport> Driver<S> {
    pub(crate) fn new(io: S, conn: Connection) -> Self {
        Self {
            machine: Machine::new(conn),
            output: Output::new(io),
            timeout: ReadTimeout::default(),
        }
    }

    /// The next event, or `None` once the transport is closed; with `until`, gives up
    /// with [`Error::RecvTimeout`] at that instant.
    pub(crate) fn recv(&mut self, until: Option<Instant>) -> Result<Option<Event>, Error> {
        loop {
            match self.machine.next(&mut self.output)? {
                Next::Event(event) => return Ok(Some(event)),
                Next::Done => return Ok(None),
                Next::Read(mut timeout) => {
                    if let Some(until) = until {
                        let left = until.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(Error::RecvTimeout);
                        }
                        timeout = Some(timeout.map_or(left, |t| t.min(left)));
                    }
                    self.read(timeout)?;
                }
            }
        }
    }

    fn read(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        let io = &mut self.output.io;
        if let Err(e) = self.timeout.apply(io, timeout) {
            return self.machine.after_read(Err(e));
        }
        let conn = &mut self.machine.conn;
        let result = if conn.read_buffer().capacity() == 0 {
            // No buffer (a new connection, or one whose idle buffers were released):
            // wait for the bytes on the stack, so an idle connection holds none.
            let mut scratch = [0u8; SCRATCH_SIZE];
            let read_size = self.machine.read_size;
            io.read(&mut scratch).inspect(|&n| {
                conn.extend_read_buffer(&scratch[..n], read_size);
            })
        } else {
            // The time of the read is told by `after_read`, once the read is over: the
            // one given here (from before it) is overwritten at once.
            let before = self.machine.last_io;
            conn.read_with(self.machine.read_size, before, |room| io.read(room))
        };
        if matches!(&result, Err(e) if is_timeout(e)) {
            self.timeout.expired();
        }
        self.machine.after_read(result)
    }

    /// Writes everything queued.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        self.output.flush_machine(&mut self.machine)
    }

    /// Closes the transport's write side, once.
    pub(crate) fn shutdown(&mut self) -> Result<(), Error> {
        Writer::shutdown(&mut self.output, &mut self.machine)
    }

    pub(crate) fn unwritten(&self) -> usize {
        self.machine.unwritten(&self.output)
    }
}

/// A read that ran out of time (`WouldBlock` on Unix, `TimedOut` on Windows).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}
