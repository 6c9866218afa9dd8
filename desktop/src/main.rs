//! `seecret-desktop`: the tray app. `--minimized` starts it with the window hidden (start at login).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEECRET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    seecret_core::init_crypto();
    let minimized = std::env::args().any(|a| a == "--minimized");
    seecret_desktop::run(minimized)?;
    Ok(())
}
