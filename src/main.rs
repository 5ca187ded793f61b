//! The `wsmith` binary: flags → [`Config`], logging, [`Server::run`]; nothing else.

use std::process::ExitCode;

use wsmith::config::{Config, USAGE};
use wsmith::server::Server;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
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
    println!("wsmith listening on http://{addr}");
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsmith: {e}");
            ExitCode::FAILURE
        }
    }
}
