//! The Events API endpoint, the App Home tab (recent shares, Burn, "Share a secret") and the
//! global shortcut, driven as Slack drives them.

use super::*;

impl Setup {
    /// Posts a signed Events API JSON body, with Slack's retry headers when `retry` is given.
    async fn event(&self, body: &Value, retry: Option<(u32, &str)>) -> Reply {
        let body = body.to_string();
        let ts = now();
        let mut req = http()
            .post(format!("{}/slack/events", self.server.base))
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SIGNING, ts, &body));
        if let Some((n, reason)) = retry {
            req = req
                .header("x-slack-retry-num", n.to_string())
                .header("x-slack-retry-reason", reason);
        }
        let r = req.body(body).send().await.unwrap();
        Reply {
            status: r.status(),
            body: r.text().await.unwrap(),
        }
    }

    /// Posts a signed interaction payload (`payload=<json>`), as Slack does.
    async fn interact(&self, payload: &Value) -> Reply {
        let body = form(&[("payload", &payload.to_string())]);
        self.post_signed("/slack/interactions", &body, now()).await
    }
}

/// `app_home_opened` as Slack sends it for `user` of team `team` opening the Home tab.
fn home_opened(event_id: &str, team: &str, user: &str) -> Value {
    json!({
        "token": "verification-token", "team_id": team, "api_app_id": "A1",
        "event": {"type": "app_home_opened", "user": user, "channel": format!("D-{user}"),
            "tab": "home", "event_ts": "1515449522000016"},
        "type": "event_callback", "event_id": event_id, "event_time": 1515449522,
        "authorizations": [{"enterprise_id": null, "team_id": team, "user_id": "UBOT",
            "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false
    })
}

/// A click on a button of `user`'s App Home (`block_actions`), as Slack sends it.
fn home_click(team: &str, user: &str, action_id: &str, value: Option<&str>) -> Value {
    let mut action = json!({"type": "button", "action_id": action_id, "block_id": "b",
        "text": {"type": "plain_text", "text": "x"}, "action_ts": "1.2"});
    if let Some(v) = value {
        action["value"] = json!(v);
    }
    json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": team},
        "api_app_id": "A1", "token": "verification-token",
        "container": {"type": "view", "view_id": "V1"},
        "trigger_id": "12466734323.1395872398.7d3ab1b5b8dbc23a9ad4d8b4bc2a1c2c",
        "team": {"id": team, "domain": "acme"}, "enterprise": null,
        "is_enterprise_install": false,
        "view": {"id": "V1", "team_id": team, "type": "home", "blocks": [], "hash": "h"},
        "actions": [action]
    })
}

/// The home views published for `user`, oldest first.
fn homes_of(s: &Setup, user: &str) -> Vec<Value> {
    s.slack
        .calls_to("/api/views.publish")
        .iter()
        .map(|c| c.json())
        .filter(|b| b["user_id"] == user)
        .map(|b| b["view"].clone())
        .collect()
}

async fn wait_home(s: &Setup, user: &str, n: usize) -> Value {
    let got = eventually(T, || async {
        let homes = homes_of(s, user);
        (homes.len() >= n).then(|| homes[n - 1].clone())
    })
    .await;
    got.unwrap_or_else(|| panic!("no home view #{n} for {user}: {:?}", s.slack.calls()))
}

/// The share blocks of a home view: (text, the Burn button's value).
fn shares_in(view: &Value) -> Vec<(String, Option<String>)> {
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| {
            b["block_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("share-"))
        })
        .map(|b| {
            (
                b["text"]["text"].as_str().unwrap().to_string(),
                b["accessory"]["value"].as_str().map(String::from),
            )
        })
        .collect()
}

async fn quick_link(s: &Setup, team: &str, user: &str, text: &str) -> Link {
    let r = s.command(team, user, text, "home").await;
    let a: Value = r.json().await.unwrap();
    link_in(a["text"].as_str().unwrap(), &s.server.base)
}

#[tokio::test]
async fn the_events_url_answers_slacks_url_verification_and_refuses_unsigned_requests() {
    let s = setup(&[]).await;
    // What Slack sends when the request URL is saved in the app's settings.
    let challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";
    let check = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge,
        "type": "url_verification"});
    let r = s.event(&check, None).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"challenge": challenge}));
    let r = http()
        .post(format!("{}/slack/events", s.server.base))
        .header("content-type", "application/json")
        .body(check.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let forged = home_opened("EvForged", "T1", "U1").to_string();
    let t = now();
    let r = http()
        .post(format!("{}/slack/events", s.server.base))
        .header("x-slack-request-timestamp", t.to_string())
        .header("x-slack-signature", sign("not-the-secret", t, &forged))
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(s.slack.calls().is_empty());
}

#[tokio::test]
async fn the_home_tab_lists_the_users_recent_shares_with_their_status_and_never_a_link() {
    let s = setup(&[
        ("SEECRET_MIN_EXPIRATION", "1s"),
        ("SEECRET_SWEEP_INTERVAL", "100ms"),
    ])
    .await;
    let waiting = quick_link(&s, "T1", "U1", "--views 2 waiting-one").await;
    let viewed = quick_link(&s, "T1", "U1", "--views 3 viewed-one").await;
    Client::reveal_link(&viewed, None).await.unwrap();
    let consumed = quick_link(&s, "T1", "U1", "consumed-one").await;
    Client::reveal_link(&consumed, None).await.unwrap();
    let expiring = quick_link(&s, "T1", "U1", "--expires 1s expiring-one").await;
    // Someone else's, and the same user id in another workspace: never listed for U1 of T1.
    let others = quick_link(&s, "T1", "U2", "not-yours").await;
    let elsewhere = quick_link(&s, "T2", "U1", "other-workspace").await;
    let expired = eventually(T, || async {
        let info = s.server.client().get(expiring.id).await.unwrap();
        (info.status.as_str() == "expired").then_some(())
    })
    .await;
    assert!(expired.is_some());

    let r = s.event(&home_opened("Ev1", "T1", "U1"), None).await;
    assert_eq!(r.status(), 200);
    let publish = &s.slack.wait_for("/api/views.publish", 1, T).await[0];
    assert_eq!(
        publish.header("authorization"),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
    let view = wait_home(&s, "U1", 1).await;
    assert_eq!(view["type"], "home");
    let buttons: Vec<&str> = view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["accessory"]["action_id"].as_str())
        .collect();
    assert!(buttons.contains(&"share_secret"), "{view}");
    let shares = shares_in(&view);
    let text_of = |link: &Link| {
        let id = link.id.to_string();
        view["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["block_id"] == format!("share-{id}"))
            .map(|b| {
                (
                    b["text"]["text"].as_str().unwrap().to_string(),
                    b["accessory"]["value"].as_str().map(String::from),
                )
            })
            .unwrap_or_else(|| panic!("{id} not listed: {view}"))
    };
    assert_eq!(shares.len(), 4, "{shares:?}");
    // Newest first.
    assert_eq!(shares[0], text_of(&expiring));
    let (t, burn) = text_of(&waiting);
    assert!(t.contains("waiting") && t.contains("For you"), "{t}");
    assert_eq!(
        burn,
        Some(waiting.id.to_string()),
        "a live share can be burnt"
    );
    let (t, burn) = text_of(&viewed);
    assert!(t.contains("viewed 1 of 3"), "{t}");
    assert_eq!(burn, Some(viewed.id.to_string()));
    let (t, burn) = text_of(&consumed);
    assert!(t.contains("consumed"), "{t}");
    assert_eq!(burn, None, "nothing left to burn");
    let (t, burn) = text_of(&expiring);
    assert!(t.contains("expired"), "{t}");
    assert_eq!(burn, None);
    let all = view.to_string();
    assert!(!all.contains("/s/"), "no link on the home tab: {all}");
    for not_mine in [&others, &elsewhere] {
        assert!(!all.contains(&not_mine.id.to_string()), "{all}");
    }
}

#[tokio::test]
async fn a_retried_event_is_acknowledged_and_never_published_twice() {
    let s = setup(&[]).await;
    quick_link(&s, "T1", "U1", "retried").await;
    let event = home_opened("EvRetried1", "T1", "U1");
    assert_eq!(s.event(&event, None).await.status(), 200);
    wait_home(&s, "U1", 1).await;
    // Slack thought the first delivery failed and sends it again, with the same event_id.
    let r = s.event(&event, Some((1, "http_timeout"))).await;
    assert_eq!(r.status(), 200, "a retry is acknowledged too");
    let r = s.event(&event, Some((2, "http_error"))).await;
    assert_eq!(r.status(), 200);
    // A later event is handled: once it is published, the retries would have been too.
    s.event(&home_opened("EvOther", "T1", "U3"), None).await;
    wait_home(&s, "U3", 1).await;
    assert_eq!(homes_of(&s, "U1").len(), 1, "the retries published nothing");
    // A first delivery that arrives as a retry (the original never reached us) is handled.
    s.event(
        &home_opened("EvLost", "T1", "U4"),
        Some((1, "http_timeout")),
    )
    .await;
    wait_home(&s, "U4", 1).await;
    // The Messages tab opening publishes nothing.
    let mut messages = home_opened("EvMessages", "T1", "U5");
    messages["event"]["tab"] = json!("messages");
    assert_eq!(s.event(&messages, None).await.status(), 200);
}

#[tokio::test]
async fn burn_on_the_home_tab_deletes_the_share_and_republishes() {
    let s = setup(&[]).await;
    let link = quick_link(&s, "T1", "U1", "burn-me").await;
    s.event(&home_opened("EvB1", "T1", "U1"), None).await;
    let before = wait_home(&s, "U1", 1).await;
    assert_eq!(shares_in(&before)[0].1, Some(link.id.to_string()));

    let id = link.id.to_string();
    let r = s.interact(&home_click("T1", "U1", "burn", Some(&id))).await;
    assert_eq!(r.status(), 200);
    let after = wait_home(&s, "U1", 2).await;
    assert!(
        after
            .to_string()
            .contains("Burnt: its link no longer opens"),
        "{after}"
    );
    let (t, burn) = &shares_in(&after)[0];
    assert!(t.contains("burnt"), "{t}");
    assert_eq!(burn, &None);
    let gone = Client::reveal_link(&link, None).await.unwrap_err();
    assert_eq!(gone.status(), Some(410));
}

#[tokio::test]
async fn a_forged_burn_for_someone_elses_share_burns_nothing() {
    let s = setup(&[]).await;
    let alices = quick_link(&s, "T1", "U1", "alices-secret").await;
    let id = alices.id.to_string();
    // U2 (or U1's id in another workspace) sends a signed click naming U1's secret.
    for (team, user) in [("T1", "U2"), ("T2", "U1")] {
        let r = s.interact(&home_click(team, user, "burn", Some(&id))).await;
        assert_eq!(r.status(), 200);
        let home = wait_home(&s, user, 1).await;
        assert!(
            home.to_string()
                .contains("Not burnt: that is not a share of yours"),
            "{home}"
        );
        assert!(shares_in(&home).is_empty(), "{home}");
    }
    // Nonsense is refused the same way.
    s.interact(&home_click("T1", "U3", "burn", Some("not-an-id")))
        .await;
    wait_home(&s, "U3", 1).await;
    let info = s.server.client().get(alices.id).await.unwrap();
    assert_eq!(info.status.as_str(), "active");
    assert_eq!(
        Client::reveal_link(&alices, None).await.unwrap().expose(),
        b"alices-secret"
    );
}

#[tokio::test]
async fn the_global_shortcut_and_the_home_button_open_the_form_and_the_link_comes_by_dm() {
    let s = setup(&[]).await;
    // The global shortcut "Share a secret", as Slack sends it to the interactivity URL.
    let shortcut = json!({
        "type": "shortcut", "token": "verification-token", "action_ts": "1581106241.371594",
        "team": {"id": "T1", "domain": "acme"},
        "user": {"id": "U1", "username": "alice", "team_id": "T1"},
        "is_enterprise_install": false, "enterprise": null,
        "callback_id": "share_secret",
        "trigger_id": "944799105734.773906753841.38b5894552bdd4a780554ee59d1f3bbb"
    });
    let r = s.interact(&shortcut).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    let opened = s.slack.wait_for("/api/views.open", 1, T).await;
    let req = opened[0].json();
    assert_eq!(
        req["trigger_id"],
        "944799105734.773906753841.38b5894552bdd4a780554ee59d1f3bbb"
    );
    assert_eq!(req["view"]["callback_id"], "seecret_share");
    // The home tab's button opens the same form.
    s.interact(&home_click("T1", "U1", "share_secret", None))
        .await;
    let opened = s.slack.wait_for("/api/views.open", 2, T).await;
    assert_eq!(opened[1].json()["view"], req["view"]);

    // Submitted: there is no reply to carry the link, so it comes by DM.
    let metadata = req["view"]["private_metadata"]
        .as_str()
        .unwrap()
        .to_string();
    s.submit(
        "U1",
        values("from-the-shortcut", "1h", "1", None),
        &metadata,
    )
    .await;
    let dm = &s.slack.wait_for("/api/chat.postMessage", 1, T).await[0];
    assert_eq!(dm.json()["channel"], "D-U1");
    let link = link_in(&message_text(dm), &s.server.base);
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"from-the-shortcut"
    );
}
