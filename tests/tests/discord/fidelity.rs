//! Where the real Discord differs from a permissive fake: the tokenless HTTP mode's deferred
//! answers, the Label components of today's modals and the older action rows, and the gateway,
//! whose messages are fed to the bot in process exactly as serenity's shard reads them off the
//! websocket (no test can reach Discord's gateway).

use std::sync::Mutex;

use seecret_core::bots::{Backend, BackendError, Remote, Share, Shared};
use seecret_core::model::SecretId;
use seecret_discord::{DiscordBot, DiscordConfig, ModalLayout};

use super::*;

/// A Seecret server that takes `delay` to create each secret (past the bot's 2 s budget, so the
/// answer is deferred).
#[derive(Debug)]
struct Slow(Remote, Duration);

#[async_trait::async_trait]
impl Backend for Slow {
    async fn share(&self, share: Share) -> Result<Shared, BackendError> {
        tokio::time::sleep(self.1).await;
        self.0.share(share).await
    }
    async fn burn(&self, id: SecretId) -> Result<(), BackendError> {
        self.0.burn(id).await
    }
}

/// The bot, in this process, over the real `server` (slowed by `delay`) and the fake `discord`:
/// its interactions endpoint served on loopback (the URL is returned).
pub(super) async fn in_process(
    server: &Server,
    discord: &FakeApi,
    token: Option<&'static str>,
    layout: ModalLayout,
    delay: Duration,
) -> (DiscordBot, String) {
    let pk = public_key_hex();
    let api = discord.base.clone();
    let cfg = DiscordConfig::from_lookup(move |k| match k {
        "SEECRET_DISCORD_PUBLIC_KEY" => Some(pk.clone()),
        "SEECRET_DISCORD_APPLICATION_ID" => Some(APP_ID.into()),
        "SEECRET_DISCORD_API_URL" => Some(api.clone()),
        "SEECRET_DISCORD_TOKEN" => token.map(String::from),
        _ => None,
    })
    .unwrap()
    .unwrap();
    let client = Client::new(&server.base, Some(server.token())).unwrap();
    let backend = Arc::new(Slow(Remote::new(client, None), delay));
    let bot = DiscordBot::new(cfg, backend)
        .unwrap()
        .with_modal_layout(layout);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = bot.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (bot, url)
}

const TOKEN_PATH: &str = "aW50ZXJhY3Rpb24tdG9rZW4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenless_mode_finishes_a_deferred_answer_without_an_authorization_header() {
    // Only the public key is set (a supported setup): the deferral's edit goes to the
    // interaction webhook, which Discord refuses with `Authorization: Bot ` and no token.
    let server = Server::start();
    let discord = FakeApi::start(discord_answers_for(None)).await;
    let (_bot, url) = in_process(
        &server,
        &discord,
        None,
        ModalLayout::Labels,
        Duration::from_millis(2600),
    )
    .await;
    let (status, answer) = post_to(
        &url,
        &submit("seecret_share", "late-but-kept", "1h", "1", ""),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"type": 5, "data": {"flags": 64}}),
        "only EPHEMERAL"
    );
    let path = format!("/api/v10/webhooks/{APP_ID}/{TOKEN_PATH}/messages/@original");
    let edits = discord.wait_for(&path, 1, T).await;
    assert_eq!(edits.len(), 1, "{:?}", discord.calls());
    assert_eq!(edits[0].method, "PATCH");
    assert_eq!(edits[0].header("authorization"), None);
    let edit = edits[0].json();
    assert_eq!(edit["flags"], 4, "previews off: {edit}");
    let text = edit["content"].as_str().unwrap();
    assert!(text.contains("runs without a bot token"), "{text}");
    // Discord took the edit, so the link is alive and opens.
    let link = link_in(text, &server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"late-but-kept"
    );
    assert_eq!(discord.calls().len(), 1, "{:?}", discord.calls());
}

#[tokio::test]
async fn a_submit_in_the_older_action_row_shape_is_still_read() {
    // A form opened before the bot sent Labels (or over the gateway) comes back in rows.
    let s = setup().await;
    let (_, answer) = s
        .post(&submit_in_rows(
            "seecret_share",
            "row-secret",
            "10m",
            "2",
            "",
        ))
        .await;
    assert_private(&answer);
    let link = link_in(&content(&answer), &s.server.base);
    assert_eq!(s.server.client().get(link.id).await.unwrap().views, 2);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"row-secret"
    );
}

/// A gateway message carrying `interaction`, as the websocket delivers it.
fn dispatch(interaction: &Value) -> String {
    json!({"op": 0, "s": 42, "t": "INTERACTION_CREATE", "d": interaction}).to_string()
}

/// The callbacks the fake received for the interaction `id`.
fn callbacks(discord: &FakeApi, id: &Value) -> Vec<Call> {
    discord.calls_to(&format!(
        "/api/v10/interactions/{}/{TOKEN_PATH}/callback",
        id.as_str().unwrap()
    ))
}

/// A gateway bot (token, action-row modals) over the real server and the fake.
async fn gateway_bot(server: &Server, discord: &FakeApi) -> DiscordBot {
    let layout = ModalLayout::ActionRows;
    let (bot, _) = in_process(server, discord, Some(BOT_TOKEN), layout, Duration::ZERO).await;
    bot
}

#[tokio::test]
async fn on_the_gateway_a_command_and_its_submit_are_answered_through_the_callback() {
    let server = Server::start();
    let discord = FakeApi::start(discord_answers()).await;
    let bot = gateway_bot(&server, &discord).await;
    let cmd = command(json!([{"name": "views", "type": 4, "value": 2}]));
    bot.handle_gateway_message(&dispatch(&cmd)).await.unwrap();
    let cb = callbacks(&discord, &cmd["id"]);
    assert_eq!(cb.len(), 1, "{:?}", discord.calls());
    assert_eq!(
        cb[0].header("authorization"),
        None,
        "no token on the callback"
    );
    let modal = cb[0].json();
    assert_eq!(modal["type"], 9, "{modal}");
    // Over the gateway the form uses action rows: serenity's model cannot read Labels back.
    let rows = modal["data"]["components"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["type"] == 1), "{modal}");
    assert_eq!(rows[2]["components"][0]["value"], "2");

    let sub = submit_in_rows("seecret_share", "gw-secret", "1h", "2", "");
    bot.handle_gateway_message(&dispatch(&sub)).await.unwrap();
    let cb = callbacks(&discord, &sub["id"]);
    assert_eq!(cb.len(), 1, "{:?}", discord.calls());
    let answer = cb[0].json();
    assert_private(&answer);
    let link = link_in(&content(&answer), &server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"gw-secret"
    );
}

#[tokio::test]
async fn on_the_gateway_a_label_submit_serenity_empties_is_answered_and_nothing_created() {
    // A Label-shaped submit (a form opened through the HTTP endpoint, answered after a switch
    // to the gateway): serenity's model keeps the Labels but drops what was typed.
    let server = Server::start();
    let discord = FakeApi::start(discord_answers()).await;
    let bot = gateway_bot(&server, &discord).await;
    let sub = submit("seecret_share", "typed-then-lost", "1h", "1", "");
    bot.handle_gateway_message(&dispatch(&sub)).await.unwrap();
    let cb = callbacks(&discord, &sub["id"]);
    assert_eq!(cb.len(), 1, "answered, not dropped: {:?}", discord.calls());
    let answer = cb[0].json();
    assert_private(&answer);
    assert!(
        content(&answer).contains("arrived without what you typed"),
        "{answer}"
    );
    assert!(
        server
            .client()
            .list(&Default::default())
            .await
            .unwrap()
            .seecrets
            .is_empty()
    );
}

/// Lines a tracing subscriber wrote, to check what the gateway logs.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn on_the_gateway_an_interaction_serenity_cannot_read_is_answered_from_discords_json() {
    let server = Server::start();
    let discord = FakeApi::start(discord_answers()).await;
    let bot = gateway_bot(&server, &discord).await;
    let lines = Lines::default();
    let w = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // An interaction type serenity 0.12's model does not know (a stand-in for any shape it
    // cannot read): serenity hands it over as an unknown event with Discord's own JSON.
    let mut odd = base(
        6,
        json!({"custom_id": "seecret_share", "secret-ish": "do-not-log-me"}),
    );
    odd["data"]["components"] = json!([]);
    bot.handle_gateway_message(&dispatch(&odd)).await.unwrap();
    let cb = callbacks(&discord, &odd["id"]);
    assert_eq!(cb.len(), 1, "answered, not dropped: {:?}", discord.calls());
    let answer = cb[0].json();
    assert_private(&answer);
    assert!(content(&answer).contains("does not handle"), "{answer}");
    let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("serenity's model could not read an interaction"),
        "{log}"
    );
    assert!(!log.contains("do-not-log-me"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_gateway_a_slow_share_is_deferred_with_only_the_ephemeral_flag_then_edited() {
    // The deferral goes through the callback here, so the fake checks its flags (Discord
    // refuses any but EPHEMERAL on a type 5) and the edit after it.
    let server = Server::start();
    let discord = FakeApi::start(discord_answers()).await;
    let rows = ModalLayout::ActionRows;
    let late = Duration::from_millis(2600);
    let (bot, _) = in_process(&server, &discord, Some(BOT_TOKEN), rows, late).await;
    let sub = submit_in_rows("seecret_share", "gw-late", "1h", "1", "");
    bot.handle_gateway_message(&dispatch(&sub)).await.unwrap();
    let cb = callbacks(&discord, &sub["id"]);
    assert_eq!(cb.len(), 1, "{:?}", discord.calls());
    assert_eq!(cb[0].json(), json!({"type": 5, "data": {"flags": 64}}));
    let path = format!("/api/v10/webhooks/{APP_ID}/{TOKEN_PATH}/messages/@original");
    let edits = discord.wait_for(&path, 1, T).await;
    assert_eq!(edits.len(), 1, "{:?}", discord.calls());
    let text = edits[0].json()["content"].as_str().unwrap().to_string();
    let link = link_in(&text, &server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"gw-late"
    );
}
