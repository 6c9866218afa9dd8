//! Logging of every command of the binary: the server and the CLI alike.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Logs to stderr with the given filter (`SEECRET_LOG` syntax).
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
