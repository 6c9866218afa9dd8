//! Durable delivery: a link the sender must keep also reaches them by DM, since replies only they
//! see vanish on reload and on their other devices; per workspace, with the server's default.

use super::*;

/// Slack's Web API, except that posting to the sender's DM fails with `error`.
fn dms_to_sender_fail(error: &'static str) -> seecret_tests::Answer {
    let normal = slack_answers();
    Arc::new(move |c: &Call| {
        if c.path.ends_with("chat.postMessage") && c.json()["channel"] == "D-U1" {
            (200, json!({"ok": false, "error": error}))
        } else {
            normal(c)
        }
    })
}

async fn status_of(s: &Setup, link: &Link) -> String {
    s.server
        .client()
        .get(link.id)
        .await
        .unwrap()
        .status
        .as_str()
        .to_string()
}

#[tokio::test]
async fn quick_mode_answers_with_the_link_and_a_copy_goes_to_the_senders_dms() {
    let s = setup(&[]).await;
    let r = s.command("T1", "U1", "quick-durable", "qd").await;
    let a: Value = r.json().await.unwrap();
    let text = a["text"].as_str().unwrap();
    let link = link_in(text, &s.server.base);
    assert!(
        text.contains("A copy is in your DMs from <@UBOT>"),
        "{text}"
    );
    let copy = &s.slack.wait_for("/api/chat.postMessage", 1, T).await[0];
    assert_eq!(copy.json()["channel"], "D-U1");
    assert_eq!(link_in(&message_text(copy), &s.server.base).id, link.id);
    assert_eq!(
        s.slack.calls_to("/api/conversations.open")[0].json()["users"],
        "U1"
    );
}

#[tokio::test]
async fn when_the_dm_copy_fails_the_reply_still_carries_the_link_says_so_and_nothing_is_burnt() {
    let s = setup(&[]).await;
    // Slack refuses to post in the app's DM (e.g. an older manifest without the Messages tab).
    s.slack
        .answer_with(dms_to_sender_fail("messages_tab_disabled"));
    let r = s.command("T1", "U1", "kept-anyway", "df").await;
    let a: Value = r.json().await.unwrap();
    let text = a["text"].as_str().unwrap();
    assert!(
        text.contains(":warning: Sending you a copy by DM failed")
            && text.contains("messages_tab_disabled")
            && text.contains("copy the link now"),
        "{text}"
    );
    let link = link_in(text, &s.server.base);
    assert_eq!(status_of(&s, &link).await, "active");

    // The same through the form: the reply carries the link, which is kept.
    let metadata = s.open_form("df2").await;
    s.submit("U1", values("kept-too", "1h", "1", None), &metadata)
        .await;
    let reply = s.slack.wait_for("/hooks/df2", 1, T).await[0].json();
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains("Sending you a copy by DM failed"), "{text}");
    let link = link_in(text, &s.server.base);
    assert_eq!(status_of(&s, &link).await, "active");
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"kept-too"
    );
}

#[tokio::test]
async fn a_link_whose_reply_expired_is_kept_when_its_copy_reached_the_dms() {
    let s = setup(&[]).await;
    // The form was opened long ago: its `response_url` has expired (Slack answers 404).
    let metadata = s.open_form("expired-1").await;
    s.submit("U1", values("only-in-dm", "1h", "1", None), &metadata)
        .await;
    let copy = &s.slack.wait_for("/api/chat.postMessage", 1, T).await[0];
    assert_eq!(copy.json()["channel"], "D-U1");
    let link = link_in(&message_text(copy), &s.server.base);
    let stale = s.slack.wait_for("/hooks/expired-1", 1, T).await;
    assert_eq!(stale.len(), 1, "the reply was tried");
    assert_eq!(status_of(&s, &link).await, "active");
    assert_eq!(
        Client::reveal_link(&link, None).await.unwrap().expose(),
        b"only-in-dm"
    );
}

#[tokio::test]
async fn a_link_that_reached_the_sender_nowhere_is_burnt() {
    let s = setup(&[]).await;
    s.slack.answer_with(dms_to_sender_fail("channel_not_found"));
    let metadata = s.open_form("expired-2").await;
    s.submit("U1", values("lost-link", "1h", "1", None), &metadata)
        .await;
    let burnt = eventually(T, || async {
        let list = s.secrets().await;
        (list.len() == 1 && list[0].status.as_str() == "deleted").then_some(())
    })
    .await;
    assert!(burnt.is_some(), "{:?}", s.secrets().await);
}

/// The text of the settings the command shows, or of the reply to a change.
async fn settings(s: &Setup, team: &str, user: &str, args: &str, resp: &str) -> String {
    let text = format!("settings {args}");
    let r = s.command(team, user, text.trim(), resp).await;
    let body = r.text().await.unwrap();
    if !body.is_empty() {
        let v: Value = serde_json::from_str(&body).unwrap();
        return v["text"].as_str().unwrap().to_string();
    }
    // A change is answered through `response_url`, after the acknowledgement.
    let told = s.slack.wait_for(&format!("/hooks/{resp}"), 1, T).await;
    told[0].json()["text"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn link_dms_follow_the_servers_default_unless_the_workspaces_admins_chose() {
    let s = setup(&[("SEECRET_SLACK_DM_LINKS", "false")]).await;
    let quick = |team: &'static str, resp: &'static str| {
        let s = &s;
        async move {
            s.slack.clear();
            let r = s.command(team, "U1", "dm-or-not", resp).await;
            let a: Value = r.json().await.unwrap();
            let text = a["text"].as_str().unwrap().to_string();
            assert!(text.contains("/s/"), "{text}");
            let posted = s.slack.calls_to("/api/chat.postMessage").len();
            (posted, text)
        }
    };
    // The server's default: off.
    let (posted, text) = quick("T1", "q1").await;
    assert_eq!(posted, 0);
    assert!(!text.contains("DMs"), "{text}");
    let shown = settings(&s, "T1", "U1", "", "s1").await;
    assert!(
        shown.contains("Link DMs: *off* (the server's default)"),
        "{shown}"
    );

    // Someone who is not an admin cannot change it.
    let refused = settings(&s, "T1", "U1", "dm-links on", "s2").await;
    assert!(
        refused.contains("Only this workspace's admins"),
        "{refused}"
    );
    let asked = s.slack.calls_to("/api/users.info");
    assert_eq!(asked.last().unwrap().query, "user=U1");
    let (posted, _) = quick("T1", "q2").await;
    assert_eq!(posted, 0);

    // An admin turns it on for this workspace only.
    let changed = settings(&s, "T1", "UADMIN1", "dm-links on", "s3").await;
    assert!(
        changed.contains("Link DMs: *on* (chosen by this workspace's admins)"),
        "{changed}"
    );
    let (posted, text) = quick("T1", "q3").await;
    assert_eq!(posted, 1);
    assert!(text.contains("A copy is in your DMs"), "{text}");
    let (posted, _) = quick("T2", "q4").await;
    assert_eq!(posted, 0, "another workspace keeps the server's default");

    // Back to the default.
    let reset = settings(&s, "T1", "UADMIN1", "dm-links default", "s4").await;
    assert!(reset.contains("(the server's default)"), "{reset}");
    let (posted, _) = quick("T1", "q5").await;
    assert_eq!(posted, 0);
    let unknown = settings(&s, "T1", "UADMIN1", "colour blue", "s5").await;
    assert!(unknown.contains("Unknown setting"), "{unknown}");
}
