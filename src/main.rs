//! The `wsmith` binary: flags → [`Config`], logging, [`Server::run`]; or a subcommand,
//! `wsmith connect …` / `wsmith decode …`, handed to [`wsmith::client`]. Nothing else.

use std::io::Write;
use std::process::ExitCode;

use wsmith::client::{self, connect, decode};
use wsmith::config::{Config, USAGE};
use wsmith::server::Server;

/// The subcommands, listed after the server's flags in `wsmith --help`.
const SUBCOMMANDS: &str = "
SUBCOMMANDS (the client's end of the protocol; each has its own --help):
    wsmith connect [FLAGS] ws://HOST[:PORT]/PATH   interactive client: stdin lines out, messages in
                                                   (--trace --binary --ping [TEXT] --close CODE REASON --echo)
    wsmith decode HEX...                           explain WebSocket frames given as hex, unmasked
";

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
        _ => {}
    }
    if wants_help(&args) {
        print!("{USAGE}{SUBCOMMANDS}");
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_args(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("wsmith: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = simple_logger::SimpleLogger::new()
        .with_level(config.log_level)
        .init()
    {
        eprintln!("wsmith: cannot start logging: {e}");
    }
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
    let _ = writeln!(std::io::stdout(), "wsmith listening on http://{addr}");
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsmith: {e}");
            ExitCode::FAILURE
        }
    }
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
