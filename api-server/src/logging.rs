//! Logging of every command of the binary: the server and the CLI alike.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use anyhow::Context;
use seecret_core::audit::{AuditEvent, AuditSink};
use tracing_subscriber::EnvFilter;

use crate::config::{AuditTarget, LogFormat};

/// Logs to stderr as text with the given filter (`SEECRET_LOG` syntax).
pub fn init(filter: &str) {
    init_as(filter, LogFormat::Text);
}

/// Logs to stderr with the given filter, in the given format. JSON lines carry the event's
/// fields at the top level and the enclosing request's span (request id, route) under `span`.
pub fn init_as(filter: &str, format: LogFormat) {
    // `serve` checks SEECRET_LOG with the rest of its settings; other commands say so here.
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("SEECRET_LOG {filter:?} is not a valid log filter ({e}); logging at info");
        EnvFilter::new("info")
    });
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

/// The audit log (`SEECRET_AUDIT_LOG`): one JSON object a line, written when the change has
/// committed, on stdout or appended to a file. A file is reopened by [`AuditLog::reopen`] (on
/// SIGHUP), so logrotate can move it away.
#[derive(Debug)]
pub struct AuditLog {
    target: AuditTarget,
    /// The open file; `None` for stdout.
    file: Mutex<Option<File>>,
}

fn open_append(path: &std::path::Path) -> anyhow::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("SEECRET_AUDIT_LOG: opening {} to append", path.display()))
}

impl AuditLog {
    /// Opens `target` (a file is created 0600 if missing, and appended to).
    pub fn open(target: &AuditTarget) -> anyhow::Result<Self> {
        let file = match target {
            AuditTarget::Stdout => None,
            AuditTarget::File(path) => Some(open_append(path)?),
        };
        Ok(Self {
            target: target.clone(),
            file: Mutex::new(file),
        })
    }

    /// Reopens the file by its path (after logrotate moved it); stdout stays as it is.
    pub fn reopen(&self) -> anyhow::Result<()> {
        let AuditTarget::File(path) = &self.target else {
            return Ok(());
        };
        let file = open_append(path)?;
        let mut slot = self
            .file
            .lock()
            .map_err(|_| anyhow::anyhow!("audit log lock poisoned"))?;
        *slot = Some(file);
        Ok(())
    }

    fn write_line(&self, line: &[u8]) -> std::io::Result<()> {
        let mut slot = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
        match slot.as_mut() {
            // One write of the whole line: appends from several processes do not interleave.
            Some(file) => file.write_all(line),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(line)?;
                out.flush()
            }
        }
    }
}

impl AuditSink for AuditLog {
    fn record(&self, event: &AuditEvent<'_>) {
        let written = serde_json::to_vec(event)
            .map_err(std::io::Error::other)
            .and_then(|mut line| {
                line.push(b'\n');
                self.write_line(&line)
            });
        // The change is committed and its answer on the way: a lost record is reported loudly,
        // in the log and in `seecret_audit_errors_total`, not by failing the request.
        if let Err(e) = written {
            metrics::counter!("seecret_audit_errors_total").increment(1);
            tracing::error!(target = %self.target, error = %e, event = event.event, secret = %event.secret,
                "audit log: record not written");
        }
    }
}
