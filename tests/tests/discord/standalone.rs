//! The standalone bot against a remote server, hearing of reads through signed webhooks.

use super::*;

/// A binary next to the test executable (built by `cargo build --workspace`).
#[tokio::test]
async fn standalone_bot_against_a_remote_server_hears_reads_through_webhooks() {
    let (server, whsec) = seecret_tests::server_for_standalone_bot().await;
    let token = server.token().to_string();

    let discord = FakeApi::start(discord_answers()).await;
    let port = seecret_tests::free_port();
    let bot_url = format!("http://127.0.0.1:{port}");
    let prefs = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(seecret_tests::workspace_bin("seecret-discord"))
        .env("SEECRET_SERVER", &server.base)
        .env("SEECRET_TOKEN", &token)
        .env("SEECRET_DISCORD_PUBLIC_KEY", public_key_hex())
        .env("SEECRET_DISCORD_APPLICATION_ID", APP_ID)
        .env("SEECRET_DISCORD_TOKEN", BOT_TOKEN)
        .env("SEECRET_DISCORD_API_URL", &discord.base)
        .env("SEECRET_DISCORD_PUBLIC_URL", &bot_url)
        .env("SEECRET_DISCORD_BIND", format!("127.0.0.1:{port}"))
        .env("SEECRET_DISCORD_WEBHOOK_SECRET", &whsec)
        .env(
            "SEECRET_DISCORD_PREFERENCES_PATH",
            prefs.path().join("preferences.json"),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _child = seecret_tests::KillOnDrop(child);
    let up = eventually(T, || async {
        http()
            .post(format!("{bot_url}/discord/interactions"))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    })
    .await;
    assert_eq!(up, Some(401), "the standalone bot verifies signatures too");

    // Without a guild, the commands are registered globally: `/share-secret` for servers and
    // user installs, in servers, DMs with the bot and other DMs; the settings for servers only.
    let reg = discord
        .wait_for(&format!("/api/v10/applications/{APP_ID}/commands"), 1, T)
        .await;
    assert_eq!(reg.len(), 1);
    let cmds = reg[0].json();
    assert_eq!(cmds[0]["name"], "share-secret");
    assert_eq!(cmds[0]["integration_types"], json!([0, 1]), "{cmds}");
    assert_eq!(cmds[0]["contexts"], json!([0, 1, 2]), "{cmds}");
    assert_eq!(cmds[1]["name"], "share-secret-settings");
    assert_eq!(cmds[1]["integration_types"], json!([0]), "{cmds}");
    assert_eq!(cmds[1]["contexts"], json!([0]), "{cmds}");

    let body = serde_json::to_vec(&submit(
        "seecret_share",
        "remote-secret-value",
        "1h",
        "1",
        "",
    ))
    .unwrap();
    let ts = now().to_string();
    let r = http()
        .post(format!("{bot_url}/discord/interactions"))
        .header("x-signature-ed25519", sign(&key(), &ts, &body))
        .header("x-signature-timestamp", &ts)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_private(&answer);
    let link = link_in(&content(&answer), &server.base);

    // The server holds ciphertext with this bot's webhook; the bot encrypted it.
    let info = server.client().get(link.id).await.unwrap();
    assert!(
        info.webhook_url
            .unwrap()
            .starts_with(&format!("{bot_url}/discord/seecret-events?notify=discord"))
    );
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"remote-secret-value"
    );

    // The server's signed webhook reaches the bot, which DMs the sender.
    let viewed = eventually(T, || async {
        discord
            .calls_to(&format!(
                "/api/v10/channels/{}/messages",
                dm_channel(SENDER)
            ))
            .into_iter()
            .filter_map(|c| c.json()["content"].as_str().map(String::from))
            .find(|t| t.contains("was viewed"))
    })
    .await
    .expect("the viewed DM");
    assert!(viewed.contains("was viewed (1 of 1"), "{viewed}");

    // Forged events are refused.
    let r = http()
        .post(format!(
            "{bot_url}/discord/seecret-events?notify=discord:{SENDER}"
        ))
        .header("webhook-id", "evt_x")
        .header("webhook-timestamp", now().to_string())
        .header("webhook-signature", "v1,AAAA")
        .body(r#"{"type":"seecret.viewed"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
