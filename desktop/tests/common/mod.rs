//! Test harness: a real `seecret serve` on loopback (the black-box suites' harness, shared), and
//! the desktop app on Tauri's mock runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seecret_desktop::app::{Options, builder, init};
use seecret_desktop::token::MemoryTokenStore;
use serde_json::{Value, json};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};

pub use seecret_tests::{Server, ServerOptions};

/// The desktop app on the mock runtime, with its window, memory token store and a settings file
/// in a temporary directory.
pub struct Desk {
    pub app: App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
    pub dir: tempfile::TempDir,
}

impl Desk {
    pub fn new(poll_every: Duration) -> Self {
        seecret_core::init_crypto();
        let dir = tempfile::tempdir().unwrap();
        let opts = Options {
            settings_file: dir.path().join("settings.json"),
            tokens: Box::new(MemoryTokenStore::default()),
            poll_every,
            tray: false,
            start_hidden: false,
        };
        let app = builder(mock_builder())
            .build(mock_context(noop_assets()))
            .unwrap();
        init(app.handle(), opts).unwrap();
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        Self { app, window, dir }
    }

    /// Invokes a command the way the window does; Ok(value) or Err({code, message}).
    pub fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.window,
            tauri::webview::InvokeRequest {
                cmd: cmd.into(),
                callback: tauri::ipc::CallbackFn(0),
                error: tauri::ipc::CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: tauri::ipc::InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<Value>().unwrap())
    }

    /// Saves settings pointing at `server` with its token.
    pub fn configure(&self, server: &Server) -> Value {
        self.invoke(
            "save_settings",
            json!({"settings": {"server_url": server.base, "token": server.token()}}),
        )
        .unwrap()
    }

    /// Collects the payloads of an event.
    pub fn collect(&self, event: &str) -> Arc<Mutex<Vec<Value>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        self.app.listen_any(event, move |e| {
            s.lock()
                .unwrap()
                .push(serde_json::from_str(e.payload()).unwrap_or(Value::Null));
        });
        seen
    }
}

/// Polls `f` until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reveals a link through the server (one view), as a recipient's client would.
pub fn reveal_text(link: &str) -> Result<Vec<u8>, String> {
    let link = seecret_core::link::Link::parse(link).map_err(|e| e.to_string())?;
    tauri::async_runtime::block_on(seecret_core::client::Client::reveal_link(&link, None))
        .map(|b| b.expose().to_vec())
        .map_err(|e| e.to_string())
}

/// Reveals a file link into a temporary file; returns its name and bytes.
pub fn reveal_file(link: &str) -> (String, Vec<u8>) {
    use seecret_core::client::{Client, RevealedContent};
    let link = seecret_core::link::Link::parse(link).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("revealed");
    let out2 = out.clone();
    let r = tauri::async_runtime::block_on(Client::reveal_link_to(
        &link,
        None,
        move |_meta| tokio::fs::File::create(out2),
        None,
    ))
    .unwrap();
    let RevealedContent::File(meta, _) = r else {
        panic!("expected a file")
    };
    (meta.name, std::fs::read(out).unwrap())
}

/// Deterministic bytes that do not compress.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
