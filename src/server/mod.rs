//! The threaded I/O shell around the protocol core: `std::net` sockets, one thread per
//! connection, crossbeam channels to the hub. It holds no protocol rules of its own.
//!
//! | thread | name | stack | what it does |
//! |---|---|---|---|
//! | listener | `listener` (the caller's) | — | accepts, enforces `--max-connections` and the per-address caps (`per_address`), hands the connection to a pooled thread |
//! | connection | `conn` (pooled) | 128 KiB (`CONNECTION_STACK`) | reads the request head, serves HTTP or upgrades, then reads frames |
//! | writer | `conn` (pooled) | 128 KiB (`CONNECTION_STACK`) | drains that connection's outbox into its socket; runs only while there is something to write |
//! | hub | `hub` | 256 KiB | owns the registry and runs the apps |
//! | spawner | `spawner` | 64 KiB | starts writer threads, so the hub never creates one |
//! | timer | `notify` | 64 KiB | `--notify-every` ticks |
//! | log | `log` | 64 KiB | writes the log lines every thread queues (`log_sink`, [`LogSink`]), so that no thread waits for stderr |
//!
//! Connection and writer threads come from one pool ([`ThreadPool`]): a thread whose job ended parks for
//! `pool::PARK_IDLE` (2 s) and runs the next connection or writer, so a short connection costs no
//! thread creation; it is still one thread per live connection (two while it has writes
//! queued), all counted against `capacity::ThreadBudget`. Log lines name the connection
//! (`peer 17: …`), since a pooled thread cannot carry it in its name.

pub(crate) mod capacity;
pub(crate) mod claim;
pub(crate) mod close_record;
pub(crate) mod conn;
pub(crate) mod deflaters;
pub(crate) mod exposition;
pub(crate) mod health;
pub(crate) mod hub;
pub(crate) mod listener;
pub(crate) mod log_sink;
pub(crate) mod metric_family;
pub(crate) mod metrics;
pub(crate) mod per_address;
pub(crate) mod pool;
pub(crate) mod refusal;
pub(crate) mod request;
pub(crate) mod shared;
pub(crate) mod spawner;
pub(crate) mod static_files;
pub(crate) mod trust;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{info, warn};

use crate::config::{self, Config, Www};
use hub::Command;
// What the binary, the integration tests and the bench use; everything else in `server/` is
// the crate's own.
pub use capacity::Capacity;
pub use conn::tap::{HandshakeRecord, Tap, TapInfo};
pub use log_sink::LogSink;
pub use pool::ThreadPool;
pub use shared::Shared;
use spawner::spawn_named;

/// Stack of a connection thread. Small and fixed: connection count, not stack, is the limit
/// (see README, "Memory per connection").
pub(crate) const CONNECTION_STACK: usize = 128 * 1024;
/// Stack of the hub thread (JSON and the chat state live on the heap).
const HUB_STACK: usize = 256 * 1024;
/// Commands that may wait for the hub before connection threads block on it.
const HUB_QUEUE: usize = 16 * 1024;

/// A bound, not yet running server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    page_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    hub: JoinHandle<()>,
    notifier: Option<JoinHandle<()>>,
}

/// Stops a running server from another thread (a signal handler, a test).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl ShutdownHandle {
    /// Begins a graceful shutdown: stop accepting, Close 1001 to everyone; [`Server::run`]
    /// returns once they are gone or `--shutdown-timeout` has passed.
    pub fn shutdown(&self) {
        if self.shared.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the listeners from `accept`.
        for mut wake in std::iter::once(self.addr).chain(self.shared.page_addr) {
            if wake.ip().is_unspecified() {
                wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        }
    }
}

impl Server {
    /// Binds the listening socket and starts the hub.
    ///
    /// # Errors
    ///
    /// The address cannot be bound, `--www` does not exist, or a thread cannot start.
    pub fn bind(mut config: Config) -> io::Result<Self> {
        limit_connections_to_capacity(&mut config);
        let www_root = match &config.www {
            Www::Folder(folder) => Www::Folder(folder.canonicalize().map_err(|e| {
                io::Error::new(e.kind(), format!("--www {}: {e}", folder.display()))
            })?),
            built_in => built_in.clone(),
        };
        let www_fallback = match &config.www_fallback {
            Some(Www::Folder(folder)) => folder.canonicalize().ok().map(Www::Folder),
            other => other.clone(),
        };
        let listener = listen(config.addr, config.listen_backlog)
            .map_err(|e| config::listen_error("--addr", config.addr, &e))?;
        let page_listener = config
            .page_addr
            .map(|addr| {
                listen(addr, config.listen_backlog)
                    .map_err(|e| config::listen_error("--page-addr", addr, &e))
            })
            .transpose()?;
        let page_addr = page_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        if let Some(page) = page_addr {
            // The page port serves this server's own page: its origin is ours (§10.2).
            config.allowed_origins.extend(page_origins(page));
        }
        #[cfg(feature = "test-hooks")]
        let hub_queue = config.hub_queue.unwrap_or(HUB_QUEUE);
        #[cfg(not(feature = "test-hooks"))]
        let hub_queue = HUB_QUEUE;
        let (hub_tx, hub_rx) = crossbeam_channel::bounded(hub_queue);
        let hub_config = hub::HubConfig::from(&config);
        let hub = spawn_named("hub".into(), HUB_STACK, move || {
            hub::run(&hub_rx, &hub_config)
        })?;
        let notifier = match config.notify_every {
            Some(every) => {
                let hub_tx = hub_tx.clone();
                Some(spawn_named("notify".into(), 64 * 1024, move || {
                    while hub_tx.send(Command::Notify).is_ok() {
                        thread::sleep(every);
                    }
                })?)
            }
            None => None,
        };
        let threads = capacity::ThreadBudget::for_config(&config);
        metrics::metrics().started();
        let buffered_bytes = config.max_buffered_bytes;
        let shared = Arc::new(Shared {
            config,
            www_root,
            www_fallback,
            page_addr,
            hub: hub_tx,
            pool: pool::ThreadPool::new(threads.clone(), "conn", CONNECTION_STACK, pool::PARK_IDLE),
            threads,
            spawner: spawner::Spawner::start()?,
            next_id: AtomicU64::new(1),
            active: AtomicUsize::new(0),
            heads: Arc::default(),
            connections: Arc::default(),
            shutting_down: AtomicBool::new(false),
            buffered: Arc::new(crate::protocol::MemoryBudget::new(buffered_bytes)),
        });
        Ok(Self {
            listener,
            page_listener,
            shared,
            hub,
            notifier,
        })
    }

    /// The address actually bound (useful with port 0).
    ///
    /// # Errors
    ///
    /// The socket's address cannot be read.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the page port (`--page-addr`), if there is one.
    pub fn page_addr(&self) -> Option<SocketAddr> {
        self.shared.page_addr
    }

    /// A handle that stops this server.
    ///
    /// # Errors
    ///
    /// The socket's address cannot be read.
    pub fn shutdown_handle(&self) -> io::Result<ShutdownHandle> {
        Ok(ShutdownHandle {
            shared: Arc::clone(&self.shared),
            addr: self.local_addr()?,
        })
    }

    /// The shared state, for tests and the benchmark.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Accepts connections until shut down, then closes every client with 1001 and waits up to
    /// `--shutdown-timeout` for them to go.
    ///
    /// # Errors
    ///
    /// Only errors of the listening socket itself; a failing connection never stops the server.
    pub fn run(self) -> io::Result<()> {
        let pages = match self.page_listener {
            Some(page_listener) => {
                let shared = Arc::clone(&self.shared);
                Some(spawn_named("page-listener".into(), 64 * 1024, move || {
                    listener::accept_loop(&page_listener, &shared, request::Port::Page);
                })?)
            }
            None => None,
        };
        listener::accept_loop(&self.listener, &self.shared, request::Port::Main);
        if let Some(pages) = pages {
            let _ = pages.join();
        }
        let shared = self.shared;
        shared.hub_send(Command::Shutdown);
        let deadline = Instant::now() + shared.config.shutdown_timeout;
        // The graceful window: clients get their Close 1001, and the listener stays open so a
        // load balancer's health check hears `/readyz` 503 (and `/healthz` 200) instead of a
        // refused connect; every new upgrade is answered 503.
        listener::drain(&self.listener, &shared, deadline);
        drop(self.listener);
        let left = shared.active_connections();
        if left > 0 {
            warn!(
                "shutdown: {left} connections still open after {:?}",
                shared.config.shutdown_timeout
            );
        } else {
            info!("shutdown: every connection closed");
        }
        drop(self.notifier);
        drop(self.hub);
        Ok(())
    }
}

/// Binds `addr` and listens with a queue of `backlog` connections waiting for `accept`
/// (`--listen-backlog`; the kernel caps it at `net.core.somaxconn`). std's
/// `TcpListener::bind` always asks for 128, and a burst past the queue has its SYNs dropped:
/// those clients wait for their 1-second SYN retry.
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std does on Unix: a restarted server can bind while old connections are in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// The origins a browser sends for a page served at `page`: by its address, and as
/// `localhost` when it is loopback (`http://localhost:3000`, as the tutorials write it).
fn page_origins(page: SocketAddr) -> Vec<String> {
    let port = page.port();
    let mut origins = vec![format!("http://{page}")];
    if page.ip().is_loopback() || page.ip().is_unspecified() {
        origins.extend([
            format!("http://localhost:{port}"),
            format!("http://127.0.0.1:{port}"),
            format!("http://[::1]:{port}"),
        ]);
    }
    origins
}

/// Lowers `--max-connections` to what the kernel's limits let this process hold (see
/// [`capacity`]): past that, a new thread would abort the whole process.
fn limit_connections_to_capacity(config: &mut Config) {
    let capacity = capacity::Capacity::of_this_process();
    if let Some(safe) = capacity
        .max_connections()
        .and_then(|n| usize::try_from(n).ok())
    {
        if config.max_connections > safe {
            warn!(
                "--max-connections {} is more than this process can hold ({capacity:?}): using {safe}; \
                 raise vm.max_map_count and the open-file limit to allow more",
                config.max_connections
            );
            config.max_connections = safe.max(1);
        }
    }
}
