//! Every command of the desktop app, invoked the way its window invokes them (Tauri's mock runtime
//! and IPC), against a real `seecret serve` on loopback. What a user sees is what is asserted: the
//! link the app gives reveals the exact bytes through the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::{Desk, Server, ServerOptions, eventually, noise, reveal_file, reveal_text};
use seecret_core::api::ListQuery;
use seecret_core::model::Kind;
use serde_json::{Value, json};
use tauri::Manager;
use tauri_plugin_clipboard_manager::ClipboardExt;

/// The system clipboard is one for the whole process: its tests take turns.
static CLIPBOARD: Mutex<()> = Mutex::new(());

const SLOW_POLL: Duration = Duration::from_secs(3600);

fn list_kinds(server: &Server) -> Vec<Kind> {
    let l = tauri::async_runtime::block_on(server.client().list(&ListQuery::default())).unwrap();
    l.seecrets.iter().map(|s| s.kind).collect()
}

#[test]
fn settings_are_validated_with_the_server_and_the_token_stays_out_of_the_file() {
    let server = Server::start();
    let desk = Desk::new(SLOW_POLL);

    let v = desk.invoke("get_settings", json!({})).unwrap();
    assert_eq!(v["has_token"], false);
    assert_eq!(v["settings"]["server_url"], "");

    // Not configured: actions say so.
    let e = desk
        .invoke("share_text", json!({"request": {"text": "x"}}))
        .unwrap_err();
    assert_eq!(e["code"], "not_configured", "{e}");

    let save = |url: &str, token: Option<&str>| {
        desk.invoke(
            "save_settings",
            json!({"settings": {"server_url": url, "token": token}}),
        )
    };
    let e = save("secrets.example.com", Some(server.token())).unwrap_err();
    assert_eq!(e["code"], "invalid");
    assert!(e["message"].as_str().unwrap().contains("https://"), "{e}");

    let e = save(&server.base, None).unwrap_err();
    assert_eq!(e["code"], "invalid", "a first save needs a token: {e}");

    let e = save(&server.base, Some("00000000-0000-0000-0000-000000000000")).unwrap_err();
    assert_eq!(e["code"], "token_rejected", "{e}");
    assert!(e["message"].as_str().unwrap().contains("Settings"));

    // A port nothing listens on: unreachable, with the URL in the message.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = save(&dead, Some(server.token())).unwrap_err();
    assert_eq!(e["code"], "unreachable", "{e}");
    assert!(e["message"].as_str().unwrap().contains(&dead), "{e}");

    // Nothing was saved by the failures.
    assert_eq!(
        desk.invoke("get_settings", json!({})).unwrap()["has_token"],
        false
    );

    let ok = desk
        .invoke(
            "save_settings",
            json!({"settings": {
                "server_url": format!("{}/", server.base),
                "token": server.token(),
                "default_expiration": "2h",
                "default_views": 3,
                "clear_clipboard_secs": 0,
                "notify_on_read": true,
                "autostart": false
            }}),
        )
        .unwrap();
    assert!(!ok["account"].as_str().unwrap().is_empty());
    // The server's file limit (100 MB by default) reaches the app.
    assert_eq!(ok["max_file_bytes"], 100 * 1024 * 1024);

    let v = desk.invoke("get_settings", json!({})).unwrap();
    assert_eq!(v["has_token"], true);
    assert_eq!(
        v["settings"]["server_url"], server.base,
        "trailing slash trimmed"
    );
    assert_eq!(v["settings"]["default_views"], 3);
    assert!(
        v.to_string().find(server.token()).is_none(),
        "the page never gets the token"
    );

    // Defaults apply to shares.
    let r = desk
        .invoke("share_text", json!({"request": {"text": "defaults"}}))
        .unwrap();
    assert_eq!(r["views"], 3);

    // Saving again without a token keeps the stored one.
    save(&server.base, None).unwrap();

    // The settings file has the settings and not the token.
    let file = std::fs::read_to_string(desk.dir.path().join("settings.json")).unwrap();
    assert!(file.contains(&server.base), "{file}");
    assert!(
        !file.contains(server.token()),
        "the token must not be in the settings file"
    );

    // Invalid defaults are refused with the field's name.
    let e = desk
        .invoke(
            "save_settings",
            json!({"settings": {"server_url": server.base, "default_expiration": "3 days"}}),
        )
        .unwrap_err();
    assert!(
        e["message"].as_str().unwrap().starts_with("Expiration"),
        "{e}"
    );
}

#[test]
fn shared_text_reveals_its_exact_bytes_once() {
    let server = Server::start();
    let desk = Desk::new(SLOW_POLL);
    desk.configure(&server);

    let text = "pässwörd: hunter2\n\tline two 🔑\n";
    let r = desk
        .invoke(
            "share_text",
            json!({"request": {"text": text, "expiration": "1h", "views": 2, "label": "db password"}}),
        )
        .unwrap();
    let link = r["link"].as_str().unwrap().to_string();
    assert!(link.starts_with(&format!("{}/s/", server.base)), "{link}");
    assert_eq!(r["label"], "db password");
    assert_eq!(r["views"], 2);

    // The server never saw the plaintext: the key is only in the fragment.
    assert_eq!(reveal_text(&link).unwrap(), text.as_bytes());
    assert_eq!(reveal_text(&link).unwrap(), text.as_bytes());
    assert!(reveal_text(&link).is_err(), "two views, then gone");

    // A passphrase is required by the server.
    let r = desk
        .invoke(
            "share_text",
            json!({"request": {"text": "behind a passphrase", "passphrase": "open sesame"}}),
        )
        .unwrap();
    let link = seecret_core::link::Link::parse(r["link"].as_str().unwrap()).unwrap();
    let without =
        tauri::async_runtime::block_on(seecret_core::client::Client::reveal_link(&link, None));
    assert!(without.is_err());
    let with = tauri::async_runtime::block_on(seecret_core::client::Client::reveal_link(
        &link,
        Some("open sesame".to_string().into()),
    ))
    .unwrap();
    assert_eq!(with.expose(), b"behind a passphrase");

    // Empty text and bad options are refused with a message.
    let e = desk
        .invoke("share_text", json!({"request": {"text": ""}}))
        .unwrap_err();
    assert_eq!(e["code"], "empty");
    let e = desk
        .invoke(
            "share_text",
            json!({"request": {"text": "x", "expiration": "soon"}}),
        )
        .unwrap_err();
    assert_eq!(e["code"], "invalid");
    let e = desk
        .invoke("share_text", json!({"request": {"text": "x", "views": 0}}))
        .unwrap_err();
    assert_eq!(e["code"], "invalid");
}

#[test]
fn a_50_mb_file_goes_through_with_progress_events() {
    let server = Server::start();
    let desk = Desk::new(SLOW_POLL);
    desk.configure(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.tar");
    let bytes = noise(50 * 1024 * 1024, 1);
    std::fs::write(&path, &bytes).unwrap();

    let staged = desk.collect("staged");
    let progress = desk.collect("share-progress");
    // What a drop on the window does.
    seecret_desktop::app::on_drop(desk.app.handle(), vec![path.clone()]);
    let listed = desk.invoke("staged_files", json!({})).unwrap();
    assert_eq!(listed[0]["name"], "backup.tar");
    assert_eq!(listed[0]["size"], bytes.len());
    assert_eq!(
        staged.lock().unwrap().len(),
        1,
        "the window hears about the drop"
    );

    let started = std::time::Instant::now();
    let r = desk.invoke("share_staged", json!({"request": {}})).unwrap();
    let took = started.elapsed();
    eprintln!("50 MB share took {took:?}");
    assert_eq!(r["label"], "backup.tar");

    let events = progress.lock().unwrap().clone();
    assert!(events.len() >= 10, "progress events: {}", events.len());
    let dones: Vec<u64> = events.iter().map(|e| e["done"].as_u64().unwrap()).collect();
    assert!(
        dones.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows"
    );
    assert_eq!(*dones.last().unwrap(), bytes.len() as u64);
    assert!(events.iter().all(|e| e["total"] == bytes.len()));

    // Once shared, the staged list is empty.
    assert_eq!(desk.invoke("staged_files", json!({})).unwrap(), json!([]));

    let (name, got) = reveal_file(r["link"].as_str().unwrap());
    assert_eq!(name, "backup.tar");
    assert!(
        got == bytes,
        "revealed bytes differ ({} vs {})",
        got.len(),
        bytes.len()
    );
}

#[test]
fn several_files_and_a_folder_are_zipped_into_one_link() {
    let server = Server::start();
    let desk = Desk::new(SLOW_POLL);
    desk.configure(&server);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("id_ed25519");
    std::fs::write(&a, b"-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(certs.join("ca")).unwrap();
    std::fs::write(certs.join("server.pem"), b"PEM").unwrap();
    std::fs::write(certs.join("ca/root.pem"), noise(3000, 2)).unwrap();

    seecret_desktop::app::on_drop(desk.app.handle(), vec![a.clone()]);
    seecret_desktop::app::on_drop(desk.app.handle(), vec![certs.clone()]);
    let listed = desk.invoke("staged_files", json!({})).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["is_dir"], true);

    let r = desk.invoke("share_staged", json!({"request": {}})).unwrap();
    let (name, zip) = reveal_file(r["link"].as_str().unwrap());
    assert_eq!(name, "seecret-2-items.zip");
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut entries = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut b).unwrap();
        entries.push((f.name().unwrap().to_string(), b));
    }
    assert_eq!(
        entries,
        vec![
            (
                "id_ed25519".to_string(),
                b"-----BEGIN OPENSSH PRIVATE KEY-----\n".to_vec()
            ),
            ("certs/ca/root.pem".to_string(), noise(3000, 2)),
            ("certs/server.pem".to_string(), b"PEM".to_vec()),
        ]
    );
}

#[test]
fn a_file_over_the_servers_limit_is_refused_before_uploading() {
    let server = Server::start_with(ServerOptions::default().env("SEECRET_MAX_FILE_SIZE", "1000"));
    let desk = Desk::new(SLOW_POLL);
    desk.configure(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, noise(5000, 3)).unwrap();
    seecret_desktop::app::on_drop(desk.app.handle(), vec![path]);
    let e = desk
        .invoke("share_staged", json!({"request": {}}))
        .unwrap_err();
    assert_eq!(e["code"], "too_large", "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("big.bin is 5.0 KB"), "{msg}");
    assert!(
        msg.contains("up to 1.0 KB"),
        "the server's own limit: {msg}"
    );
    assert!(list_kinds(&server).is_empty(), "nothing was uploaded");
    // The file stays staged so the user can remove it.
    assert_eq!(
        desk.invoke("staged_files", json!({})).unwrap()[0]["name"],
        "big.bin"
    );
}

#[test]
fn an_upload_can_be_canceled_and_nothing_is_shared() {
    let server = Server::start();
    let desk = Desk::new(SLOW_POLL);
    desk.configure(&server);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.bin");
    std::fs::write(&path, noise(50 * 1024 * 1024, 4)).unwrap();
    seecret_desktop::app::on_drop(desk.app.handle(), vec![path]);

    // Cancel as the user would, once the progress bar moves.
    let handle = desk.app.handle().clone();
    let canceled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let c = canceled.clone();
    tauri::Listener::listen_any(&desk.app, "share-progress", move |_| {
        if !c.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let state = handle.state::<seecret_desktop::service::Desktop>();
            assert!(state.cancel());
        }
    });
    let e = desk
        .invoke("share_staged", json!({"request": {}}))
        .unwrap_err();
    assert_eq!(e["code"], "canceled", "{e}");
    assert!(canceled.load(std::sync::atomic::Ordering::SeqCst));
    assert!(
        !list_kinds(&server).contains(&Kind::File),
        "a canceled upload leaves no secret"
    );
    // Nothing runs any more.
    assert_eq!(desk.invoke("cancel_share", json!({})).unwrap(), false);
}

#[test]
fn recent_links_show_status_notice_reads_copy_and_burn() {
    let _clip = CLIPBOARD.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start();
    let desk = Desk::new(Duration::from_millis(200));
    desk.configure(&server);
    let read_events = desk.collect("link-read");

    let a = desk
        .invoke(
            "share_text",
            json!({"request": {"text": "alpha", "label": "A"}}),
        )
        .unwrap();
    let b = desk
        .invoke(
            "share_text",
            json!({"request": {"text": "bravo", "label": "B", "views": 2}}),
        )
        .unwrap();
    let recent = desk.invoke("recent_links", json!({})).unwrap();
    let rows = recent.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["label"], "B", "newest first");
    assert!(
        rows.iter()
            .all(|r| r["state"] == "waiting" && r["has_link"] == true),
        "{recent}"
    );

    // Someone opens A: the poller notices and tells the window.
    assert_eq!(reveal_text(a["link"].as_str().unwrap()).unwrap(), b"alpha");
    assert!(
        eventually(Duration::from_secs(15), || read_events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e["id"] == a["id"])),
        "no link-read event for A"
    );
    let ev = read_events.lock().unwrap()[0].clone();
    assert_eq!(ev["label"], "A");
    assert_eq!(ev["views_left"], 0);
    let recent = desk.invoke("recent_links", json!({})).unwrap();
    let row_a = recent
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == a["id"])
        .unwrap();
    assert_eq!(row_a["state"], "consumed");

    // One view of B: "viewed", one left.
    reveal_text(b["link"].as_str().unwrap()).unwrap();
    let recent = desk.invoke("recent_links", json!({})).unwrap();
    let row_b = recent
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == b["id"])
        .unwrap();
    assert_eq!(row_b["state"], "viewed");
    assert_eq!(row_b["views_left"], 1);

    // Copy link puts B's link on the clipboard.
    desk.invoke("copy_link", json!({"id": b["id"]})).unwrap();
    assert_eq!(
        desk.app.clipboard().read_text().unwrap(),
        b["link"].as_str().unwrap()
    );

    // Burn B: the list says burned and the link is dead.
    let after = desk.invoke("burn", json!({"id": b["id"]})).unwrap();
    let row_b = after
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == b["id"])
        .unwrap();
    assert_eq!(row_b["state"], "burned");
    assert!(reveal_text(b["link"].as_str().unwrap()).is_err());

    let e = desk
        .invoke("copy_link", json!({"id": uuid_v7_like()}))
        .unwrap_err();
    assert_eq!(e["code"], "link_unknown");
    let e = desk.invoke("burn", json!({"id": "nope"})).unwrap_err();
    assert_eq!(e["code"], "invalid");
}

fn uuid_v7_like() -> String {
    "01900000-0000-7000-8000-000000000000".into()
}

#[test]
fn share_clipboard_replaces_the_text_with_its_link_and_clears_it_later() {
    let _clip = CLIPBOARD.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start();
    let desk = Desk::new(SLOW_POLL);
    desk.invoke(
        "save_settings",
        json!({"settings": {"server_url": server.base, "token": server.token(), "clear_clipboard_secs": 1}}),
    )
    .unwrap();
    desk.app
        .clipboard()
        .write_text("token-from-the-clipboard")
        .expect("an X display (run under scripts/test-desktop)");
    let r: Value = desk.invoke("share_clipboard", json!({})).unwrap();
    assert_eq!(r["copied"], true);
    let link = r["link"].as_str().unwrap().to_string();
    assert_eq!(desk.app.clipboard().read_text().unwrap(), link);
    assert_eq!(reveal_text(&link).unwrap(), b"token-from-the-clipboard");
    // Cleared after the configured second.
    assert!(
        eventually(Duration::from_secs(10), || desk
            .app
            .clipboard()
            .read_text()
            .map_or(true, |t| t != link)),
        "the link stayed on the clipboard"
    );
}

#[test]
fn tray_menu_items_open_the_right_page_and_report_errors() {
    let desk = Desk::new(SLOW_POLL);
    let pages = desk.collect("navigate");
    let errors = desk.collect("app-error");
    for id in ["open", "request", "recent", "settings"] {
        seecret_desktop::tray::on_menu(desk.app.handle(), id);
    }
    assert_eq!(
        *pages.lock().unwrap(),
        vec![
            json!("share"),
            json!("request"),
            json!("recent"),
            json!("settings")
        ]
    );
    // Share clipboard before any settings: the window opens with an error to act on.
    seecret_desktop::tray::on_menu(desk.app.handle(), "share_clipboard");
    assert!(eventually(Duration::from_secs(10), || !errors
        .lock()
        .unwrap()
        .is_empty()));
    let e = errors.lock().unwrap()[0].clone();
    assert_eq!(e["code"], "not_configured", "{e}");
    let ids: Vec<&str> = seecret_desktop::tray::ITEMS
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        ids,
        [
            "share_clipboard",
            "share_file",
            "request",
            "open",
            "recent",
            "settings",
            "quit"
        ]
    );
}

#[test]
fn a_request_made_in_the_app_is_answered_through_the_api_and_its_answer_opened_once() {
    use seecret_core::client::Client;
    use seecret_core::model::SecretId;
    use seecret_core::request::RequestPublicKey;

    let server = Server::start();
    let desk = Desk::new(SLOW_POLL);
    let e = desk
        .invoke("request_secret", json!({"note": "the VPN password"}))
        .unwrap_err();
    assert_eq!(e["code"], "not_configured", "{e}");
    desk.configure(&server);

    let made = desk
        .invoke(
            "request_secret",
            json!({"note": "the VPN password", "expires": "1h"}),
        )
        .unwrap();
    let link = made["link"].as_str().unwrap();
    let id = made["id"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/r/{id}#", server.base)),
        "{link}"
    );
    let e = desk
        .invoke("request_secret", json!({"expires": "forever"}))
        .unwrap_err();
    assert_eq!(e["code"], "invalid", "{e}");

    // Copy puts the /r/ link on the clipboard, as for shares.
    {
        let _clip = CLIPBOARD.lock().unwrap_or_else(|e| e.into_inner());
        desk.invoke("copy_link", json!({"id": id})).unwrap();
        assert_eq!(desk.app.clipboard().read_text().unwrap(), link);
    }

    // Not answered yet: waiting, no text.
    let v = desk.invoke("request_answer", json!({"id": id})).unwrap();
    assert_eq!(v["status"], "open", "{v}");
    assert!(v["text"].is_null(), "{v}");

    // The responder page's part: read the request (no token), seal to the link's Q, answer.
    let (_, q) = link.split_once('#').unwrap();
    let q = RequestPublicKey::from_base64url("public_key", q).unwrap();
    let sid: SecretId = id.parse().unwrap();
    let anon = Client::new(&server.base, None).unwrap();
    let public = tauri::async_runtime::block_on(anon.public_request(sid)).unwrap();
    assert_eq!(public.note.as_deref(), Some("the VPN password"));
    assert!(!public.allow_files, "the window opens text answers only");
    let answer = "hunter2 \u{1f511}\nsecond line";
    tauri::async_runtime::block_on(anon.answer_request_text(sid, &q, answer.as_bytes())).unwrap();

    let v = desk.invoke("request_answer", json!({"id": id})).unwrap();
    assert_eq!(v["status"], "answered", "{v}");
    assert_eq!(v["text"], answer);

    // Once: the key is gone and the answer's one view is used.
    let e = desk
        .invoke("request_answer", json!({"id": id}))
        .unwrap_err();
    assert_eq!(e["code"], "link_unknown", "{e}");
    let e = desk
        .invoke("request_answer", json!({"id": "not-an-id"}))
        .unwrap_err();
    assert_eq!(e["code"], "invalid", "{e}");
}
