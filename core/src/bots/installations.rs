//! What a chat app keeps per workspace and per event ([`BotStore`]): the credentials of a
//! workspace that installed it through OAuth (Slack, in many workspaces), always sealed by the bot
//! before they get here; what the workspace's admins chose ([`WorkspaceSettings`]); and the
//! platform events already handled. Inside `seecret serve` it is the server's database; a
//! standalone bot keeps it in a [`FileInstallations`], which also remembers who shared what for a
//! [`Remote`](super::Remote) backend ([`Ledger`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::Mutex;

use crate::model::SecretId;

/// How long a handled event is remembered: Slack redelivers within about an hour.
pub const EVENT_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// Per `(provider, team)`: sealed credentials and settings; and the events already handled.
#[async_trait::async_trait]
pub trait BotStore: Send + Sync + fmt::Debug {
    /// Saves (or replaces) a team's sealed credentials.
    async fn save(&self, provider: &str, team: &str, sealed: &[u8]) -> Result<(), String>;
    /// A team's sealed credentials, if it installed the app.
    async fn sealed(&self, provider: &str, team: &str) -> Result<Option<Vec<u8>>, String>;
    /// Saves (or replaces) a team's settings.
    async fn save_settings(
        &self,
        provider: &str,
        team: &str,
        settings: &WorkspaceSettings,
    ) -> Result<(), String>;
    /// A team's settings as its admins left them (default: none chosen).
    async fn settings(&self, provider: &str, team: &str) -> Result<WorkspaceSettings, String>;
    /// Claims the platform event `key` for handling: true the first time, false for a
    /// redelivery of one already claimed (within [`EVENT_MEMORY`]).
    async fn first_delivery(&self, key: &str) -> Result<bool, String>;
}

/// What a workspace's admins chose; each unset choice follows the server's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkspaceSettings {
    /// Links the sender must keep also go to them by DM (durable delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dm_links: Option<bool>,
}

impl WorkspaceSettings {
    /// As stored (a JSON object); unknown fields are ignored, so older servers read newer rows.
    pub fn from_json(json: &str) -> Result<Self, String> {
        serde_json::from_str(json).map_err(|e| format!("workspace settings: {e}"))
    }

    /// As stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Which secrets each chat user created through a [`Remote`](super::Remote) backend, which keeps
/// no such record itself (the server knows only its API token).
#[async_trait::async_trait]
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Remembers that `owner` (a `notify` route, `slack:T1:U1`) created `id`.
    async fn record(&self, owner: &str, id: SecretId) -> Result<(), String>;
    /// The last [`LEDGER_PER_OWNER`] ids `owner` created, newest first.
    async fn ids(&self, owner: &str) -> Result<Vec<SecretId>, String>;
}

/// Ids a [`Ledger`] keeps per user: enough for the recent shares a bot shows.
pub const LEDGER_PER_OWNER: usize = 20;

/// A bot's state in one JSON file, loaded at start and rewritten whole (to a temporary file, then
/// renamed) on each change: `{"slack:T1": "<base64url of the sealed credentials>",
/// "settings/slack:T1": "{…}", "shares/slack:T1:U1": "<id>,<id>,…"}`. Handled events are
/// remembered in memory only. For one bot process: two processes sharing the file would
/// overwrite each other's changes.
pub struct FileInstallations {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, String>>,
    events: std::sync::Mutex<HashMap<String, Instant>>,
}

impl fmt::Debug for FileInstallations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileInstallations")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn key(provider: &str, team: &str) -> String {
    format!("{provider}:{team}")
}

impl FileInstallations {
    /// Loads `path` (a missing file is an empty one).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref().to_path_buf();
        let entries = match tokio::fs::read(&path).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{}: not an installations file: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Self {
            path,
            entries: Mutex::new(entries),
            events: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Sets `key` to `value` and writes the file; on failure nothing changes.
    async fn put(&self, key: String, value: String) -> Result<(), String> {
        let mut entries = self.entries.lock().await;
        let mut next = entries.clone();
        next.insert(key, value);
        let json = serde_json::to_vec_pretty(&next).map_err(|e| e.to_string())?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let written = async {
            tokio::fs::write(&tmp, &json).await?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).await?;
            }
            tokio::fs::rename(&tmp, &self.path).await
        };
        written
            .await
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        *entries = next;
        Ok(())
    }

    async fn get(&self, key: &str) -> Option<String> {
        self.entries.lock().await.get(key).cloned()
    }
}

#[async_trait::async_trait]
impl BotStore for FileInstallations {
    async fn save(&self, provider: &str, team: &str, sealed: &[u8]) -> Result<(), String> {
        self.put(key(provider, team), URL_SAFE_NO_PAD.encode(sealed))
            .await
    }

    async fn sealed(&self, provider: &str, team: &str) -> Result<Option<Vec<u8>>, String> {
        let entries = self.entries.lock().await;
        entries
            .get(&key(provider, team))
            .map(|b| URL_SAFE_NO_PAD.decode(b))
            .transpose()
            .map_err(|_| format!("{}: a damaged entry for {team}", self.path.display()))
    }

    async fn save_settings(
        &self,
        provider: &str,
        team: &str,
        settings: &WorkspaceSettings,
    ) -> Result<(), String> {
        let k = format!("settings/{}", key(provider, team));
        self.put(k, settings.to_json()).await
    }

    async fn settings(&self, provider: &str, team: &str) -> Result<WorkspaceSettings, String> {
        match self.get(&format!("settings/{}", key(provider, team))).await {
            Some(json) => WorkspaceSettings::from_json(&json),
            None => Ok(WorkspaceSettings::default()),
        }
    }

    async fn first_delivery(&self, key: &str) -> Result<bool, String> {
        let now = Instant::now();
        let mut seen = match self.events.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        seen.retain(|_, at| now.duration_since(*at) < EVENT_MEMORY);
        Ok(seen.insert(key.to_string(), now).is_none())
    }
}

#[async_trait::async_trait]
impl Ledger for FileInstallations {
    async fn record(&self, owner: &str, id: SecretId) -> Result<(), String> {
        let k = format!("shares/{owner}");
        let mut ids = vec![id.to_string()];
        if let Some(old) = self.get(&k).await {
            ids.extend(old.split(',').filter(|s| !s.is_empty()).map(String::from));
        }
        ids.truncate(LEDGER_PER_OWNER);
        self.put(k, ids.join(",")).await
    }

    async fn ids(&self, owner: &str) -> Result<Vec<SecretId>, String> {
        let Some(list) = self.get(&format!("shares/{owner}")).await else {
            return Ok(Vec::new());
        };
        list.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| format!("{}: a damaged share list", self.path.display()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn installs_survive_a_restart_and_teams_stay_apart() {
        let dir = std::env::temp_dir().join(format!("seecret-inst-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("installations.json");
        let a = FileInstallations::open(&path).await.unwrap();
        assert_eq!(a.sealed("slack", "T1").await.unwrap(), None);
        a.save("slack", "T1", b"sealed-1").await.unwrap();
        a.save("slack", "T2", b"sealed-2").await.unwrap();
        a.save("slack", "T1", b"sealed-1b").await.unwrap();
        let b = FileInstallations::open(&path).await.unwrap();
        assert_eq!(
            b.sealed("slack", "T1").await.unwrap().unwrap(),
            b"sealed-1b"
        );
        assert_eq!(b.sealed("slack", "T2").await.unwrap().unwrap(), b"sealed-2");
        assert_eq!(b.sealed("discord", "T1").await.unwrap(), None);
        // Settings, the shares ledger and event claims.
        assert_eq!(
            b.settings("slack", "T1").await.unwrap(),
            WorkspaceSettings::default()
        );
        let off = WorkspaceSettings {
            dm_links: Some(false),
        };
        b.save_settings("slack", "T1", &off).await.unwrap();
        let ids: Vec<SecretId> = (0..LEDGER_PER_OWNER + 2).map(|_| SecretId::new()).collect();
        for id in &ids {
            b.record("slack:T1:U1", *id).await.unwrap();
        }
        let c = FileInstallations::open(&path).await.unwrap();
        assert_eq!(c.settings("slack", "T1").await.unwrap(), off);
        assert_eq!(c.settings("slack", "T2").await.unwrap().dm_links, None);
        let kept = c.ids("slack:T1:U1").await.unwrap();
        let newest: Vec<SecretId> = ids.iter().rev().take(LEDGER_PER_OWNER).copied().collect();
        assert_eq!(kept, newest);
        assert!(c.ids("slack:T1:U2").await.unwrap().is_empty());
        assert!(c.first_delivery("slack:Ev1").await.unwrap());
        assert!(!c.first_delivery("slack:Ev1").await.unwrap());
        assert_eq!(
            c.sealed("slack", "T1").await.unwrap().unwrap(),
            b"sealed-1b"
        );
        std::fs::write(&path, "not json").unwrap();
        assert!(FileInstallations::open(&path).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
