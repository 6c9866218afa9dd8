//! The app's settings (none of them secret: the token lives in a [`crate::token::TokenStore`]),
//! their validation, and where they are kept.

use std::sync::Mutex;

use seecret_core::model::Expiration;
use serde::{Deserialize, Serialize};

use crate::error::DesktopError;

/// Longest "clear the clipboard after" delay accepted, in seconds.
pub const MAX_CLEAR_SECS: u64 = 24 * 3600;

/// Non-secret settings, as stored and as the settings page shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The Seecret server, e.g. `https://secrets.example.com`.
    pub server_url: String,
    /// Default lifetime of a new link (`30m`, `24h`, `7d`…).
    pub default_expiration: String,
    /// Default number of views.
    pub default_views: u32,
    /// Clear a copied link from the clipboard after this many seconds (0: never).
    pub clear_clipboard_secs: u64,
    /// Notify when a link is read.
    pub notify_on_read: bool,
    /// Start the app at login.
    pub autostart: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server_url: String::new(),
            default_expiration: "24h".into(),
            default_views: 1,
            clear_clipboard_secs: 0,
            notify_on_read: true,
            autostart: false,
        }
    }
}

impl Settings {
    /// Checks every field and normalises the URL (trimmed, no trailing slash).
    pub fn validated(mut self) -> Result<Self, DesktopError> {
        let url = self.server_url.trim().trim_end_matches('/').to_string();
        if url.is_empty() {
            return Err(DesktopError::invalid(
                "Server URL",
                "enter your Seecret server's address, e.g. https://secrets.example.com",
            ));
        }
        let scheme_ok = url
            .split_once("://")
            .is_some_and(|(s, rest)| matches!(s, "http" | "https") && !rest.is_empty());
        if !scheme_ok {
            return Err(DesktopError::invalid(
                "Server URL",
                format!("{url:?} must start with https:// (or http:// for a local server)"),
            ));
        }
        self.server_url = url;
        parse_expiration(&self.default_expiration)?;
        self.default_expiration = self.default_expiration.trim().to_string();
        if self.default_views == 0 {
            return Err(DesktopError::invalid("Default views", "must be at least 1"));
        }
        if self.clear_clipboard_secs > MAX_CLEAR_SECS {
            return Err(DesktopError::invalid(
                "Clear clipboard after",
                format!("at most {MAX_CLEAR_SECS} seconds (0 keeps the link)"),
            ));
        }
        Ok(self)
    }

    /// Whether a server is set.
    pub fn configured(&self) -> bool {
        !self.server_url.is_empty()
    }
}

/// Parses an expiration as the user typed it.
pub fn parse_expiration(s: &str) -> Result<Expiration, DesktopError> {
    s.trim().parse().map_err(|_| {
        DesktopError::invalid(
            "Expiration",
            format!("{s:?} is not a duration like 30m, 24h, 7d or 1w"),
        )
    })
}

/// Where settings are kept.
pub trait SettingsStore: Send + Sync {
    /// The saved settings (defaults when none were saved).
    fn load(&self) -> Result<Settings, DesktopError>;
    /// Saves them.
    fn save(&self, s: &Settings) -> Result<(), DesktopError>;
}

/// Settings in memory (tests).
#[derive(Debug, Default)]
pub struct MemorySettingsStore(Mutex<Settings>);

impl MemorySettingsStore {
    /// Starts with these settings.
    pub fn new(s: Settings) -> Self {
        Self(Mutex::new(s))
    }
}

impl SettingsStore for MemorySettingsStore {
    fn load(&self) -> Result<Settings, DesktopError> {
        self.0
            .lock()
            .map(|s| s.clone())
            .map_err(|e| DesktopError::Settings(e.to_string()))
    }

    fn save(&self, s: &Settings) -> Result<(), DesktopError> {
        *self
            .0
            .lock()
            .map_err(|e| DesktopError::Settings(e.to_string()))? = s.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(url: &str) -> Settings {
        Settings {
            server_url: url.into(),
            ..Settings::default()
        }
    }

    #[test]
    fn urls_are_checked_and_normalised() {
        assert_eq!(
            with(" https://s.example.com/ ")
                .validated()
                .unwrap()
                .server_url,
            "https://s.example.com"
        );
        for bad in ["", "s.example.com", "ftp://x", "https://"] {
            let e = with(bad).validated().unwrap_err();
            assert!(e.to_string().starts_with("Server URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn defaults_are_checked() {
        let mut s = with("http://127.0.0.1:1");
        s.default_expiration = "3 days".into();
        assert!(
            s.clone()
                .validated()
                .unwrap_err()
                .to_string()
                .contains("3 days")
        );
        s.default_expiration = "3d".into();
        s.default_views = 0;
        assert!(s.clone().validated().is_err());
        s.default_views = 2;
        s.clear_clipboard_secs = MAX_CLEAR_SECS + 1;
        assert!(s.clone().validated().is_err());
        s.clear_clipboard_secs = 30;
        assert!(s.validated().is_ok());
    }
}
