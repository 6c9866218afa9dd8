//! Logging of every command of the binary: the server and the CLI alike.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs to stderr as text with the given filter (`SEECRET_LOG` syntax).
pub fn init(filter: &str) {
    init_as(filter, LogFormat::Text);
}

/// Logs to stderr with the given filter, in the given format. JSON lines carry the event's
/// fields at the top level and the enclosing request's span (request id, route) under `span`.
pub fn init_as(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
