//! The Discord bot, embedded in `seecret serve`, driven exactly as Discord drives an HTTP
//! interactions endpoint: JSON bodies signed with Ed25519 over `timestamp || body` by a test key,
//! a fake Discord REST API on loopback (serenity's `HttpBuilder::proxy`) that records every call,
//! and the links it delivers revealed through the real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod delivery;
mod fidelity;
mod only;
mod referee;
mod refusals;
mod request;
mod standalone;

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use seecret_core::client::Client;
use seecret_core::link::Link;
use seecret_tests::{Call, FakeApi, Server, ServerOptions, eventually, http};
use serde_json::{Value, json};

const APP_ID: &str = "1100000000000000001";
const GUILD_ID: &str = "1200000000000000002";
const BOT_TOKEN: &str = "test-bot-token-not-real";
const SENDER: &str = "1001";
const RECIPIENT: &str = "2002";
const T: Duration = Duration::from_secs(15);

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn public_key_hex() -> String {
    hex::encode(key().verifying_key().to_bytes())
}

/// What Discord puts in `X-Signature-Ed25519`: hex(Ed25519(timestamp || body)).
fn sign(key: &SigningKey, ts: &str, body: &[u8]) -> String {
    hex::encode(key.sign(&[ts.as_bytes(), body].concat()).to_bytes())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The DM channel the fake opens with a user: "7" + their id.
fn dm_channel(user: &str) -> String {
    format!("7{user}")
}

/// Answers like Discord's REST API for the routes the bot uses, to a bot with `BOT_TOKEN`.
fn discord_answers() -> seecret_tests::Answer {
    discord_answers_for(Some(BOT_TOKEN))
}

/// Answers like Discord's REST API for the routes the bot uses, refusing what Discord refuses
/// ([`seecret_tests::discord_refusal`]) for a bot with `token`.
fn discord_answers_for(token: Option<&'static str>) -> seecret_tests::Answer {
    Arc::new(move |c: &Call| {
        if let Some(refused) = seecret_tests::discord_refusal(c, token) {
            return refused;
        }
        if c.path.ends_with("/callback") {
            return (204, Value::Null);
        }
        if c.path.ends_with("/messages/@original") {
            return (
                200,
                json!({"id": "3001", "channel_id": "1", "content": c.json()["content"], "flags": 64 | 4}),
            );
        }
        if c.path.ends_with("/users/@me/channels") {
            let user = c.json()["recipient_id"].as_str().unwrap_or("").to_string();
            return (
                200,
                json!({"id": dm_channel(&user), "type": 1, "recipients": [{"id": user, "username": "u", "discriminator": "0"}]}),
            );
        }
        if c.path.ends_with("/messages") {
            // Discord echoes the message; the bot must not log or show this body.
            return (
                200,
                json!({"id": "3000", "channel_id": "1", "content": c.json()["content"]}),
            );
        }
        if c.path.ends_with("/commands") {
            return (200, c.json());
        }
        (200, json!({}))
    })
}

struct Setup {
    server: Server,
    discord: FakeApi,
}

async fn setup() -> Setup {
    setup_with(&[]).await
}

/// [`setup`] with more server settings.
async fn setup_with(extra: &[(&str, &str)]) -> Setup {
    let discord = FakeApi::start(discord_answers()).await;
    let mut opts = ServerOptions::default()
        .env("SEECRET_DISCORD_PUBLIC_KEY", public_key_hex())
        .env("SEECRET_DISCORD_APPLICATION_ID", APP_ID)
        .env("SEECRET_DISCORD_TOKEN", BOT_TOKEN)
        .env("SEECRET_DISCORD_GUILD_ID", GUILD_ID)
        .env("SEECRET_DISCORD_API_URL", &discord.base)
        .env("SEECRET_DISCORD_GUILDID", "typo")
        .env("SEECRET_LOG", "debug");
    for (k, v) in extra {
        opts = opts.env(k, v);
    }
    let server = tokio::task::spawn_blocking(move || Server::start_with(opts))
        .await
        .unwrap();
    Setup { server, discord }
}

/// A fresh interaction id: Discord's are unique, and the bot answers each one once.
fn interaction_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("13000000000{n:08}")
}

fn base(kind: u64, data: Value) -> Value {
    json!({
        "id": interaction_id(),
        "application_id": APP_ID,
        "type": kind,
        "token": "aW50ZXJhY3Rpb24tdG9rZW4",
        "version": 1,
        "guild_id": GUILD_ID,
        "channel_id": "1400000000000000004",
        "member": {
            "user": {"id": SENDER, "username": "alice", "discriminator": "0", "global_name": "Alice"},
            "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "deaf": false, "mute": false, "flags": 0, "permissions": "2147483647"
        },
        "app_permissions": "2147483647",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID},
        "context": 0,
        "attachment_size_limit": 10485760,
        "data": data
    })
}

/// An APPLICATION_COMMAND for `/share-secret` with `options` (`[{name, type, value}]`).
fn command(options: Value) -> Value {
    let mut users = serde_json::Map::new();
    for o in options.as_array().unwrap() {
        if o["type"] == 6 {
            let id = o["value"].as_str().unwrap();
            users.insert(
                id.into(),
                json!({"id": id, "username": "bob", "discriminator": "0", "bot": false}),
            );
        }
    }
    base(
        2,
        json!({
            "id": "1500000000000000005", "name": "share-secret", "type": 1,
            "guild_id": GUILD_ID, "options": options, "resolved": {"users": users}
        }),
    )
}

/// A MODAL_SUBMIT of the form with `custom_id`, as Discord sends it for a modal of Label
/// components: each Label (type 18) with its `id` and one `component`, the text input's
/// `custom_id` and `value`.
fn submit(custom_id: &str, secret: &str, expiration: &str, views: &str, pp: &str) -> Value {
    let fields = [
        ("secret", secret),
        ("expiration", expiration),
        ("views", views),
        ("passphrase", pp),
    ];
    let labels: Vec<Value> = fields
        .iter()
        .enumerate()
        .map(|(n, (id, v))| {
            json!({"type": 18, "id": 2 * n + 1, "component": {"type": 4, "id": 2 * n + 2, "custom_id": id, "value": v}})
        })
        .collect();
    base(5, json!({"custom_id": custom_id, "components": labels}))
}

/// A MODAL_SUBMIT in the older shape: each text input in an action row (a form opened over the
/// gateway, or before the bot sent Labels).
fn submit_in_rows(custom_id: &str, secret: &str, expiration: &str, views: &str, pp: &str) -> Value {
    let row = |id: &str, v: &str| json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": v}]});
    base(
        5,
        json!({
            "custom_id": custom_id,
            "components": [row("secret", secret), row("expiration", expiration), row("views", views), row("passphrase", pp)]
        }),
    )
}

async fn post_raw_to(base: &str, body: Vec<u8>, ts: &str, sig: &str) -> reqwest::Response {
    http()
        .post(format!("{base}/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", sig)
        .header("x-signature-timestamp", ts)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Posts `body` to the interactions endpoint under `base`, signed as Discord signs it; returns
/// the status and the JSON answer.
async fn post_to(base: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = now().to_string();
    let sig = sign(&key(), &ts, &bytes);
    let r = post_raw_to(base, bytes, &ts, &sig).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

impl Setup {
    async fn post_raw(&self, body: Vec<u8>, ts: &str, sig: &str) -> reqwest::Response {
        post_raw_to(&self.server.base, body, ts, sig).await
    }

    /// Posts `body` signed as Discord signs it; returns the status and the JSON answer.
    async fn post(&self, body: &Value) -> (u16, Value) {
        post_to(&self.server.base, body).await
    }

    async fn secrets(&self) -> Vec<seecret_core::api::SecretInfo> {
        self.server
            .client()
            .list(&Default::default())
            .await
            .unwrap()
            .seecrets
    }

    fn messages_to(&self, user: &str) -> Vec<Call> {
        self.discord
            .calls_to(&format!("/api/v10/channels/{}/messages", dm_channel(user)))
    }
}

fn link_in(text: &str, base: &str) -> Link {
    let start = text
        .find(&format!("{base}/s/"))
        .expect("a link in the message");
    let end = text[start..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '"')
        .map_or(text.len(), |e| start + e);
    Link::parse(&text[start..end]).unwrap()
}

/// The ids of a modal's text inputs, in order; each must sit in a Label (type 18).
fn input_ids(modal: &Value) -> Vec<String> {
    modal["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|label| {
            assert_eq!(label["type"], 18, "a Label: {label}");
            assert!(label["components"].is_null(), "one child: {label}");
            label["component"]["custom_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The modal's text input with `custom_id`.
fn modal_input<'a>(modal: &'a Value, custom_id: &str) -> &'a Value {
    modal["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["component"])
        .find(|c| c["custom_id"] == custom_id)
        .unwrap()
}

/// The DMs `user` got whose text contains `needle`.
fn dms_saying(s: &Setup, user: &str, needle: &str) -> Vec<String> {
    s.messages_to(user)
        .iter()
        .filter_map(|c| c.json()["content"].as_str().map(String::from))
        .filter(|t| t.contains(needle))
        .collect()
}

fn assert_private(answer: &Value) {
    assert_eq!(answer["type"], 4, "a message: {answer}");
    let flags = answer["data"]["flags"].as_u64().unwrap();
    assert_eq!(flags & 64, 64, "ephemeral: {answer}");
    assert_eq!(flags & 4, 4, "embeds suppressed: {answer}");
}

fn content(answer: &Value) -> String {
    answer["data"]["content"].as_str().unwrap().to_string()
}

#[test]
fn the_test_signer_signs_timestamp_then_body() {
    let body = br#"{"type":1}"#;
    let sig = sign(&key(), "1700000000", body);
    let bytes: [u8; 64] = hex::decode(&sig).unwrap().try_into().unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&bytes);
    let pk = key().verifying_key();
    assert!(pk.verify_strict(b"1700000000{\"type\":1}", &sig).is_ok());
    assert!(pk.verify_strict(b"1700000001{\"type\":1}", &sig).is_err());
}

#[tokio::test]
async fn ping_is_answered_with_pong_and_the_command_is_registered_on_start() {
    let s = setup().await;
    let (status, answer) = s
        .post(&json!({"type": 1, "id": "1", "application_id": APP_ID, "token": "t", "version": 1}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer, json!({"type": 1}));

    // `/share-secret` was put in the guild with the bot token, with its options.
    let path = format!("/api/v10/applications/{APP_ID}/guilds/{GUILD_ID}/commands");
    let reg = s.discord.wait_for(&path, 1, T).await;
    assert_eq!(reg.len(), 1, "{:?}", s.discord.calls());
    assert_eq!(reg[0].method, "PUT");
    assert_eq!(
        reg[0].header("authorization"),
        Some(format!("Bot {BOT_TOKEN}").as_str())
    );
    let cmds = reg[0].json();
    assert_eq!(cmds[0]["name"], "share-secret");
    // A guild-scoped command cannot name installation or interaction contexts.
    assert!(cmds[0].get("integration_types").is_none(), "{cmds}");
    assert!(cmds[0].get("contexts").is_none(), "{cmds}");
    assert_eq!(cmds[1]["name"], "share-secret-settings");
    assert_eq!(cmds[1]["default_member_permissions"], "32", "manage server");
    let options: Vec<(&str, u64)> = cmds[0]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["type"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        options,
        [
            ("recipient", 6),
            ("only-recipient", 5),
            ("expiration", 3),
            ("views", 4),
            ("passphrase", 3),
            ("content", 3)
        ]
    );
    // Both installation URLs are in the log: to a server, and to a person's account.
    let guild_install = format!(
        "https://discord.com/oauth2/authorize?client_id={APP_ID}&scope=applications.commands+bot&permissions=0&integration_type=0"
    );
    let user_install = format!(
        "https://discord.com/oauth2/authorize?client_id={APP_ID}&scope=applications.commands&integration_type=1"
    );
    // The server's log is read by a thread of the harness: under load it may lag behind the
    // registration call the fake API has already seen.
    let logged = eventually(T, || async {
        let log = s.server.log();
        (log.contains(&guild_install) && log.contains(&user_install)).then_some(())
    })
    .await;
    assert!(logged.is_some(), "{}", s.server.log());
    // The Discord variables are known to the server; a misspelt one is pointed out.
    let unknown: Vec<String> = s
        .server
        .log()
        .lines()
        .filter(|l| l.contains("unknown SEECRET_* environment variable"))
        .map(String::from)
        .collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(
        unknown[0].contains("SEECRET_DISCORD_GUILDID"),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn command_opens_the_modal_and_its_link_reveals_the_secret_then_the_sender_hears_of_it() {
    let s = setup().await;
    let (status, modal) = s.post(&command(json!([]))).await;
    assert_eq!(status, 200);
    assert_eq!(modal["type"], 9, "a modal: {modal}");
    assert_eq!(modal["data"]["custom_id"], "seecret_share");
    assert_eq!(
        input_ids(&modal),
        ["secret", "expiration", "views", "passphrase"]
    );
    let secret_input = modal_input(&modal, "secret");
    assert_eq!(secret_input["type"], 4);
    assert_eq!(secret_input["style"], 2, "paragraph");
    assert_eq!(secret_input["required"], true);
    assert!(secret_input["label"].is_null(), "the Label holds the label");
    assert_eq!(modal["data"]["components"][0]["label"], "Secret");
    assert_eq!(modal_input(&modal, "expiration")["value"], "24h");
    assert_eq!(modal_input(&modal, "views")["value"], "1");
    assert_eq!(modal_input(&modal, "passphrase")["required"], false);
    assert!(s.secrets().await.is_empty(), "the modal creates nothing");

    let secret = "db-password: c0rrect horse\nline two ☃ ünïcode\n";
    let (status, answer) = s
        .post(&submit("seecret_share", secret, "1h", "2", ""))
        .await;
    assert_eq!(status, 200);
    assert_private(&answer);
    let text = content(&answer);
    assert!(text.contains("2 views"), "{text}");
    let link = link_in(&text, &s.server.base);
    let info = s.server.client().get(link.id).await.unwrap();
    assert_eq!(info.views, 2);
    assert_eq!((info.expires_at - info.created_at).num_minutes(), 60);
    let got = Client::reveal_link(&link, None).await.unwrap();
    assert_eq!(got.expose(), secret.as_bytes());

    // The sender gets "was viewed" by DM, from the engine's events.
    let viewed = eventually(T, || async {
        dms_saying(&s, SENDER, "was viewed").into_iter().next()
    })
    .await
    .expect("a DM to the sender");
    let opened = s.discord.calls_to("/api/v10/users/@me/channels");
    assert_eq!(opened[0].json()["recipient_id"], SENDER);
    assert!(viewed.contains("was viewed (1 of 2"), "{viewed}");

    // The secret is in no request Discord received, and not in the server's log.
    for call in s.discord.calls() {
        let body = call.text();
        assert!(
            !body.contains("c0rrect horse"),
            "secret sent to Discord: {body}"
        );
        assert!(
            !body.contains("ünïcode") && !body.contains("\\u00fcn"),
            "{body}"
        );
    }
    let log = s.server.log();
    assert!(!log.contains("c0rrect horse"), "secret in the log");
    let fragment = text
        .split('#')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(!log.contains(fragment), "the link's key in the log");
}

#[tokio::test]
async fn a_recipient_gets_the_link_by_dm_and_the_sender_a_confirmation_then_the_viewed_dm() {
    let s = setup().await;
    let (_, modal) = s
        .post(&command(json!([
            {"name": "recipient", "type": 6, "value": RECIPIENT},
            {"name": "expiration", "type": 3, "value": "7d"},
            {"name": "views", "type": 4, "value": 1}
        ])))
        .await;
    assert_eq!(modal["type"], 9);
    let custom_id = modal["data"]["custom_id"].as_str().unwrap().to_string();
    assert_eq!(custom_id, format!("seecret_share:{RECIPIENT}"));
    assert_eq!(modal_input(&modal, "expiration")["value"], "7d");

    let (status, answer) = s
        .post(&submit(&custom_id, "hunter2-for-bob", "7d", "1", ""))
        .await;
    assert_eq!(status, 200);
    assert_private(&answer);
    let text = content(&answer);
    assert!(
        text.contains(&format!("Sent a one-time link to <@{RECIPIENT}>")),
        "{text}"
    );
    assert!(
        !text.contains("/s/"),
        "the sender's confirmation has no link: {text}"
    );

    // The DM channel was opened with the recipient and the link posted there, previews off.
    let opened = s.discord.calls_to("/api/v10/users/@me/channels");
    assert_eq!(opened[0].json()["recipient_id"], RECIPIENT);
    let dms = s.messages_to(RECIPIENT);
    assert_eq!(dms.len(), 1);
    let dm = dms[0].json();
    assert_eq!(dm["flags"], 4, "embeds suppressed: {dm}");
    let dt = dm["content"].as_str().unwrap();
    assert!(
        dt.contains(&format!("<@{SENDER}> shared a secret with you")),
        "{dt}"
    );
    let link = link_in(dt, &s.server.base);
    let info = s.server.client().get(link.id).await.unwrap();
    assert_eq!((info.expires_at - info.created_at).num_hours(), 7 * 24);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"hunter2-for-bob"
    );
    let again = Client::reveal_link(&link, None).await.unwrap_err();
    assert_eq!(again.status(), Some(410));

    let vt = eventually(T, || async {
        dms_saying(&s, SENDER, "was viewed").into_iter().next()
    })
    .await
    .expect("a DM to the sender");
    assert!(
        vt.contains(&format!("for <@{RECIPIENT}> was viewed (1 of 1")),
        "{vt}"
    );
    for call in s.discord.calls() {
        assert!(!call.text().contains("hunter2-for-bob"), "{}", call.text());
    }
    // Neither the secret nor the link that went through the REST client is in the log, as text
    // or as the byte list a request's Debug would print.
    let log = s.server.log();
    assert!(!log.contains("hunter2-for-bob"));
    let fragment = dt
        .split('#')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(!log.contains(fragment), "the link's key in the log");
    let as_bytes = fragment
        .bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        !log.contains(&as_bytes),
        "the link's key in the log as bytes"
    );
}

#[tokio::test]
async fn a_passphrase_from_the_form_is_required_to_reveal_and_the_recipient_is_told() {
    let s = setup().await;
    let (_, answer) = s
        .post(&submit(
            &format!("seecret_share:{RECIPIENT}"),
            "pp-protected",
            "1h",
            "1",
            "open sesame",
        ))
        .await;
    assert_private(&answer);
    let dm = s.messages_to(RECIPIENT)[0].json();
    let text = dm["content"].as_str().unwrap();
    assert!(text.contains("protected by a passphrase"), "{text}");
    assert!(!text.contains("open sesame"), "{text}");
    let link = link_in(text, &s.server.base);
    let refused = Client::reveal_link(&link, None).await.unwrap_err();
    assert_ne!(refused.status(), Some(200));
    let got = Client::reveal_link(
        &link,
        Some(seecret_core::crypto::SecretBytes::new(
            b"open sesame".to_vec(),
        )),
    )
    .await
    .unwrap();
    assert_eq!(got.expose(), b"pp-protected");
    for call in s.discord.calls() {
        assert!(!call.text().contains("open sesame"), "{}", call.text());
    }
}
