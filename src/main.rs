//! The `wsmith` binary: flags → [`Config`], logging, [`Server::run`]; or a subcommand,
//! `wsmith connect …` / `wsmith decode …`, handed to [`wsmith::client`], or
//! `wsmith tutorial [NAME]`, the same server running a seed tutorial's app. Nothing else.

use std::io::Write;
use std::process::ExitCode;

use wsmith::app::tutorial::{catalog, Tutorial};
use wsmith::client::{self, connect, decode};
use wsmith::config::{flags, Config};
use wsmith::server::Server;

/// The subcommands, listed after the server's flags in `wsmith --help`.
const SUBCOMMANDS: &str = "
SUBCOMMANDS (the client's end of the protocol; each has its own --help):
    wsmith connect [FLAGS] ws://HOST[:PORT]/PATH   interactive client: stdin lines out, messages in
                                                   (--trace --timestamps -H 'NAME: VALUE' --binary --ping [TEXT]
                                                    --close CODE REASON --echo --deflate)
    wsmith decode HEX... | -                       explain WebSocket frames given as hex (or on stdin), unmasked
    wsmith decode --as-server HEX...               what a server's protocol core does with them (the frame lab)
    wsmith tutorial [NAME] [FLAGS]                 list the seed tutorials, or run one's server exactly
                                                   (the flags above, and --page-addr for hello-chat and relay)
";

/// `wsmith --version`: `wsmith 0.1.0 (abc1234)`, the commit from `build.rs`.
const VERSION: &str = concat!(
    "wsmith ",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("WSMITH_GIT_COMMIT"),
    ")\n"
);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wants_help = |args: &[String]| args.iter().any(|a| a == "--help" || a == "-h");
    match args.split_first() {
        Some((command, rest)) if command == "connect" => {
            if wants_help(rest) {
                print!("{}", connect::USAGE);
                return ExitCode::SUCCESS;
            }
            return run_connect(rest);
        }
        Some((command, rest)) if command == "decode" => {
            if wants_help(rest) {
                print!("{}", decode::USAGE);
                return ExitCode::SUCCESS;
            }
            return run_decode(rest);
        }
        Some((command, rest)) if command == "tutorial" => return run_tutorial(rest),
        _ => {}
    }
    if wants_help(&args) {
        print!("{}{SUBCOMMANDS}", flags::usage());
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        print!("{VERSION}");
        return ExitCode::SUCCESS;
    }
    match Config::from_args(args) {
        Ok(config) => serve(config),
        Err(e) => {
            eprintln!("wsmith: {e}");
            ExitCode::from(2)
        }
    }
}

/// `wsmith tutorial`: the list; `wsmith tutorial NAME [FLAGS]`: that tutorial's server.
fn run_tutorial(args: &[String]) -> ExitCode {
    let Some((name, flags)) = args
        .split_first()
        .filter(|(name, _)| !name.starts_with('-'))
    else {
        print!("{}", catalog::listing());
        return ExitCode::SUCCESS;
    };
    let Some(tutorial) = Tutorial::from_name(name) else {
        eprintln!(
            "wsmith tutorial: no tutorial {name:?}\n\n{}",
            catalog::listing()
        );
        return ExitCode::from(2);
    };
    if flags.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}\n{}", catalog::listing(), flags::usage());
        return ExitCode::SUCCESS;
    }
    match Config::for_tutorial(tutorial, flags.iter().cloned()) {
        Ok(config) => serve(config),
        Err(e) => {
            eprintln!("wsmith tutorial {name}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Logging, the server, signals; runs until shut down.
fn serve(config: Config) -> ExitCode {
    let tutorial = config.tutorial;
    start_logging(config.log_level);
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("wsmith: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (addr, shutdown) = match (server.local_addr(), server.shutdown_handle()) {
        (Ok(addr), Ok(shutdown)) => (addr, shutdown),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("wsmith: {e}");
            return ExitCode::FAILURE;
        }
    };
    // SIGINT and SIGTERM start a graceful shutdown (Close 1001 to everyone).
    match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]) {
        Ok(mut signals) => {
            let spawned = std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        log::info!("signal {signal}: shutting down");
                        shutdown.shutdown();
                    }
                });
            if let Err(e) = spawned {
                eprintln!("wsmith: cannot watch signals: {e}");
            }
        }
        Err(e) => eprintln!("wsmith: cannot watch signals: {e}"),
    }
    // The one line on stdout (tests and scripts read the address from it); a closed stdout
    // must not stop the server.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "wsmith listening on http://{addr}");
    if let Some(page) = server.page_addr() {
        let _ = writeln!(stdout, "wsmith page on http://{page}");
    }
    if let Some(tutorial) = tutorial {
        let _ = write!(stdout, "{}", tutorial_banner(tutorial, &server));
    }
    let result = server.run();
    log::logger().flush(); // the last lines, written before the process ends
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsmith: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `simple_logger` writes the lines, behind the `log` thread's queue
/// ([`LogSink`](wsmith::server::LogSink)): no thread waits for stderr.
fn start_logging(level: log::LevelFilter) {
    let logger = simple_logger::SimpleLogger::new().with_level(level);
    let max_level = logger.max_level();
    let installed = wsmith::server::LogSink::start(Box::new(logger))
        .map_err(|e| e.to_string())
        .and_then(|sink| log::set_boxed_logger(Box::new(sink)).map_err(|e| e.to_string()));
    match installed {
        Ok(()) => log::set_max_level(max_level),
        Err(e) => eprintln!("wsmith: cannot start logging: {e}"),
    }
}

/// What to open and what to try, in a few lines, once a tutorial's server listens.
fn tutorial_banner(tutorial: Tutorial, server: &Server) -> String {
    let info = tutorial.info();
    let Ok(addr) = server.local_addr() else {
        return String::new();
    };
    // The tutorials write `localhost`; on loopback that is the same server.
    let host = |addr: std::net::SocketAddr| match addr.ip().is_loopback() {
        true => format!("localhost:{}", addr.port()),
        false => addr.to_string(),
    };
    // Our page finds the WebSocket port in `?ws=` when it is not on the page's port.
    let (page_host, query) = match server.page_addr() {
        Some(page) if addr.port() != info.ws_port => (host(page), format!("?ws={}", addr.port())),
        Some(page) => (host(page), String::new()),
        None => (host(addr), String::new()),
    };
    let page = format!("http://{page_host}/{query}");
    let inspector = match server.page_addr() {
        Some(_) => format!("http://{page_host}/inspector.html?ws={}", addr.port()),
        None => format!("http://{page_host}/inspector.html"),
    };
    let mut out = format!(
        "tutorial {}: seed {} \"{}\", {} ({})\n  open {page}  (WebSocket ws://{}/)\n  try: {}\n",
        info.name,
        info.seed,
        info.seed_title,
        info.section,
        info.section_ko,
        host(addr),
        info.try_this
    );
    out.push_str(&format!("  watch the frames: {inspector}\n"));
    if addr.ip().is_loopback() {
        out.push_str(
            "  Origin: null is accepted (index.html opened from disk, file://) because this server \
             listens on loopback only\n",
        );
    }
    out
}

/// `wsmith connect`: 0 after a clean close handshake; 1 on failure; 2 for a wrong command line.
fn run_connect(args: &[String]) -> ExitCode {
    let result = connect::Options::from_args(args).and_then(|options| connect::run(&options));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => client_failure("connect", &e),
    }
}

/// `wsmith decode`: 0 when every byte is a whole frame breaking no rule, 1 otherwise, 2 for
/// input that is not hex.
fn run_decode(args: &[String]) -> ExitCode {
    match decode::run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => client_failure("decode", &e),
    }
}

fn client_failure(command: &str, e: &client::Error) -> ExitCode {
    eprintln!("wsmith {command}: {e}");
    ExitCode::from(e.exit_code())
}
