//! The hub's broadcast sweep: frames for the same recipients, written a few recipients at a
//! time, so frames that arrive meanwhile join the writes not yet made.
//!
//! A sweep visits its recipients in order and hands each one, as **one** shared frame, every
//! frame it has not had yet. The hub advances it a chunk of recipients at a time and takes the
//! commands that arrived in between: a broadcast for the same recipients is [`Sweep::push`]ed
//! onto it, so the recipients not yet reached get it in the same write as the earlier frames,
//! and those already passed get it when the sweep comes round again. A sender whose frames
//! arrive in several reads therefore costs about one write per recipient, not one per read, and
//! its later frames do not wait for a whole round over everyone.
//!
//! Each recipient gets each frame exactly once and in order: what it is handed is always the
//! frames from the end of what it had to the end of what there is. The bytes for each distinct
//! starting point are copied once and shared by every recipient that starts there.

use crate::app::ClientId;

use crate::server::conn::lanes::Frame;

/// Broadcast frames for the same recipients, and how far each recipient has had them.
#[derive(Debug)]
pub(crate) struct Sweep {
    recipients: Vec<ClientId>,
    /// How many bytes of `frames` each recipient has been handed (by index in `recipients`).
    handed: Vec<usize>,
    /// Whole frames back to back, in the order they arrived.
    frames: Vec<u8>,
    /// Where each frame starts in `frames`.
    starts: Vec<usize>,
    /// The next recipient to visit.
    position: usize,
    /// Recipients that have not had every frame yet.
    behind: usize,
    /// `frames[from..]` as one shared frame, by `from`, for the present length of `frames`.
    suffixes: Vec<(usize, Frame)>,
}

impl Sweep {
    /// A sweep of `frame` over `recipients`, none of whom has it yet.
    pub(crate) fn new(recipients: Vec<ClientId>, frame: Vec<u8>) -> Self {
        let count = recipients.len();
        Self {
            handed: vec![0; count],
            recipients,
            frames: frame,
            starts: vec![0],
            position: 0,
            behind: count,
            suffixes: Vec::new(),
        }
    }

    /// Who it goes to.
    pub(crate) fn recipients(&self) -> &[ClientId] {
        &self.recipients
    }

    /// How many frames it holds.
    pub(crate) fn messages(&self) -> usize {
        self.starts.len()
    }

    /// How many bytes its frames take.
    pub(crate) fn bytes(&self) -> usize {
        self.frames.len()
    }

    /// One more frame for the same recipients: everyone lacks it now, and the sweep goes on
    /// from where it is.
    pub(crate) fn push(&mut self, frame: &[u8]) {
        self.starts.push(self.frames.len());
        self.frames.extend_from_slice(frame);
        self.suffixes.clear();
        self.behind = self.recipients.len();
    }

    /// Whether every recipient has had every frame.
    pub(crate) fn is_done(&self) -> bool {
        self.behind == 0
    }

    /// Visits recipients from where the sweep is, wrapping round, until `writes` of them were
    /// handed frames or everyone has had everything. `send` gets each recipient with the frames
    /// it lacks, as one shared frame.
    pub(crate) fn advance(&mut self, writes: usize, mut send: impl FnMut(ClientId, Frame)) {
        let mut written = 0;
        let end = self.frames.len();
        while self.behind > 0 && written < writes {
            let index = self.position;
            self.position = (index + 1) % self.recipients.len();
            let (Some(&id), Some(&from)) = (self.recipients.get(index), self.handed.get(index))
            else {
                break; // unreachable: `position` stays below the length
            };
            if from == end {
                continue;
            }
            send(id, self.suffix(from));
            if let Some(handed) = self.handed.get_mut(index) {
                *handed = end;
            }
            self.behind -= 1;
            written += 1;
        }
    }

    /// `frames[from..]` as one shared frame (or batch), made once for this length.
    fn suffix(&mut self, from: usize) -> Frame {
        if let Some((_, frame)) = self.suffixes.iter().find(|(at, _)| *at == from) {
            return frame.clone();
        }
        let messages = self.starts.iter().filter(|&&start| start >= from).count();
        // Every `from` is a frame's start, or the end of what a recipient was handed: never past
        // the end of `frames`, which only grows. The hub cannot fail one connection for a bug
        // here, so it says so loudly and hands the frames whole instead of dropping any.
        let bytes = match self.frames.get(from..) {
            Some(bytes) => bytes.to_vec(),
            None => {
                log::error!("bug: sweep offset {from} past {} bytes", self.frames.len());
                self.frames.clone()
            }
        };
        let frame = match messages {
            1 => Frame::Shared(bytes.into()),
            n => Frame::Batch(bytes.into(), n),
        };
        self.suffixes.push((from, frame.clone()));
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// What each recipient was handed, write by write: (bytes, messages).
    type Handed = BTreeMap<ClientId, Vec<(Vec<u8>, usize)>>;

    fn advance(sweep: &mut Sweep, writes: usize, handed: &mut Handed) {
        sweep.advance(writes, |id, frame| {
            let bytes = frame.parts().concat();
            handed
                .entry(id)
                .or_default()
                .push((bytes, frame.messages()));
        });
    }

    fn all_bytes(handed: &Handed, id: ClientId) -> Vec<u8> {
        handed[&id].iter().flat_map(|(b, _)| b.clone()).collect()
    }

    #[test]
    fn one_frame_reaches_everyone_once() {
        let mut sweep = Sweep::new(vec![1, 2, 3], b"a".to_vec());
        let mut handed = Handed::new();
        advance(&mut sweep, usize::MAX, &mut handed);
        assert!(sweep.is_done());
        for id in [1, 2, 3] {
            assert_eq!(handed[&id], [(b"a".to_vec(), 1)]);
        }
    }

    #[test]
    fn a_frame_pushed_midway_joins_the_writes_not_yet_made() {
        let mut sweep = Sweep::new(vec![1, 2, 3, 4], b"a".to_vec());
        let mut handed = Handed::new();
        advance(&mut sweep, 2, &mut handed);
        assert!(!sweep.is_done());
        sweep.push(b"bc");
        advance(&mut sweep, usize::MAX, &mut handed);
        assert!(sweep.is_done());
        // 3 and 4 were not reached yet: both frames in one write (a batch of 2 messages).
        assert_eq!(handed[&3], [(b"abc".to_vec(), 2)]);
        assert_eq!(handed[&4], [(b"abc".to_vec(), 2)]);
        // 1 and 2 had "a": "bc" comes when the sweep comes round again.
        assert_eq!(handed[&1], [(b"a".to_vec(), 1), (b"bc".to_vec(), 1)]);
        assert_eq!(handed[&2], [(b"a".to_vec(), 1), (b"bc".to_vec(), 1)]);
    }

    #[test]
    fn everyone_gets_every_frame_once_in_order_however_pushes_fall() {
        let recipients: Vec<ClientId> = (1..=7).collect();
        let mut sweep = Sweep::new(recipients.clone(), vec![0]);
        let mut handed = Handed::new();
        let mut expected = vec![0u8];
        for (frame, writes) in (1u8..20).zip([1, 3, 0, 2, 5, 1, 7, 4, 0, 1].iter().cycle()) {
            advance(&mut sweep, *writes, &mut handed);
            sweep.push(&[frame, frame]);
            expected.extend([frame, frame]);
        }
        advance(&mut sweep, usize::MAX, &mut handed);
        assert!(sweep.is_done());
        assert_eq!(sweep.messages(), 20);
        for id in recipients {
            assert_eq!(all_bytes(&handed, id), expected, "recipient {id}");
            let messages: usize = handed[&id].iter().map(|(_, m)| m).sum();
            assert_eq!(messages, 20, "recipient {id}");
        }
    }

    #[test]
    fn recipients_starting_at_the_same_byte_share_one_buffer() {
        let mut sweep = Sweep::new(vec![1, 2, 3], b"a".to_vec());
        let mut frames = Vec::new();
        sweep.advance(usize::MAX, |_, frame| frames.push(frame));
        let [Frame::Shared(a), Frame::Shared(b), Frame::Shared(c)] = &frames[..] else {
            panic!("expected three shared frames, got {frames:?}");
        };
        assert!(std::ptr::eq(&a[..], &b[..]) && std::ptr::eq(&b[..], &c[..]));
    }

    #[test]
    fn a_sweep_over_nobody_is_done() {
        let mut sweep = Sweep::new(Vec::new(), b"a".to_vec());
        assert!(sweep.is_done());
        sweep.push(b"b");
        assert!(sweep.is_done());
        sweep.advance(usize::MAX, |_, _| panic!("nobody to send to"));
    }
}
