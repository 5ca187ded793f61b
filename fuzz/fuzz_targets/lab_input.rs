//! The Lab: a learner's JSON command (`LabSession::reply`) and the experiment it runs
//! (`explain::lab::run`), any bytes, cuts, lowered limits, with or without `permessage-deflate`.
//!
//! Properties: no panic; every reply is a JSON object with a `type`; an experiment is refused
//! exactly for the reasons `LabError` names (no bytes, a read of 0 bytes, too many reads), and
//! otherwise reports on every byte; memory stays bounded: at most `MAX_STEPS` steps, no message
//! over the limits the core ran with, which never exceed `MAX_LAB_MESSAGE` or the input (a
//! zip bomb stops there), and a read or a payload is shown only up to its cap.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use wsmith::app::lab::{LabLimits, LabSession};
use wsmith::explain::frames::SHOWN_PAYLOAD;
use wsmith::explain::lab::{
    run, Experiment, LabError, Step, MAX_LAB_MESSAGE, MAX_READS, MAX_STEPS, SHOWN_READ,
};
use wsmith::protocol::{Limits, Message};

/// A learner's command, as the `/lab` socket receives it.
fn command(text: &str) {
    let mut session = LabSession::new(LabLimits::default(), Limits::default(), Instant::now());
    let reply = session.reply(&Message::Text(text.to_owned()), Instant::now());
    let value: serde_json::Value = serde_json::from_str(&reply).expect("bug: a reply is not JSON");
    assert!(
        value
            .get("type")
            .and_then(serde_json::Value::as_str)
            .is_some(),
        "{reply}"
    );
}

/// An experiment built from the input: a control byte (deflate, lowered limits), read sizes,
/// then the bytes.
fn experiment(data: &[u8]) {
    let [control, frame_limit, reads_len, rest @ ..] = data else {
        return;
    };
    let (reads, bytes) = rest.split_at(usize::from(*reads_len % 8).min(rest.len()));
    // A 0 read is kept: it must be refused; so is one read too many.
    let mut reads: Vec<usize> = reads.iter().map(|&r| usize::from(r)).collect();
    if *reads_len == 0xff {
        reads = vec![1; MAX_READS + 1];
    }
    let limits = Limits {
        max_frame_size: if control & 2 != 0 {
            u64::from(*frame_limit)
        } else {
            Limits::default().max_frame_size
        },
        max_message_size: if control & 4 != 0 {
            u64::from(*frame_limit) * 64
        } else {
            Limits::default().max_message_size
        },
        max_fragments: if control & 8 != 0 {
            usize::from(control >> 4)
        } else {
            Limits::default().max_fragments
        },
    };
    let experiment = Experiment {
        bytes: bytes.to_vec(),
        reads,
        limits,
        deflate: control & 1 != 0,
    };
    let effective = experiment.effective_limits();
    assert!(effective.max_message_size <= MAX_LAB_MESSAGE.max(bytes.len() as u64));
    let report = match run(&experiment) {
        Ok(report) => report,
        Err(error) => {
            let expected = if bytes.is_empty() {
                LabError::NoBytes
            } else if experiment.reads.contains(&0) {
                LabError::EmptyRead
            } else {
                LabError::TooManyReads {
                    count: experiment.reads.len(),
                }
            };
            assert_eq!(error, expected);
            return;
        }
    };
    assert!(
        !bytes.is_empty() && !experiment.reads.contains(&0),
        "ran {experiment:?}"
    );
    assert_eq!(report.input_len, bytes.len());
    assert_eq!(report.limits, effective);
    assert!(
        report.steps.len() <= MAX_STEPS,
        "{} steps",
        report.steps.len()
    );
    for step in &report.steps {
        match step {
            Step::Read {
                len, bytes: shown, ..
            } => {
                assert!(shown.len() <= SHOWN_READ.min(*len));
            }
            Step::Message { len, shown, .. } => {
                assert!(
                    *len as u64 <= effective.max_message_size,
                    "a message of {len} bytes"
                );
                assert!(shown.len() <= SHOWN_PAYLOAD.min(*len));
            }
            _ => {}
        }
    }
    let json = report.to_json();
    assert_eq!(
        json.get("type").and_then(serde_json::Value::as_str),
        Some("report")
    );
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((&mode, rest)) if mode & 1 == 0 => command(&String::from_utf8_lossy(rest)),
        Some((_, rest)) => experiment(rest),
        None => {}
    }
});
