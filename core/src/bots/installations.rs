//! Where a chat app installed through OAuth (Slack, in many workspaces) keeps each workspace's
//! credentials, always sealed by the bot before they get here. Inside `seecret serve` it is the
//! server's database; a standalone bot keeps them in a [`FileInstallations`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::Mutex;

/// Sealed credentials per `(provider, team)`.
#[async_trait::async_trait]
pub trait Installations: Send + Sync + fmt::Debug {
    /// Saves (or replaces) a team's sealed credentials.
    async fn save(&self, provider: &str, team: &str, sealed: &[u8]) -> Result<(), String>;
    /// A team's sealed credentials, if it installed the app.
    async fn sealed(&self, provider: &str, team: &str) -> Result<Option<Vec<u8>>, String>;
}

/// Installations in one JSON file (`{"slack:T1": "<base64url of the sealed bytes>"}`), loaded at
/// start and rewritten whole (to a temporary file, then renamed) on each install. For one bot
/// process: two processes sharing the file would overwrite each other's installs.
pub struct FileInstallations {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, String>>,
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
        })
    }
}

#[async_trait::async_trait]
impl Installations for FileInstallations {
    async fn save(&self, provider: &str, team: &str, sealed: &[u8]) -> Result<(), String> {
        let mut entries = self.entries.lock().await;
        let mut next = entries.clone();
        next.insert(key(provider, team), URL_SAFE_NO_PAD.encode(sealed));
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

    async fn sealed(&self, provider: &str, team: &str) -> Result<Option<Vec<u8>>, String> {
        let entries = self.entries.lock().await;
        entries
            .get(&key(provider, team))
            .map(|b| URL_SAFE_NO_PAD.decode(b))
            .transpose()
            .map_err(|_| format!("{}: a damaged entry for {team}", self.path.display()))
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
        std::fs::write(&path, "not json").unwrap();
        assert!(FileInstallations::open(&path).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
