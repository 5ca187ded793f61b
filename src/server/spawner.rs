//! The `spawner` thread: it starts writer threads for whoever queues the first frame into an
//! idle connection's outbox, so that the hub never creates a thread.
//!
//! Creating a thread maps a stack and a signal stack, can take a millisecond on a loaded
//! machine, and can fail; the hub must do none of that (its rule: nothing blocks it). Waking an
//! idle writer is therefore two steps: the waker takes the connection's writer slot under its
//! outbox's lock (see [`SlotState::wake`](super::conn::slot::SlotState::wake)), then hands the
//! start to this thread over a channel. The channel is unbounded but holds at most one request
//! per connection, since only the waker that took the slot sends one.

use std::io;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender};

/// Work for the spawner thread: start one thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Hands thread starts to the spawner thread; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Spawner {
    jobs: Sender<Job>,
}

/// Stack of the spawner thread: it only calls `thread::Builder::spawn` and sometimes logs.
const SPAWNER_STACK: usize = 64 * 1024;

impl Spawner {
    /// Starts the spawner thread; it runs until every [`Spawner`] is dropped.
    ///
    /// # Errors
    ///
    /// The operating system refused the thread.
    pub(crate) fn start() -> io::Result<Self> {
        let (jobs, queue) = crossbeam_channel::unbounded();
        spawn_named("spawner".into(), SPAWNER_STACK, move || run(&queue))?;
        Ok(Self { jobs })
    }

    /// Has `job` (which starts a thread) run on the spawner thread, without waiting for it.
    ///
    /// # Errors
    ///
    /// The job, given back, when the spawner thread is gone.
    pub(crate) fn start_later(&self, job: Job) -> Result<(), Job> {
        self.jobs.send(job).map_err(|rejected| rejected.0)
    }
}

/// Starts a named thread with a fixed stack size.
///
/// # Errors
///
/// The operating system refused a new thread.
pub(crate) fn spawn_named<T, F>(name: String, stack_size: usize, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    thread::Builder::new()
        .name(name)
        .stack_size(stack_size)
        .spawn(f)
}

fn run(queue: &Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        job();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_the_spawner_thread_in_order() {
        let spawner = Spawner::start().expect("spawner");
        let (done, finished) = crossbeam_channel::unbounded();
        for i in 0..3 {
            let done = done.clone();
            let job: Job = Box::new(move || {
                let name = std::thread::current().name().map(str::to_owned);
                let _ = done.send((i, name));
            });
            assert!(spawner.start_later(job).is_ok());
        }
        for i in 0..3 {
            let (n, name) = finished
                .recv_timeout(std::time::Duration::from_secs(5))
                .expect("the job ran");
            assert_eq!((n, name.as_deref()), (i, Some("spawner")));
        }
    }
}
