//! When a drive loop writes what a connection has queued.
//!
//! The machine only queues bytes; a loop around it (`ws_proto::drive`,
//! ws-blocking's) decides when they go to the transport. Both loops follow the rules
//! here, so an adapter's writes batch the same way as another's:
//!
//! - answers queued while handling a burst of input go out together, in one write,
//!   when the input runs out (before the loop waits for more); for a loop that can
//!   try a read without blocking (the async one), a read that filled all its room
//!   does not count as running out: it reads on first ([`read_before_write`]);
//! - sooner, once more than [`WRITE_HIGH_WATER`] bytes wait, so that a peer sending
//!   without pause does not make the queue grow without bound;
//! - sooner too while the connection is *eager* (no other connection went to wait
//!   on its thread meanwhile, for the async loop; none of the process had input in
//!   hand, for ws-blocking's: the loop knows, the machine does not) and at most
//!   [`EAGER_WRITE_MAX`] bytes wait, so the peer starts on the first answers while the
//!   rest are made.

/// Above this many bytes waiting to be written, a loop writes before it returns the
/// next event, and `queue` writes (or waits for the peer to take some) before queuing
/// more: it bounds what a connection holds for a peer that does not read, while a
/// burst of ordinary answers still goes out in one write.
pub const WRITE_HIGH_WATER: usize = 128 * 1024;

/// An eager connection answers each message as it goes only while at most this many
/// bytes wait. A large answer keeps the peer busy on its own, and measured (64 KiB
/// messages, 16 in flight on one connection) the burst in one write is then worth
/// more than the early start.
pub const EAGER_WRITE_MAX: usize = 16 * 1024;

/// Whether a loop that has an event in hand writes the `unwritten` bytes before it
/// returns the event, rather than when the input runs out.
#[must_use]
pub fn write_before_event(unwritten: usize, eager: bool) -> bool {
    unwritten > WRITE_HIGH_WATER || (eager && unwritten > 0 && unwritten <= EAGER_WRITE_MAX)
}

/// Whether a loop that has handled all the input it holds reads again before it
/// writes the `unwritten` answers, when the last read filled all the room it had
/// (`last_read_full`): the transport then likely has more, whose answers can go out
/// in the same write. A read that ends where a large message ends (a `futures-io`
/// read is given room up to the end of the frame) would otherwise cost a write per
/// message. Not past [`WRITE_HIGH_WATER`], and a loop whose read would block
/// (ws-blocking's) cannot ask.
#[must_use]
pub fn read_before_write(last_read_full: bool, unwritten: usize) -> bool {
    last_read_full && unwritten > 0 && unwritten <= WRITE_HIGH_WATER
}

/// Whether `queue` writes the `unwritten` bytes before queuing another message.
#[must_use]
pub fn write_before_queue(unwritten: usize) -> bool {
    unwritten > WRITE_HIGH_WATER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_waits_for_the_end_of_the_input_unless_the_queue_is_long() {
        for unwritten in [0, 1, EAGER_WRITE_MAX, EAGER_WRITE_MAX + 1, WRITE_HIGH_WATER] {
            assert!(!write_before_event(unwritten, false), "{unwritten}");
            assert!(!write_before_queue(unwritten), "{unwritten}");
        }
        assert!(write_before_event(WRITE_HIGH_WATER + 1, false));
        assert!(write_before_queue(WRITE_HIGH_WATER + 1));
    }

    #[test]
    fn a_full_read_is_followed_by_another_before_a_write_of_a_short_queue() {
        assert!(read_before_write(true, 1));
        assert!(read_before_write(true, WRITE_HIGH_WATER));
        assert!(!read_before_write(true, WRITE_HIGH_WATER + 1));
        assert!(
            !read_before_write(true, 0),
            "nothing to write: the usual path reads"
        );
        assert!(!read_before_write(false, 1));
    }

    #[test]
    fn an_eager_connection_writes_small_queues_and_long_ones_but_not_nothing() {
        assert!(!write_before_event(0, true));
        assert!(write_before_event(1, true));
        assert!(write_before_event(EAGER_WRITE_MAX, true));
        assert!(!write_before_event(EAGER_WRITE_MAX + 1, true));
        assert!(!write_before_event(WRITE_HIGH_WATER, true));
        assert!(write_before_event(WRITE_HIGH_WATER + 1, true));
    }
}
