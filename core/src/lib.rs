//! Seecret's engine: the rules of a one-time secret, its crypto, its storage and limits, and the
//! typed HTTP client every Seecret client uses.
//!
//! Nothing here knows about HTTP servers: the `api-server` crate maps [`Error`] to status codes and
//! the wire types in [`api`] to JSON. Cargo features keep clients light: `client` alone compiles no
//! database code.

pub mod api;
pub mod crypto;
pub mod error;
pub mod filestream;
#[cfg(feature = "engine")]
pub mod geo;
pub mod link;
pub mod model;
pub mod request;
pub mod text;

#[cfg(feature = "engine")]
pub mod audit;
#[cfg(feature = "engine")]
pub mod blob;
#[cfg(feature = "client")]
pub mod bots;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "engine")]
pub mod engine;
#[cfg(feature = "engine")]
pub mod limits;
#[cfg(feature = "engine")]
pub mod outbox;
#[cfg(feature = "engine")]
pub mod store;
#[cfg(feature = "engine")]
pub mod webhook;

pub use error::{Error, Result};

/// Installs the process-wide TLS provider (ring). Call it first thing in every `main` and in tests
/// that build HTTP clients: two TLS stacks in one dependency graph otherwise make rustls panic.
pub fn init_crypto() {
    // An Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves on Ctrl-C or SIGTERM: what every long-running Seecret process stops on.
#[cfg(any(feature = "engine", feature = "client"))]
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
