//! Per-scope preferences of a chat bot that an admin of the scope sets from the chat (a Discord
//! server's "send links by DM too", say), kept where the bot keeps installations: inside
//! `seecret serve` the server's database, for a standalone bot a file ([`FilePreferences`]).

use std::fmt;
use std::path::Path;

use super::{FileInstallations, Installations};

/// A short text (the bot's own JSON) per `(platform, scope)`, kept durably.
#[async_trait::async_trait]
pub trait Preferences: Send + Sync + fmt::Debug {
    /// The preferences saved for `scope` (a guild or workspace id), if any.
    async fn get(&self, platform: &str, scope: &str) -> Result<Option<String>, String>;
    /// Saves (or replaces) `scope`'s preferences.
    async fn set(&self, platform: &str, scope: &str, value: &str) -> Result<(), String>;
}

/// Preferences kept beside a bot's installations, in the same store (the server's database, or
/// a standalone bot's file), under the provider `{platform}-preferences` so they never mix with
/// credentials. Not secret, so stored as they are.
#[derive(Debug)]
pub struct PreferencesIn<I>(pub I);

/// A standalone bot's preferences, in their own file.
pub type FilePreferences = PreferencesIn<FileInstallations>;

impl FilePreferences {
    /// Loads `path` (a missing file is an empty one).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, String> {
        FileInstallations::open(path).await.map(PreferencesIn)
    }
}

fn provider(platform: &str) -> String {
    format!("{platform}-preferences")
}

#[async_trait::async_trait]
impl<I: Installations> Preferences for PreferencesIn<I> {
    async fn get(&self, platform: &str, scope: &str) -> Result<Option<String>, String> {
        match self.0.sealed(&provider(platform), scope).await? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| format!("damaged preferences for {platform} {scope}")),
        }
    }

    async fn set(&self, platform: &str, scope: &str, value: &str) -> Result<(), String> {
        self.0
            .save(&provider(platform), scope, value.as_bytes())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn preferences_survive_a_restart_per_platform_and_scope() {
        let dir = std::env::temp_dir().join(format!("seecret-prefs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("preferences.json");
        let a = FilePreferences::open(&path).await.unwrap();
        assert_eq!(a.get("discord", "G1").await.unwrap(), None);
        a.set("discord", "G1", r#"{"dm_copy":false}"#)
            .await
            .unwrap();
        a.set("discord", "G1", r#"{"dm_copy":true}"#).await.unwrap();
        let b = FilePreferences::open(&path).await.unwrap();
        assert_eq!(
            b.get("discord", "G1").await.unwrap().as_deref(),
            Some(r#"{"dm_copy":true}"#)
        );
        assert_eq!(b.get("slack", "G1").await.unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
