//! The connection state machine, after the opening handshake.
//!
//! # Theory of operation
//!
//! Input bytes accumulate in one read buffer. A frame's header is decoded and checked as
//! soon as it is complete, so a length over the limit fails the connection before any
//! payload is buffered. Payload bytes are unmasked in place and, for text, run through
//! the UTF-8 validator as they arrive, so a bad byte fails the connection at once, even
//! in the middle of a frame. A complete payload is split off the read buffer without a
//! copy and becomes an event (or a fragment of a message being assembled).
//!
//! Decoding is lazy: it runs when an event is polled, and stops as soon as one event is
//! pending. The application therefore handles each message, and queues its answer,
//! before the next frame is looked at, exactly as if it had read one message at a time
//! from a socket; an answer is never lost to a violation further down the same read.
//!
//! Output is two queues: control frames (pongs, pings), which go first, and data frames
//! in the order the user queued them, with the Close frame at the end so that nothing
//! queued before a close is lost. Frames are encoded only when the caller asks for
//! bytes, a bounded amount per call, so a 16 MiB message does not become a 16 MiB
//! output buffer and a Pong can go out between the fragments of a long message.
//!
//! The closing handshake is three facts: whether our Close is queued, whether the
//! peer's has arrived, and whether the conversation is over ([`Event::Closed`] has been
//! reported). A server closes the transport as soon as the conversation is over; a
//! client waits for the server to do it, for at most the close timeout (RFC 6455 §7.1.1).
//!
//! Timers are deadlines compared with the time the caller passes in. The close timer is
//! armed at the first `handle_*` call after what starts it, and until then
//! [`Connection::poll_timeout`] asks to be called right away: what starts it is a
//! command (which has no `now`) or a frame decoded by [`Connection::poll_event`], which
//! may come long after the bytes were read, or after a read whose caller did not look
//! at the clock (a driver without a deadline to move has no need to).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::config::{Config, Policy};
use crate::entropy::{Entropy, OsEntropy};
use crate::error::{ProtocolError, UsageError};
use crate::event::{CloseReason, Event, Message};
use crate::frame::{Frame, Header, MAX_HEADER_LEN, OpCode};
use crate::mask::apply_mask;
use crate::output::{OutputBuffer, Sink};
use crate::utf8::{Utf8Bytes, Utf8Validator};

/// How many bytes a read asks the transport for at most, by default (the adapters'
/// `read_size` option), outside a frame whose payload is still arriving, when the
/// transport reads into the buffer's spare capacity (tokio's streams): a 64 KiB message
/// then arrives in one read rather than three. The memory is only reserved: pages a
/// read does not fill are never touched, and an idle connection gives it back.
pub const DEFAULT_READ_SIZE: usize = 64 * 1024;

/// The same, for a transport that wants initialised room ([`Connection::read_with`]:
/// `std::io::Read`, `futures-io`), which is zeroed before each read: a quarter, as
/// zeroing 64 KiB before each read of a large message measured slower (BENCHMARKS.md).
pub const DEFAULT_READ_SIZE_ZEROED: usize = 16 * 1024;

/// Inside a frame whose payload is larger, the most one read asks the transport for
/// (unless the read size is larger still): a read buffer is reserved for the whole
/// rest of a frame (so it lands in one piece), but measured on loopback TCP at 1 MiB
/// × 1 connection × 16 in flight, reading a 1 MiB echo 256 KiB at a time moved
/// 1.2-1.3× the messages of reading it whole (BENCHMARKS.md, a trade-off against the
/// 64-connection cell): the peer's next bytes arrive while the first quarter is
/// handled, instead of after one long copy.
pub const MAX_READ_SIZE: usize = 256 * 1024;

/// How much room the read buffer reserves at once for the rest of a large frame's
/// payload: all of it up to 1 MiB (so that such a message lands in one piece, which
/// the 1 MiB cells were tuned for); beyond that, as much again as has arrived (the
/// buffer doubles as the payload comes). A header alone announcing 16 MiB so gets
/// 1 MiB reserved, not 16: what a peer makes us hold is bounded by what it sent
/// (about twice that, plus 1 MiB), not by what it announced.
const MAX_RESERVE_AHEAD: usize = 1024 * 1024;

/// The most one read may ask for, whichever way it reads: [`MAX_READ_SIZE`] (see there
/// for why), or the read size if the adapter set it larger. One function, so that
/// [`Connection::read_buffer_for`] and [`Connection::read_with`] cannot disagree.
fn read_limit(read_size: usize) -> usize {
    read_size.max(MAX_READ_SIZE)
}

/// The memory page size that [`START_IN_PAGE`] is measured in (4 KiB on x86-64 and
/// most hosts; only the offset's effect on the kernel's copy depends on it).
const PAGE: usize = 4096;

/// How far into a page a large read buffer starts when it starts again (see
/// `Connection::place_start`): away from a page's first bytes, where senders' data
/// tends to sit, and from its last (single runs with the start there were slower
/// too). Starts from 80 to 2 064 bytes into a page measured alike.
const START_IN_PAGE: usize = 1024;

/// Room reserved for a payload's `rest` beyond the rest itself: a page and a header
/// when the rest is larger than a read, so that the buffer, started again at its
/// front between such frames, has the room to be moved on into its page
/// (`Connection::place_start`) and still take a frame as large. Reserved for the rest
/// exactly, a 1 MiB buffer had none, and stayed where glibc put it: a ws-tokio echo
/// server made 1 133-1 454 messages a second at 1 MiB × 1 connection × 1 in flight,
/// and 1 353-3 025 with the page (2.0-2.5× in five pairs of six; BENCHMARKS.md, "a
/// page to spare for a 1 MiB buffer"). The page is only reserved: it is touched once
/// a buffer is moved into it.
fn slack(rest: usize, read_size: usize) -> usize {
    if rest > read_size {
        PAGE + MAX_HEADER_LEN
    } else {
        0
    }
}

/// From how many bytes held on a move the read buffer reserves room for several reads
/// instead of one ([`Connection::read_buffer_for`]): below it, moving is cheap, and a
/// connection of small messages keeps a small buffer.
const LARGE_CUT: usize = 16 * 1024;

/// The least room [`Connection::read_with`] zeroes for a read: it starts there and
/// grows while reads fill it.
const MIN_READ_ROOM: usize = 4096;

/// Which end of the connection this is. It decides masking (RFC 6455 §5.1) and who
/// closes the transport first (§7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end that opened the connection: masks what it sends.
    Client,
    /// The end that accepted it: sends unmasked frames, requires masked ones.
    Server,
}

/// Where the closing handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// One side has sent a Close; the other's is awaited.
    Closing,
    /// The conversation is over ([`Event::Closed`] was reported).
    Closed,
}

/// The most pending control frames kept; past this, the oldest Pong is dropped (a Pong
/// may answer only the latest Ping, RFC 6455 §5.5.3), so a peer that pings without
/// reading cannot grow our memory.
const MAX_QUEUED_CONTROL: usize = 32;

/// The RSV1 bit, as in the first header byte: permessage-deflate's "compressed".
const RSV1: u8 = 0x40;

/// A timer a command asked for, armed at the next `handle_*` call that tells the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    Off,
    Pending,
    At(Instant),
}

/// A data message being assembled from fragments.
#[derive(Debug)]
struct Fragmented {
    opcode: OpCode,
    buf: BytesMut,
    /// A compressed message (RSV1 on its first frame): what its frames inflated to so
    /// far; `buf` stays empty.
    inflated: Option<Vec<u8>>,
}

/// permessage-deflate, once negotiated: our compressor and the peer's decompressor.
#[cfg(feature = "deflate")]
#[derive(Debug)]
struct Compression {
    deflater: crate::deflate::Deflater,
    inflater: crate::deflate::Inflater,
}

/// A frame whose header is written and whose payload is being copied out.
#[derive(Debug)]
struct Encoding {
    payload: Bytes,
    written: usize,
    mask: Option<[u8; 4]>,
}

/// One WebSocket connection, client or server, after the opening handshake.
///
/// The methods come in four groups:
///
/// - **input**: [`handle_input`](Self::handle_input) (or [`read_buffer`](Self::read_buffer)
///   then [`handle_read`](Self::handle_read)), [`handle_eof`](Self::handle_eof),
///   [`handle_write_error`](Self::handle_write_error),
///   [`handle_timeout`](Self::handle_timeout). They never fail: a misbehaving peer shows
///   up as an [`Event::Closed`] and a queued Close frame.
/// - **commands**: [`send`](Self::send), [`send_frame`](Self::send_frame),
///   [`ping`](Self::ping), [`pong`](Self::pong), [`close`](Self::close),
///   [`set_policy`](Self::set_policy). They fail only on caller misuse ([`UsageError`]).
/// - **output**, to drain after every input or command, in this order:
///   [`poll_event`](Self::poll_event) (until `None`; input is decoded as events are
///   polled), [`poll_transmit`](Self::poll_transmit) (bytes to write, until it returns
///   0), then [`should_close_transport`](Self::should_close_transport) and
///   [`poll_timeout`](Self::poll_timeout) (when to call `handle_timeout`).
/// - **getters**: [`state`](Self::state), [`role`](Self::role),
///   [`buffered_amount`](Self::buffered_amount), [`config`](Self::config).
pub struct Connection {
    role: Role,
    config: Config,
    /// Where a client's masking keys come from. `None` stands for the OS source,
    /// made at the first key: a server never masks, and the source (a 256-byte pool)
    /// was 264 of the 3 125 heap bytes of an idle ws-tokio server connection.
    entropy: Option<Box<dyn Entropy>>,

    // Input.
    rbuf: BytesMut,
    /// The header of the frame whose payload is arriving.
    header: Option<Header>,
    /// How many bytes of that payload are already unmasked and validated.
    seen: usize,
    /// The payload length of the last frame read whole: what the next is expected to
    /// need (see `restart_buffer`).
    last_payload: usize,
    /// The room `read_with` zeroes for the next read outside a large payload: doubled
    /// (up to the read size) when a read fills it, halved after a run of reads that
    /// fill under a quarter, so a connection of small messages does not zero the whole
    /// read size for each.
    read_room: usize,
    /// Reads in a row that brought under a quarter of that room.
    small_reads: u8,
    /// Whether that payload is (part of) a text message to validate.
    frame_is_text: bool,
    /// RSV bits a negotiated extension gives meaning to (none yet: permessage-deflate
    /// will claim RSV1 here, and transform payloads between `check_header` and
    /// `deliver`, without the adapters knowing).
    rsv_allowed: u8,
    /// The policy [`set_policy`](Self::set_policy) asked for, applied between messages.
    next_policy: Policy,
    fragmented: Option<Fragmented>,
    /// The message whose frames are arriving is compressed.
    compressed: bool,
    #[cfg(feature = "deflate")]
    compression: Option<Compression>,
    utf8: Utf8Validator,
    events: VecDeque<Event>,

    // Output.
    control: VecDeque<Frame>,
    data: VecDeque<Frame>,
    encoding: Option<Encoding>,
    /// Payload bytes queued in `data` and `encoding`.
    buffered: usize,

    // Closing handshake.
    close_queued: bool,
    close_received: Option<Option<CloseFrame>>,
    initiated_locally: bool,
    finished: bool,
    close_transport: bool,
    /// The transport reached end of file.
    eof: bool,
    /// The peer did not take our last bytes in time; they were dropped.
    aborted: bool,

    // Time.
    now: Instant,
    last_received: Instant,
    ping_sent: Option<Instant>,
    pings: u64,
    close_timer: Timer,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered", &self.buffered)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection whose opening handshake is done, at time `now`. A client draws its
    /// masking keys from the operating system's CSPRNG.
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        Self::build(role, config, now, None)
    }

    /// Like [`Connection::new`], with the masking keys drawn from `entropy`.
    pub fn with_entropy(
        role: Role,
        config: Config,
        now: Instant,
        entropy: Box<dyn Entropy>,
    ) -> Self {
        Self::build(role, config, now, Some(entropy))
    }

    fn build(role: Role, config: Config, now: Instant, entropy: Option<Box<dyn Entropy>>) -> Self {
        let policy = config.policy;
        Self {
            role,
            config,
            entropy,
            rbuf: BytesMut::new(),
            header: None,
            seen: 0,
            last_payload: 0,
            read_room: MIN_READ_ROOM,
            small_reads: 0,
            frame_is_text: false,
            rsv_allowed: 0,
            next_policy: policy,
            fragmented: None,
            compressed: false,
            #[cfg(feature = "deflate")]
            compression: None,
            utf8: Utf8Validator::new(),
            events: VecDeque::new(),
            control: VecDeque::new(),
            data: VecDeque::new(),
            encoding: None,
            buffered: 0,
            close_queued: false,
            close_received: None,
            initiated_locally: false,
            finished: false,
            close_transport: false,
            eof: false,
            aborted: false,
            now,
            last_received: now,
            ping_sent: None,
            pings: 0,
            close_timer: Timer::Off,
        }
    }

    /// The connection with the extensions its opening handshake agreed on (see
    /// [`Extensions`](crate::handshake::Extensions)).
    #[must_use]
    #[allow(unused_mut)] // mutated only with the `deflate` feature
    pub fn with_extensions(mut self, extensions: crate::handshake::Extensions) -> Self {
        #[cfg(feature = "deflate")]
        if let Some(params) = extensions.deflate {
            self.enable_deflate(params);
        }
        let _ = extensions;
        self
    }

    /// permessage-deflate as negotiated, or `None` when it is off.
    #[cfg(feature = "deflate")]
    pub fn deflate_params(&self) -> Option<crate::deflate::DeflateParams> {
        self.compression.as_ref().map(|c| c.deflater.params())
    }

    /// Turns permessage-deflate on, as the opening handshake negotiated it
    /// ([`with_extensions`](Self::with_extensions) does it from the handshake's outcome,
    /// or [`UpgradeRequest::negotiate_deflate`](crate::handshake::UpgradeRequest::negotiate_deflate)):
    /// RSV1 then marks compressed messages both ways. Call it before any input.
    #[cfg(feature = "deflate")]
    pub fn enable_deflate(&mut self, params: crate::deflate::DeflateParams) {
        self.rsv_allowed |= RSV1;
        self.compression = Some(Compression {
            deflater: crate::deflate::Deflater::new(params),
            inflater: crate::deflate::Inflater::new(&params),
        });
    }

    // ===== getters =====

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        if self.finished {
            State::Closed
        } else if self.close_queued || self.close_received.is_some() {
            State::Closing
        } else {
            State::Open
        }
    }

    /// Payload bytes of data frames queued and not yet handed to
    /// [`poll_transmit`](Self::poll_transmit); an adapter applies back-pressure on it.
    pub fn buffered_amount(&self) -> usize {
        self.buffered
    }

    // ===== input =====

    /// Feeds bytes received from the peer. Any split of the input into calls gives the
    /// same events and output.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        self.tick(now);
        if bytes.is_empty() {
            return;
        }
        if self.reading() {
            self.rbuf.extend_from_slice(bytes);
        }
        self.heard_from_peer(now);
    }

    /// The buffer [`handle_input`](Self::handle_input) appends to. An adapter can read
    /// from its transport straight into it (sparing a copy), then call
    /// [`handle_read`](Self::handle_read).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.rbuf
    }

    /// [`read_buffer`](Self::read_buffer), with room for the next read, and the most
    /// that read should ask for. The room is `read_size` bytes or, inside a frame whose
    /// payload is still arriving, the rest of that payload (up to 1 MiB, or as much as
    /// has arrived if that is more), so a large payload lands in one piece instead of
    /// the buffer being moved or regrown under it many times (the room is only
    /// reserved: pages the peer does not fill are never touched). The
    /// limit is the larger of `read_size` and [`MAX_READ_SIZE`], the same as
    /// [`read_with`](Self::read_with) keeps to.
    ///
    /// When making that room would move 16 KiB or more of a frame cut by the last
    /// read's end (to the buffer's front, or into a new buffer), the room reserved is
    /// at least the limit: several reads then fit before the next move, instead of
    /// one, which moved a nearly whole message per message when messages were close to
    /// the read size. A connection busy with such messages so holds a few hundred KiB
    /// (given back when it is idle, as any read buffer), not about two messages.
    ///
    /// Near the end of a payload larger than `read_size` whose rest the buffer already
    /// has room for, no more room is asked for: topping it up to `read_size` would
    /// regrow the whole buffer (bytes doubles it) for the bytes past the frame's end,
    /// and the next message would land in the other half. A 1 MiB payload kept a
    /// 2 MiB buffer so, read half in one half and half in the other (BENCHMARKS.md,
    /// "2026-12-05").
    ///
    /// Between frames, an empty buffer with less room left than the last frame's
    /// payload starts again at the front of its memory once no message holds it, so
    /// that a frame as large as the last is not moved there mid-frame (both ways of
    /// reading; BENCHMARKS.md, "2026-12-07"), and 1 KiB into its page: the room
    /// reserved for the rest of a payload larger than `read_size` has a page to spare
    /// for that (`slack`).
    pub fn read_buffer_for(&mut self, read_size: usize) -> (&mut BytesMut, usize) {
        self.restart_buffer();
        if !self.large_payload_fits(read_size) {
            let rest = self.payload_rest();
            let spare = self.rbuf.capacity() - self.rbuf.len();
            if rest <= MAX_RESERVE_AHEAD {
                let wanted =
                    self.room_to_reserve(read_size.max(rest) + slack(rest, read_size), read_size);
                self.rbuf.reserve(wanted);
            } else if spare < read_limit(read_size) {
                // Beyond 1 MiB, room for as much again as has arrived, once a read
                // would not have its full room: the buffer doubles as bytes come.
                let ahead = rest.min(MAX_RESERVE_AHEAD.max(self.rbuf.len()));
                self.rbuf.reserve(read_size.max(ahead));
            }
        }
        (&mut self.rbuf, read_limit(read_size))
    }

    /// No frame is in progress and the read buffer holds nothing: the point where its
    /// memory may start again at the front, be given back, or be skipped for a small
    /// read on the stack.
    fn between_frames_empty(&self) -> bool {
        self.rbuf.is_empty() && self.header.is_none()
    }

    /// Between frames, an empty read buffer that has less room left than the last
    /// frame's payload starts again at the front of its memory when no message holds
    /// that memory any more (there is nothing to move). Otherwise the next frame, if as
    /// large as the last, lands in the room left after it and is moved to the front
    /// mid-frame, when its header asks for room: a 4 MiB echo read the rest of each
    /// message at about half the speed that way (BENCHMARKS.md). With room enough, the
    /// buffer goes on where it is, as it always did. Started again, it is moved on
    /// into its page (`place_start`).
    fn restart_buffer(&mut self) {
        let spare = self.rbuf.capacity();
        if self.between_frames_empty()
            && spare > 0
            && spare < self.last_payload
            && self.rbuf.try_reclaim(spare + 1)
        {
            self.place_start();
        }
    }

    /// Moves the start of an empty read buffer to [`START_IN_PAGE`] bytes into a
    /// memory page, when the room after it still takes a frame as large as the last.
    ///
    /// The kernel's copy of a read lands at the buffer's start, and on an AMD EPYC
    /// host (its `rep movsb`) that copy ran several times slower when its destination
    /// sat at nearly the same place in a page as its source. A large buffer that glibc
    /// `mmap`s starts 16 bytes into a page, and a loopback sender's data sat near a
    /// page's start too: with glibc's default settings, a ws-tokio echo server made
    /// 321-350 messages a second at 4 MiB × 1 connection × 1 in flight, and 779-811
    /// with this start; a client 127-232 and 174-371 (BENCHMARKS.md, "2026-12-07:
    /// where in a page a large read lands"). It costs at most a page of the buffer's
    /// room, and is not done where the room is short (a buffer regrown for a few KiB
    /// would cost more).
    fn place_start(&mut self) {
        let in_page = self.rbuf.as_ptr() as usize % PAGE;
        let pad = (START_IN_PAGE + PAGE - in_page) % PAGE;
        let room_after = self.rbuf.capacity().saturating_sub(pad);
        if pad > 0 && self.rbuf.is_empty() && room_after >= self.last_payload + MAX_HEADER_LEN {
            self.rbuf.resize(pad, 0);
            self.rbuf.advance(pad);
        }
    }

    /// How much room to reserve when a read wants `wanted` bytes of it. When the buffer
    /// has less, reserving moves what it holds to its front (or into a new buffer);
    /// when that is a large piece of a frame cut by the last read's end, the room asked
    /// for is at least the read limit, so that several reads, and several frames, fit
    /// before the next move. Room for one read only kept the buffer at about two
    /// frames of 64 KiB, and each read then ended a frame into the next: a nearly whole
    /// message moved for every message (BENCHMARKS.md, "2026-12-06 evening").
    fn room_to_reserve(&self, wanted: usize, read_size: usize) -> usize {
        let held = self.rbuf.len();
        if held >= LARGE_CUT && self.rbuf.capacity() - held < wanted {
            wanted.max(read_limit(read_size))
        } else {
            wanted
        }
    }

    /// Inside a frame whose payload is larger than `read_size` and still arriving, the
    /// read buffer has room for all of the payload still to come (so a read has room).
    fn large_payload_fits(&self, read_size: usize) -> bool {
        let larger = self
            .header
            .is_some_and(|h| h.payload_len > read_size as u64);
        let rest = self.payload_rest();
        larger && rest > 0 && rest <= self.rbuf.capacity() - self.rbuf.len()
    }

    /// Inside a frame whose payload is still arriving, how many of its bytes the read
    /// buffer does not hold yet (0 between frames).
    fn payload_rest(&self) -> usize {
        match self.header {
            // `check_header` bounded the length by `max_frame_size`, a `usize`.
            Some(h) => (h.payload_len as usize).saturating_sub(self.rbuf.len()),
            None => 0,
        }
    }

    /// Appends bytes that were read into a buffer of the adapter's own (the stack
    /// buffer an idle connection, which holds no read buffer, waits in) to
    /// [`read_buffer`](Self::read_buffer); then call
    /// [`handle_read`](Self::handle_read). The read buffer first gets room for
    /// `read_size` bytes: a connection that hears from its peer again is busy again,
    /// and a buffer sized to this one read would leave no room for the next, which
    /// would then come through the stack buffer too, and so on for every read.
    pub fn extend_read_buffer(&mut self, bytes: &[u8], read_size: usize) {
        if !bytes.is_empty() {
            self.read_buffer_for(read_size).0.extend_from_slice(bytes);
        }
    }

    /// Reads from a transport that wants an initialised `&mut [u8]` (`std::io::Read`,
    /// `futures_io::AsyncRead`) straight into the read buffer, without unsafe code:
    /// `read` is handed zeroed room at the end of the buffer (or on the stack, below)
    /// and answers how many bytes it put there (0 is end of file, and feeds nothing).
    /// Bytes read are taken note of as [`handle_read`](Self::handle_read) does, at
    /// `now` (which may be old on the same terms); an error (or, for a poll-based
    /// transport, "not ready" carried in `E`) leaves the buffer as it was.
    ///
    /// The room is zeroed before every read, so it is sized to what the reads bring.
    /// It starts at 4 KiB, doubles up to `read_size` while reads fill it, and halves
    /// after 16 reads in a row that brought under a quarter of it, so a connection of
    /// small messages does not zero the whole read size for each. Inside a frame whose
    /// payload is still arriving it is at least the rest of that payload, up to the
    /// larger of `read_size` and [`MAX_READ_SIZE`] (more would mostly zero bytes a
    /// loopback read does not fill, while 64 KiB took four times the reads of
    /// tungstenite per 1 MiB message: BENCHMARKS.md; a read size set larger is kept,
    /// as for a read into spare capacity). At the end of a payload larger than
    /// `read_size`, when the buffer already has room for its rest, the room is what
    /// the buffer has, as in [`read_buffer_for`](Self::read_buffer_for). Room that
    /// would move a large piece of a cut frame is reserved for several reads, as there,
    /// and an empty buffer starts again at its front on the same terms.
    ///
    /// Between frames, when the buffer is empty and the room is the least (4 KiB or
    /// less), the room is on the stack and the bytes read are copied over: zeroing
    /// 4 KiB of each connection's own buffer for every read, the reads that find
    /// nothing too, was 4-7 % of a ws-async-std server's time on 1 000 connections of
    /// small messages (a cold buffer each time), and under 1 % on the stack
    /// (BENCHMARKS.md).
    pub fn read_with<E>(
        &mut self,
        read_size: usize,
        now: Instant,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        self.restart_buffer();
        let start = self.rbuf.len();
        let rest = self.payload_rest();
        let adaptive = self.read_room.min(read_size).max(1);
        let mut room = adaptive.max(rest.min(read_limit(read_size)));
        if self.large_payload_fits(read_size) {
            // As in `read_buffer_for`: the end of a large payload that fits is no
            // reason to regrow the buffer.
            room = room.min(self.rbuf.capacity() - start);
        }
        let wanted = self.room_to_reserve(room, read_size);
        let n;
        let result;
        if self.between_frames_empty() && room <= MIN_READ_ROOM {
            // Between frames, at the least room: zeroed on the stack, which every
            // connection of the thread shares (and so stays in the cache), rather
            // than in this connection's buffer, cold when thousands take turns; only
            // the bytes read are copied over. Most such reads find one small message,
            // or nothing (a `futures-io` read tries before it waits).
            let mut stack = [0u8; MIN_READ_ROOM];
            result = read(&mut stack[..room]);
            n = result.as_ref().map_or(0, |&n| n.min(room));
            if n > 0 {
                self.rbuf.reserve(wanted);
                self.rbuf.extend_from_slice(&stack[..n]);
            }
        } else {
            self.rbuf.reserve(wanted);
            self.rbuf.resize(start + room, 0);
            result = read(&mut self.rbuf[start..]);
            n = result.as_ref().map_or(0, |&n| n.min(room));
            self.rbuf.truncate(start + n);
        }
        if n > 0 {
            // Only the adaptive room learns from a read, and it halves only after a
            // run of small ones: the last read of a burst is small too.
            let adapting = room == adaptive;
            if adapting && n >= room {
                self.read_room = (room * 2).clamp(MIN_READ_ROOM, read_size.max(MIN_READ_ROOM));
            }
            self.small_reads = if adapting && n < room / 4 {
                self.small_reads + 1
            } else {
                0
            };
            if self.small_reads == 16 {
                self.read_room = (room / 2).max(MIN_READ_ROOM);
                self.small_reads = 0;
            }
            self.handle_read(now);
        }
        result.map(|_| n)
    }

    /// Gives back the memory of the buffers that hold nothing (the read buffer, the
    /// event and frame queues): an adapter calls it when the connection has gone idle,
    /// so that thousands of idle connections cost little. They are allocated again
    /// when needed; input not yet decoded and output not yet taken are kept.
    pub fn release_buffers(&mut self) {
        if self.between_frames_empty() {
            self.rbuf = BytesMut::new();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        if self.control.is_empty() {
            self.control = VecDeque::new();
        }
        if self.data.is_empty() {
            self.data = VecDeque::new();
        }
        #[cfg(feature = "deflate")]
        if let Some(c) = &mut self.compression {
            // The codecs' state is large (hundreds of KiB); it can go only when no
            // context is kept between messages, and not inside a message.
            c.deflater.release();
            if self.fragmented.is_none() {
                c.inflater.release();
            }
        }
    }

    /// Bytes of memory the buffers hold (their capacity, not their contents).
    pub fn buffer_capacity(&self) -> usize {
        self.rbuf.capacity()
            + self.events.capacity() * size_of::<Event>()
            + (self.control.capacity() + self.data.capacity()) * size_of::<Frame>()
    }

    /// Takes note that bytes were appended to [`read_buffer`](Self::read_buffer) (call
    /// it only when some were: it counts as a sign of life for the keepalive).
    ///
    /// While [`poll_timeout`](Self::poll_timeout) is `None`, nothing depends on the
    /// time of a read: a caller may then pass the last time it read the clock instead
    /// of reading it again for every read.
    pub fn handle_read(&mut self, now: Instant) {
        self.tick(now);
        self.heard_from_peer(now);
    }

    /// Any bytes from the peer prove it alive: the keepalive starts over.
    fn heard_from_peer(&mut self, now: Instant) {
        self.last_received = now;
        self.ping_sent = None;
    }

    /// The transport reached end of file: no more bytes will come. What was received
    /// before still comes out as events; then [`Event::Closed`] with
    /// [`CloseReason::Eof`] if the closing handshake had not finished.
    pub fn handle_eof(&mut self, now: Instant) {
        self.eof = true;
        if self.finished {
            // A client waiting for the server to close the transport (§7.1.1).
            self.end_transport();
        }
        // The time is current here: a timer just started starts now.
        self.tick(now);
    }

    /// Tells the connection that its transport cannot be written any more: a write
    /// failed (the peer is gone, or the transport broke). Nothing queued can reach the
    /// peer now, so it is dropped rather than kept, and every later send fails with
    /// [`UsageError::Closed`] instead of queuing bytes that would never leave and grow
    /// without bound. The read side ends as with [`handle_eof`](Self::handle_eof): the
    /// events already received still come out, then `Closed`.
    pub fn handle_write_error(&mut self, now: Instant) {
        self.abort_output();
        self.handle_eof(now);
    }

    /// Tells the connection the time: fires the keepalive and close timers that are due.
    /// Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        self.fire_timers(now);
        // A timer that firing started (the close timer after the keepalive gave up)
        // starts now: `poll_timeout` is later than `now` on return, never a busy loop.
        self.tick(now);
    }

    fn fire_timers(&mut self, now: Instant) {
        if let Timer::At(deadline) = self.close_timer {
            if now >= deadline {
                self.close_timer = Timer::Off;
                if self.close_transport {
                    // The peer did not take our last bytes in time (it stopped reading):
                    // give up on them rather than hold the transport open forever.
                    self.abort_output();
                    return;
                }
                if !self.finished {
                    self.finish(CloseReason::CloseTimeout);
                }
                self.end_transport();
                return;
            }
        }
        match self.keepalive_deadline() {
            Some(deadline) if now >= deadline => {}
            _ => return,
        }
        if self.ping_sent.is_some() {
            self.finish(CloseReason::KeepAliveTimeout);
            self.end_transport();
        } else {
            self.pings += 1;
            let payload = Bytes::copy_from_slice(&self.pings.to_be_bytes());
            self.push_control(Frame::ping(payload));
            self.ping_sent = Some(now);
        }
    }

    /// When to ping (or, after a ping, to give up), while the connection is open.
    /// `None` also when the configured duration overflows `Instant`: never.
    fn keepalive_deadline(&self) -> Option<Instant> {
        let keepalive = self.config.keepalive?;
        if self.finished || self.close_queued {
            return None;
        }
        match self.ping_sent {
            Some(sent) => sent.checked_add(keepalive.timeout),
            None => self.last_received.checked_add(keepalive.interval),
        }
    }

    /// Records the time and arms the timers commands asked for.
    fn tick(&mut self, now: Instant) {
        self.now = now;
        if self.close_timer == Timer::Pending {
            self.close_timer = match now.checked_add(self.config.close_timeout) {
                Some(deadline) => Timer::At(deadline),
                None => Timer::Off,
            };
        }
    }

    /// Whether frames are still read: not after the conversation ended, nor after the
    /// peer's Close (RFC 6455 §5.5.1: nothing follows it).
    fn reading(&self) -> bool {
        !self.finished && self.close_received.is_none()
    }

    /// Decodes buffered input until one event is pending (or more bytes are needed).
    ///
    /// Input is decoded lazily, by [`poll_event`](Self::poll_event) only: the
    /// application handles a message (and queues its answer) before the next frame is
    /// even looked at, even if it writes in between. An echo server answering a
    /// message that arrived in the same read as a violation thus still sends the
    /// answer before its Close (Autobahn 3.2, 5.15).
    fn process_input(&mut self) {
        if let Err(e) = self.decode_until_event() {
            self.fail(e);
        }
        if !self.reading() {
            self.rbuf.clear();
        }
        if self.eof {
            // The transport ended and nothing buffered makes another event.
            if self.events.is_empty() && !self.finished {
                self.finish(CloseReason::Eof);
            }
            if self.finished {
                self.end_transport();
            }
        }
    }

    fn decode_until_event(&mut self) -> Result<(), ProtocolError> {
        while self.reading() && self.events.is_empty() {
            let header = match self.header {
                Some(header) => header,
                None => match Header::decode(&self.rbuf)? {
                    None => break,
                    Some((header, len)) => {
                        if self.fragmented.is_none() {
                            self.config.policy = self.next_policy;
                        }
                        self.check_header(&header)?;
                        self.rbuf.advance(len);
                        self.header = Some(header);
                        self.seen = 0;
                        header
                    }
                },
            };
            // `check_header` bounded the length by `max_frame_size`, a `usize`.
            let len = header.payload_len as usize;
            let available = self.rbuf.len().min(len);
            if available > self.seen {
                let fresh = &mut self.rbuf[self.seen..available];
                if let Some(key) = header.mask {
                    apply_mask(fresh, key, self.seen);
                }
                if self.frame_is_text && self.utf8.feed(fresh).is_err() {
                    // RFC 6455 §8.1: fail as soon as the text cannot be valid UTF-8.
                    return Err(ProtocolError::InvalidUtf8);
                }
                self.seen = available;
            }
            if available < len {
                break;
            }
            let payload = self.rbuf.split_to(len).freeze();
            self.header = None;
            self.last_payload = len;
            self.on_frame(header, payload);
        }
        Ok(())
    }

    /// The checks a header allows before any of its payload is read.
    fn check_header(&mut self, h: &Header) -> Result<(), ProtocolError> {
        // RFC 6455 §5.1: a server MUST close the connection on an unmasked frame; a
        // client MUST close it on a masked one.
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let standard = self.config.policy == Policy::Standard;
        // §5.2: RSV bits MUST be 0 unless an extension defines them.
        if standard && h.rsv & !self.rsv_allowed != 0 {
            return Err(ProtocolError::ReservedBits(h.rsv & !self.rsv_allowed));
        }
        // RFC 7692 §6: RSV1 marks the first frame of a compressed message, never a
        // control frame or a continuation.
        if standard
            && h.rsv & RSV1 != 0
            && (h.opcode.is_control() || h.opcode == OpCode::Continuation)
        {
            return Err(ProtocolError::ReservedBits(RSV1));
        }
        // §5.2: on a reserved opcode the receiving endpoint MUST fail the connection.
        if standard && h.opcode.is_reserved() {
            return Err(ProtocolError::ReservedOpcode(h.opcode.as_nibble()));
        }
        if h.opcode.is_control() {
            // §5.5: control frames MUST have a payload of 125 bytes or less and MUST
            // NOT be fragmented.
            if h.payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong(h.payload_len));
            }
            if !h.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            self.frame_is_text = false;
            return Ok(());
        }
        if h.payload_len > self.config.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: h.payload_len,
                max: self.config.max_frame_size,
            });
        }
        if !standard {
            self.frame_is_text = false;
            return Ok(());
        }
        // §5.4: fragments of one message are never interleaved with another message.
        let so_far = match (&self.fragmented, h.opcode) {
            (None, OpCode::Continuation) => return Err(ProtocolError::UnexpectedContinuation),
            (Some(_), OpCode::Text | OpCode::Binary) => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            (Some(f), _) => f.buf.len() as u64,
            (None, _) => 0,
        };
        let total = so_far + h.payload_len;
        if total > self.config.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                len: total,
                max: self.config.max_message_size,
            });
        }
        if h.opcode != OpCode::Continuation {
            self.compressed = h.rsv & RSV1 != 0;
        }
        self.frame_is_text = match (&self.fragmented, h.opcode) {
            (_, OpCode::Text) => {
                self.utf8.reset();
                true
            }
            (Some(f), OpCode::Continuation) => f.opcode == OpCode::Text,
            _ => false,
        };
        if self.compressed {
            // Validated once inflated.
            self.frame_is_text = false;
        }
        Ok(())
    }

    fn on_frame(&mut self, header: Header, payload: Bytes) {
        if self.config.policy == Policy::Raw {
            if header.opcode == OpCode::Close {
                let peer = CloseFrame::parse(&payload).ok().flatten();
                self.events
                    .push_back(Event::Frame(header.into_frame(payload)));
                self.on_peer_close(peer, false);
            } else {
                self.events
                    .push_back(Event::Frame(header.into_frame(payload)));
            }
            return;
        }
        match header.opcode {
            OpCode::Ping => {
                // §5.5.2: a Ping is answered with a Pong carrying the same data, unless
                // a Close was already sent.
                if !self.close_queued {
                    self.push_control(Frame::pong(payload.clone()));
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::Pong => self.events.push_back(Event::Pong(payload)),
            OpCode::Close => match CloseFrame::parse(&payload) {
                Ok(peer) => self.on_peer_close(peer, true),
                Err(e) => self.fail(e),
            },
            OpCode::Text | OpCode::Binary if self.compressed => {
                let mut f = Fragmented {
                    opcode: header.opcode,
                    buf: BytesMut::new(),
                    inflated: Some(Vec::new()),
                };
                if let Err(e) = self.inflate_frame(&mut f, &payload, header.fin) {
                    return self.fail(e);
                }
                if header.fin {
                    let inflated = f.inflated.take().unwrap_or_default();
                    self.deliver(f.opcode, Bytes::from(inflated));
                } else {
                    self.fragmented = Some(f);
                }
            }
            OpCode::Text | OpCode::Binary if header.fin => self.deliver(header.opcode, payload),
            OpCode::Text | OpCode::Binary => {
                self.fragmented = Some(Fragmented {
                    opcode: header.opcode,
                    buf: BytesMut::from(&payload[..]),
                    inflated: None,
                });
            }
            OpCode::Continuation => {
                // `check_header` made sure a message is in progress.
                let Some(mut f) = self.fragmented.take() else {
                    return self.fail(ProtocolError::UnexpectedContinuation);
                };
                if f.inflated.is_some() {
                    if let Err(e) = self.inflate_frame(&mut f, &payload, header.fin) {
                        return self.fail(e);
                    }
                } else {
                    f.buf.extend_from_slice(&payload);
                }
                if !header.fin {
                    self.fragmented = Some(f);
                } else if let Some(inflated) = f.inflated {
                    self.deliver(f.opcode, Bytes::from(inflated));
                } else {
                    self.deliver(f.opcode, f.buf.freeze());
                }
            }
            // Refused by `check_header` under the standard policy.
            OpCode::ReservedData(n) | OpCode::ReservedControl(n) => {
                self.fail(ProtocolError::ReservedOpcode(n));
            }
        }
    }

    fn deliver(&mut self, opcode: OpCode, payload: Bytes) {
        let message = if opcode == OpCode::Text {
            // The bytes were validated as they arrived; the message must not end
            // inside a code point.
            if !self.utf8.is_complete() {
                return self.fail(ProtocolError::InvalidUtf8);
            }
            Message::Text(Utf8Bytes::from_validated(payload))
        } else {
            Message::Binary(payload)
        };
        self.events.push_back(Event::Message(message));
    }

    /// Inflates one frame of a compressed message into `f.inflated`, validating text as
    /// it comes out; with the last frame, ends the message. The message size limit
    /// applies to the inflated bytes, checked while inflating.
    fn inflate_frame(
        &mut self,
        f: &mut Fragmented,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), ProtocolError> {
        let Some(out) = f.inflated.as_mut() else {
            return Ok(());
        };
        let before = out.len();
        self.inflate_into(out, payload, fin)?;
        if f.opcode == OpCode::Text && self.utf8.feed(&out[before..]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(())
    }

    #[cfg(feature = "deflate")]
    fn inflate_into(
        &mut self,
        out: &mut Vec<u8>,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), ProtocolError> {
        use crate::deflate::InflateError;
        let max = self.config.max_message_size;
        // RSV1 is refused unless deflate was negotiated, so this is set.
        let Some(c) = self.compression.as_mut() else {
            return Err(ProtocolError::ReservedBits(RSV1));
        };
        let result = c.inflater.inflate(payload, out, max).and_then(|()| {
            if fin {
                c.inflater.finish(out, max)
            } else {
                Ok(())
            }
        });
        result.map_err(|e| match e {
            InflateError::Corrupt => ProtocolError::BadCompressedData,
            InflateError::TooLarge => ProtocolError::MessageTooLarge {
                len: out.len() as u64,
                max,
            },
        })
    }

    #[cfg(not(feature = "deflate"))]
    fn inflate_into(&mut self, _: &mut Vec<u8>, _: &[u8], _: bool) -> Result<(), ProtocolError> {
        // RSV1 is refused without the extension; this is never reached.
        Err(ProtocolError::ReservedBits(RSV1))
    }

    /// The peer's Close arrived (already validated under the standard policy).
    fn on_peer_close(&mut self, peer: Option<CloseFrame>, reply: bool) {
        // RFC 6455 §5.5.1: after a Close, the peer sends nothing more; ignore the rest.
        if self.close_queued {
            self.close_received = Some(peer.clone());
            self.finish(CloseReason::Handshake {
                peer,
                initiated_locally: self.initiated_locally,
            });
        } else if reply {
            // §5.5.1: answer with a Close, typically echoing the status code.
            let answer = match &peer {
                Some(frame) => Frame::close(frame.code, ""),
                None => Frame::close_empty(),
            };
            self.queue_close(answer);
            self.close_received = Some(peer.clone());
            self.finish(CloseReason::Handshake {
                peer,
                initiated_locally: false,
            });
        } else {
            // Raw policy: the user answers, and `send_frame` finishes the handshake; if
            // the answer never comes, the close timer ends the connection.
            self.close_received = Some(peer);
            self.arm_close_timer();
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): queue a Close with the error's code after
    /// what the application already queued (which the peer may still read: nothing
    /// accepted for sending is dropped), report, and close the transport once flushed.
    fn fail(&mut self, error: ProtocolError) {
        if self.finished {
            return;
        }
        if !self.close_queued {
            self.queue_close(Frame::close(error.close_code(), ""));
        }
        self.finish(CloseReason::Protocol(error));
        self.end_transport();
    }

    /// The transport is to be closed once what is queued is written; the close timer
    /// bounds how long that may take.
    fn end_transport(&mut self) {
        if !self.close_transport {
            self.close_transport = true;
            self.arm_close_timer();
        }
    }

    /// Starts the close timer at the next time the caller tells us, not from the last
    /// one: that may be old (see the module's documentation).
    fn arm_close_timer(&mut self) {
        self.close_timer = Timer::Pending;
    }

    /// Drops everything not yet written, for a peer that stopped reading.
    fn abort_output(&mut self) {
        self.aborted = true;
        self.control.clear();
        self.data.clear();
        self.encoding = None;
        self.buffered = 0;
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.fragmented = None;
        self.header = None;
        self.events.push_back(Event::Closed(reason));
        match self.role {
            // §7.1.1: the server closes the TCP connection first.
            Role::Server => self.end_transport(),
            // A client waits for the server to do it, but not forever.
            Role::Client => self.arm_close_timer(),
        }
    }

    // ===== commands =====

    /// Queues a whole message, split into frames of
    /// [`Config::fragment_size`] if that is set.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<(), UsageError> {
        self.check_can_send()?;
        #[allow(unused_mut)]
        let mut frame = message.into().into_frame();
        #[cfg(feature = "deflate")]
        if let Some(c) = self.compression.as_mut() {
            if c.deflater.wants(frame.payload.len()) {
                // RFC 7692 §6: RSV1 on the first frame of a compressed message.
                frame.payload = c.deflater.compress(&frame.payload);
                frame.rsv[0] = true;
            }
        }
        self.push_data(frame);
        Ok(())
    }

    /// Queues one frame as it is: the raw policy's way to send anything, including
    /// fragments, reserved opcodes and RSV bits. Data frames keep their order; control
    /// frames go ahead of queued data. A Close frame starts (or, after the peer's
    /// Close, completes) the closing handshake.
    pub fn send_frame(&mut self, frame: Frame) -> Result<(), UsageError> {
        self.check_can_send()?;
        if frame.opcode.is_control() {
            check_control(&frame)?;
        }
        match frame.opcode {
            OpCode::Close => {
                self.queue_close(frame);
                if let Some(peer) = self.close_received.clone() {
                    self.finish(CloseReason::Handshake {
                        peer,
                        initiated_locally: false,
                    });
                } else {
                    self.initiated_locally = true;
                    self.arm_close_timer();
                }
            }
            op if op.is_control() => self.push_control(frame),
            _ => self.push_data(frame),
        }
        Ok(())
    }

    /// Queues a Ping with `payload` (at most 125 bytes).
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), UsageError> {
        self.send_frame(Frame::ping(payload))
    }

    /// Queues an unsolicited Pong (a heartbeat; §5.5.3) or, under the raw policy, an
    /// answer to a Ping.
    pub fn pong(&mut self, payload: impl Into<Bytes>) -> Result<(), UsageError> {
        self.send_frame(Frame::pong(payload))
    }

    /// Starts the closing handshake: queues a Close with `code` and `reason` after
    /// everything already queued, and expects the peer's Close within
    /// [`Config::close_timeout`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(UsageError::CloseReasonTooLong(reason.len()));
        }
        self.send_frame(Frame::close(code, reason))
    }

    /// Switches between the standard and the raw policy (the OCaml `make_standard`).
    ///
    /// The switch takes effect at the next frame header, except inside a message the
    /// standard policy is assembling, which finishes under it: a frame, and a message,
    /// is handled from start to end under one policy, so text is never half checked.
    /// The raw policy assembles nothing, so a fragmented message it let through is not
    /// continued under the standard one (its next fragment fails the connection):
    /// switch to standard between messages.
    pub fn set_policy(&mut self, policy: Policy) {
        self.next_policy = policy;
    }

    fn check_can_send(&self) -> Result<(), UsageError> {
        // `aborted`: the output was given up on, nothing more can be written.
        if self.finished || self.aborted {
            Err(UsageError::Closed)
        } else if self.close_queued {
            Err(UsageError::CloseAlreadySent)
        } else {
            Ok(())
        }
    }

    fn push_data(&mut self, frame: Frame) {
        self.buffered += frame.payload.len();
        self.data.push_back(frame);
    }

    fn push_control(&mut self, frame: Frame) {
        if self.control.len() >= MAX_QUEUED_CONTROL {
            if let Some(i) = self.control.iter().position(|f| f.opcode == OpCode::Pong) {
                self.control.remove(i);
            } else {
                self.control.pop_front();
            }
        }
        self.control.push_back(frame);
    }

    fn queue_close(&mut self, frame: Frame) {
        self.close_queued = true;
        self.push_data(frame);
    }

    // ===== output =====

    /// Appends bytes to write to the transport to `out` and returns how many. Call it
    /// until it returns 0, after draining [`poll_event`](Self::poll_event) (which is
    /// what decodes input, and so queues the answers to pings and closes); each call
    /// appends about [`Config::write_chunk_size`] bytes at most: a header or a control
    /// frame may end past the chunk, and a payload whose rest is within an eighth of it
    /// is finished.
    ///
    /// Every byte is copied into `out`; [`poll_transmit_into`](Self::poll_transmit_into)
    /// spares the copy of large unmasked payloads.
    #[must_use = "the bytes must be written to the transport"]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        self.transmit(out, |v| v.len());
        out.len() - start
    }

    /// Like [`poll_transmit`](Self::poll_transmit), into an [`OutputBuffer`] that
    /// references payloads of a few KiB and more (sent unmasked, as a server sends
    /// them) instead of copying them: write its [`io_slices`](OutputBuffer::io_slices)
    /// with one vectored write. Returns how many bytes were added; the write chunk
    /// bounds only the copied ones.
    #[must_use = "the bytes must be written to the transport"]
    pub fn poll_transmit_into(&mut self, out: &mut OutputBuffer) -> usize {
        let start = out.len();
        self.transmit(out, OutputBuffer::copied_len);
        out.len() - start
    }

    /// The encoder behind both `poll_transmit`s. `copied` tells how many bytes `out`
    /// holds copies of: that is what the write chunk bounds, since referenced payloads
    /// cost no memory that the queue did not already hold.
    fn transmit<S: Sink>(&mut self, out: &mut S, copied: impl Fn(&S) -> usize) {
        let start = copied(out);
        let budget = self.config.write_chunk_size.max(1);
        while copied(out) - start < budget {
            if let Some(enc) = &mut self.encoding {
                let room = budget - (copied(out) - start);
                let left = enc.payload.len() - enc.written;
                let n = if enc.mask.is_none() && out.shares(left) {
                    left
                } else if left <= room.saturating_add(budget / 8) {
                    // Finish the payload rather than leave a sliver of it for a write
                    // of its own, which the peer, holding all the rest, would wait
                    // for: a 1 MiB message with its header was 1 MiB and then 14
                    // bytes, at about two thirds of the messages per second
                    // (BENCHMARKS.md).
                    left
                } else {
                    room.min(left)
                };
                let from = enc.written;
                match enc.mask {
                    Some(key) => out.append_masked(&enc.payload[from..from + n], key, from),
                    // The whole payload in one piece: hand it over as it is (slicing a
                    // `Bytes` made from a `Vec` would allocate).
                    None if from == 0 && n == left => out.share(std::mem::take(&mut enc.payload)),
                    None => out.share(enc.payload.slice(from..from + n)),
                }
                self.buffered -= n;
                if n == left {
                    self.encoding = None;
                } else {
                    enc.written += n;
                }
            } else if let Some(frame) = self.control.pop_front() {
                let mask = self.next_mask();
                out.append(|v| frame.encode(mask, v));
            } else if let Some(frame) = self.next_data_frame() {
                let is_close = frame.opcode == OpCode::Close;
                let mask = self.next_mask();
                out.append(|v| frame.header(mask).encode(v));
                let (payload, mask) = premask(frame.payload, mask, out);
                self.encoding = Some(Encoding {
                    payload,
                    written: 0,
                    mask,
                });
                if is_close {
                    // §5.5.1: nothing is sent after a Close.
                    self.control.clear();
                    self.data.clear();
                }
            } else {
                break;
            }
        }
    }

    /// The next data frame, cut to [`Config::fragment_size`].
    fn next_data_frame(&mut self) -> Option<Frame> {
        let front = self.data.front_mut()?;
        match self.config.fragment_size {
            Some(size) if front.opcode != OpCode::Close && front.payload.len() > size.max(1) => {
                let part = front.payload.split_to(size.max(1));
                let first = Frame {
                    fin: false,
                    rsv: front.rsv,
                    opcode: front.opcode,
                    payload: part,
                };
                // The rest continues the message; RSV bits belong to the first frame.
                front.opcode = OpCode::Continuation;
                front.rsv = [false; 3];
                Some(first)
            }
            _ => self.data.pop_front(),
        }
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            Role::Client => {
                let mut key = [0u8; 4];
                self.entropy
                    .get_or_insert_with(|| Box::new(OsEntropy::new()))
                    .fill(&mut key);
                Some(key)
            }
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.process_input();
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    /// An instant in the past means "now".
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.aborted {
            return None;
        }
        let close = match self.close_timer {
            Timer::Off => None,
            Timer::Pending => Some(self.now),
            Timer::At(at) => Some(at),
        };
        match (close, self.keepalive_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the transport should now be closed: the conversation is over, everything
    /// queued has been handed out by [`poll_transmit`](Self::poll_transmit), and (for a
    /// client) the server closed its side or did not within the close timeout.
    #[must_use]
    pub fn should_close_transport(&self) -> bool {
        self.close_transport
            && self.encoding.is_none()
            && self.data.is_empty()
            && self.control.is_empty()
    }

    /// Whether to close the transport at once, without writing what the caller still
    /// holds from [`poll_transmit`](Self::poll_transmit): the conversation is over and
    /// the peer did not take our last bytes within the close timeout (it stopped
    /// reading). Until the transport is closed, [`poll_timeout`](Self::poll_timeout)
    /// keeps that deadline, so a peer cannot hold a finished connection open.
    #[must_use]
    pub fn should_abort_transport(&self) -> bool {
        self.aborted
    }
}

fn check_control(frame: &Frame) -> Result<(), UsageError> {
    if frame.payload.len() > 125 {
        return Err(UsageError::ControlPayloadTooLong(frame.payload.len()));
    }
    if !frame.fin {
        return Err(UsageError::FragmentedControlFrame);
    }
    Ok(())
}

/// A client's large payload that nothing else references (a `Vec` the application
/// handed over) is masked where it lies and then written from there like a server's,
/// instead of being copied into the output while it is masked: returns the payload and
/// the mask still to apply (`None` once applied).
fn premask<S: Sink>(payload: Bytes, mask: Option<[u8; 4]>, out: &S) -> (Bytes, Option<[u8; 4]>) {
    match mask {
        Some(key) if out.shares(payload.len()) => match payload.try_into_mut() {
            Ok(mut owned) => {
                apply_mask(&mut owned, key, 0);
                (owned.freeze(), None)
            }
            Err(shared) => (shared, mask),
        },
        _ => (payload, mask),
    }
}
