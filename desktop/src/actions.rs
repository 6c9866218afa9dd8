//! What the window's commands and the tray menu both do: show a page, stage dropped or picked
//! files, share the clipboard, and hand a new link over (clipboard, notification, event).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_notification::NotificationExt;

use crate::error::DesktopError;
use crate::service::{Desktop, ShareRequest, SharedLink};

/// Events the window listens to.
pub mod events {
    /// Upload progress: `{done, total}`.
    pub const PROGRESS: &str = "share-progress";
    /// The files to share changed (a drop or a pick): the list.
    pub const STAGED: &str = "staged";
    /// A link was made outside the window (tray "Share clipboard"): the link.
    pub const SHARED: &str = "shared";
    /// Fresh recent links from the poller.
    pub const RECENT: &str = "recent";
    /// A link was read: `{id, label, views, views_left}`.
    pub const LINK_READ: &str = "link-read";
    /// An error from a background action: `{code, message}`.
    pub const ERROR: &str = "app-error";
    /// Show a page: `"share"`, `"request"`, `"recent"` or `"settings"`.
    pub const NAVIGATE: &str = "navigate";
}

/// Files dropped on the window join the files to share.
pub fn on_drop<R: Runtime>(app: &AppHandle<R>, paths: Vec<PathBuf>) {
    let state = app.state::<Desktop>();
    match state.stage(paths) {
        Ok(list) => {
            let _ = app.emit(events::STAGED, list);
        }
        Err(e) => {
            let _ = app.emit(events::ERROR, e);
        }
    }
}

/// Shows the window on a page.
pub fn show<R: Runtime>(app: &AppHandle<R>, page: &str) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    let _ = app.emit(events::NAVIGATE, page);
}

pub(crate) fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    // No notification daemon (a bare X session, CI) is not worth failing over.
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::debug!(error = %e, "notification not shown");
    }
}

/// Copies a link; clears it again after the configured delay if it is still there.
pub(crate) fn copy<R: Runtime>(app: &AppHandle<R>, link: &str) -> bool {
    if let Err(e) = app.clipboard().write_text(link) {
        tracing::warn!(error = %e, "clipboard unavailable");
        return false;
    }
    let secs = app
        .state::<Desktop>()
        .settings()
        .map(|s| s.clear_clipboard_secs)
        .unwrap_or(0);
    if secs > 0 {
        let app = app.clone();
        let link = zeroize::Zeroizing::new(link.to_string());
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            let now = app.clipboard().read_text().map(zeroize::Zeroizing::new);
            if now.is_ok_and(|t| t.as_str() == link.as_str()) {
                let _ = app.clipboard().clear();
            }
        });
    }
    true
}

/// A link as the window gets it: copied to the clipboard or not.
#[derive(Debug, Serialize)]
pub struct Delivered {
    /// The link.
    #[serde(flatten)]
    pub link: SharedLink,
    /// Whether it is on the clipboard.
    pub copied: bool,
}

pub(crate) fn deliver<R: Runtime>(app: &AppHandle<R>, link: SharedLink) -> Delivered {
    let copied = copy(app, &link.link);
    let body = if copied {
        format!("The link to {} is on the clipboard.", link.label)
    } else {
        format!("The link to {} is in the Seecret window.", link.label)
    };
    notify(app, "Seecret link ready", &body);
    Delivered { link, copied }
}

/// Shares the text on the clipboard with the default settings; the link replaces it there.
pub async fn share_clipboard_now<R: Runtime>(
    app: &AppHandle<R>,
) -> Result<Delivered, DesktopError> {
    let state = app.state::<Desktop>();
    if !state.settings()?.configured() {
        return Err(DesktopError::NotConfigured);
    }
    let text = app
        .clipboard()
        .read_text()
        .map_err(|_| DesktopError::Empty)?;
    let link = state
        .share_text(ShareRequest {
            text: Some(text.into()),
            ..ShareRequest::default()
        })
        .await?;
    let delivered = deliver(app, link);
    let _ = app.emit(events::SHARED, &delivered);
    Ok(delivered)
}

/// Opens the file picker; the chosen paths are staged and announced.
pub fn open_picker<R: Runtime>(app: &AppHandle<R>, folder: bool) {
    use tauri_plugin_dialog::DialogExt;
    let handle = app.clone();
    let done = move |picked: Option<Vec<tauri_plugin_dialog::FilePath>>| {
        let paths: Vec<PathBuf> = picked
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect();
        if !paths.is_empty() {
            on_drop(&handle, paths);
        }
    };
    let dialog = app.dialog().file().set_title("Share with Seecret");
    if folder {
        dialog.pick_folders(done);
    } else {
        dialog.pick_files(done);
    }
}
