//! The Slack app, embedded in `seecret serve`, driven exactly as Slack drives it: form bodies
//! signed with the app's signing secret, a fake Slack Web API on loopback that records every call,
//! and the links it delivers revealed through the real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod durable;
mod home;
mod only;
mod refusals;
mod request;
mod sdk;
mod standalone;

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use seecret_core::client::Client;
use seecret_core::link::Link;
use seecret_tests::{Call, FakeApi, Server, ServerOptions, eventually, http};
use serde_json::{Value, json};
use sha2::Sha256;

const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-test-not-a-real-token";
const T: Duration = Duration::from_secs(15);
/// The settings of an app installed in many workspaces (OAuth v2).
const OAUTH: &[(&str, &str)] = &[
    ("SEECRET_SLACK_CLIENT_ID", "111.222"),
    ("SEECRET_SLACK_CLIENT_SECRET", "client-secret-value"),
    (
        "SEECRET_SLACK_TOKEN_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    ),
];

/// `v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))`, as Slack signs requests.
fn sign(secret: &str, ts: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Answers like Slack's Web API for the methods the app uses, and as strictly: a call without
/// the bot's bearer token, a JSON body sent as another content type, a missing argument or one
/// of the wrong type gets the error Slack returns (`ok: false`, HTTP 200).
fn slack_answers() -> seecret_tests::Answer {
    Arc::new(|c: &Call| {
        let m = c.path.rsplit('/').next().unwrap_or("");
        if !c.path.starts_with("/api/") {
            // A `response_url`: Slack answers a follow-up with a plain 200, and a stale one (past
            // 30 minutes or 5 uses) with 404.
            if c.path.starts_with("/hooks/expired") {
                return (404, json!({"ok": false, "error": "expired_url"}));
            }
            return (200, json!({"ok": true}));
        }
        if m == "oauth.v2.access" {
            return (
                200,
                json!({"ok": true, "access_token": "xoxb-installed-token", "token_type": "bot",
                    "scope": "commands,chat:write,im:write,users:read", "bot_user_id": "UBOT", "app_id": "A1",
                    "team": {"id": "T9", "name": "Nine"}, "authed_user": {"id": "U9"}}),
            );
        }
        let fail = |error: &str| (200, json!({"ok": false, "error": error}));
        match c.header("authorization") {
            None => return fail("not_authed"),
            Some(a) if !a.starts_with("Bearer xoxb-") => return fail("invalid_auth"),
            Some(_) => {}
        }
        let body = if c.method == "POST" {
            let json_type = c
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json"));
            if !json_type {
                return fail("invalid_arguments");
            }
            c.json()
        } else {
            // GET: the arguments are in the query.
            let q: serde_json::Map<String, Value> = url::form_urlencoded::parse(c.query.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            Value::Object(q)
        };
        let string = |k: &str| body[k].as_str().filter(|s| !s.is_empty());
        match m {
            "views.open" | "views.publish" => {
                let (arg, kind) = if m == "views.open" {
                    ("trigger_id", "modal")
                } else {
                    ("user_id", "home")
                };
                if string(arg).is_none() || body["view"]["type"] != kind {
                    return fail("invalid_arguments");
                }
                let mut view = body["view"].clone();
                view["id"] = json!("V1");
                view["team_id"] = json!("T1");
                view["hash"] = json!("h");
                (200, json!({"ok": true, "view": view}))
            }
            // `users`: a comma-separated string, as documented; an array is refused.
            "conversations.open" => match &body["users"] {
                Value::Null => fail("users_list_not_supplied"),
                Value::String(u) if !u.is_empty() => {
                    let first = u.split(',').next().unwrap_or_default();
                    (
                        200,
                        json!({"ok": true, "channel": {"id": format!("D-{first}")}}),
                    )
                }
                _ => fail("invalid_arguments"),
            },
            "chat.postMessage" => {
                if string("channel").is_none() {
                    return fail("channel_not_found");
                }
                if string("text").is_none() && !body["blocks"].is_array() {
                    return fail("no_text");
                }
                (
                    200,
                    // Slack echoes the message; the app must not log or show this body.
                    json!({"ok": true, "channel": body["channel"], "ts": "1.2",
                        "message": {"type": "message", "text": body["text"], "ts": "1.2",
                            "user": "UBOT", "bot_id": "B1", "app_id": "A1"}}),
                )
            }
            "users.info" => match string("user") {
                None => fail("user_not_found"),
                Some(u) => (
                    200,
                    json!({"ok": true, "user": {"id": u, "team_id": "T1", "name": u.to_lowercase(),
                        "is_admin": u.starts_with("UADMIN"), "is_owner": false,
                        "is_primary_owner": false}}),
                ),
            },
            _ => fail("unknown_method"),
        }
    })
}

struct Setup {
    server: Server,
    slack: FakeApi,
    /// The JSON bodies the app answered Slack's requests with (checked with the rest).
    answers: std::sync::Mutex<Vec<Value>>,
}

/// Checks, at the end of each test that passed so far, everything the app sent Slack.
impl Drop for Setup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let answers = self.answers.lock().unwrap().clone();
        sdk::assert_valid(&sdk::sent(&self.slack.calls(), &answers));
    }
}

/// The app's answer to a request from Slack, read once.
struct Reply {
    status: reqwest::StatusCode,
    body: String,
}

impl Reply {
    fn status(&self) -> reqwest::StatusCode {
        self.status
    }

    async fn json(self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.body)
    }

    async fn text(self) -> reqwest::Result<String> {
        Ok(self.body)
    }
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let slack = FakeApi::start(slack_answers()).await;
    let mut opts = ServerOptions::default()
        .env("SEECRET_SLACK_SIGNING_SECRET", SIGNING)
        .env("SEECRET_SLACK_API_URL", format!("{}/api", slack.base))
        .env("SEECRET_LOG", "debug");
    if !extra.iter().any(|(k, _)| k.contains("CLIENT_ID")) {
        opts = opts.env("SEECRET_SLACK_BOT_TOKEN", BOT_TOKEN);
    }
    for (k, v) in extra {
        opts = opts.env(k, v);
    }
    let server = tokio::task::spawn_blocking(move || Server::start_with(opts))
        .await
        .unwrap();
    Setup {
        server,
        slack,
        answers: Default::default(),
    }
}

impl Setup {
    async fn post_signed(&self, path: &str, body: &str, ts: i64) -> Reply {
        let r = http()
            .post(format!("{}{path}", self.server.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SIGNING, ts, body))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(&body) {
            self.answers.lock().unwrap().push(v);
        }
        Reply { status, body }
    }

    async fn command(&self, team: &str, user: &str, text: &str, resp: &str) -> Reply {
        let body = form(&[
            ("token", "deprecated"),
            ("team_id", team),
            ("team_domain", "acme"),
            ("channel_id", "C1"),
            ("channel_name", "ops"),
            ("user_id", user),
            ("user_name", "alice"),
            ("command", "/share-secret"),
            ("text", text),
            ("response_url", &format!("{}/hooks/{resp}", self.slack.base)),
            ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
            ("api_app_id", "A1"),
        ]);
        self.post_signed("/slack/commands", &body, now()).await
    }

    /// Runs `/share-secret` (no text) for U1 of T1 and returns the `private_metadata` of the form
    /// it opened (answers go to `/hooks/{resp}`).
    async fn open_form(&self, resp: &str) -> String {
        self.command("T1", "U1", "", resp).await;
        let opened = self.slack.wait_for("/api/views.open", 1, T).await;
        opened[0].json()["view"]["private_metadata"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn submit(&self, user: &str, values: Value, metadata: &str) -> Reply {
        let payload = json!({
            "type": "view_submission",
            "team": {"id": "T1", "domain": "acme"},
            "user": {"id": user, "username": "alice", "team_id": "T1"},
            "api_app_id": "A1",
            "trigger_id": "1.2.3",
            "view": {
                "id": "V1", "team_id": "T1", "type": "modal", "hash": "h",
                "callback_id": "seecret_share",
                "private_metadata": metadata,
                "state": {"values": values}
            }
        });
        let body = form(&[("payload", &payload.to_string())]);
        self.post_signed("/slack/interactions", &body, now()).await
    }

    async fn secrets(&self) -> Vec<seecret_core::api::SecretInfo> {
        self.server
            .client()
            .list(&Default::default())
            .await
            .unwrap()
            .seecrets
    }
}

fn values(secret: &str, expires: &str, views: &str, recipient: Option<&str>) -> Value {
    values_pp(secret, expires, views, recipient, None)
}

fn values_pp(
    secret: &str,
    expires: &str,
    views: &str,
    recipient: Option<&str>,
    passphrase: Option<&str>,
) -> Value {
    json!({
        "secret": {"value": {"type": "plain_text_input", "value": secret}},
        "expires": {"value": {"type": "static_select", "selected_option": {"value": expires}}},
        "views": {"value": {"type": "static_select", "selected_option": {"value": views}}},
        "recipient": {"value": {"type": "users_select", "selected_user": recipient}},
        "passphrase": {"value": {"type": "plain_text_input", "value": passphrase}}
    })
}

fn link_in(text: &str, base: &str) -> Link {
    let start = text
        .find(&format!("{base}/s/"))
        .expect("a link in the message");
    let end = text[start..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '|' || c == '"')
        .map_or(text.len(), |e| start + e);
    Link::parse(&text[start..end]).unwrap()
}

fn message_text(c: &Call) -> String {
    c.json()["text"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_test_signer_matches_slacks_known_answer() {
    // slack-morphism's own vector: what Slack would send for this secret, timestamp and body.
    assert_eq!(
        sign("fa2c05deeef5a4077494e89f54394de0", 1531420618, "test-body"),
        "v0=baa91ef62d346e56607bbdd278a8acd570b91226854f15a382f43d33be42f666"
    );
}

#[tokio::test]
async fn modal_to_a_recipient_by_dm_then_the_sender_hears_it_was_viewed() {
    let s = setup(&[]).await;
    let r = s.command("T1", "U1", "", "resp1").await;
    assert_eq!(r.status(), 200);

    // The modal was opened with the command's trigger and the bot token.
    let opened = s.slack.wait_for("/api/views.open", 1, T).await;
    assert_eq!(opened.len(), 1, "views.open called once");
    let open = &opened[0];
    assert_eq!(
        open.header("authorization"),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
    let req = open.json();
    assert_eq!(
        req["trigger_id"],
        "13345224609.738474920.8088930838d88f008e0"
    );
    assert_eq!(req["view"]["type"], "modal");
    assert_eq!(req["view"]["callback_id"], "seecret_share");
    let blocks: Vec<&str> = req["view"]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["block_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        blocks,
        [
            "secret",
            "expires",
            "views",
            "recipient",
            "only",
            "passphrase"
        ]
    );
    assert_eq!(req["view"]["blocks"][0]["element"]["multiline"], true);
    assert_eq!(req["view"]["blocks"][3]["element"]["type"], "users_select");
    let metadata = req["view"]["private_metadata"]
        .as_str()
        .unwrap()
        .to_string();

    // The user submits the form.
    let secret = "db-password: c0rrect horse\nline two ☃ ünïcode\n";
    let r = s
        .submit("U1", values(secret, "1h", "1", Some("U2")), &metadata)
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.unwrap().is_empty(),
        "an empty 200 closes the modal"
    );

    // The recipient gets the link by DM, unfurling off.
    let posts = s.slack.wait_for("/api/chat.postMessage", 1, T).await;
    let dm = &posts[0];
    assert_eq!(dm.json()["channel"], "D-U2");
    assert_eq!(dm.json()["channel"], "D-U2");
    assert_eq!(dm.json()["unfurl_links"], false);
    assert_eq!(dm.json()["unfurl_media"], false);
    let opens = s.slack.calls_to("/api/conversations.open");
    assert_eq!(opens[0].json()["users"], "U2");
    let text = message_text(dm);
    assert!(text.contains("<@U1> shared a secret with you"), "{text}");
    assert!(text.contains("1 view"), "{text}");

    // The sender is told, ephemerally and (durably) by DM, without the link.
    let confirm = s.slack.wait_for("/hooks/resp1", 1, T).await;
    let c = confirm[0].json();
    assert_eq!(c["response_type"], "ephemeral");
    let ct = c["text"].as_str().unwrap();
    assert!(ct.contains("Sent a one-time link to <@U2>"), "{c}");
    assert!(
        ct.contains("A note of it is in your DMs from <@UBOT>"),
        "{c}"
    );
    assert!(!ct.contains("/s/"));
    let note = &s.slack.wait_for("/api/chat.postMessage", 2, T).await[1];
    assert_eq!(note.json()["channel"], "D-U1");
    assert!(message_text(note).contains("Sent a one-time link to <@U2>"));
    assert!(!message_text(note).contains("/s/"));

    // The link reveals exactly what was typed, once.
    let link = link_in(&text, &s.server.base);
    let got = Client::reveal_link(&link, None).await.unwrap();
    assert_eq!(got.expose(), secret.as_bytes());
    let again = Client::reveal_link(&link, None).await.unwrap_err();
    assert_eq!(again.status(), Some(410));

    // The sender gets "was viewed" by DM: from the engine's events, no webhook URL configured.
    let posts = s.slack.wait_for("/api/chat.postMessage", 3, T).await;
    assert_eq!(
        posts.len(),
        3,
        "the link, the sender's note, then the viewed notice"
    );
    let viewed = &posts[2];
    assert_eq!(viewed.json()["channel"], "D-U1");
    let vt = message_text(viewed);
    assert!(vt.contains("was viewed (1 of 1"), "{vt}");
    assert!(vt.contains("<@U2>"), "{vt}");

    // The secret is in no request Slack received, and not in the server's log.
    for call in s.slack.calls() {
        let body = call.text();
        assert!(
            !body.contains("c0rrect horse"),
            "secret sent to Slack: {body}"
        );
        assert!(
            !body.contains("ünïcode") && !body.contains("\\u00fcn"),
            "{body}"
        );
    }
    assert!(!s.server.log().contains("c0rrect horse"));
}

#[tokio::test]
async fn modal_without_recipient_gives_the_sender_the_link_ephemerally_and_a_copy_by_dm() {
    let s = setup(&[]).await;
    let metadata = s.open_form("resp2").await;
    let r = s
        .submit(
            "U1",
            values_pp("hunter2-solo", "7d", "3", None, Some("open sesame")),
            &metadata,
        )
        .await;
    assert_eq!(r.status(), 200);
    let answers = s.slack.wait_for("/hooks/resp2", 1, T).await;
    let a = answers[0].json();
    assert_eq!(a["response_type"], "ephemeral");
    assert_eq!(a["unfurl_links"], false);
    let text = a["text"].as_str().unwrap();
    assert!(text.contains("3 views"), "{text}");
    // Ephemeral replies vanish on reload and on other devices: the reply points to the copy.
    assert!(
        text.contains("A copy is in your DMs from <@UBOT>, where it stays"),
        "{text}"
    );
    let link = link_in(text, &s.server.base);
    let copies = s.slack.wait_for("/api/chat.postMessage", 1, T).await;
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].json()["channel"], "D-U1");
    assert_eq!(copies[0].json()["unfurl_links"], false);
    assert_eq!(
        link_in(&message_text(&copies[0]), &s.server.base).id,
        link.id
    );
    assert!(!message_text(&copies[0]).contains("A copy is in your DMs"));
    let info = s.server.client().get(link.id).await.unwrap();
    assert_eq!(info.views, 3);
    let lifetime = info.expires_at - info.created_at;
    assert_eq!(lifetime.num_hours(), 7 * 24);
    assert!(info.passphrase_protected);
    let refused = Client::reveal_link(&link, None).await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    assert_eq!(
        Client::reveal_link(&link, Some("open sesame".to_string().into()))
            .await
            .unwrap()
            .expose(),
        b"hunter2-solo"
    );
    for call in s.slack.calls() {
        assert!(
            !call.text().contains("open sesame"),
            "passphrase sent to Slack"
        );
    }
}

#[tokio::test]
async fn modal_validation_errors_are_shown_in_the_form_and_create_nothing() {
    let s = setup(&[]).await;
    for (vals, block) in [
        (values("   ", "1h", "1", None), "secret"),
        (values("x", "forever", "1", None), "expires"),
        (values("x", "1h", "0", None), "views"),
        (values("x", "1h", "500", None), "views"),
        (values(&"y".repeat(3001), "1h", "1", None), "secret"),
    ] {
        let r = s.submit("U1", vals, "{}").await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["response_action"], "errors", "{body}");
        assert!(body["errors"][block].is_string(), "{body}");
    }
    assert!(s.secrets().await.is_empty());
}

#[tokio::test]
async fn quick_mode_with_flags_and_help() {
    let s = setup(&[]).await;
    let r = s
        .command(
            "T1",
            "U1",
            "--views 2 --expires 1h  s3cr3t quick  value",
            "q1",
        )
        .await;
    assert_eq!(r.status(), 200);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["response_type"], "ephemeral");
    assert_eq!(a["unfurl_links"], false);
    let text = a["text"].as_str().unwrap();
    let link = link_in(text, &s.server.base);
    let info = s.server.client().get(link.id).await.unwrap();
    assert_eq!(info.views, 2);
    assert_eq!((info.expires_at - info.created_at).num_minutes(), 60);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"s3cr3t quick  value"
    );

    // Invalid flags: an ephemeral error that does not repeat the secret; nothing created.
    for bad in [
        "--views many hunter3",
        "--views 0 hunter3",
        "--views 11 hunter3",
        "--expires soon hunter3",
        "--colour red hunter3",
    ] {
        let r = s.command("T1", "U1", bad, "q2").await;
        assert_eq!(r.status(), 200);
        let a: Value = r.json().await.unwrap();
        assert_eq!(a["response_type"], "ephemeral");
        let t = a["text"].as_str().unwrap();
        assert!(t.contains(":warning:"), "{bad}: {t}");
        assert!(!t.contains("hunter3"), "{t}");
    }
    assert_eq!(s.secrets().await.len(), 1);

    let r = s.command("T1", "U1", "help", "q3").await;
    let t = r.json().await.unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(t.contains("--views") && t.contains("--expires") && t.contains("`/share-secret`"));
    // `<secret>` would be a control sequence to Slack's mrkdwn (and vanish): it is escaped.
    assert!(t.contains("`/share-secret &lt;secret&gt;`"), "{t}");
    assert!(!t.contains("<secret>"), "{t}");
    assert!(s.slack.calls_to("/api/views.open").is_empty());
}

#[tokio::test]
async fn quick_mode_gives_the_recipient_the_exact_bytes_slack_html_escaped() {
    let s = setup(&[]).await;
    // The user typed `p&ss<1> &lt;x>` (the last part literally): Slack sends `&`, `<` and `>`
    // as `&amp;`, `&lt;` and `&gt;` whatever `should_escape` says.
    let r = s
        .command(
            "T1",
            "U1",
            "--views 1 p&amp;ss&lt;1&gt; &amp;lt;x&gt;",
            "esc",
        )
        .await;
    let a: Value = r.json().await.unwrap();
    let link = link_in(a["text"].as_str().unwrap(), &s.server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"p&ss<1> &lt;x>"
    );
}

#[tokio::test]
async fn the_command_is_acknowledged_at_once_and_the_form_opens_after_on_a_slow_slack() {
    let s = setup(&[]).await;
    // Slack is slow to answer views.open: the command's answer must not wait for it (Slack shows
    // "operation_timeout" after three seconds), as Bolt acknowledges first.
    let slow = s.slack.hold("/api/views.open");
    let r = tokio::time::timeout(T, s.command("T1", "U1", "", "slow"))
        .await
        .expect("the command was answered");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "", "an empty acknowledgement");
    // views.open was called with the trigger, and is still waiting for Slack.
    let opened = s.slack.wait_for("/api/views.open", 1, T).await;
    assert_eq!(
        opened[0].json()["trigger_id"],
        "13345224609.738474920.8088930838d88f008e0"
    );
    slow.release();
    // The form Slack opened works: its submission brings the link back to the command's channel.
    let metadata = opened[0].json()["view"]["private_metadata"]
        .as_str()
        .unwrap()
        .to_string();
    s.submit(
        "U1",
        values("after-a-slow-slack", "1h", "1", None),
        &metadata,
    )
    .await;
    let reply = s.slack.wait_for("/hooks/slow", 1, T).await[0].json();
    let link = link_in(reply["text"].as_str().unwrap(), &s.server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"after-a-slow-slack"
    );
}

/// `slack-bot/manifest.yml` as JSON (read by Python's YAML parser).
#[cfg(feature = "external")]
fn manifest() -> Value {
    let (code, out, err) = seecret_tests::run(
        std::process::Command::new("python3")
            .arg("-c")
            .arg("import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
            .arg(seecret_tests::repo_path("slack-bot/manifest.yml")),
        T,
    );
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[cfg(feature = "external")]
#[test]
fn the_manifest_keeps_the_messages_tab_so_dms_can_be_found_again() {
    let m = manifest();
    let home = &m["features"]["app_home"];
    assert_eq!(home["messages_tab_enabled"], true, "{m}");
    assert_eq!(home["messages_tab_read_only_enabled"], true, "{m}");
}

#[cfg(feature = "external")]
#[tokio::test]
async fn the_manifest_declares_the_home_tab_events_shortcut_and_scopes_on_routes_that_exist() {
    let m = manifest();
    assert_eq!(m["features"]["app_home"]["home_tab_enabled"], true);
    let events = &m["settings"]["event_subscriptions"];
    assert_eq!(events["bot_events"], json!(["app_home_opened"]));
    let shortcut = &m["features"]["shortcuts"][0];
    assert_eq!(
        (&shortcut["type"], &shortcut["callback_id"]),
        (&json!("global"), &json!("share_secret"))
    );
    let scopes = &m["oauth_config"]["scopes"]["bot"];
    assert_eq!(
        scopes,
        &json!(["commands", "chat:write", "im:write", "users:read"])
    );
    // Every URL it gives Slack is served (and signed requests only: 401 unsigned), on the path
    // the server mounts.
    let s = setup(OAUTH).await;
    let on_server = |url: &Value| {
        url.as_str()
            .unwrap()
            .replace("https://secrets.example.com", &s.server.base)
    };
    // /request-secret is escaped, so the person asked arrives as a mention (<@U…|name>).
    let request = &m["features"]["slash_commands"][1];
    assert_eq!(request["command"], "/request-secret", "{m}");
    assert_eq!(request["should_escape"], true, "{m}");
    for url in [
        &m["features"]["slash_commands"][0]["url"],
        &request["url"],
        &events["request_url"],
        &m["settings"]["interactivity"]["request_url"],
    ] {
        let r = http().post(on_server(url)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{url}");
    }
    let callback = on_server(&m["oauth_config"]["redirect_urls"][0]);
    let r = http().get(callback).send().await.unwrap();
    assert_eq!(r.status(), 400, "the OAuth callback is served");
    // Sign in with Slack (recipient binding): its callback, and only its scopes for users.
    assert_eq!(
        m["oauth_config"]["scopes"]["user"],
        json!(["openid", "profile"])
    );
    let sign_in = on_server(&m["oauth_config"]["redirect_urls"][1]);
    assert!(sign_in.ends_with("/auth/slack/callback"), "{sign_in}");
    let r = http().get(sign_in).send().await.unwrap();
    assert_eq!(r.status(), 400, "the sign-in callback is served");
}
