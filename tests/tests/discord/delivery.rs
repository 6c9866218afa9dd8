//! Durable delivery (a link the sender must keep also reaches them by DM, since Discord drops
//! ephemeral messages on a reload), the per-server setting that turns it off, and user installs
//! (the command used where the app is installed to the person, not the server).

use super::*;

/// `/share-secret-settings` in the test guild by a member with `permissions`.
fn settings(permissions: &str, dm_copy: Option<bool>) -> Value {
    let mut i = base(
        2,
        json!({
            "id": "1500000000000000006", "name": "share-secret-settings", "type": 1,
            "guild_id": GUILD_ID,
            "options": dm_copy.map(|b| vec![json!({"name": "dm-copy", "type": 5, "value": b})]).unwrap_or_default()
        }),
    );
    i["member"]["permissions"] = permissions.into();
    i
}

/// Permission bits: MANAGE_GUILD (1 << 5) and SEND_MESSAGES (1 << 11).
const MANAGE_GUILD: &str = "32";
const SEND_MESSAGES: &str = "2048";

#[tokio::test]
async fn the_senders_link_also_reaches_them_by_dm_and_the_ephemeral_reply_points_there() {
    let s = setup().await;
    let (status, answer) = s
        .post(&submit("seecret_share", "keep-me-s3cret", "1h", "1", ""))
        .await;
    assert_eq!(status, 200);
    assert_private(&answer);
    let text = content(&answer);
    let link = link_in(&text, &s.server.base);
    // The copy: the same link, in the DM channel the reply links to, previews off.
    let copies = dms_saying(&s, SENDER, "Your one-time link");
    assert_eq!(copies.len(), 1, "{:?}", s.discord.calls());
    assert_eq!(link_in(&copies[0], &s.server.base).id, link.id);
    let dm = s.messages_to(SENDER)[0].json();
    assert_eq!(dm["flags"], 4, "{dm}");
    assert!(
        text.contains(&format!(
            "in [your DMs with me](https://discord.com/channels/@me/{})",
            dm_channel(SENDER)
        )),
        "{text}"
    );
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"keep-me-s3cret"
    );

    // With a recipient, the sender keeps the confirmation (never the recipient's link).
    let (_, answer) = s
        .post(&submit(
            &format!("seecret_share:{RECIPIENT}"),
            "for-bob",
            "1h",
            "1",
            "",
        ))
        .await;
    let text = content(&answer);
    assert!(text.contains("This confirmation is also in"), "{text}");
    let confirmations = dms_saying(&s, SENDER, "Sent a one-time link to");
    assert_eq!(confirmations.len(), 1);
    assert!(!confirmations[0].contains("/s/"), "{}", confirmations[0]);
}

#[tokio::test]
async fn a_sender_who_refuses_dms_keeps_the_link_in_the_reply_and_is_told_so() {
    let s = setup().await;
    let normal = discord_answers();
    // What Discord answers when the user does not accept DMs from the bot.
    let sender_channel = format!("/channels/{}/messages", dm_channel(SENDER));
    s.discord.answer_with(Arc::new(move |c: &Call| {
        if c.path.ends_with(&sender_channel) {
            (
                403,
                json!({"code": 50007, "message": "Cannot send messages to this user"}),
            )
        } else {
            normal(c)
        }
    }));
    let (_, answer) = s
        .post(&submit("seecret_share", "still-here", "1h", "1", ""))
        .await;
    assert_private(&answer);
    let text = content(&answer);
    assert!(text.contains("I could not send you a copy"), "{text}");
    assert!(text.contains("Privacy Settings"), "{text}");
    // The link reached the sender in the reply: it is not burnt.
    let link = link_in(&text, &s.server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"still-here"
    );
}

#[tokio::test]
async fn a_server_manager_turns_dm_copies_off_for_the_server_and_it_outlives_a_restart() {
    let s = setup().await;
    // A member who cannot manage the server is refused (Discord hides the command from them
    // unless an admin grants it; the bot checks anyway).
    let (_, answer) = s.post(&settings(SEND_MESSAGES, Some(false))).await;
    assert_private(&answer);
    assert!(
        content(&answer).contains("Only members who can manage"),
        "{answer}"
    );
    let (_, answer) = s.post(&settings(MANAGE_GUILD, None)).await;
    assert!(
        content(&answer).contains("**on** (the bot's default)"),
        "{answer}"
    );
    let (_, answer) = s.post(&settings(MANAGE_GUILD, Some(false))).await;
    assert!(content(&answer).contains("no longer"), "{answer}");

    // Restarted on the same database, the server keeps the choice.
    let Setup { server, discord } = s;
    let (_tmp, data_dir) = server.into_data_dir();
    let mut opts = ServerOptions::default()
        .env("SEECRET_DISCORD_PUBLIC_KEY", public_key_hex())
        .env("SEECRET_DISCORD_APPLICATION_ID", APP_ID)
        .env("SEECRET_DISCORD_TOKEN", BOT_TOKEN)
        .env("SEECRET_DISCORD_GUILD_ID", GUILD_ID)
        .env("SEECRET_DISCORD_API_URL", &discord.base);
    opts.data_dir = Some(data_dir);
    let server = tokio::task::spawn_blocking(move || Server::start_with(opts))
        .await
        .unwrap();
    let s = Setup { server, discord };
    let (_, answer) = s.post(&settings(MANAGE_GUILD, None)).await;
    assert!(
        content(&answer).contains("**off** (chosen for this server)"),
        "{answer}"
    );
    s.discord.clear();
    let (_, answer) = s
        .post(&submit("seecret_share", "no-copy", "1h", "1", ""))
        .await;
    let text = content(&answer);
    assert!(
        text.contains("/s/") && !text.contains("DMs with me"),
        "{text}"
    );
    assert!(s.messages_to(SENDER).is_empty(), "{:?}", s.discord.calls());

    // Outside a server (a DM with the bot) the bot's default applies: the copy is sent.
    let mut in_dm = submit("seecret_share", "from-a-dm", "1h", "1", "");
    let o = in_dm.as_object_mut().unwrap();
    let member = o.remove("member").unwrap();
    o.remove("guild_id");
    o.insert("user".into(), member["user"].clone());
    o.insert("context".into(), 1.into());
    o.insert("authorizing_integration_owners".into(), json!({"0": "0"}));
    let (_, answer) = s.post(&in_dm).await;
    assert!(content(&answer).contains("DMs with me"), "{answer}");
    assert_eq!(dms_saying(&s, SENDER, "Your one-time link").len(), 1);
}

#[tokio::test]
async fn without_a_bot_token_the_reply_says_plainly_that_no_copy_can_be_sent() {
    let discord = FakeApi::start(discord_answers_for(None)).await;
    let opts = ServerOptions::default()
        .env("SEECRET_DISCORD_PUBLIC_KEY", public_key_hex())
        .env("SEECRET_DISCORD_APPLICATION_ID", APP_ID)
        .env("SEECRET_DISCORD_API_URL", &discord.base);
    let server = tokio::task::spawn_blocking(move || Server::start_with(opts))
        .await
        .unwrap();
    let s = Setup { server, discord };
    let (_, answer) = s
        .post(&submit("seecret_share", "tokenless", "1h", "1", ""))
        .await;
    assert_private(&answer);
    let text = content(&answer);
    assert!(text.contains("runs without a bot token"), "{text}");
    let link = link_in(&text, &s.server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"tokenless"
    );
    assert!(s.discord.calls().is_empty(), "{:?}", s.discord.calls());
}

#[tokio::test]
async fn a_user_install_shares_from_a_group_dm_where_the_user_is_not_a_member() {
    let s = setup().await;
    // What Discord sends when someone who installed the app to their account runs the command
    // in a group DM: no guild, no member, the user, context 2 (PRIVATE_CHANNEL), and only the
    // user installation among the authorizing owners.
    let private = |mut i: Value| {
        let o = i.as_object_mut().unwrap();
        let member = o.remove("member").unwrap();
        o.remove("guild_id");
        o.remove("guild_locale");
        o.insert("user".into(), member["user"].clone());
        o.insert("context".into(), 2.into());
        o.insert(
            "authorizing_integration_owners".into(),
            json!({"1": SENDER}),
        );
        o.insert(
            "channel".into(),
            json!({"id": "1400000000000000004", "type": 3, "name": null, "recipients": [
                {"id": "2002", "username": "bob", "discriminator": "0"}
            ]}),
        );
        o.insert("app_permissions".into(), "1126317904039936".into());
        i
    };
    let mut cmd = private(command(json!([])));
    cmd["data"].as_object_mut().unwrap().remove("guild_id");
    let (status, modal) = s.post(&cmd).await;
    assert_eq!(status, 200);
    assert_eq!(modal["type"], 9, "{modal}");
    let (_, answer) = s
        .post(&private(submit(
            "seecret_share",
            "from-a-group-dm",
            "1h",
            "1",
            "",
        )))
        .await;
    assert_private(&answer);
    let text = content(&answer);
    let link = link_in(&text, &s.server.base);
    assert!(text.contains("DMs with me"), "{text}");
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"from-a-group-dm"
    );
    // The settings belong to servers: from a DM the command says so and changes nothing.
    let mut set = private(settings(MANAGE_GUILD, Some(false)));
    set["data"].as_object_mut().unwrap().remove("guild_id");
    let (_, answer) = s.post(&set).await;
    assert!(content(&answer).contains("belong to a server"), "{answer}");
}
