//! Seecret's desktop tray app: drop a file or paste text, get a one-time link.
//!
//! The logic is plain Rust over the core's typed client ([`service`], [`files`], [`settings`],
//! [`token`]); [`app`] wires it to Tauri with thin commands, and [`app::builder`] is generic over
//! the runtime so tests drive it with Tauri's mock runtime.

pub mod actions;
pub mod app;
pub mod error;
pub mod files;
pub mod service;
pub mod settings;
pub mod token;
pub mod tray;

pub use error::DesktopError;

/// Runs the real app (the binary's whole job).
pub fn run(start_hidden: bool) -> tauri::Result<()> {
    let opts = app::Options {
        settings_file: "settings.json".into(),
        tokens: Box::new(token::KeyringTokenStore),
        poll_every: std::time::Duration::from_secs(15),
        tray: true,
        start_hidden,
    };
    let app = app::builder(tauri::Builder::default())
        .setup(move |app| Ok(app::init(app.handle(), opts)?))
        .build(tauri::generate_context!())?;
    app.run(|_, event| {
        // The last window closing (or hiding) does not quit: the app lives in the tray. Quit
        // in the tray menu exits with a code, which is let through.
        if let tauri::RunEvent::ExitRequested { api, code, .. } = event
            && code.is_none()
        {
            api.prevent_exit();
        }
    });
    Ok(())
}
