//! The tray icon and its menu. Linux trays send no click events, so every action is a menu item.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Runtime};

use crate::actions::{events, open_picker, share_clipboard_now, show};

/// Menu item ids, in menu order.
pub const ITEMS: [(&str, &str); 7] = [
    ("share_clipboard", "Share clipboard"),
    ("share_file", "Share file…"),
    ("request", "Request a secret"),
    ("open", "Open window"),
    ("recent", "Recent links"),
    ("settings", "Settings"),
    ("quit", "Quit"),
];

/// Creates the tray icon.
pub fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let items = ITEMS
        .iter()
        .map(|(id, text)| MenuItem::with_id(app, *id, *text, true, None::<&str>))
        .collect::<tauri::Result<Vec<_>>>()?;
    let sep = PredefinedMenuItem::separator(app)?;
    let mut refs: Vec<&dyn tauri::menu::IsMenuItem<R>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if i == ITEMS.len() - 1 {
            refs.push(&sep);
        }
        refs.push(item);
    }
    let menu = Menu::with_items(app, &refs)?;
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("Seecret")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, ev| on_menu(app, ev.id.as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// What a menu item does.
pub fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id {
        "share_clipboard" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = share_clipboard_now(&app).await {
                    show(&app, "share");
                    let _ = app.emit(events::ERROR, e);
                }
            });
        }
        "share_file" => {
            show(app, "share");
            open_picker(app, false);
        }
        "open" => show(app, "share"),
        "request" => show(app, "request"),
        "recent" => show(app, "recent"),
        "settings" => show(app, "settings"),
        "quit" => app.exit(0),
        _ => {}
    }
}
