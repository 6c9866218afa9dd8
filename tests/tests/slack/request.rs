//! `/request-secret @alice [note]`: who is asked comes from the mention Slack sends; without one
//! (or with a note too long) the asker is told why and nothing is requested or posted.

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
}
