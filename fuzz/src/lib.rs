//! Helpers shared by the fuzz targets in `fuzz_targets/`: a byte reader for decoding
//! fuzzer input, a chunker that splits input at fuzzer-chosen points, a virtual clock,
//! a checker for the frames a connection writes, and a driver that drains a
//! [`Connection`] after every step and asserts the invariants that must always hold.

use std::time::{Duration, Instant};

use ws_proto::frame::{Header, MAX_HEADER_LEN};
use ws_proto::{Config, Connection, Event, Frame, Message, OpCode, Role, SeededEntropy, State};

/// The longest control frame on the wire: a masked header and 125 payload bytes.
pub const MAX_CONTROL_FRAME_LEN: usize = 6 + 125;

/// Reads fuzzer input from the front; reads past the end give zeros or short slices.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// How many bytes are left.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// The next byte, or `None` at the end.
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    /// The next byte, or 0 at the end.
    pub fn u8(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }

    /// The next two bytes as a big-endian number (missing bytes read as 0).
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// The next `n` bytes, or fewer at the end.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Splits `data` into consecutive pieces whose lengths cycle through `sizes`.
///
/// A size byte below 0x80 is a length of 0 to 127 bytes (0 gives an empty piece); one
/// at or above 0x80 is `(b - 0x7f) * 128` bytes, up to 16 KiB. With no sizes, the
/// whole input is one piece. The pieces always cover all of `data`.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    sizes: &'a [u8],
    data: &'a [u8],
    next: usize,
    /// Empty pieces handed out in a row; a whole cycle of them ends the splitting.
    empty_run: usize,
    done: bool,
}

impl<'a> Chunks<'a> {
    /// The pieces of `data` for the size bytes `sizes`.
    pub fn new(sizes: &'a [u8], data: &'a [u8]) -> Self {
        Self {
            sizes,
            data,
            next: 0,
            empty_run: 0,
            done: false,
        }
    }
}

/// The piece length a size byte stands for.
fn piece_len(b: u8) -> usize {
    if b < 0x80 {
        usize::from(b)
    } else {
        usize::from(b - 0x7f) * 128
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        if self.sizes.is_empty() || self.empty_run >= self.sizes.len() {
            self.done = true;
            return Some(std::mem::take(&mut self.data));
        }
        let len = piece_len(self.sizes[self.next % self.sizes.len()]);
        self.next += 1;
        self.empty_run = if len == 0 { self.empty_run + 1 } else { 0 };
        let (piece, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        if self.data.is_empty() && len > 0 {
            self.done = true;
        }
        Some(piece)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    t0: Instant,
    ms: u64,
}

impl Clock {
    /// A clock at its origin (the only real reading of the time a run makes).
    pub fn new() -> Self {
        Self {
            t0: Instant::now(),
            ms: 0,
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.t0 + Duration::from_millis(self.ms)
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, ms: u64) {
        self.ms += ms;
    }

    /// Moves the clock to `at` if that is later than now (rounded up to a millisecond).
    pub fn advance_to(&mut self, at: Instant) {
        let d = at.saturating_duration_since(self.now());
        let ms = u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX / 2);
        self.advance(ms);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads the frames one side writes and checks what holds for any of them: the mask
/// is there exactly when a client sends (RFC 6455 §5.1), control frames are final and
/// short (§5.5), and nothing follows a Close (§5.5.1).
#[derive(Debug)]
pub struct WireChecker {
    sender: Role,
    buf: Vec<u8>,
    /// The header of the frame whose payload is being skipped, and what is left of it.
    in_payload: u64,
    close_seen: bool,
    /// How many whole frames were read.
    pub frames: usize,
}

impl WireChecker {
    /// A checker for what `sender` writes.
    pub fn new(sender: Role) -> Self {
        Self {
            sender,
            buf: Vec::new(),
            in_payload: 0,
            close_seen: false,
            frames: 0,
        }
    }

    /// Reads the next bytes `sender` wrote.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        loop {
            if self.in_payload > 0 {
                let n = usize::try_from(self.in_payload)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.in_payload -= n as u64;
                bytes = &bytes[n..];
                if self.in_payload > 0 {
                    return;
                }
                continue;
            }
            if bytes.is_empty() {
                return;
            }
            // Only a header is ever buffered (at most 14 bytes).
            let take = (MAX_HEADER_LEN - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            let (header, len) = match Header::decode(&self.buf) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    assert!(take == bytes.len(), "a header longer than 14 bytes");
                    return;
                }
                Err(e) => panic!("the connection wrote an undecodable header: {e}"),
            };
            assert!(
                !self.close_seen,
                "{:?} wrote a frame after its Close: {header:?}",
                self.sender
            );
            assert_eq!(
                header.mask.is_some(),
                self.sender == Role::Client,
                "masking of a frame written by the {:?}",
                self.sender
            );
            if header.opcode.is_control() {
                assert!(header.fin, "a fragmented control frame was written");
                assert!(
                    header.payload_len <= 125,
                    "a long control frame was written"
                );
            }
            if header.opcode == OpCode::Close {
                self.close_seen = true;
            }
            self.frames += 1;
            // Give back the bytes after the header that were buffered.
            let extra = self.buf.len() - len;
            bytes = &bytes[take - extra..];
            self.buf.clear();
            self.in_payload = header.payload_len;
        }
    }

    /// Whether a Close frame was written.
    pub fn close_seen(&self) -> bool {
        self.close_seen
    }
}

/// A connection with everything it reported, checked after every step.
pub struct Driver {
    /// The connection under test.
    pub conn: Connection,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// Every byte written.
    pub out: Vec<u8>,
    /// The frames written, checked.
    pub wire: WireChecker,
    /// How many bytes the connection may have written so far (see [`Driver::allow`]).
    pub allowance: usize,
    /// Whether [`Driver::drain`] sends every message back, as an echo server does.
    pub echo: bool,
    /// Whether [`Driver::drain`] writes through `poll_transmit_into` and an
    /// `OutputBuffer` (taken in uneven pieces) instead of `poll_transmit`.
    pub vectored: bool,
    output: ws_proto::OutputBuffer,
    closed: bool,
    transport_closed: bool,
    max_message_size: usize,
    max_frame_size: usize,
    write_chunk_size: usize,
}

impl Driver {
    /// A connection in `role` with `config`, masking with a fixed seed, at `now`.
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        let max_message_size = config.max_message_size;
        let max_frame_size = config.max_frame_size;
        let write_chunk_size = config.write_chunk_size.max(1);
        Self {
            conn: Connection::with_entropy(role, config, now, Box::new(SeededEntropy::new(42))),
            events: Vec::new(),
            out: Vec::new(),
            vectored: false,
            output: ws_proto::OutputBuffer::new(),
            wire: WireChecker::new(role),
            allowance: 0,
            echo: false,
            closed: false,
            transport_closed: false,
            max_message_size,
            max_frame_size,
            write_chunk_size,
        }
    }

    /// Allows for `n` more output bytes (what the last step may make the connection write).
    pub fn allow(&mut self, n: usize) {
        self.allowance = self.allowance.saturating_add(n);
    }

    /// Allows for the answers to `peer_bytes` bytes of input: a Pong per Ping (at most
    /// the Ping's size for a server, which reads masked frames, and three times it for
    /// a client, which masks a Pong of an unmasked 2-byte Ping) and one Close.
    pub fn allow_answers(&mut self, peer_bytes: usize) {
        let factor = match self.conn.role() {
            Role::Server => 1,
            Role::Client => 3,
        };
        self.allow(peer_bytes.saturating_mul(factor) + MAX_HEADER_LEN + 2);
    }

    /// Allows for a data message of `len` bytes sent in fragments of at most
    /// `fragment_size`.
    pub fn allow_message(&mut self, len: usize, fragment_size: Option<usize>) {
        let frames = match fragment_size {
            Some(size) => len.div_ceil(size.max(1)).max(1),
            None => 1,
        };
        self.allow(len + frames * MAX_HEADER_LEN);
    }

    /// Whether [`Event::Closed`] was reported.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// One `poll_transmit_into`, written out of the `OutputBuffer` as a transport with
    /// small buffers would (up to three slices, a prime number of bytes at a time);
    /// returns how many bytes it added to `out`.
    fn take_vectored(&mut self) -> usize {
        let n = self.conn.poll_transmit_into(&mut self.output);
        assert_eq!(n, self.output.len(), "poll_transmit_into's count");
        while !self.output.is_empty() {
            write_vectored(&mut self.output, 3, 97, &mut self.out);
        }
        n
    }

    /// Drains the connection as its drive loop says (events until `None`, then bytes
    /// until `poll_transmit` returns 0) and checks the invariants. With
    /// [`Driver::echo`] set, every message is sent back as it is polled.
    pub fn drain(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            self.check_event(&event);
            if let (true, Event::Message(message)) = (self.echo, &event)
                && self.conn.send(message.clone()).is_ok()
            {
                self.allow_message(message.len(), self.conn.config().fragment_size);
            }
            self.events.push(event);
        }
        loop {
            let start = self.out.len();
            let n = if self.vectored {
                self.take_vectored()
            } else {
                self.conn.poll_transmit(&mut self.out)
            };
            assert_eq!(n, self.out.len() - start, "poll_transmit's count");
            if n == 0 {
                break;
            }
            // A call stops once it has written the chunk size, but always writes a
            // whole header and at least one whole control frame, and may go an eighth
            // of the chunk past it to finish a payload.
            // (Referenced payloads do not count against the chunk.)
            let most = self.write_chunk_size + self.write_chunk_size / 8;
            assert!(
                self.vectored || n < most + MAX_CONTROL_FRAME_LEN,
                "poll_transmit wrote {n} bytes with a chunk size of {}",
                self.write_chunk_size
            );
            let (_, fresh) = self.out.split_at(start);
            self.wire.feed(fresh);
        }
        // One pass of the drive loop leaves nothing behind.
        if let Some(event) = self.conn.poll_event() {
            panic!("an event after a full drain: {event:?}");
        }
        assert!(
            self.out.len() <= self.allowance,
            "{} bytes written, more than the {} the inputs and commands allow",
            self.out.len(),
            self.allowance
        );
        assert_eq!(
            self.conn.buffered_amount(),
            0,
            "buffered_amount after poll_transmit returned 0"
        );
        assert_eq!(
            self.conn.state() == State::Closed,
            self.closed,
            "state() is Closed exactly when Event::Closed was reported"
        );
        let close_transport = self.conn.should_close_transport();
        assert!(
            close_transport || !self.transport_closed,
            "should_close_transport went from true back to false"
        );
        self.transport_closed = close_transport;
        if self.conn.should_abort_transport() {
            // Past the bound on writing the last bytes: close now, no timer left.
            assert!(close_transport, "abort without close");
            assert_eq!(self.conn.poll_timeout(), None, "a timer after the abort");
        }
        if self.closed && self.conn.role() == Role::Server {
            // RFC 6455 §7.1.1: the server closes the transport once the conversation is over.
            assert!(
                close_transport,
                "a closed server does not close its transport"
            );
        }
    }

    fn check_event(&mut self, event: &Event) {
        assert!(!self.closed, "an event after Event::Closed: {event:?}");
        match event {
            Event::Message(message) => {
                if let Message::Text(text) = message {
                    assert!(
                        std::str::from_utf8(text.as_bytes()).is_ok(),
                        "a text message that is not UTF-8: {:x?}",
                        text.as_bytes()
                    );
                }
                assert!(
                    message.len() <= self.max_message_size,
                    "an oversized message"
                );
            }
            Event::Ping(payload) | Event::Pong(payload) => {
                assert!(payload.len() <= 125, "a long control payload");
            }
            Event::Frame(frame) => {
                if frame.opcode.is_control() {
                    assert!(
                        frame.fin && frame.payload.len() <= 125,
                        "a bad control frame"
                    );
                } else {
                    assert!(
                        frame.payload.len() <= self.max_frame_size,
                        "an oversized frame"
                    );
                }
            }
            Event::Closed(_) => self.closed = true,
            _ => {}
        }
    }

    /// Ends the input, as the transport would, and checks that the conversation is then
    /// over.
    pub fn finish(&mut self, now: Instant) {
        self.conn.handle_eof(now);
        self.drain();
        assert!(self.closed, "no Event::Closed after handle_eof");
        assert!(
            self.conn.should_close_transport(),
            "should_close_transport is false after handle_eof and a full drain"
        );
        let closes = self
            .events
            .iter()
            .filter(|e| matches!(e, Event::Closed(_)))
            .count();
        assert_eq!(closes, 1, "Event::Closed reported {closes} times");
    }
}

/// A configuration with small limits, as the targets use.
#[allow(clippy::field_reassign_with_default)] // `Config` is `#[non_exhaustive]`
pub fn small_config() -> Config {
    let mut c = Config::default();
    c.max_frame_size = 64 << 10;
    c.max_message_size = 64 << 10;
    c
}

/// Decodes frame headers back to back from `data`, skipping each payload, and checks
/// what a decoded header must satisfy. Never panics on its own account: any panic is
/// the decoder's.
pub fn decode_headers(data: &[u8]) {
    let mut at = 0;
    while at < data.len() {
        let buf = &data[at..];
        let (header, len) = match Header::decode(buf) {
            Ok(Some(h)) => h,
            Ok(None) => {
                assert!(buf.len() < MAX_HEADER_LEN, "no header in 14 bytes");
                return;
            }
            Err(e) => {
                assert_eq!(e, ws_proto::ProtocolError::LengthTopBitSet);
                assert!(buf.len() >= 10 && buf[1] & 0x7f == 127 && buf[2] & 0x80 != 0);
                return;
            }
        };
        assert!((2..=MAX_HEADER_LEN).contains(&len), "header length {len}");
        assert!(len >= header.encoded_len(), "shortest encoding is longer");
        assert_eq!(header.fin, buf[0] & 0x80 != 0);
        assert_eq!(header.rsv, buf[0] & 0x70);
        assert_eq!(header.opcode.as_nibble(), buf[0] & 0x0f);
        assert_eq!(header.mask.is_some(), buf[1] & 0x80 != 0);
        assert!(header.payload_len >> 63 == 0);
        // Every cut of the header asks for more bytes.
        for cut in 0..len {
            assert_eq!(Header::decode(&buf[..cut]), Ok(None), "cut at {cut}");
        }
        // Re-encoding gives the shortest form, which decodes to the same header.
        let mut again = Vec::new();
        header.encode(&mut again);
        assert_eq!(again.len(), header.encoded_len());
        assert_eq!(Header::decode(&again), Ok(Some((header, again.len()))));
        if len == header.encoded_len() {
            assert_eq!(
                again,
                buf[..len],
                "a shortest header re-encodes differently"
            );
        }
        let payload = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        at = at.saturating_add(len).saturating_add(payload);
    }
}

/// The frame decoder targets: a connection fed `data` in fuzzer-chosen pieces.
///
/// Layout: a flags byte (bits 0-2: how many piece-size bytes follow, see [`Chunks`];
/// bit 3: the raw policy; bit 4: a 1-byte write chunk; bit 5: tiny size limits), the
/// size bytes, then the peer's bytes.
///
/// Four connections read the same bytes: one in pieces, drained after each; one all at
/// once; one in pieces, drained only at the end; and one in pieces read the way the
/// drive loops read, straight into the read buffer (`read_buffer_for` and `read_with`
/// in turn, with a small read size, so that its room, its moves and its restarts at the
/// front come into play), drained after each. Their events must be the same ("any
/// split of the input gives the same events and output"), and so must the output of
/// the two drained only at the end, which saw the same steps between two drains.
pub fn frame_decoder(role: Role, data: &[u8]) {
    decode_headers(data);
    let mut r = Reader::new(data);
    let flags = r.u8();
    let sizes = r.bytes(usize::from(flags & 7));
    let input = r.rest();

    let mut config = small_config();
    if flags & 0x08 != 0 {
        config.policy = ws_proto::Policy::Raw;
    }
    if flags & 0x10 != 0 {
        config.write_chunk_size = 1;
    }
    if flags & 0x20 != 0 {
        config.max_frame_size = 100;
        config.max_message_size = 250;
    }
    let clock = Clock::new();
    let now = clock.now();

    let mut piecewise = Driver::new(role, config.clone(), now);
    let mut whole = Driver::new(role, config.clone(), now);
    let mut lazy = Driver::new(role, config.clone(), now);
    let mut direct = Driver::new(role, config, now);
    for (i, piece) in Chunks::new(sizes, input).enumerate() {
        piecewise.conn.handle_input(piece, now);
        piecewise.allow_answers(piece.len());
        piecewise.drain();
        lazy.conn.handle_input(piece, now);
        read_directly(&mut direct.conn, piece, i % 2 == 1, now);
        direct.allow_answers(piece.len());
        direct.drain();
    }
    whole.conn.handle_input(input, now);
    whole.allow_answers(input.len());
    lazy.allow_answers(input.len());
    whole.drain();
    lazy.drain();
    assert_eq!(piecewise.events, whole.events, "events depend on the split");
    assert_eq!(lazy.events, whole.events, "events depend on the split");
    assert_eq!(
        direct.events, whole.events,
        "events depend on the way of reading"
    );
    assert_eq!(lazy.out, whole.out, "output depends on the split");

    for d in [&mut piecewise, &mut whole, &mut lazy, &mut direct] {
        d.finish(now);
    }
    assert_eq!(piecewise.events, whole.events);
    assert_eq!(lazy.events, whole.events);
    assert_eq!(direct.events, whole.events);
}

/// Reads `bytes` into `conn` the way a drive loop does: into the spare capacity
/// `read_buffer_for` leaves, or with `zeroed` into the room `read_with` zeroes, as
/// many reads as the rooms take, each as much as its room and `bytes` allow. The read
/// size is small (64 bytes), so that fuzzer-sized frames are larger than it.
fn read_directly(conn: &mut Connection, mut bytes: &[u8], zeroed: bool, now: Instant) {
    const READ_SIZE: usize = 64;
    while !bytes.is_empty() {
        let n = if zeroed {
            conn.read_with(READ_SIZE, now, |room| {
                let n = room.len().min(bytes.len());
                room[..n].copy_from_slice(&bytes[..n]);
                Ok::<usize, ()>(n)
            })
            .unwrap_or(0)
        } else {
            let (buf, max) = conn.read_buffer_for(READ_SIZE);
            let n = (buf.capacity() - buf.len()).min(max).min(bytes.len());
            buf.extend_from_slice(&bytes[..n]);
            conn.handle_read(now);
            n
        };
        assert!(n > 0, "a read was given no room");
        bytes = &bytes[n..];
    }
}

/// One vectored write out of `out`, as a transport that takes at most `slices` slices
/// (1 to 4) and `room` bytes would make it, onto `written`; checks that the slices
/// agree with `is_empty` and `first_slice`.
pub fn write_vectored(
    out: &mut ws_proto::OutputBuffer,
    slices: usize,
    room: usize,
    written: &mut Vec<u8>,
) {
    let mut dst = [std::io::IoSlice::new(&[]); 4];
    let k = out.io_slices(&mut dst[..slices]);
    assert_eq!(k == 0, out.is_empty(), "slices and emptiness disagree");
    if k > 0 {
        assert_eq!(&dst[0][..], out.first_slice(), "the first slice");
    }
    let mut taken = 0;
    for slice in &dst[..k] {
        let part = (room - taken).min(slice.len());
        written.extend_from_slice(&slice[..part]);
        taken += part;
    }
    out.advance(taken);
}

/// The connection targets: a whole connection driven by a small language.
///
/// Layout: four configuration bytes, then operations until the input ends.
///
/// - byte 0: bit 0: start with the raw policy; bit 1: tiny size limits; bit 2: echo
///   every message as it is polled; bit 3: write through `poll_transmit_into`;
/// - byte 1: the fragment size (`0xff`: none, otherwise 0 to 31 bytes);
/// - byte 2: the write chunk size (`0xff`: the default, otherwise 0 to 63 bytes);
/// - byte 3: keepalive (0: off, otherwise interval and timeout in 50 ms steps from the
///   low and high nibbles), and the close timeout (`byte3 * 10 + 1` ms).
///
/// Each operation is a byte (its low nibble picks it) followed by its arguments, all
/// read from the same stream; see [`op`]. Every command may return a usage error; none
/// may panic. After every operation the driver drains the connection and checks the
/// invariants (see [`Driver::drain`]); at the end, an EOF must end the conversation.
pub fn connection(role: Role, data: &[u8]) {
    let mut r = Reader::new(data);
    let b0 = r.u8();
    let mut config = small_config();
    if b0 & 1 != 0 {
        config.policy = ws_proto::Policy::Raw;
    }
    if b0 & 2 != 0 {
        config.max_frame_size = 100;
        config.max_message_size = 250;
    }
    config.fragment_size = match r.u8() {
        0xff => None,
        b => Some(usize::from(b & 0x1f)),
    };
    match r.u8() {
        0xff => {}
        b => config.write_chunk_size = usize::from(b & 0x3f),
    }
    let b3 = r.u8();
    if b3 != 0 {
        config.keepalive = Some(ws_proto::KeepAlive {
            interval: Duration::from_millis(50 * (u64::from(b3 & 0x0f) + 1)),
            timeout: Duration::from_millis(50 * (u64::from(b3 >> 4) + 1)),
        });
    }
    config.close_timeout = Duration::from_millis(u64::from(b3) * 10 + 1);

    let mut clock = Clock::new();
    let fragment_size = config.fragment_size;
    let mut d = Driver::new(role, config, clock.now());
    d.echo = b0 & 4 != 0;
    d.vectored = b0 & 8 != 0;
    let mut peer_entropy = SeededEntropy::new(7);
    while let Some(code) = r.byte() {
        op(
            code,
            &mut r,
            &mut d,
            &mut clock,
            fragment_size,
            &mut peer_entropy,
        );
        d.drain();
    }
    d.finish(clock.now());
}

/// Runs one operation of the [`connection`] language:
///
/// | low nibble | operation | arguments |
/// |---|---|---|
/// | 0 | feed bytes as the peer's input | length `n`, then `n` bytes |
/// | 1 | feed a well-formed peer frame (masked as the peer would) | first header byte, length `n`, `n` bytes |
/// | 2 | append to `read_buffer`, then `handle_read` | length `n`, `n` bytes |
/// | 3 | send a text message (lossy UTF-8) | length `n`, `n` bytes |
/// | 4 | send a binary message | length `n`, `n` bytes |
/// | 5 | ping | length `n`, `n` bytes |
/// | 6 | pong | length `n`, `n` bytes |
/// | 7 | close | code (2 bytes), length `n`, `n` bytes of reason (lossy UTF-8) |
/// | 8 | send a frame as it is | first header byte, length `n`, `n` bytes |
/// | 9 | advance the clock | milliseconds (2 bytes) |
/// | 10 | `handle_timeout` now | |
/// | 11 | advance to `poll_timeout`, then `handle_timeout` | |
/// | 12 | `handle_eof`; with bit 4 of the code set, `handle_write_error` | |
/// | 13 | `set_policy` | bit 0: raw |
/// | 14, 15 | feed a long run of bytes | length `n * 64`, then those bytes |
fn op(
    code: u8,
    r: &mut Reader<'_>,
    d: &mut Driver,
    clock: &mut Clock,
    fragment_size: Option<usize>,
    peer_entropy: &mut SeededEntropy,
) {
    let now = clock.now();
    match code & 0x0f {
        0 => {
            let n = usize::from(r.u8());
            let bytes = r.bytes(n);
            d.conn.handle_input(bytes, now);
            d.allow_answers(bytes.len());
        }
        1 => {
            let b0 = r.u8();
            let n = usize::from(r.u8());
            let frame = Frame {
                fin: b0 & 0x80 != 0,
                rsv: Frame::rsv_from_bits(b0),
                opcode: OpCode::from_nibble(b0),
                payload: r.bytes(n).to_vec().into(),
            };
            let mask = match d.conn.role() {
                Role::Server => {
                    let mut key = [0u8; 4];
                    ws_proto::Entropy::fill(peer_entropy, &mut key);
                    Some(key)
                }
                Role::Client => None,
            };
            let mut wire = Vec::new();
            frame.encode(mask, &mut wire);
            d.conn.handle_input(&wire, now);
            d.allow_answers(wire.len());
        }
        2 => {
            let n = usize::from(r.u8());
            let bytes = r.bytes(n);
            d.conn.read_buffer().extend_from_slice(bytes);
            d.conn.handle_read(now);
            d.allow_answers(bytes.len());
        }
        3 => {
            let n = usize::from(r.u8());
            let text = String::from_utf8_lossy(r.bytes(n)).into_owned();
            let len = text.len();
            if d.conn.send(text).is_ok() {
                d.allow_message(len, fragment_size);
            }
        }
        4 => {
            let n = usize::from(r.u8());
            let bytes = r.bytes(n).to_vec();
            if d.conn.send(bytes).is_ok() {
                d.allow_message(n, fragment_size);
            }
        }
        5 | 6 => {
            let n = usize::from(r.u8());
            let bytes = r.bytes(n).to_vec();
            let result = if code & 0x0f == 5 {
                d.conn.ping(bytes)
            } else {
                d.conn.pong(bytes)
            };
            if result.is_ok() {
                d.allow(n + MAX_HEADER_LEN);
            }
        }
        7 => {
            let close_code = ws_proto::CloseCode(r.u16());
            let n = usize::from(r.u8());
            let reason = String::from_utf8_lossy(r.bytes(n)).into_owned();
            if d.conn.close(close_code, &reason).is_ok() {
                d.allow(2 + reason.len() + MAX_HEADER_LEN);
            }
        }
        8 => {
            let b0 = r.u8();
            let n = usize::from(r.u8());
            let frame = Frame {
                fin: b0 & 0x80 != 0,
                rsv: Frame::rsv_from_bits(b0),
                opcode: OpCode::from_nibble(b0),
                payload: r.bytes(n).to_vec().into(),
            };
            let len = frame.payload.len();
            let control = frame.opcode.is_control();
            if d.conn.send_frame(frame).is_ok() {
                // Data frames are cut to the fragment size as messages are.
                d.allow_message(len, if control { None } else { fragment_size });
            }
        }
        9 => clock.advance(u64::from(r.u16())),
        10 => {
            d.conn.handle_timeout(now);
            // At most one keepalive Ping.
            d.allow(8 + MAX_HEADER_LEN);
        }
        11 => {
            if let Some(deadline) = d.conn.poll_timeout() {
                clock.advance_to(deadline);
                let now = clock.now();
                d.conn.handle_timeout(now);
                d.allow(8 + MAX_HEADER_LEN);
                // A timer that fired is rearmed later, or off: no busy loop.
                if let Some(next) = d.conn.poll_timeout() {
                    assert!(next > now, "poll_timeout is not later after handle_timeout");
                }
            }
        }
        12 if code & 0x10 != 0 => {
            d.conn.handle_write_error(now);
            // Nothing can be written any more: nothing is kept, and nothing more taken.
            assert_eq!(
                d.conn.buffered_amount(),
                0,
                "output kept after a write error"
            );
            assert!(
                d.conn.send("after").is_err(),
                "a send accepted after a write error"
            );
        }
        12 => d.conn.handle_eof(now),
        13 => d.conn.set_policy(if r.u8() & 1 != 0 {
            ws_proto::Policy::Raw
        } else {
            ws_proto::Policy::Standard
        }),
        _ => {
            let n = usize::from(r.u8()) * 64;
            let bytes = r.bytes(n);
            d.conn.handle_input(bytes, now);
            d.allow_answers(bytes.len());
        }
    }
}
