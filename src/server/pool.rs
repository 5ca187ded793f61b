//! Connection threads that are reused: a thread whose connection ended parks for a while, and
//! the next connection (or writer) runs on it instead of on a new thread.
//!
//! It is still one thread per live connection: the pool never queues work behind a busy
//! thread. [`ThreadPool::run`] hands the job to a parked thread if there is one, else starts a
//! new thread through the [`ThreadBudget`]; so the pool grows on demand, up to the budget (every
//! parked thread still counts against it, its mappings are still there), and shrinks when idle:
//! a thread parked for [`PARK_IDLE`] with nothing to do ends.
//!
//! Creating a thread maps its stack and signal stack and clones it, ending one unmaps them; a
//! short connection (an upgrade, a Close) spent more time on that than on its bytes. A pooled
//! thread carries nothing from one job to the next: each job owns its state (wsmith keeps none
//! in thread-locals), and a job that panics leaves only its own connection.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use log::error;

use super::capacity::ThreadBudget;

/// How long a parked thread waits for its next job before it ends.
pub(crate) const PARK_IDLE: Duration = Duration::from_secs(2);

/// Work for a pooled thread: one connection's reader, or one writer run.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Threads of one kind, reused; cheap to clone.
#[derive(Debug, Clone)]
pub struct ThreadPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    budget: ThreadBudget,
    /// The name every thread of the pool carries (a thread cannot be renamed).
    name: &'static str,
    stack_size: usize,
    park_idle: Duration,
    /// Jobs for parked threads. Only a caller that claimed a parked thread sends one.
    jobs: Sender<Job>,
    parked_jobs: Receiver<Job>,
    /// Parked threads not yet claimed by a caller.
    parked: AtomicUsize,
    /// Threads of this pool alive now, parked or working.
    threads: AtomicUsize,
    /// Jobs handed to a parked thread so far.
    reused: AtomicUsize,
}

impl ThreadPool {
    /// A pool of threads named `name` with `stack_size` bytes of stack, started through
    /// `budget`, each ending after `park_idle` parked.
    pub(crate) fn new(
        budget: ThreadBudget,
        name: &'static str,
        stack_size: usize,
        park_idle: Duration,
    ) -> Self {
        let (jobs, parked_jobs) = crossbeam_channel::unbounded();
        Self {
            inner: Arc::new(Inner {
                budget,
                name,
                stack_size,
                park_idle,
                jobs,
                parked_jobs,
                parked: AtomicUsize::new(0),
                threads: AtomicUsize::new(0),
                reused: AtomicUsize::new(0),
            }),
        }
    }

    /// Runs `job` on a parked thread, or else on a new one.
    ///
    /// # Errors
    ///
    /// No thread is parked and the budget is spent (`WouldBlock`), or the operating system
    /// refused a new thread.
    pub(crate) fn run(&self, job: Job) -> io::Result<()> {
        if take_one(&self.inner.parked) {
            // A parked thread is claimed: it takes this job (or, if it timed out meanwhile, it
            // waits for it; see `work`).
            self.inner.reused.fetch_add(1, Ordering::SeqCst);
            return self
                .inner
                .jobs
                .send(job)
                .map_err(|_| io::Error::other("pool gone"));
        }
        let inner = Arc::clone(&self.inner);
        inner.threads.fetch_add(1, Ordering::SeqCst);
        let spawned =
            self.inner
                .budget
                .spawn(self.inner.name.into(), self.inner.stack_size, move || {
                    work(&inner, job);
                    inner.threads.fetch_sub(1, Ordering::SeqCst);
                });
        if spawned.is_err() {
            self.inner.threads.fetch_sub(1, Ordering::SeqCst);
        }
        spawned.map(drop)
    }

    /// Whether [`ThreadPool::run`] would find a thread now: one is parked or the budget has
    /// room.
    pub(crate) fn has_room(&self) -> bool {
        self.inner.parked.load(Ordering::SeqCst) > 0 || self.inner.budget.has_room()
    }

    /// Threads parked now, waiting for a job.
    pub fn parked(&self) -> usize {
        self.inner.parked.load(Ordering::SeqCst)
    }

    /// Threads of this pool alive now, parked or working.
    pub fn threads(&self) -> usize {
        self.inner.threads.load(Ordering::SeqCst)
    }

    /// Jobs handed to a parked thread so far (the rest started a thread).
    pub fn reused(&self) -> usize {
        self.inner.reused.load(Ordering::SeqCst)
    }
}

/// A pooled thread's life: its first job, then every job it is handed while parked.
fn work(inner: &Inner, first: Job) {
    let mut job = first;
    loop {
        if catch_unwind(AssertUnwindSafe(job)).is_err() {
            error!("a job of a pooled thread panicked; the thread goes on");
        }
        match park(inner) {
            Some(next) => job = next,
            None => return,
        }
    }
}

/// Waits for the next job, at most the idle time unless this thread was claimed meanwhile.
/// Not inlined: the channel's wait machinery is then off the stack while a job runs, so an
/// idle connection on this thread touches fewer stack pages.
#[inline(never)]
fn park(inner: &Inner) -> Option<Job> {
    inner.parked.fetch_add(1, Ordering::SeqCst);
    match inner.parked_jobs.recv_timeout(inner.park_idle) {
        Ok(job) => Some(job),
        Err(RecvTimeoutError::Timeout) => {
            if take_one(&inner.parked) {
                return None; // nobody claimed a parked thread: this one ends
            }
            // Every parked thread is claimed, this one too: its job is on the way.
            inner.parked_jobs.recv().ok()
        }
        Err(RecvTimeoutError::Disconnected) => None,
    }
}

/// Decrements `count` if it is above zero; says whether it did.
fn take_one(count: &AtomicUsize) -> bool {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread::{self, ThreadId};
    use std::time::Instant;

    const STACK: usize = 64 * 1024;
    const WAIT: Duration = Duration::from_secs(10);

    /// Polls `done` until it holds (bounded by [`WAIT`]).
    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done() {
            assert!(Instant::now() < deadline, "not within {WAIT:?}: {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// A job that reports its thread and then waits for `release`.
    fn job(ran: &mpsc::Sender<ThreadId>, release: mpsc::Receiver<()>) -> Job {
        let ran = ran.clone();
        Box::new(move || {
            let _ = ran.send(thread::current().id());
            let _ = release.recv_timeout(WAIT);
        })
    }

    #[test]
    fn the_pool_grows_for_busy_threads_and_reuses_a_parked_one() {
        let pool = ThreadPool::new(ThreadBudget::new(8), "test", STACK, WAIT);
        let (ran, threads) = mpsc::channel();
        let (release_a, a) = mpsc::channel();
        let (release_b, b) = mpsc::channel();
        pool.run(job(&ran, a)).expect("first job");
        pool.run(job(&ran, b)).expect("second job");
        let first = threads.recv_timeout(WAIT).expect("first ran");
        let second = threads.recv_timeout(WAIT).expect("second ran");
        assert_ne!(first, second, "a busy thread is never given a second job");
        assert_eq!(pool.threads(), 2);
        release_a.send(()).expect("release");
        wait_until("one thread parked", || pool.parked() == 1);
        let (_release_c, c) = mpsc::channel();
        pool.run(job(&ran, c)).expect("third job");
        let third = threads.recv_timeout(WAIT).expect("third ran");
        assert!(
            third == first || third == second,
            "the parked thread ran it"
        );
        assert_eq!(pool.threads(), 2, "no new thread for it");
        assert_eq!((pool.parked(), pool.reused()), (0, 1));
        drop(release_b);
    }

    #[test]
    fn parked_threads_end_after_the_idle_time_and_give_their_budget_back() {
        let budget = ThreadBudget::new(4);
        let pool = ThreadPool::new(budget.clone(), "test", STACK, Duration::from_millis(50));
        let (ran, threads) = mpsc::channel();
        let releases: Vec<mpsc::Sender<()>> = (0..3)
            .map(|_| {
                let (release, wait) = mpsc::channel();
                pool.run(job(&ran, wait)).expect("job");
                release
            })
            .collect();
        for _ in 0..3 {
            threads.recv_timeout(WAIT).expect("ran");
        }
        assert_eq!(budget.live(), 3);
        drop(releases);
        wait_until("every thread ended", || {
            pool.threads() == 0 && budget.live() == 0
        });
        assert_eq!(pool.parked(), 0);
        // And it grows again.
        let (release, wait) = mpsc::channel();
        pool.run(job(&ran, wait)).expect("after shrinking");
        threads.recv_timeout(WAIT).expect("ran again");
        assert_eq!(pool.threads(), 1);
        drop(release);
    }

    #[test]
    fn the_budget_bounds_busy_threads_but_a_parked_one_is_still_found() {
        let budget = ThreadBudget::new(2);
        let pool = ThreadPool::new(budget.clone(), "test", STACK, WAIT);
        let (ran, threads) = mpsc::channel();
        let (release_a, a) = mpsc::channel();
        let (_release_b, b) = mpsc::channel();
        pool.run(job(&ran, a)).expect("first");
        pool.run(job(&ran, b)).expect("second");
        for _ in 0..2 {
            threads.recv_timeout(WAIT).expect("ran");
        }
        assert!(!pool.has_room());
        let (_release_c, c) = mpsc::channel();
        let refused = pool.run(job(&ran, c)).map_err(|e| e.kind());
        assert_eq!(refused.err(), Some(io::ErrorKind::WouldBlock));
        // A finished job parks its thread: the budget is still spent, but the pool has room.
        release_a.send(()).expect("release");
        wait_until("one thread parked", || pool.parked() == 1);
        assert!(!budget.has_room() && pool.has_room());
        let (_release_d, d) = mpsc::channel();
        pool.run(job(&ran, d)).expect("runs on the parked thread");
        threads.recv_timeout(WAIT).expect("ran");
        assert_eq!(budget.live(), 2);
    }

    #[test]
    fn a_panicking_job_leaves_its_thread_usable() {
        let pool = ThreadPool::new(ThreadBudget::new(2), "test", STACK, WAIT);
        pool.run(Box::new(|| panic!("on purpose"))).expect("job");
        wait_until("the thread parked after the panic", || pool.parked() == 1);
        let (ran, threads) = mpsc::channel();
        let (_release, wait) = mpsc::channel();
        pool.run(job(&ran, wait)).expect("next job");
        threads.recv_timeout(WAIT).expect("ran");
        assert_eq!(pool.threads(), 1);
    }
}
