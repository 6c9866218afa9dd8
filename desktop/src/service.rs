//! The app's business logic, free of Tauri: settings and token, sharing text and files through the
//! core's typed client (encrypted here, uploaded with progress, cancelable), recent links and their
//! status, burn. The Tauri commands in [`crate::app`] are thin wrappers over this.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use seecret_core::api::CreateRequest;
use seecret_core::api::SecretInfo;
use seecret_core::api::{Limits, ListQuery};
use seecret_core::client::{Client, RevealedContent, ShareOptions, Shared};
use seecret_core::crypto::SecretBytes;
use seecret_core::link::AnswerLink;
use seecret_core::model::RequestStatus;
use seecret_core::model::{Kind, SecretId, Status};
use seecret_core::request::RequestPrivateKey;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use zeroize::Zeroizing;

use crate::error::DesktopError;
use crate::files::{self, Source, StagedFile};
use crate::settings::{Settings, SettingsStore, parse_expiration};
use crate::token::{MemoryTokenStore, TokenStore};

/// Progress callback: bytes done, bytes in total.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// What the user chose for one share (empty fields take the settings' defaults).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShareRequest {
    /// The text to share (text shares only).
    pub text: Option<SecretBytes>,
    /// Lifetime, e.g. `24h`.
    pub expiration: Option<String>,
    /// Views allowed.
    pub views: Option<u32>,
    /// A passphrase the recipient must give.
    pub passphrase: Option<SecretBytes>,
    /// A note for the owner.
    pub label: Option<String>,
}

/// A link just made.
#[derive(Clone, Serialize)]
pub struct SharedLink {
    /// The secret's id.
    pub id: String,
    /// The link (key included): the secret itself.
    pub link: String,
    /// What it is: the label, the file name or "Text".
    pub label: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Views allowed.
    pub views: u32,
}

impl std::fmt::Debug for SharedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLink")
            .field("id", &self.id)
            .field("link", &"<redacted>")
            .finish()
    }
}

/// A recent link with its status on the server.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RecentLink {
    /// The secret's id.
    pub id: String,
    /// Label, file name or "Text".
    pub label: String,
    /// Text or file.
    pub kind: Kind,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// Views used.
    pub views: u32,
    /// Views left.
    pub views_left: u32,
    /// `waiting`, `viewed`, `consumed`, `expired` or `burned`.
    pub state: &'static str,
    /// Whether this session still holds the link (so Copy link works).
    pub has_link: bool,
}

/// The settings page: settings plus where the token is, never the token.
#[derive(Clone, Debug, Serialize)]
pub struct SettingsView {
    /// The settings.
    pub settings: Settings,
    /// A token is stored.
    pub has_token: bool,
    /// Where it is kept (`OS keyring` or `this session only`).
    pub token_storage: String,
}

/// What a settings page sends: the settings and, optionally, a new token.
#[derive(Deserialize)]
pub struct SettingsInput {
    /// The settings.
    #[serde(flatten)]
    pub settings: Settings,
    /// A new token (kept as is when absent or empty).
    #[serde(default)]
    pub token: Option<SecretBytes>,
}

impl std::fmt::Debug for SettingsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsInput")
            .field("settings", &self.settings)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Answer to saving settings: the account the token belongs to.
#[derive(Clone, Debug, Serialize)]
pub struct AccountSummary {
    /// The account's name.
    pub account: String,
    /// Largest file the server accepts, bytes.
    pub max_file_bytes: Option<u64>,
    /// Where the token is kept.
    pub token_storage: String,
    /// A warning to show (e.g. no OS keyring: the token lasts this session only).
    pub warning: Option<String>,
}

/// A link that was read since the last refresh.
#[derive(Clone, Debug, Serialize)]
pub struct ReadEvent {
    /// The secret's id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// Views used now.
    pub views: u32,
    /// Views left.
    pub views_left: u32,
}

/// A link made in this session.
struct Made {
    link: Zeroizing<String>,
    name: Option<String>,
}

/// The running upload's cancel switch.
#[derive(Default)]
struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

/// A request made by [`Desktop::request_secret`].
#[derive(Debug, Serialize)]
pub struct MadeRequest {
    /// The request's id, for [`Desktop::request_answer`].
    pub id: String,
    /// The `/r/` link to send to whoever has the secret.
    pub link: String,
    /// When the request stops accepting an answer.
    pub expires_at: DateTime<Utc>,
}

/// Where a request stands: `open`, `answered`, `expired` or `deleted`; the answer's text once.
#[derive(Serialize)]
pub struct RequestAnswer {
    /// The request's status.
    pub status: &'static str,
    /// The answer, when it was just opened.
    pub text: Option<String>,
}

impl std::fmt::Debug for RequestAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestAnswer")
            .field("status", &self.status)
            .field("text", &self.text.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The desktop app's state.
pub struct Desktop {
    settings: Box<dyn SettingsStore>,
    tokens: Box<dyn TokenStore>,
    /// The token when the OS keyring is unavailable: kept for this session only.
    session: MemoryTokenStore,
    /// Links made in this session, with the local file name (neither is ever stored).
    links: Mutex<HashMap<SecretId, Made>>,
    /// Views last seen per secret, to notice reads.
    seen: Mutex<HashMap<SecretId, u32>>,
    staged: Mutex<Vec<PathBuf>>,
    upload: Mutex<Option<Arc<Cancel>>>,
    limits: Mutex<Option<(String, Limits)>>,
    /// Requests made in this session: the server they went to and their private key d, kept
    /// in memory only (zeroed on drop, never printed) until the answer is opened.
    requests: Mutex<HashMap<SecretId, (String, RequestPrivateKey)>>,
    /// The `/r/` links of those requests, to copy (public: they carry only Q).
    request_links: Mutex<HashMap<SecretId, String>>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DesktopError> + Send + 'static,
) -> Result<T, DesktopError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DesktopError::Other(e.to_string()))?
}

impl Desktop {
    /// The app's state over these stores.
    pub fn new(settings: Box<dyn SettingsStore>, tokens: Box<dyn TokenStore>) -> Self {
        Self {
            settings,
            tokens,
            session: MemoryTokenStore::default(),
            links: Mutex::default(),
            seen: Mutex::default(),
            staged: Mutex::default(),
            upload: Mutex::default(),
            limits: Mutex::default(),
            requests: Mutex::default(),
            request_links: Mutex::default(),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Result<Settings, DesktopError> {
        self.settings.load()
    }

    fn token(&self) -> Option<Zeroizing<String>> {
        if let Ok(Some(t)) = self.session.get() {
            return Some(t);
        }
        self.tokens.get().ok().flatten()
    }

    /// The settings page.
    pub fn settings_view(&self) -> Result<SettingsView, DesktopError> {
        let in_session = matches!(self.session.get(), Ok(Some(_)));
        Ok(SettingsView {
            settings: self.settings.load()?,
            has_token: self.token().is_some(),
            token_storage: if in_session {
                "this session only (no OS keyring)".into()
            } else {
                self.tokens.kind().into()
            },
        })
    }

    /// Validates the settings, checks the token against the server (`get_account`), then saves
    /// both: the settings in the settings store, the token in the token store.
    pub async fn save_settings(
        &self,
        input: SettingsInput,
    ) -> Result<AccountSummary, DesktopError> {
        let settings = input.settings.validated()?;
        let new_token = input
            .token
            .as_ref()
            .and_then(|t| t.as_str())
            .map(|t| Zeroizing::new(t.trim().to_string()))
            .filter(|t| !t.is_empty());
        let token = match (&new_token, self.token()) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => t,
            (None, None) => {
                return Err(DesktopError::invalid(
                    "API token",
                    "paste the token `seecret account create` printed",
                ));
            }
        };
        let client = Client::new(&settings.server_url, Some(token.as_str()))
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        let account = client
            .account()
            .await
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        let mut warning = None;
        if let Some(t) = new_token {
            match self.tokens.set(&t) {
                Ok(()) => {
                    let _ = self.session.clear();
                }
                Err(e) => {
                    self.session.set(&t).map_err(DesktopError::Keyring)?;
                    warning = Some(format!(
                        "No OS keyring is available ({e}); the token is kept in memory until you quit."
                    ));
                }
            }
        }
        self.settings.save(&settings)?;
        *lock(&self.limits) = Some((settings.server_url.clone(), account.limits.clone()));
        Ok(AccountSummary {
            account: account.name,
            max_file_bytes: account.limits.max_file_bytes,
            token_storage: self.settings_view()?.token_storage,
            warning,
        })
    }

    fn client(&self) -> Result<(Client, Settings), DesktopError> {
        let settings = self.settings.load()?;
        let token = self.token();
        let (true, Some(token)) = (settings.configured(), token) else {
            return Err(DesktopError::NotConfigured);
        };
        let client = Client::new(&settings.server_url, Some(token.as_str()))
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        Ok((client, settings))
    }

    fn options(
        settings: &Settings,
        req: &ShareRequest,
        label: Option<String>,
    ) -> Result<ShareOptions, DesktopError> {
        let expiration = match req.expiration.as_deref().map(str::trim) {
            Some(e) if !e.is_empty() => parse_expiration(e)?,
            _ => parse_expiration(&settings.default_expiration)?,
        };
        let views = req.views.unwrap_or(settings.default_views);
        if views == 0 {
            return Err(DesktopError::invalid("Views", "must be at least 1"));
        }
        Ok(ShareOptions {
            expiration: Some(expiration),
            views: Some(views),
            passphrase: req.passphrase.clone().filter(|p| !p.is_empty()),
            label: req
                .label
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .or(label),
            webhook_url: None,
        })
    }

    fn remember(&self, shared: Shared, name: Option<String>) -> SharedLink {
        let info = shared.info;
        let label = label_of(&info, name.as_deref());
        lock(&self.links).insert(
            info.id,
            Made {
                link: shared.link.clone(),
                name,
            },
        );
        lock(&self.seen).insert(info.id, used(&info));
        SharedLink {
            id: info.id.to_string(),
            link: shared.link.to_string(),
            label,
            expires_at: info.expires_at,
            views: info.views_remaining,
        }
    }

    /// Encrypts `req.text` here and shares it.
    pub async fn share_text(&self, req: ShareRequest) -> Result<SharedLink, DesktopError> {
        let (client, settings) = self.client()?;
        let text = req.text.clone().filter(|t| !t.is_empty());
        let Some(text) = text else {
            return Err(DesktopError::Empty);
        };
        let opts = Self::options(&settings, &req, None)?;
        let shared = client
            .share(text.expose(), opts)
            .await
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        Ok(self.remember(shared, None))
    }

    /// Adds dropped or picked paths to the files to share; returns them all.
    pub fn stage(&self, paths: Vec<PathBuf>) -> Result<Vec<StagedFile>, DesktopError> {
        {
            let mut staged = lock(&self.staged);
            for p in paths {
                if !staged.contains(&p) {
                    staged.push(p);
                }
            }
        }
        self.staged()
    }

    /// The files to share.
    pub fn staged(&self) -> Result<Vec<StagedFile>, DesktopError> {
        lock(&self.staged)
            .iter()
            .map(|p| files::describe(p))
            .collect()
    }

    /// Forgets the files to share.
    pub fn clear_staged(&self) {
        lock(&self.staged).clear();
    }

    /// The server's limits (asked once per server URL).
    async fn limits(&self, client: &Client, server: &str) -> Result<Limits, DesktopError> {
        let cached = lock(&self.limits).clone();
        if let Some((url, l)) = cached
            && url == server
        {
            return Ok(l);
        }
        let account = client
            .account()
            .await
            .map_err(|e| DesktopError::from_client(server, e))?;
        *lock(&self.limits) = Some((server.to_string(), account.limits.clone()));
        Ok(account.limits)
    }

    /// Shares the staged files: one file as is, several (or a folder) as a zip. Checks the size
    /// against the server's limit first, then encrypts while uploading, reporting progress; a
    /// [`Desktop::cancel`] stops it. The staged list is cleared once the link exists.
    pub async fn share_staged(
        &self,
        req: ShareRequest,
        progress: ProgressFn,
    ) -> Result<SharedLink, DesktopError> {
        let paths = lock(&self.staged).clone();
        if paths.is_empty() {
            return Err(DesktopError::Empty);
        }
        let (client, settings) = self.client()?;
        let opts = Self::options(&settings, &req, None)?;
        let cancel = {
            let mut slot = lock(&self.upload);
            if slot.is_some() {
                return Err(DesktopError::Busy);
            }
            let c = Arc::new(Cancel::default());
            *slot = Some(c.clone());
            c
        };
        let result = self
            .upload(&client, &settings, paths, opts, progress, &cancel)
            .await;
        *lock(&self.upload) = None;
        let (shared, name) = result?;
        self.clear_staged();
        Ok(self.remember(shared, Some(name)))
    }

    async fn upload(
        &self,
        client: &Client,
        settings: &Settings,
        paths: Vec<PathBuf>,
        opts: ShareOptions,
        progress: ProgressFn,
        cancel: &Cancel,
    ) -> Result<(Shared, String), DesktopError> {
        let limits = self.limits(client, &settings.server_url).await?;
        let max = limits.max_file_bytes;
        let upload = blocking(move || files::prepare(&paths, max)).await?;
        if cancel.flag.load(Ordering::SeqCst) {
            return Err(DesktopError::Canceled);
        }
        let meta = upload.meta;
        let name = meta.name.clone();
        let send = async {
            match upload.source {
                Source::Path(p) => {
                    let f = tokio::fs::File::open(&p)
                        .await
                        .map_err(|e| DesktopError::File {
                            path: p.display().to_string(),
                            message: e.to_string(),
                        })?;
                    client.share_file(f, meta, opts, Some(progress)).await
                }
                Source::Memory(bytes) => {
                    client
                        .share_file(std::io::Cursor::new(bytes), meta, opts, Some(progress))
                        .await
                }
            }
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))
        };
        let canceled = async {
            loop {
                let notified = cancel.notify.notified();
                if cancel.flag.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        };
        // Dropping the upload future closes the connection: the server keeps nothing.
        tokio::select! {
            r = send => r.map(|s| (s, name)),
            () = canceled => Err(DesktopError::Canceled),
        }
    }

    /// Cancels the running upload; false when none runs.
    pub fn cancel(&self) -> bool {
        match lock(&self.upload).as_ref() {
            Some(c) => {
                c.flag.store(true, Ordering::SeqCst);
                c.notify.notify_waiters();
                true
            }
            None => false,
        }
    }

    /// The account's recent links, newest first, with their status from the server; and the
    /// links read since the last call.
    pub async fn recent(&self) -> Result<(Vec<RecentLink>, Vec<ReadEvent>), DesktopError> {
        let (client, settings) = self.client()?;
        let list = client
            .list(&ListQuery {
                limit: Some(20),
                ..ListQuery::default()
            })
            .await
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        let links = lock(&self.links);
        let mut seen = lock(&self.seen);
        let mut read = Vec::new();
        let now = Utc::now();
        let recent = list
            .seecrets
            .into_iter()
            .map(|info| {
                let name = links.get(&info.id).and_then(|m| m.name.as_deref());
                if let Some(before) = seen.insert(info.id, used(&info))
                    && used(&info) > before
                {
                    read.push(ReadEvent {
                        id: info.id.to_string(),
                        label: label_of(&info, name),
                        views: used(&info),
                        views_left: info.views_remaining,
                    });
                }
                RecentLink {
                    id: info.id.to_string(),
                    label: label_of(&info, name),
                    kind: info.kind,
                    created_at: info.created_at,
                    expires_at: info.expires_at,
                    views: used(&info),
                    views_left: info.views_remaining,
                    state: state_of(&info, now),
                    has_link: links.contains_key(&info.id),
                }
            })
            .collect();
        Ok((recent, read))
    }

    /// A link made in this session, to copy: a share's, or a request's `/r/` link.
    pub fn link(&self, id: &str) -> Result<Zeroizing<String>, DesktopError> {
        let id: SecretId = id
            .parse()
            .map_err(|_| DesktopError::invalid("id", "not a secret id"))?;
        if let Some(m) = lock(&self.links).get(&id) {
            return Ok(m.link.clone());
        }
        lock(&self.request_links)
            .get(&id)
            .map(|l| Zeroizing::new(l.clone()))
            .ok_or(DesktopError::LinkUnknown)
    }

    /// Burns a link now: the server erases its content.
    pub async fn burn(&self, id: &str) -> Result<(), DesktopError> {
        let (client, settings) = self.client()?;
        let id: SecretId = id
            .parse()
            .map_err(|_| DesktopError::invalid("id", "not a secret id"))?;
        client
            .delete(id)
            .await
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        lock(&self.links).remove(&id);
        Ok(())
    }

    /// Asks someone for a secret: creates a request with a fresh key pair whose private key
    /// stays in this app's memory; returns the link to send them.
    pub async fn request_secret(
        &self,
        note: Option<String>,
        expires: Option<String>,
    ) -> Result<MadeRequest, DesktopError> {
        let (client, settings) = self.client()?;
        let expiration = expires
            .filter(|e| !e.trim().is_empty())
            .map(|e| parse_expiration(&e))
            .transpose()?;
        let (info, d) = client
            .request_secret(CreateRequest {
                note: note.filter(|n| !n.trim().is_empty()),
                expiration,
                // The window shows text; a file answer would be revealed with nowhere to go.
                allow_files: Some(false),
                ..CreateRequest::default()
            })
            .await
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        lock(&self.requests).insert(info.id, (client.base().to_string(), d));
        lock(&self.request_links).insert(info.id, info.request_url.clone());
        Ok(MadeRequest {
            id: info.id.to_string(),
            link: info.request_url,
            expires_at: info.expires_at,
        })
    }

    /// Checks a request made in this session; once answered, reveals the answer (one view),
    /// opens it with the kept private key, forgets the key and returns the text.
    pub async fn request_answer(&self, id: &str) -> Result<RequestAnswer, DesktopError> {
        let (client, settings) = self.client()?;
        let id: SecretId = id
            .parse()
            .map_err(|_| DesktopError::invalid("id", "not a request id"))?;
        if !lock(&self.requests).contains_key(&id) {
            return Err(DesktopError::LinkUnknown);
        }
        let info = client
            .get_request(id)
            .await
            .map_err(|e| DesktopError::from_client(&settings.server_url, e))?;
        if info.status != RequestStatus::Answered {
            if matches!(info.status, RequestStatus::Expired | RequestStatus::Deleted) {
                lock(&self.requests).remove(&id);
            }
            return Ok(RequestAnswer {
                status: info.status.as_str(),
                text: None,
            });
        }
        // Taken out while revealing, so that a second check at the same time does not try to
        // reveal the answer's one view again; put back only if the reveal failed.
        let Some((base, d)) = lock(&self.requests).remove(&id) else {
            return Err(DesktopError::LinkUnknown);
        };
        let link = AnswerLink { base, id, key: d };
        let revealed = match Client::reveal_answer_to(
            &link,
            |_| async { Ok(tokio::io::sink()) },
            None,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                lock(&self.requests).insert(id, (link.base, link.key));
                return Err(DesktopError::from_client(&settings.server_url, e));
            }
        };
        match revealed {
            RevealedContent::Text(t) => Ok(RequestAnswer {
                status: RequestStatus::Answered.as_str(),
                text: Some(String::from_utf8_lossy(t.expose()).into_owned()),
            }),
            RevealedContent::File(..) => Err(DesktopError::Other(
                "The answer is a file; the desktop app opens text answers only.".into(),
            )),
        }
    }
}

/// Views used so far (`views` is the number allowed).
fn used(info: &SecretInfo) -> u32 {
    info.views.saturating_sub(info.views_remaining)
}

/// The server's label, else the file name (the server's, or the one this session knows).
fn label_of(info: &SecretInfo, local_name: Option<&str>) -> String {
    info.label
        .clone()
        .or_else(|| info.file_name.clone())
        .or_else(|| local_name.map(String::from))
        .unwrap_or_else(|| match info.kind {
            Kind::Text => "Text".into(),
            Kind::File => "File".into(),
        })
}

/// The state a user reads: waiting (never opened), viewed (opened, views left), consumed,
/// expired, burned.
fn state_of(info: &SecretInfo, now: DateTime<Utc>) -> &'static str {
    match info.status.live_at(info.expires_at, now) {
        Status::Active if used(info) == 0 => "waiting",
        Status::Active => "viewed",
        Status::Consumed => "consumed",
        Status::Expired => "expired",
        Status::Deleted => "burned",
    }
}
