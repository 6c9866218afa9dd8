//! The standalone app against a remote server, hearing of reads through signed webhooks.

use super::*;

#[tokio::test]
async fn standalone_bot_against_a_remote_server_hears_reads_through_webhooks() {
    let (server, whsec) = seecret_tests::server_for_standalone_bot().await;
    let token = server.token().to_string();

    let slack = FakeApi::start(slack_answers()).await;
    let port = seecret_tests::free_port();
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

    // The server's signed webhook reaches the bot, which DMs the sender.
    let posts = slack.wait_for("/api/chat.postMessage", 1, T).await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json()["channel"], "D-U1");
    assert!(message_text(&posts[0]).contains("was viewed (1 of 1"));

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
}
