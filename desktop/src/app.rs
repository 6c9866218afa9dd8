//! The Tauri side: the app builder (generic over the runtime so tests use the mock one), thin
//! commands over [`Desktop`] and the [`actions`](crate::actions) they share with the tray, and
//! the status poller.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Builder, DragDropEvent, Emitter, Manager, Runtime, State, WindowEvent};

use crate::actions::{copy, deliver, notify};
use crate::error::DesktopError;
use crate::files::StagedFile;
use crate::service::{
    AccountSummary, Desktop, MadeRequest, ProgressFn, RecentLink, RequestAnswer, SettingsInput,
    SettingsView, ShareRequest,
};
use crate::settings::{Settings, SettingsStore};
use crate::token::TokenStore;

// The actions the tray shares with the commands live in `actions`; these paths stay valid.
pub use crate::actions::{Delivered, events, on_drop, open_picker, share_clipboard_now, show};

/// How to build the app.
pub struct Options {
    /// The settings file: relative to the app's data directory, or absolute.
    pub settings_file: PathBuf,
    /// Where the API token lives.
    pub tokens: Box<dyn TokenStore>,
    /// How often recent links are refreshed in the background.
    pub poll_every: Duration,
    /// Create the tray icon.
    pub tray: bool,
    /// Start with the window hidden (start at login).
    pub start_hidden: bool,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("settings_file", &self.settings_file)
            .field("tokens", &self.tokens.kind())
            .field("poll_every", &self.poll_every)
            .field("tray", &self.tray)
            .finish()
    }
}

/// Settings in the store plugin's JSON file (no secrets in there).
pub struct PluginSettingsStore<R: Runtime>(Arc<tauri_plugin_store::Store<R>>);

impl<R: Runtime> std::fmt::Debug for PluginSettingsStore<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluginSettingsStore")
    }
}

const SETTINGS_KEY: &str = "settings";

impl<R: Runtime> PluginSettingsStore<R> {
    /// Opens (or creates) the settings file.
    pub fn open(app: &AppHandle<R>, file: &std::path::Path) -> Result<Self, DesktopError> {
        use tauri_plugin_store::StoreExt;
        app.store(file)
            .map(Self)
            .map_err(|e| DesktopError::Settings(e.to_string()))
    }
}

impl<R: Runtime> SettingsStore for PluginSettingsStore<R> {
    fn load(&self) -> Result<Settings, DesktopError> {
        match self.0.get(SETTINGS_KEY) {
            None => Ok(Settings::default()),
            Some(v) => serde_json::from_value(v).map_err(|e| {
                DesktopError::Settings(format!(
                    "the settings file is damaged ({e}); save them again"
                ))
            }),
        }
    }

    fn save(&self, s: &Settings) -> Result<(), DesktopError> {
        let v = serde_json::to_value(s).map_err(|e| DesktopError::Settings(e.to_string()))?;
        self.0.set(SETTINGS_KEY, v);
        self.0
            .save()
            .map_err(|e| DesktopError::Settings(e.to_string()))
    }
}

/// The app: plugins, commands and window behaviour. Its state comes from [`init`], which the
/// real app calls in `setup` (tests call it on the built mock app, whose `setup` never runs).
pub fn builder<R: Runtime>(b: Builder<R>) -> Builder<R> {
    b.plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_store::Builder::new().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ))
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            get_settings,
            save_settings,
            share_text,
            share_clipboard,
            staged_files,
            clear_staged,
            pick_files,
            share_staged,
            cancel_share,
            recent_links,
            copy_link,
            burn,
            request_secret,
            request_answer,
        ])
        .on_window_event(|window, event| match event {
            // Closing the window keeps the app in the tray.
            WindowEvent::CloseRequested { api, .. } => {
                api.prevent_close();
                let _ = window.hide();
            }
            WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) => {
                on_drop(window.app_handle(), paths.clone());
            }
            _ => {}
        })
}

/// Sets up a built app: its state (settings store, token store), the tray, the window's first
/// visibility, and the status poller.
pub fn init<R: Runtime>(app: &AppHandle<R>, opts: Options) -> Result<(), DesktopError> {
    let store = PluginSettingsStore::open(app, &opts.settings_file)?;
    app.manage(Desktop::new(Box::new(store), opts.tokens));
    if opts.tray {
        crate::tray::create(app)
            .map_err(|e| DesktopError::Other(format!("cannot create the tray icon: {e}")))?;
    }
    if opts.start_hidden
        && let Some(w) = app.get_webview_window("main")
    {
        let _ = w.hide();
    }
    start_poller(app.clone(), opts.poll_every);
    Ok(())
}

#[tauri::command]
fn get_settings(state: State<'_, Desktop>) -> Result<SettingsView, DesktopError> {
    state.settings_view()
}

#[tauri::command]
async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Desktop>,
    settings: SettingsInput,
) -> Result<AccountSummary, DesktopError> {
    use tauri_plugin_autostart::ManagerExt;
    let autostart_before = state.settings().map(|s| s.autostart).unwrap_or(false);
    let autostart = settings.settings.autostart;
    let mut summary = state.save_settings(settings).await?;
    if autostart != autostart_before {
        let r = if autostart {
            app.autolaunch().enable()
        } else {
            app.autolaunch().disable()
        };
        if let Err(e) = r {
            summary.warning = Some(format!("Start at login could not be changed: {e}"));
        }
    }
    Ok(summary)
}

#[tauri::command]
async fn share_text<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Desktop>,
    request: ShareRequest,
) -> Result<Delivered, DesktopError> {
    let link = state.share_text(request).await?;
    Ok(deliver(&app, link))
}

#[tauri::command]
async fn share_clipboard<R: Runtime>(app: AppHandle<R>) -> Result<Delivered, DesktopError> {
    share_clipboard_now(&app).await
}

#[tauri::command]
fn staged_files(state: State<'_, Desktop>) -> Result<Vec<StagedFile>, DesktopError> {
    state.staged()
}

#[tauri::command]
fn clear_staged(state: State<'_, Desktop>) {
    state.clear_staged();
}

/// Opens the system's file picker (files, or a folder); the choice joins the files to share.
#[tauri::command]
fn pick_files<R: Runtime>(app: AppHandle<R>, folder: Option<bool>) {
    open_picker(&app, folder.unwrap_or(false));
}

/// Upload progress as the window gets it.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    /// Bytes encrypted and sent.
    pub done: u64,
    /// Bytes in total.
    pub total: u64,
}

#[tauri::command]
async fn share_staged<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Desktop>,
    request: ShareRequest,
) -> Result<Delivered, DesktopError> {
    let emitter = app.clone();
    let last = AtomicU64::new(u64::MAX);
    // One event per percent at most: a 1 GB file is 16 000 chunks.
    let progress: ProgressFn = Arc::new(move |done, total| {
        let pct = done.saturating_mul(100) / total.max(1);
        if last.swap(pct, Ordering::Relaxed) != pct {
            let _ = emitter.emit(events::PROGRESS, Progress { done, total });
        }
    });
    let link = state.share_staged(request, progress).await?;
    let _ = app.emit(events::STAGED, Vec::<StagedFile>::new());
    Ok(deliver(&app, link))
}

#[tauri::command]
fn cancel_share(state: State<'_, Desktop>) -> bool {
    state.cancel()
}

/// Refreshes recent links; announces (event and notification) those read since last time.
pub async fn refresh<R: Runtime>(app: &AppHandle<R>) -> Result<Vec<RecentLink>, DesktopError> {
    let state = app.state::<Desktop>();
    let (list, read) = state.recent().await?;
    let notify_on = state.settings().map(|s| s.notify_on_read).unwrap_or(true);
    for r in read {
        if notify_on {
            let body = if r.views_left == 0 {
                format!("{} was read; the link no longer works.", r.label)
            } else {
                format!("{} was read ({} views left).", r.label, r.views_left)
            };
            notify(app, "Seecret link read", &body);
        }
        let _ = app.emit(events::LINK_READ, r);
    }
    Ok(list)
}

fn start_poller<R: Runtime>(app: AppHandle<R>, every: Duration) {
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let configured = app
                .state::<Desktop>()
                .settings()
                .is_ok_and(|s| s.configured());
            if !configured {
                continue;
            }
            // Errors (offline, token rotated) show when the user opens the list.
            if let Ok(list) = refresh(&app).await {
                let _ = app.emit(events::RECENT, list);
            }
        }
    });
}

#[tauri::command]
async fn recent_links<R: Runtime>(app: AppHandle<R>) -> Result<Vec<RecentLink>, DesktopError> {
    refresh(&app).await
}

#[tauri::command]
fn copy_link<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Desktop>,
    id: String,
) -> Result<(), DesktopError> {
    let link = state.link(&id)?;
    if copy(&app, &link) {
        Ok(())
    } else {
        Err(DesktopError::Other(
            "The clipboard is not available; copy the link from the window instead.".into(),
        ))
    }
}

#[tauri::command]
async fn burn<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Desktop>,
    id: String,
) -> Result<Vec<RecentLink>, DesktopError> {
    state.burn(&id).await?;
    refresh(&app).await
}

/// Asks someone for a secret: the `/r/` link to send them and the request's id.
#[tauri::command]
async fn request_secret(
    state: State<'_, Desktop>,
    note: Option<String>,
    expires: Option<String>,
) -> Result<MadeRequest, DesktopError> {
    state.request_secret(note, expires).await
}

/// Where a request made here stands; its answer's text once it arrived (notified too).
#[tauri::command]
async fn request_answer<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, Desktop>,
    id: String,
) -> Result<RequestAnswer, DesktopError> {
    let answer = state.request_answer(&id).await?;
    if answer.text.is_some() && state.settings().map(|s| s.notify_on_read).unwrap_or(true) {
        notify(
            app.app_handle(),
            "Seecret request answered",
            "The answer is in the Seecret window.",
        );
    }
    Ok(answer)
}
