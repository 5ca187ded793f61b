//! Log lines leave through one `log` thread, so that logging never makes a thread wait.
//!
//! stderr is a pipe or a terminal, and a write to either can wait: a pipe whose reader has
//! stopped is full after 64 KiB, and then every write to it sleeps. The hub must never sleep
//! (its second rule, see [`hub`](super::hub)), yet it logs, for instance one line per slow
//! consumer it closes; and a listener or connection thread asleep on stderr would stop
//! serving as surely as a crash.
//!
//! So the logger the process installs is a [`LogSink`]: each record is formatted on the
//! thread that logs it and put on a bounded queue of [`QUEUED_LINES`], and the `log` thread
//! hands the lines, in order, to the real logger (`simple_logger`, which writes stderr).
//! Nobody waits for room: when the queue is full (stderr has not kept up with 8,192 lines)
//! the line is dropped and counted, and the next line written says how many were lost.
//!
//! stderr can also refuse a line: a pipe whose reader has exited answers `EPIPE`, and the real
//! logger panics on it (`eprintln!`). The `log` thread catches that, counts the line as
//! dropped and goes on with the next one, so logging resumes if stderr comes back and the
//! process never loses its only writer. Every dropped line is counted in
//! `wsmith_log_lines_dropped_total`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};
use log::{Level, Log, Metadata, Record};

use super::metrics::metrics;

/// Lines queued for the `log` thread at most (about 1 MiB of typical lines).
pub(crate) const QUEUED_LINES: usize = 8192;

/// How long [`Log::flush`] waits for the `log` thread to write what is queued.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// What travels to the `log` thread.
enum Entry {
    Line {
        level: Level,
        target: String,
        text: String,
    },
    /// Written up to here: tell the sender.
    Flush(Sender<()>),
}

/// The process's logger: queues lines for the `log` thread. See the module doc.
pub struct LogSink {
    entries: Sender<Entry>,
    shared: Arc<Shared>,
}

struct Shared {
    inner: Box<dyn Log>,
    /// Lines dropped (the queue was full) since the last line written.
    dropped: AtomicU64,
}

impl LogSink {
    /// Puts `inner` behind a queue and starts the `log` thread that writes to it.
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub fn start(inner: Box<dyn Log>) -> std::io::Result<Self> {
        let (entries, queue) = bounded(QUEUED_LINES);
        let shared = Arc::new(Shared {
            inner,
            dropped: AtomicU64::new(0),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("log".into())
            .stack_size(64 * 1024)
            .spawn(move || write_lines(&queue, &writer))?;
        Ok(Self { entries, shared })
    }

    /// Lines dropped so far and not yet reported (for tests).
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Log for LogSink {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.shared.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let entry = Entry::Line {
            level: record.level(),
            target: record.target().to_owned(),
            text: record.args().to_string(),
        };
        if self.entries.try_send(entry).is_err() {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            metrics().log_line_dropped();
        }
    }

    /// Waits (at most `FLUSH_WAIT`) until the lines queued before this call are written.
    fn flush(&self) {
        let (done, written) = bounded(1);
        if self
            .entries
            .send_timeout(Entry::Flush(done), FLUSH_WAIT)
            .is_ok()
        {
            let _ = written.recv_timeout(FLUSH_WAIT);
        }
        self.shared.inner.flush();
    }
}

/// The `log` thread: writes every queued line through the real logger, in order.
fn write_lines(queue: &Receiver<Entry>, shared: &Shared) {
    for entry in queue {
        match entry {
            Entry::Line {
                level,
                target,
                text,
            } => {
                let dropped = shared.dropped.swap(0, Ordering::Relaxed);
                if dropped > 0 {
                    write_line(
                        shared,
                        &Record::builder()
                            .level(Level::Warn)
                            .target("wsmith::log")
                            .args(format_args!(
                                "{dropped} log lines dropped: stderr did not keep up, and no \
                                 thread waits for it"
                            ))
                            .build(),
                    );
                }
                write_line(
                    shared,
                    &Record::builder()
                        .level(level)
                        .target(&target)
                        .args(format_args!("{text}"))
                        .build(),
                );
            }
            Entry::Flush(done) => {
                let _ = catch_unwind(AssertUnwindSafe(|| shared.inner.flush()));
                let _ = done.send(());
            }
        }
    }
}

/// Hands one line to the real logger; a line it fails to write (it panics on `EPIPE`) is
/// counted as dropped, and the thread lives on.
fn write_line(shared: &Shared, record: &Record<'_>) {
    if catch_unwind(AssertUnwindSafe(|| shared.inner.log(record))).is_err() {
        metrics().log_line_dropped();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{lock, wait_timeout};
    use std::sync::{Condvar, Mutex};

    /// A logger that records lines and, while `blocked`, makes its caller wait: stderr
    /// with nobody reading it.
    #[derive(Default)]
    struct Recorder {
        lines: Mutex<Vec<String>>,
        /// Calls of `log` begun, blocked ones included.
        entered: std::sync::atomic::AtomicUsize,
        blocked: Mutex<bool>,
        unblocked: Condvar,
    }

    /// The recorder as the sink's inner logger (the test keeps another handle on it).
    struct Probe(Arc<Recorder>);

    impl Log for Probe {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &Record<'_>) {
            let recorder = &self.0;
            recorder.entered.fetch_add(1, Ordering::SeqCst);
            let mut blocked = lock(&recorder.blocked);
            while *blocked {
                blocked = wait_timeout(&recorder.unblocked, blocked, Duration::from_secs(1));
            }
            drop(blocked);
            let line = format!("{} {}", record.level(), record.args());
            lock(&recorder.lines).push(line);
        }
        fn flush(&self) {}
    }

    /// stderr as a pipe whose reader left: `eprintln!` panics on `EPIPE` for some lines.
    struct BrokenPipe(Arc<Mutex<Vec<String>>>);

    impl Log for BrokenPipe {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &Record<'_>) {
            let text = record.args().to_string();
            assert!(
                !text.contains("EPIPE"),
                "failed printing to stderr: Broken pipe"
            );
            lock(&self.0).push(text);
        }
        fn flush(&self) {}
    }

    #[test]
    fn the_log_thread_survives_a_line_stderr_refuses_and_counts_it() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink::start(Box::new(BrokenPipe(Arc::clone(&written)))).expect("start");
        let before = metrics().log_lines_dropped.load(Ordering::Relaxed);
        line(&sink, "before");
        line(&sink, "EPIPE");
        line(&sink, "after");
        sink.flush();
        assert_eq!(*lock(&written), ["before", "after"]);
        assert!(metrics().log_lines_dropped.load(Ordering::Relaxed) > before);
    }

    fn line(sink: &LogSink, text: &str) {
        sink.log(
            &Record::builder()
                .level(Level::Warn)
                .target("test")
                .args(format_args!("{text}"))
                .build(),
        );
    }

    fn set_blocked(recorder: &Recorder, value: bool) {
        *lock(&recorder.blocked) = value;
        recorder.unblocked.notify_all();
    }

    #[test]
    fn lines_are_written_in_order_and_flush_waits_for_them() {
        let recorder = Arc::new(Recorder::default());
        let sink = LogSink::start(Box::new(Probe(Arc::clone(&recorder)))).unwrap();
        for n in 0..100 {
            line(&sink, &format!("line {n}"));
        }
        sink.flush();
        let lines = recorder.lines.lock().unwrap().clone();
        let expected: Vec<String> = (0..100).map(|n| format!("WARN line {n}")).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn when_stderr_is_stuck_lines_are_dropped_and_counted_without_waiting_and_the_count_is_logged()
    {
        let recorder = Arc::new(Recorder::default());
        let sink = LogSink::start(Box::new(Probe(Arc::clone(&recorder)))).unwrap();
        set_blocked(&recorder, true);
        line(&sink, "first");
        // Wait (bounded) until the `log` thread is stuck writing "first", as on a full pipe.
        for _ in 0..2000 {
            if recorder.entered.load(Ordering::SeqCst) > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(recorder.entered.load(Ordering::SeqCst), 1);
        // Far more lines than the queue holds while the writer is stuck: each call must come
        // back at once (the hub's thread, or any other), the excess dropped and counted.
        for n in 0..QUEUED_LINES + 500 {
            line(&sink, &format!("hub {n}"));
        }
        assert_eq!(sink.dropped(), 500, "the queue holds {QUEUED_LINES} lines");
        set_blocked(&recorder, false);
        sink.flush(); // the queue written out, so that "after" finds room
        line(&sink, "after");
        sink.flush();
        let lines = recorder.lines.lock().unwrap().clone();
        let dropped = "WARN 500 log lines dropped: stderr did not keep up, and no thread \
                       waits for it";
        assert_eq!(lines.len(), 1 + 1 + QUEUED_LINES + 1);
        assert_eq!(lines[..3], ["WARN first", dropped, "WARN hub 0"]);
        assert_eq!(
            lines[QUEUED_LINES + 1],
            format!("WARN hub {}", QUEUED_LINES - 1)
        );
        assert_eq!(lines.last().map(String::as_str), Some("WARN after"));
        assert_eq!(sink.dropped(), 0, "the count starts again once reported");
    }
}
