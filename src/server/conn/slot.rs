//! The writer slot: who may write to a connection's socket now, as one state machine.
//!
//! Three parties write to the one socket: the reader (the 101, then its replies: Pongs, echo
//! replies, the Close reply), the fan-out (the hub, or a tap, writing a shared frame to an
//! idle socket without waiting), and a writer thread (everything queued in the
//! [lanes](super::lanes)). Frames must reach the wire in the order they were sent, so at most
//! one of them writes at a time, and nobody writes past a queued frame: a thread may write
//! directly only when the slot is [`Idle`](SlotState::Idle) *and* the lanes are empty.
//!
//! The state lives with the [lanes](super::lanes), under their lock, so each
//! transition sees the lanes as they are and changes both in one step: a frame queued and the
//! decision to start a writer for it, or the writer's last look at the lanes and its giving the
//! slot back. The lock is held for the transition only, never across a write or another lock;
//! a transition only says what to do (start a writer), and the caller does it after unlocking.
//! This file is that state machine alone: no socket, no thread, no lock.
//!
//! ```text
//!  from          event                                        to                who
//!  ────────────  ───────────────────────────────────────────  ────────────────  ────────────
//!  (new)         the connection is set up                     HeldBy(Reader)    reader
//!  Idle          take, lanes empty                            HeldBy(holder)    reader, fan-out
//!  Idle          take, something queued                       Idle (refused)    reader, fan-out
//!  Idle          wake: something was queued                   Writing ▸ start   hub, reader
//!  HeldBy(_)     take / wake                                  HeldBy(_)         (queue behind it)
//!  HeldBy(_)     release, lanes empty                         Idle              the holder
//!  HeldBy(_)     release, something queued meanwhile          Writing ▸ start   the holder
//!  Writing       take / wake                                  Writing           (queue behind it)
//!  Writing       idle: the writer found the lanes empty       Idle              writer
//!  Writing       idle, but something was queued meanwhile     Writing           writer
//!  Writing       our Close was written                        CloseSent         writer
//!  CloseSent     the reader's last word, or the deadline      Finished          writer
//!  any           finish: last bytes written, a write failed,  Finished          any
//!                no thread to write, the reader gave up
//!  Finished      anything                                     Finished          (nothing)
//! ```
//!
//! "▸ start" means the caller has a writer thread started; the slot is the writer's from then
//! on, so at most one runs. Because the writer's last look at the lanes and its return to
//! `Idle` are one transition, a frame queued at that moment either is seen by that look (the
//! writer keeps going) or finds the slot `Idle` (its `wake` starts a new writer): no frame is
//! left behind.

use std::time::Instant;

/// Who holds the slot to write from its own thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// The connection's reader: the 101, then replies it writes itself.
    Reader,
    /// Whoever delivers a shared frame without waiting (the hub's fan-out, a tap's event).
    FanOut,
}

/// Who may write to the socket now (see the module doc for the transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Nobody writes. A frame queued now gets a writer.
    Idle,
    /// One thread writes directly; everybody else queues behind it.
    HeldBy(Holder),
    /// A writer thread is started, or runs, and drains the lanes.
    Writing,
    /// The writer wrote our Close and waits for the reader to see the peer's, at most until
    /// `deadline` (§7.1.1: then the server closes TCP anyway).
    CloseSent {
        /// When the writer stops waiting for the peer's Close.
        deadline: Instant,
    },
    /// TCP is closed: nothing more is written and no writer starts.
    Finished {
        /// A write failed first (the socket stayed full for `--write-timeout`, or broke).
        write_failed: bool,
    },
}

/// A new connection's slot is its reader's: nothing the hub queues can go out before the 101.
impl Default for SlotState {
    fn default() -> Self {
        Self::HeldBy(Holder::Reader)
    }
}

impl SlotState {
    /// `holder` asks to write directly. Granted only if nobody writes and nothing is queued
    /// (`lanes_empty`), so wire order holds; the holder gives it back with
    /// [`SlotState::release`].
    pub(crate) fn take(&mut self, holder: Holder, lanes_empty: bool) -> bool {
        if *self == Self::Idle && lanes_empty {
            *self = Self::HeldBy(holder);
            return true;
        }
        false
    }

    /// The holder is done. Returns whether a writer must be started for what was queued
    /// meanwhile. Does nothing unless the slot is held (it may have been finished meanwhile).
    #[must_use = "a writer must be started when this says so"]
    pub(crate) fn release(&mut self, lanes_empty: bool) -> bool {
        if !matches!(self, Self::HeldBy(_)) {
            return false;
        }
        *self = if lanes_empty {
            Self::Idle
        } else {
            Self::Writing
        };
        !lanes_empty
    }

    /// Something was queued. Returns whether a writer must be started: only when nobody
    /// writes; otherwise whoever writes will find it.
    #[must_use = "a writer must be started when this says so"]
    pub(crate) fn wake(&mut self) -> bool {
        if *self == Self::Idle {
            *self = Self::Writing;
            return true;
        }
        false
    }

    /// The writer found nothing to write. Returns whether it stops: with the lanes empty it
    /// gives the slot back; with something queued since it looked, it keeps writing. A
    /// finished slot stops it too.
    pub(crate) fn idle(&mut self, lanes_empty: bool) -> bool {
        match self {
            Self::Writing if lanes_empty => {
                *self = Self::Idle;
                true
            }
            Self::Finished { .. } => true,
            _ => false,
        }
    }

    /// The writer wrote our Close; it now waits for the peer's until `deadline`.
    pub(crate) fn close_sent(&mut self, deadline: Instant) {
        if *self == Self::Writing {
            *self = Self::CloseSent { deadline };
        }
    }

    /// TCP is closed, after a failed write if `write_failed`. Final; a failure noted earlier
    /// is kept.
    pub(crate) fn finish(&mut self, write_failed: bool) {
        let failed_before = matches!(self, Self::Finished { write_failed: true });
        *self = Self::Finished {
            write_failed: write_failed || failed_before,
        };
    }

    /// Whether TCP is closed.
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self, Self::Finished { .. })
    }

    /// Whether TCP was closed because a write failed.
    pub(crate) fn has_write_failed(&self) -> bool {
        matches!(self, Self::Finished { write_failed: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const READER: SlotState = SlotState::HeldBy(Holder::Reader);
    const FAN_OUT: SlotState = SlotState::HeldBy(Holder::FanOut);
    const DONE: SlotState = SlotState::Finished {
        write_failed: false,
    };
    const FAILED: SlotState = SlotState::Finished { write_failed: true };

    fn close_sent() -> SlotState {
        SlotState::CloseSent {
            deadline: Instant::now() + Duration::from_secs(1),
        }
    }

    /// An event, applied to a state: what it returned (granted / start a writer / stop).
    type Event = fn(&mut SlotState) -> bool;

    fn after(mut state: SlotState, event: Event) -> (SlotState, bool) {
        let said = event(&mut state);
        (state, said)
    }

    #[test]
    fn every_transition_of_the_module_doc_table() {
        let take_empty: Event = |s| s.take(Holder::FanOut, true);
        let take_queued: Event = |s| s.take(Holder::Reader, false);
        let release_empty: Event = |s| s.release(true);
        let release_queued: Event = |s| s.release(false);
        let wake: Event = SlotState::wake;
        let idle_empty: Event = |s| s.idle(true);
        let idle_queued: Event = |s| s.idle(false);
        let finish_failed: Event = |s| {
            s.finish(true);
            false
        };
        let cases: [(&str, SlotState, Event, SlotState, bool); 14] = [
            ("idle, take", SlotState::Idle, take_empty, FAN_OUT, true),
            (
                "idle, take, queued",
                SlotState::Idle,
                take_queued,
                SlotState::Idle,
                false,
            ),
            (
                "idle, wake",
                SlotState::Idle,
                wake,
                SlotState::Writing,
                true,
            ),
            ("held, take", READER, take_empty, READER, false),
            ("held, wake", READER, wake, READER, false),
            (
                "held, release",
                FAN_OUT,
                release_empty,
                SlotState::Idle,
                false,
            ),
            (
                "held, release, queued",
                READER,
                release_queued,
                SlotState::Writing,
                true,
            ),
            (
                "writing, take",
                SlotState::Writing,
                take_empty,
                SlotState::Writing,
                false,
            ),
            (
                "writing, wake",
                SlotState::Writing,
                wake,
                SlotState::Writing,
                false,
            ),
            (
                "writing, idle",
                SlotState::Writing,
                idle_empty,
                SlotState::Idle,
                true,
            ),
            (
                "writing, idle, queued",
                SlotState::Writing,
                idle_queued,
                SlotState::Writing,
                false,
            ),
            (
                "writing, release",
                SlotState::Writing,
                release_queued,
                SlotState::Writing,
                false,
            ),
            (
                "writing, failure",
                SlotState::Writing,
                finish_failed,
                FAILED,
                false,
            ),
            ("finished, idle, queued", DONE, idle_queued, DONE, true),
        ];
        for (name, from, event, to, said) in cases {
            assert_eq!(after(from, event), (to, said), "{name}");
        }
    }

    #[test]
    fn the_reader_holds_a_new_slot_until_the_101_and_what_the_hub_queued_gets_a_writer() {
        let mut slot = SlotState::default();
        assert_eq!(slot, READER);
        // The hub queues meanwhile: it may not write, and starts no writer.
        assert!(!slot.take(Holder::FanOut, true));
        assert!(!slot.wake());
        // The 101 is written; the queued frame goes out after it, by a writer.
        assert!(slot.release(false));
        assert_eq!(slot, SlotState::Writing);
    }

    #[test]
    fn a_write_while_the_writer_runs_is_queued_behind_it() {
        let mut slot = SlotState::Writing;
        assert!(!slot.take(Holder::Reader, true), "the reader queues");
        assert!(!slot.take(Holder::FanOut, true), "the fan-out queues");
        assert!(!slot.wake(), "no second writer");
        assert_eq!(slot, SlotState::Writing);
    }

    #[test]
    fn the_writer_stops_only_with_the_lanes_empty_and_then_the_next_frame_gets_a_writer() {
        let mut slot = SlotState::Writing;
        assert!(
            !slot.idle(false),
            "a frame came as it looked: it keeps writing"
        );
        assert!(slot.idle(true));
        assert_eq!(slot, SlotState::Idle);
        assert!(slot.wake(), "the next frame starts a writer");
        assert_eq!(slot, SlotState::Writing);
    }

    #[test]
    fn after_our_close_the_slot_stays_the_writers_until_tcp_is_closed() {
        let mut slot = SlotState::Writing;
        let deadline = Instant::now();
        slot.close_sent(deadline);
        assert_eq!(slot, SlotState::CloseSent { deadline });
        assert!(
            !slot.take(Holder::Reader, true),
            "the reader's last word is queued"
        );
        assert!(!slot.wake());
        assert!(!slot.idle(true));
        slot.finish(false);
        assert_eq!(slot, DONE);
        // A Close is sent only by a running writer.
        let mut idle = SlotState::Idle;
        idle.close_sent(deadline);
        assert_eq!(idle, SlotState::Idle);
    }

    #[test]
    fn a_finished_slot_takes_nothing_and_remembers_a_failed_write() {
        for from in [
            SlotState::Idle,
            READER,
            FAN_OUT,
            SlotState::Writing,
            close_sent(),
        ] {
            let mut slot = from;
            slot.finish(true);
            assert!(slot.has_write_failed(), "{from:?}");
            slot.finish(false);
            assert!(slot.has_write_failed(), "a later finish keeps the failure");
            assert!(!slot.take(Holder::Reader, true));
            assert!(!slot.wake());
            assert!(!slot.release(false));
            slot.close_sent(Instant::now());
            assert_eq!(slot, FAILED, "{from:?}");
        }
        let mut slot = READER;
        slot.finish(false);
        assert!(slot.is_finished() && !slot.has_write_failed());
    }
}
