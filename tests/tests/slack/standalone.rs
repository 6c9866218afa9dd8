//! The standalone app against a remote server, hearing of reads through signed webhooks.

use super::*;

#[tokio::test]
async fn standalone_bot_against_a_remote_server_hears_reads_through_webhooks() {
    let (server, whsec) = seecret_tests::server_for_standalone_bot().await;
    let token = server.token().to_string();

    let slack = FakeApi::start(slack_answers()).await;
    let port = seecret_tests::free_port();
    let state = tempfile::tempdir().unwrap();
    let bot_url = format!("http://127.0.0.1:{port}");
    let child = std::process::Command::new(seecret_tests::workspace_bin("seecret-slack"))
        .env("SEECRET_SERVER", &server.base)
        .env("SEECRET_TOKEN", &token)
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
    assert_eq!(up, Some(401), "the standalone bot verifies signatures too");

    let body = form(&[
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/share-secret"),
        ("text", "--views 1 remote-secret-value"),
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
    let a: Value = r.json().await.unwrap();
    let link = link_in(a["text"].as_str().unwrap(), &server.base);

    // The server stored ciphertext it cannot open: the bot encrypted it.
    let info = server.client().get(link.id).await.unwrap();
    assert!(
        info.webhook_url
            .unwrap()
            .starts_with(&format!("{bot_url}/slack/seecret-events?notify="))
    );
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"remote-secret-value"
    );

    // The server's signed webhook reaches the bot, which DMs the sender (after the copy of the
    // link it sent them at once).
    let posts = slack.wait_for("/api/chat.postMessage", 2, T).await;
    assert_eq!(posts.len(), 2);
    assert_eq!(link_in(&message_text(&posts[0]), &server.base).id, link.id);
    assert_eq!(posts[1].json()["channel"], "D-U1");
    assert!(message_text(&posts[1]).contains("was viewed (1 of 1"));

    // Forged events are refused.
    let r = http()
        .post(format!("{bot_url}/slack/seecret-events?notify=slack:T1:U1"))
        .header("webhook-id", "evt_x")
        .header("webhook-timestamp", now().to_string())
        .header("webhook-signature", "v1,AAAA")
        .body(r#"{"type":"seecret.viewed"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The App Home: the remote server knows only the bot's token, so the bot's own ledger (in its
    // state file) says what U1 shared; statuses come from the server.
    let signed = |path: &str, body: String| {
        let ts = now();
        http()
            .post(format!("{bot_url}{path}"))
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SIGNING, ts, &body))
            .body(body)
    };
    let home = json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
        "event_id": "EvStandalone1", "event_time": 1515449522,
        "event": {"type": "app_home_opened", "user": "U1", "tab": "home", "channel": "D-U1"}});
    let r = signed("/slack/events", home.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let published = slack.wait_for("/api/views.publish", 1, T).await;
    let view = published[0].json()["view"].to_string();
    assert!(view.contains(&format!("share-{}", link.id)), "{view}");
    assert!(view.contains("consumed"), "{view}");
    assert!(!view.contains("/s/"), "{view}");
    // Burn goes through the same ledger: only the sender's own live share is burnt.
    let body = form(&[
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/share-secret"),
        ("text", "burn-me-remotely"),
        ("response_url", &format!("{}/hooks/remote2", slack.base)),
        ("trigger_id", "1.2.4"),
    ]);
    let live: Value = signed("/slack/commands", body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live = link_in(live["text"].as_str().unwrap(), &server.base);
    let burn = |user: &str| {
        let click = json!({"type": "block_actions", "team": {"id": "T1"},
            "user": {"id": user, "team_id": "T1"}, "trigger_id": "1.2.3",
            "actions": [{"action_id": "burn", "value": live.id.to_string()}]});
        signed(
            "/slack/interactions",
            form(&[("payload", &click.to_string())]),
        )
        .send()
    };
    assert_eq!(burn("U2").await.unwrap().status(), 200);
    let published = slack.wait_for("/api/views.publish", 2, T).await;
    assert!(
        published[1]
            .json()
            .to_string()
            .contains("not a share of yours")
    );
    let status = || async { server.client().get(live.id).await.unwrap().status };
    assert_eq!(status().await.as_str(), "active", "U2 burnt nothing");
    assert_eq!(burn("U1").await.unwrap().status(), 200);
    let burnt = eventually(T, || async {
        (status().await.as_str() == "deleted").then_some(())
    });
    assert!(burnt.await.is_some());
    sdk::assert_valid(&sdk::sent(&slack.calls(), &[a]));
}
