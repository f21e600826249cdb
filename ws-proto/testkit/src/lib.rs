//! The integration tests every adapter's server must pass, written once.
//!
//! `ws-tokio`, `ws-async-std` and `ws-blocking` are loops around the same ws-proto
//! core, so they must behave the same on the wire: echo messages of every size, refuse
//! the same violations with the same close codes, answer the same bad requests with the
//! same statuses, time out stalled handshakes, and stop cleanly. Rather than three
//! copies of that suite drifting apart, each adapter describes how to start its server
//! and this crate runs the cases against it.
//!
//! Everything here is blocking `std::net` with no async runtime: the suite must drive
//! servers of every runtime from plain `#[test]` functions, and a runtime of its own
//! would both favour one adapter and hide the adapter's scheduling behind its own.
//! Every wait is bounded ([`client::WAIT`]), so a broken server fails a case instead of
//! hanging the run.
//!
//! - [`client`]: a raw client that sends anything, malformed frames and requests
//!   included, and reads frames exactly as the server wrote them;
//! - [`suite`]: the cases, one public function each;
//! - [`bad_input`]: the bad-input table, a case per kind of malformed input;
//! - [`hardening`]: slow, silent and demanding peers, and no message lost on a close
//!   or a stop;
//! - [`server_suite!`]: one `#[test]` per case, for an adapter's `tests/server_suite.rs`;
//! - [`client_suite`](mod@client_suite): the mirror image for clients, a raw server that
//!   misbehaves one way per case, and [`client_suite!`] to run the cases from an
//!   adapter's `tests/client_suite.rs`;
//! - [`drive`](mod@drive): the server handlers and the client's part of a case, once
//!   for both async adapters;
//! - [`examples`]: the command line the adapters' example programs share;
//! - [`allocations`]: a counting allocator, and the check that an echo loop allocates
//!   nothing per message.
//!
//! # The server under test
//!
//! An adapter provides a [`Start`] function. Given a [`ServerSetup`], it must:
//!
//! - bind a listener on `127.0.0.1:0` *before returning*, so that the returned address
//!   accepts connections at once;
//! - run the adapter's `establish_standard_server` on it, with default options except
//!   the setup's handshake timeout, close timeout and keepalive, on a thread (or
//!   runtime) of its own;
//! - run the setup's [`Handler`] on every connection: most often an echo of every
//!   message with `send`, Text as Text, Binary as Binary;
//! - record in the setup's [`Outcomes`] the reason of every `Event::Closed` the
//!   handler receives, and count there every echo whose `send` returned `Ok`;
//! - return a [`RunningServer`] whose `stop` triggers the server's stop signal and
//!   returns at once, without waiting for the server to finish (the stop case answers
//!   the server's Close 1001 only after `stop` returns).
//!
//! ```no_run
//! use std::net::TcpListener;
//! use std::sync::mpsc;
//! use ws_testkit::{RunningServer, ServerSetup};
//!
//! fn start(setup: ServerSetup) -> RunningServer {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let (stop_tx, stop_rx) = mpsc::channel::<()>();
//!     std::thread::spawn(move || {
//!         // my_adapter::establish_standard_server(listener, options, stop_rx, echo)
//!         # drop((listener, stop_rx, setup));
//!     });
//!     RunningServer {
//!         addr,
//!         stop: Box::new(move || {
//!             let _ = stop_tx.send(());
//!         }),
//!     }
//! }
//!
//! ws_testkit::server_suite!(start);
//! # fn main() {}
//! ```

pub mod allocations;
pub mod bad_input;
pub mod certs;
pub mod client;
pub mod client_suite;
pub mod drive;
pub mod examples;
pub mod foreign;
pub mod hardening;
pub mod suite;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ws_proto::{CloseReason, Event, KeepAlive, Message};

/// What a case asks of the server it starts. Everything else is the adapter's default.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    /// How long a client has to send its opening request. The timeout cases set a short
    /// one; the others keep the 10 s default, long enough never to matter.
    pub handshake_timeout: Duration,
    /// How long the server waits for the client's answer to its Close (ws-proto's
    /// `Config::close_timeout`). The close-timeout case sets a short one; the others
    /// keep the 5 s default.
    pub close_timeout: Duration,
    /// The server's keepalive (ws-proto's `Config::keepalive`): `None`, the default,
    /// except in the keepalive case.
    pub keepalive: Option<KeepAlive>,
    /// What the server does with each connection.
    pub handler: Handler,
    /// Where the handler records how each connection ended, as its user saw it: the
    /// reason of the `Event::Closed` it received. The bad-input cases check there
    /// that the user learns what the peer did wrong, not only that the peer was told.
    pub outcomes: Outcomes,
}

impl Default for ServerSetup {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            keepalive: None,
            handler: Handler::Echo,
            outcomes: Outcomes::default(),
        }
    }
}

/// What the server under test does with each connection.
#[derive(Debug, Clone, Default)]
pub enum Handler {
    /// Answers every message with `send` of the same message: Text as Text, Binary as
    /// Binary. Most cases use this.
    #[default]
    Echo,
    /// Sends [`numbered_message`]s 0, 1, 2... with `send` until a send fails, and after
    /// each send that returns `Ok`, stores how many have (n + 1 after message n) in the
    /// counter. The stop-under-load case compares that count, what the server
    /// *accepted*, with what the client received.
    Stream(Arc<AtomicUsize>),
}

/// The reasons a server's connections ended with, in the order they ended: what each
/// connection's `Event::Closed` said to the handler. Cloning shares the record.
#[derive(Debug, Clone, Default)]
pub struct Outcomes(Arc<Record>);

#[derive(Debug, Default)]
struct Record {
    reasons: Mutex<Vec<CloseReason>>,
    changed: Condvar,
    sent: AtomicUsize,
}

impl Outcomes {
    /// Counts one message whose `send` returned `Ok`: the echo handler calls it after
    /// each echo, so that the stop case can compare what the server accepted to send
    /// with what reached the client.
    pub fn count_sent(&self) {
        self.0.sent.fetch_add(1, Ordering::SeqCst);
    }

    /// What an echo handler answers `event` with: a message is echoed; the end of the
    /// connection is recorded here. Every adapter's echo loop is `recv`, this, `send`
    /// (then [`count_sent`](Self::count_sent)), on its own runtime.
    pub fn echo_of(&self, event: Event) -> Option<Message> {
        match event {
            Event::Message(message) => Some(message),
            Event::Closed(reason) => {
                self.record(reason);
                None
            }
            _ => None,
        }
    }

    /// How many sends returned `Ok` so far, over all connections.
    pub fn sent(&self) -> usize {
        self.0.sent.load(Ordering::SeqCst)
    }

    /// Records that a connection ended for `reason`: the handler calls it when it
    /// receives `Event::Closed(reason)`.
    pub fn record(&self, reason: CloseReason) {
        let record = &*self.0;
        record
            .reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reason);
        record.changed.notify_all();
    }

    /// How many connections have ended so far.
    pub fn len(&self) -> usize {
        self.0
            .reasons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether no connection has ended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first reason recorded after the first `skip` that `wanted` accepts, waiting
    /// up to `wait` for it; `None` if none came in time.
    pub fn wait_for(
        &self,
        skip: usize,
        wait: Duration,
        wanted: impl Fn(&CloseReason) -> bool,
    ) -> Option<CloseReason> {
        let deadline = Instant::now() + wait;
        let record = &*self.0;
        let mut list = record.reasons.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(found) = list.iter().skip(skip).find(|r| wanted(r)) {
                return Some(found.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            list = record
                .changed
                .wait_timeout(list, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The size of a [`numbered_message`]: small enough that thousands are in flight at
/// once, large enough that they fill the server's output buffer quickly.
pub const NUMBERED_MESSAGE_SIZE: usize = 1024;

/// Message `n` of a [`Handler::Stream`] server: [`NUMBERED_MESSAGE_SIZE`] bytes of
/// binary, starting with `n` as 8 little-endian bytes, then a filler that depends on
/// `n`, so that a message cut short or taken from elsewhere in the stream shows.
pub fn numbered_message(n: usize) -> Message {
    let mut data = Vec::with_capacity(NUMBERED_MESSAGE_SIZE);
    data.extend_from_slice(&(n as u64).to_le_bytes());
    data.extend((8..NUMBERED_MESSAGE_SIZE).map(|i| (i ^ n) as u8));
    Message::from(data)
}

/// A server the adapter started for one case.
pub struct RunningServer {
    /// Where it listens; it accepts connections from the moment the start function
    /// returns.
    pub addr: SocketAddr,
    /// Triggers the server's stop signal and returns without waiting: the server then
    /// stops accepting and closes live connections with 1001. Called once, at the end
    /// of every case (or in the middle of the stop case).
    pub stop: Box<dyn FnOnce() + Send>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// How an adapter starts its echo server for a case (see the crate documentation for
/// what it must do).
pub type Start = fn(ServerSetup) -> RunningServer;

/// Expands to one `#[test]` per case of [`suite`], [`bad_input`] and [`hardening`],
/// each calling the case with the given [`Start`] function, so that a failing case is
/// reported by its own name.
///
/// ```ignore
/// ws_testkit::server_suite!(start);
/// ```
///
/// Use it once per test file, at the top level: the tests are named after the cases.
#[macro_export]
macro_rules! server_suite {
    ($start:expr) => {
        $crate::server_suite!(@cases $start;
            suite::echo_text_of_every_size,
            suite::echo_binary_of_every_size,
            suite::fragmented_message_is_echoed_whole,
            suite::ping_is_answered_with_its_payload,
            suite::close_is_answered_with_1000,
            suite::unmasked_frame_is_refused_with_1002,
            suite::reserved_opcode_is_refused_with_1002,
            suite::rsv_bits_are_refused_with_1002,
            suite::invalid_utf8_is_refused_with_1007,
            suite::oversized_message_is_refused_with_1009_from_its_header,
            suite::invalid_close_code_is_refused_with_1002,
            suite::foreign_origin_is_refused_with_403,
            suite::wrong_version_is_refused_with_426_naming_13,
            suite::post_is_refused_with_405,
            suite::missing_key_is_refused_with_400,
            suite::stalled_handshake_is_dropped_after_the_timeout,
            suite::handshake_timeout_spares_open_connections,
            suite::stop_sends_1001_and_refuses_new_clients,
            suite::concurrent_clients_get_their_own_echoes,
            bad_input::control_frame_over_125_bytes_is_refused_with_1002,
            bad_input::fragmented_control_frame_is_refused_with_1002,
            bad_input::misplaced_fragments_are_refused_with_1002,
            bad_input::invalid_utf8_across_frames_is_refused_with_1007,
            bad_input::close_reason_not_utf8_is_refused_with_1007,
            bad_input::length_with_the_top_bit_set_is_refused_with_1002,
            bad_input::bad_keys_are_refused_with_400,
            bad_input::malformed_upgrade_requests_are_refused_with_400,
            bad_input::oversized_request_heads_are_refused_with_431,
            bad_input::frames_pipelined_behind_the_request_are_handled,
            bad_input::trickled_request_is_dropped_at_the_handshake_deadline,
            hardening::a_client_that_never_reads_cannot_grow_the_servers_memory,
            hardening::a_client_that_never_answers_the_close_is_dropped_after_the_close_timeout,
            hardening::a_silent_client_is_dropped_by_the_keepalive,
            hardening::ten_thousand_messages_then_close_are_all_echoed_first,
            hardening::stop_under_load_delivers_every_accepted_message,
            hardening::stop_while_echoing_under_load_delivers_every_accepted_echo,
            hardening::clients_that_never_pause_do_not_starve_the_others,
        );
    };
    (@cases $start:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::$module::$case($start);
            }
        )*
    };
}
