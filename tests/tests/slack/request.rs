//! `/request-secret @alice [note]`: who is asked comes from the mention Slack sends; without one
//! (or with a note too long) the asker is told why and nothing is requested or posted. Alice gets
//! the request link by DM, the asker their private answer link by DM; Alice answers the way the
//! responder page does (sealed to the request's public key, posted once), the asker hears it by
//! DM and their link opens the exact answer. A request that cannot reach Alice is deleted.

use seecret_core::client::RevealedContent;
use seecret_core::link::AnswerLink;
use seecret_core::model::{RequestStatus, SecretId};
use seecret_core::request::RequestPublicKey;

use super::*;

impl Setup {
    async fn request_command(&self, user: &str, text: &str, resp: &str) -> Reply {
        let body = form(&[
            ("token", "deprecated"),
            ("team_id", "T1"),
            ("team_domain", "acme"),
            ("channel_id", "C1"),
            ("channel_name", "ops"),
            ("user_id", user),
            ("user_name", "bob"),
            ("command", "/request-secret"),
            ("text", text),
            ("response_url", &format!("{}/hooks/{resp}", self.slack.base)),
            ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
            ("api_app_id", "A1"),
        ]);
        self.post_signed("/slack/commands", &body, now()).await
    }
}

#[tokio::test]
async fn request_secret_refuses_without_a_person_and_posts_nothing() {
    let s = setup(&[]).await;
    let long = format!("<@U2> {}", "n".repeat(501));
    for (text, says) in [
        ("", "Name who should send you the secret"),
        ("the DB password", "Name who should send you the secret"),
        ("@alice the DB password", "Pick the person from the list"),
        (long.as_str(), "longer than 500"),
    ] {
        let r = s.request_command("U1", text, "none").await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["response_type"], "ephemeral", "{v}");
        let t = v["text"].as_str().unwrap();
        assert!(
            t.contains(says) && t.contains("nothing was requested"),
            "{text}: {t}"
        );
    }
    let help = s.request_command("U1", "help", "none").await;
    let h: Value = help.json().await.unwrap();
    let ht = h["text"].as_str().unwrap();
    assert!(ht.contains("/request-secret @alice"), "{h}");
    assert!(ht.contains("private answer link"), "{h}");
    assert!(s.slack.calls_to("/api/chat.postMessage").is_empty());
    assert!(s.slack.calls_to("/api/conversations.open").is_empty());
    let requests = s.server.client().list_requests(None).await.unwrap();
    assert!(requests.requests.is_empty(), "{:?}", requests.requests);
}

/// The first `{base}/{kind}/…` link in `text`.
fn url_in(text: &str, base: &str, kind: &str) -> String {
    let start = text
        .find(&format!("{base}/{kind}/"))
        .unwrap_or_else(|| panic!("a /{kind}/ link in {text}"));
    let end = text[start..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '|' || c == '"')
        .map_or(text.len(), |e| start + e);
    text[start..end].to_string()
}

/// Answers a request link as the responder page does: reads the request without a token, checks
/// its public key against the fragment's, seals `secret` to it and posts it once.
async fn answer(base: &str, request_url: &str, secret: &str) -> seecret_core::api::PublicRequest {
    let (path, q) = request_url.split_once('#').unwrap();
    let id: SecretId = path.rsplit_once("/r/").unwrap().1.parse().unwrap();
    let q = RequestPublicKey::from_base64url("public_key", q).unwrap();
    let anonymous = Client::new(base, None).unwrap();
    let public = anonymous.public_request(id).await.unwrap();
    assert_eq!(public.public_key, q.to_base64url());
    anonymous
        .answer_request_text(id, &q, secret.as_bytes())
        .await
        .unwrap();
    public
}

async fn open_answer(answer_url: &str) -> Vec<u8> {
    let link = AnswerLink::parse(answer_url).unwrap();
    match Client::reveal_answer_to(&link, |_| async { Ok(tokio::io::sink()) }, None)
        .await
        .unwrap()
    {
        RevealedContent::Text(t) => t.expose().to_vec(),
        RevealedContent::File(..) => panic!("a text answer came back as a file"),
    }
}

#[tokio::test]
async fn request_secret_reaches_alice_by_dm_and_only_the_asker_reads_her_answer() {
    let s = setup(&[]).await;
    let r = s
        .request_command("U1", "<@U2|alice> staging DB &amp; &lt;replica&gt;", "rq1")
        .await;
    assert_eq!(r.status(), 200);
    let reply: Value = r.json().await.unwrap();
    assert_eq!(reply["response_type"], "ephemeral");
    let said = reply["text"].as_str().unwrap();
    assert!(said.contains("Asked <@U2> for a secret"), "{said}");
    assert!(said.contains("in your DMs from <@UBOT>"), "{said}");
    assert!(!said.contains("/a/") && !said.contains("/r/"), "{said}");

    // Alice's DM: who asks, the note (escaped for mrkdwn), the request link.
    let posts = s.slack.wait_for("/api/chat.postMessage", 2, T).await;
    let to_alice = posts
        .iter()
        .find(|c| c.json()["channel"] == "D-U2")
        .unwrap();
    assert_eq!(to_alice.json()["unfurl_links"], false);
    let alice_text = message_text(to_alice);
    assert!(
        alice_text.contains("<@U1> asks you for a secret"),
        "{alice_text}"
    );
    assert!(
        alice_text.contains("staging DB &amp; &lt;replica&gt;"),
        "{alice_text}"
    );
    assert!(!alice_text.contains("/a/"), "{alice_text}");
    let request_url = url_in(&alice_text, &s.server.base, "r");

    // The asker's DM keeps their private link, which nobody else got.
    let to_asker = posts
        .iter()
        .find(|c| c.json()["channel"] == "D-U1")
        .unwrap();
    let answer_url = url_in(&message_text(to_asker), &s.server.base, "a");
    assert!(!alice_text.contains(answer_url.split('#').nth(1).unwrap()));

    // Alice answers through the API, as the page does; the note she read is the one typed.
    let secret = "pg://app:c0rrect horse@db:5432 ☃";
    let public = answer(&s.server.base, &request_url, secret).await;
    assert_eq!(public.note.as_deref(), Some("staging DB & <replica>"));

    // The asker hears it by DM, without any link.
    let notice = eventually(T, || async {
        s.slack
            .calls_to("/api/chat.postMessage")
            .into_iter()
            .map(|c| message_text(&c))
            .find(|t| t.contains("answered your request"))
    })
    .await
    .expect("the asker's notice");
    assert!(
        notice.contains("<@U2> answered your request for a secret"),
        "{notice}"
    );
    assert!(!notice.contains("http"), "{notice}");

    // Their link opens exactly what Alice typed, once.
    assert_eq!(open_answer(&answer_url).await, secret.as_bytes());
    let again = AnswerLink::parse(&answer_url).unwrap();
    let second = Client::reveal_answer_to(&again, |_| async { Ok(tokio::io::sink()) }, None).await;
    assert!(second.is_err(), "a 1-view answer opens once");
}

#[tokio::test]
async fn a_request_that_cannot_reach_alice_is_deleted_and_the_asker_told_why() {
    let s = setup(&[]).await;
    let normal = slack_answers();
    s.slack.answer_with(Arc::new(move |c: &Call| {
        if c.path.ends_with("chat.postMessage") && c.json()["channel"] == "D-U2" {
            (200, json!({"ok": false, "error": "cannot_dm_bot"}))
        } else {
            normal(c)
        }
    }));
    let r = s
        .request_command("U1", "<@U2> the DB password", "gone")
        .await;
    let v: Value = r.json().await.unwrap();
    let t = v["text"].as_str().unwrap();
    assert!(
        t.contains("could not be sent to <@U2>") && t.contains("cannot_dm_bot"),
        "{t}"
    );
    assert!(t.contains("It was deleted") && !t.contains("/a/"), "{t}");
    let requests = s.server.client().list_requests(None).await.unwrap();
    assert_eq!(requests.requests.len(), 1);
    assert_eq!(requests.requests[0].status, RequestStatus::Deleted);
    // Nobody can answer it any more: the link in the DM Slack refused is dead.
    let refused = s
        .slack
        .calls_to("/api/chat.postMessage")
        .into_iter()
        .find(|c| c.json()["channel"] == "D-U2")
        .expect("the attempted DM to Alice");
    let request_url = url_in(&message_text(&refused), &s.server.base, "r");
    let (path, q) = request_url.split_once('#').unwrap();
    let id: SecretId = path.rsplit_once("/r/").unwrap().1.parse().unwrap();
    let q = RequestPublicKey::from_base64url("public_key", q).unwrap();
    let late = Client::new(&s.server.base, None)
        .unwrap()
        .answer_request_text(id, &q, b"too late")
        .await;
    assert!(
        matches!(
            late,
            Err(seecret_core::client::ClientError::Api { status: 410, .. })
        ),
        "{late:?}"
    );
    let asker_dms: Vec<_> = s
        .slack
        .calls_to("/api/chat.postMessage")
        .into_iter()
        .filter(|c| c.json()["channel"] == "D-U1")
        .collect();
    assert!(
        asker_dms.is_empty(),
        "no private link for a deleted request"
    );
}

#[tokio::test]
async fn a_standalone_bot_requests_from_a_remote_server_and_hears_the_answer_by_webhook() {
    let (server, whsec) = seecret_tests::server_for_standalone_bot().await;
    let slack = FakeApi::start(slack_answers()).await;
    let port = seecret_tests::free_port();
    let state = tempfile::tempdir().unwrap();
    let bot_url = format!("http://127.0.0.1:{port}");
    let child = std::process::Command::new(seecret_tests::workspace_bin("seecret-slack"))
        .env("SEECRET_SERVER", &server.base)
        .env("SEECRET_TOKEN", server.token())
        .env("SEECRET_SLACK_SIGNING_SECRET", SIGNING)
        .env("SEECRET_SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SEECRET_SLACK_API_URL", format!("{}/api", slack.base))
        .env("SEECRET_SLACK_PUBLIC_URL", &bot_url)
        .env("SEECRET_SLACK_BIND", format!("127.0.0.1:{port}"))
        .env("SEECRET_SLACK_WEBHOOK_SECRET", &whsec)
        .env(
            "SEECRET_SLACK_INSTALLATIONS_PATH",
            state.path().join("state.json"),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _child = seecret_tests::KillOnDrop(child);
    let up = eventually(T, || async {
        http()
            .post(format!("{bot_url}/slack/commands"))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    })
    .await;
    assert_eq!(up, Some(401));

    let body = form(&[
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/request-secret"),
        ("text", "<@U2> the API key"),
        ("response_url", &format!("{}/hooks/remote", slack.base)),
        ("trigger_id", "1.2.3"),
    ]);
    let ts = now();
    let r = http()
        .post(format!("{bot_url}/slack/commands"))
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SIGNING, ts, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    let said: Value = r.json().await.unwrap();
    assert!(
        said["text"].as_str().unwrap().contains("Asked <@U2>"),
        "{said}"
    );

    let posts = slack.wait_for("/api/chat.postMessage", 2, T).await;
    let to_alice = posts
        .iter()
        .find(|c| c.json()["channel"] == "D-U2")
        .unwrap();
    let request_url = url_in(&message_text(to_alice), &server.base, "r");
    let to_asker = posts
        .iter()
        .find(|c| c.json()["channel"] == "D-U1")
        .unwrap();
    let answer_url = url_in(&message_text(to_asker), &server.base, "a");

    // The request's events go to this bot, for this asker.
    let listed = server.client().list_requests(None).await.unwrap();
    assert_eq!(listed.requests.len(), 1);
    assert!(
        listed.requests[0]
            .webhook_url
            .as_deref()
            .unwrap()
            .starts_with(&format!("{bot_url}/slack/seecret-events?notify=")),
        "{:?}",
        listed.requests[0].webhook_url
    );

    answer(&server.base, &request_url, "sk-remote-answer").await;
    let notice = eventually(T, || async {
        slack
            .calls_to("/api/chat.postMessage")
            .into_iter()
            .filter(|c| c.json()["channel"] == "D-U1")
            .map(|c| message_text(&c))
            .find(|t| t.contains("answered your request"))
    })
    .await
    .expect("the asker's notice through the signed webhook");
    assert!(notice.contains("<@U2> answered"), "{notice}");
    assert_eq!(open_answer(&answer_url).await, b"sk-remote-answer");
}
