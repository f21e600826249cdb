//! Test support: a client and a server connection wired together in memory, with a
//! virtual clock and fixed seeds, plus a frame decoder to read what one side wrote.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use ws_proto::frame::{Frame, Header};
use ws_proto::mask::apply_mask;
use ws_proto::{Config, Connection, Event, Role, SeededEntropy};

/// The origin of a test's virtual clock. Tests never wait: they add durations to it.
#[allow(clippy::disallowed_methods)] // an origin only; the clock never ticks by itself
pub fn t0() -> Instant {
    Instant::now()
}

/// Both ends of a connection and a virtual clock.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    /// Whether each side has closed its transport.
    pub client_gone: bool,
    pub server_gone: bool,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Self {
        let now = t0();
        Self {
            client: Connection::with_entropy(
                Role::Client,
                client,
                now,
                Box::new(SeededEntropy::new(7)),
            ),
            server: Connection::new(Role::Server, server, now),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_gone: false,
            server_gone: false,
        }
    }

    pub fn default_pair() -> Self {
        Self::new(Config::default(), Config::default())
    }

    /// Moves bytes both ways, in pieces of at most `chunk` bytes, until neither side
    /// has anything to say; a side that closes its transport gives the other an EOF.
    pub fn drive_chunked(&mut self, chunk: usize) {
        for _ in 0..1_000_000 {
            let mut progress = false;
            let mut wire = Vec::new();
            if !self.client_gone {
                while self.client.poll_transmit(&mut wire) > 0 {}
            }
            if !wire.is_empty() && !self.server_gone {
                for piece in wire.chunks(chunk) {
                    self.server.handle_input(piece, self.now);
                }
                progress = true;
            }
            wire.clear();
            if !self.server_gone {
                while self.server.poll_transmit(&mut wire) > 0 {}
            }
            if !wire.is_empty() && !self.client_gone {
                for piece in wire.chunks(chunk) {
                    self.client.handle_input(piece, self.now);
                }
                progress = true;
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
                progress = true;
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
                progress = true;
            }
            if !self.server_gone && self.server.should_close_transport() {
                self.server_gone = true;
                if !self.client_gone {
                    self.client.handle_eof(self.now);
                }
                progress = true;
            }
            if !self.client_gone && self.client.should_close_transport() {
                self.client_gone = true;
                if !self.server_gone {
                    self.server.handle_eof(self.now);
                }
                progress = true;
            }
            if !progress {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    pub fn drive(&mut self) {
        self.drive_chunked(usize::MAX);
    }

    /// Advances the virtual clock and tells both sides.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.drive();
    }
}

/// Everything `conn` wants to transmit now.
pub fn take_output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.poll_transmit(&mut out) > 0 {}
    out
}

/// All events `conn` has.
pub fn take_events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Decodes whole frames from `wire` (unmasking them); panics on leftovers.
pub fn decode_frames(mut wire: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (h, n) = Header::decode(wire).unwrap().expect("a whole header");
        let len = h.payload_len as usize;
        let mut payload = wire[n..n + len].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push(h.into_frame(payload.into()));
        wire = &wire[n + len..];
    }
    frames
}

/// The wire form of `frame` as a client would send it (masked with a fixed key).
pub fn masked(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(Some([0x11, 0x22, 0x33, 0x44]), &mut out);
    out
}

/// The wire form of `frame` as a server would send it.
pub fn unmasked(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(None, &mut out);
    out
}

/// A small deterministic generator for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
