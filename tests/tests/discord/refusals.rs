//! What the bot refuses, and what it does when Discord refuses it.

use super::*;

#[tokio::test]
async fn requests_not_signed_by_discord_are_refused_and_create_nothing() {
    let s = setup().await;
    let body = serde_json::to_vec(&command(json!([
        {"name": "content", "type": 3, "value": "forged-secret"}
    ])))
    .unwrap();
    let ts = now().to_string();
    // Signed by another key.
    let other = SigningKey::from_bytes(&[8u8; 32]);
    let r = s
        .post_raw(body.clone(), &ts, &sign(&other, &ts, &body))
        .await;
    assert_eq!(r.status(), 401);
    // Body changed after signing.
    let good = sign(&key(), &ts, &body);
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("forged-secret", "forged-secreT")
        .into_bytes();
    assert_eq!(s.post_raw(tampered, &ts, &good).await.status(), 401);
    // Timestamp changed after signing.
    let later = (now() + 1).to_string();
    assert_eq!(s.post_raw(body.clone(), &later, &good).await.status(), 401);
    // Correctly signed, but six minutes old.
    let old = (now() - 360).to_string();
    let r = s
        .post_raw(body.clone(), &old, &sign(&key(), &old, &body))
        .await;
    assert_eq!(r.status(), 401);
    // No signature at all; a malformed one.
    let r = http()
        .post(format!("{}/discord/interactions", s.server.base))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(s.post_raw(body.clone(), &ts, "zz").await.status(), 401);
    // A PING with a bad signature (what Discord sends to test the endpoint) is refused too.
    let ping = br#"{"type":1}"#.to_vec();
    assert_eq!(s.post_raw(ping, &ts, &good).await.status(), 401);

    // A correctly signed request is answered once; the same bytes again are a replay.
    let inline = serde_json::to_vec(&json!({
        "id": "1300000000000000099", "type": 2, "application_id": APP_ID, "token": "t",
        "version": 1, "member": {"user": {"id": SENDER}},
        "data": {"name": "share-secret", "options": [{"name": "content", "type": 3, "value": "once-only"}]}
    }))
    .unwrap();
    let sig = sign(&key(), &ts, &inline);
    let refused_calls = |s: &Setup| -> Vec<String> {
        s.discord
            .calls()
            .iter()
            .filter(|c| !c.path.ends_with("/commands"))
            .map(|c| c.path.clone())
            .collect()
    };
    assert!(refused_calls(&s).is_empty(), "{:?}", refused_calls(&s));
    let first = s.post_raw(inline.clone(), &ts, &sig).await;
    assert_eq!(first.status(), 200);
    // The accepted one sent the sender a copy of the link by DM; nothing else may follow.
    s.discord.clear();
    assert_eq!(s.post_raw(inline, &ts, &sig).await.status(), 401);
    assert_eq!(s.secrets().await.len(), 1, "the replay created nothing");
    s.server
        .client()
        .delete(s.secrets().await[0].id)
        .await
        .unwrap();

    // Correctly signed but an interaction type the bot does not know: 400, said clearly.
    let (status, why) = s.post(&base(99, json!({}))).await;
    assert_eq!(status, 400);
    assert!(
        why.as_str()
            .unwrap()
            .contains("unknown interaction type 99"),
        "{why}"
    );
    let (status, _) = s
        .post(&base(3, json!({"custom_id": "x", "component_type": 2})))
        .await;
    assert_eq!(status, 400);

    assert!(
        s.secrets()
            .await
            .iter()
            .all(|i| i.status.as_str() == "deleted")
    );
    assert!(refused_calls(&s).is_empty(), "{:?}", refused_calls(&s));
}

#[tokio::test]
async fn content_as_an_option_skips_the_modal_and_warns_that_discord_sees_it() {
    let s = setup().await;
    let (status, answer) = s
        .post(&command(json!([
            {"name": "content", "type": 3, "value": "inline s3cr3t"},
            {"name": "views", "type": 4, "value": 3},
            {"name": "expiration", "type": 3, "value": "10m"}
        ])))
        .await;
    assert_eq!(status, 200);
    assert_private(&answer);
    let text = content(&answer);
    assert!(text.contains("Discord can see"), "{text}");
    let link = link_in(&text, &s.server.base);
    let info = s.server.client().get(link.id).await.unwrap();
    assert_eq!(info.views, 3);
    assert_eq!((info.expires_at - info.created_at).num_minutes(), 10);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"inline s3cr3t"
    );
}

#[tokio::test]
async fn invalid_forms_are_answered_ephemerally_and_create_nothing() {
    let s = setup().await;
    for (secret, exp, views, what) in [
        ("   ", "1h", "1", "Type the secret"),
        ("hunter3", "forever", "1", "Expires after"),
        ("hunter3", "1h", "0", "Views must be"),
        ("hunter3", "1h", "500", "Views must be"),
        ("hunter3", "1h", "many", "Views must be"),
    ] {
        let (status, answer) = s
            .post(&submit("seecret_share", secret, exp, views, ""))
            .await;
        assert_eq!(status, 200);
        assert_private(&answer);
        let t = content(&answer);
        assert!(t.contains(what) && t.contains("⚠️"), "{t}");
        assert!(!t.contains("hunter3"), "{t}");
    }
    let long = "y".repeat(3001);
    let (_, answer) = s.post(&submit("seecret_share", &long, "1h", "1", "")).await;
    assert!(content(&answer).contains("longer than 3000"), "{answer}");
    let (_, answer) = s
        .post(&command(json!([{"name": "views", "type": 4, "value": 11}])))
        .await;
    assert_private(&answer);
    assert!(content(&answer).contains("between 1 and 10"));
    assert!(s.secrets().await.is_empty());
}

#[tokio::test]
async fn a_link_discord_refuses_to_deliver_is_deleted_and_the_sender_told() {
    let s = setup().await;
    let normal = discord_answers();
    s.discord.answer_with(Arc::new(move |c: &Call| {
        if c.path.contains("/channels/") && c.path.ends_with("/messages") {
            (
                403,
                json!({"code": 50007, "message": "Cannot send messages to this user"}),
            )
        } else {
            normal(c)
        }
    }));
    let (status, answer) = s
        .post(&submit(
            &format!("seecret_share:{RECIPIENT}"),
            "orphan-me",
            "1h",
            "1",
            "",
        ))
        .await;
    assert_eq!(status, 200);
    assert_private(&answer);
    let t = content(&answer);
    assert!(
        t.contains("could not be sent") && t.contains("Cannot send messages to this user"),
        "{t}"
    );
    assert!(t.contains("deleted") && !t.contains("/s/"), "{t}");
    assert!(t.contains("pass the link on yourself"), "{t}");
    let deleted = eventually(T, || async {
        let list = s.secrets().await;
        (list.len() == 1 && list[0].status.as_str() == "deleted").then_some(())
    })
    .await;
    assert!(deleted.is_some(), "the undelivered secret is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_delivery_is_deferred_within_three_seconds_and_finished_by_editing_the_answer() {
    let s = setup().await;
    let normal = discord_answers();
    // Discord takes 3 s to post the DM: past the bot's budget.
    s.discord.answer_with(Arc::new(move |c: &Call| {
        if c.path.contains("/channels/") && c.path.ends_with("/messages") {
            // Off the worker, so the test's own requests keep moving meanwhile.
            tokio::task::block_in_place(|| std::thread::sleep(Duration::from_secs(3)));
        }
        normal(c)
    }));
    let started = std::time::Instant::now();
    let (status, answer) = s
        .post(&submit(
            &format!("seecret_share:{RECIPIENT}"),
            "slow-but-sure",
            "1h",
            "1",
            "",
        ))
        .await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(3), "answered in {took:?}");
    assert_eq!(answer["type"], 5, "deferred: {answer}");
    // A deferral may carry only EPHEMERAL: Discord refuses SUPPRESS_EMBEDS there.
    assert_eq!(answer["data"]["flags"], 64, "{answer}");
    eprintln!("deferred answer after {} ms", took.as_millis());

    // When the DM is through, the "thinking…" answer is replaced with the confirmation.
    let path = format!("/api/v10/webhooks/{APP_ID}/aW50ZXJhY3Rpb24tdG9rZW4/messages/@original");
    let edits = s.discord.wait_for(&path, 1, T).await;
    assert_eq!(edits.len(), 1, "{:?}", s.discord.calls());
    assert_eq!(edits[0].method, "PATCH");
    // The interaction webhook takes no Authorization header, even from a bot with a token.
    assert_eq!(edits[0].header("authorization"), None);
    assert_eq!(edits[0].json()["flags"], 4, "previews off in the edit");
    let t = edits[0].json()["content"].as_str().unwrap().to_string();
    assert!(
        t.contains(&format!("Sent a one-time link to <@{RECIPIENT}>")),
        "{t}"
    );
    let dm = s.messages_to(RECIPIENT)[0].json();
    let link = link_in(dm["content"].as_str().unwrap(), &s.server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"slow-but-sure"
    );
}

#[tokio::test]
async fn discord_users_are_rate_limited() {
    let discord = FakeApi::start(discord_answers()).await;
    let opts = ServerOptions::default()
        .env("SEECRET_DISCORD_PUBLIC_KEY", public_key_hex())
        .env("SEECRET_DISCORD_APPLICATION_ID", APP_ID)
        .env("SEECRET_DISCORD_API_URL", &discord.base)
        .env("SEECRET_DISCORD_RATE_LIMIT", "2");
    let server = tokio::task::spawn_blocking(move || Server::start_with(opts))
        .await
        .unwrap();
    let s = Setup { server, discord };
    let inline =
        |n: usize| command(json!([{"name": "content", "type": 3, "value": format!("rl-{n}")}]));
    for n in 0..2 {
        let (_, a) = s.post(&inline(n)).await;
        assert!(content(&a).contains("/s/"), "{a}");
    }
    let (_, a) = s.post(&inline(2)).await;
    assert_private(&a);
    let t = content(&a);
    assert!(t.contains("too fast") && !t.contains("/s/"), "{t}");
    assert_eq!(s.secrets().await.len(), 2);
    // Without a bot token nothing is registered, and the server still answers.
    assert!(s.discord.calls().is_empty(), "{:?}", s.discord.calls());
}
