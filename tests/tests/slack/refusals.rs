//! What the app refuses, and what it does when Slack refuses it.

use super::*;

#[tokio::test]
async fn requests_not_signed_by_slack_are_refused_and_create_nothing() {
    let s = setup(&[]).await;
    let body = form(&[
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/share-secret"),
        ("text", "forged-secret"),
        ("response_url", &format!("{}/hooks/x", s.slack.base)),
        ("trigger_id", "1.2.3"),
    ]);
    let url = format!("{}/slack/commands", s.server.base);
    let send = |ts: i64, sig: String, body: String| {
        let url = url.clone();
        async move {
            http()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", ts.to_string())
                .header("x-slack-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let t = now();
    // Wrong secret.
    assert_eq!(
        send(t, sign("not-the-secret", t, &body), body.clone()).await,
        401
    );
    // Body changed after signing.
    let tampered = body.replace("forged-secret", "forged-secreT");
    assert_eq!(send(t, sign(SIGNING, t, &body), tampered).await, 401);
    // Stale timestamp, correctly signed.
    let old = t - 301;
    assert_eq!(
        send(old, sign(SIGNING, old, &body), body.clone()).await,
        401
    );
    // No signature at all.
    let r = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Interactions are checked the same way.
    let payload = form(&[("payload", r#"{"type":"view_submission"}"#)]);
    let r = http()
        .post(format!("{}/slack/interactions", s.server.base))
        .header("x-slack-request-timestamp", t.to_string())
        .header("x-slack-signature", sign("nope", t, &payload))
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Signed but missing required fields: 400.
    let partial = form(&[
        ("team_id", "T1"),
        ("user_id", "U1"),
        ("text", "forged-secret"),
    ]);
    assert_eq!(
        s.post_signed("/slack/commands", &partial, now())
            .await
            .status(),
        400
    );
    assert!(s.secrets().await.is_empty());
    assert!(s.slack.calls().is_empty(), "{:?}", s.slack.calls());
}

#[tokio::test]
async fn a_link_that_cannot_be_delivered_is_deleted_and_the_sender_told() {
    let s = setup(&[]).await;
    let metadata = s.open_form("fail1").await;
    // Slack now refuses the token for posting.
    let normal = slack_answers();
    s.slack.answer_with(Arc::new(move |c: &Call| {
        if c.path.ends_with("chat.postMessage") {
            (200, json!({"ok": false, "error": "invalid_auth"}))
        } else {
            normal(c)
        }
    }));
    let r = s
        .submit("U1", values("orphan-me", "1h", "1", Some("U2")), &metadata)
        .await;
    assert_eq!(r.status(), 200);
    let told = s.slack.wait_for("/hooks/fail1", 1, T).await;
    let t = told[0].json()["text"].as_str().unwrap().to_string();
    assert!(
        t.contains("could not be delivered") && t.contains("invalid_auth"),
        "{t}"
    );
    assert!(!t.contains("/s/"), "{t}");
    let deleted = eventually(T, || async {
        let list = s.secrets().await;
        (list.len() == 1 && list[0].status.as_str() == "deleted").then_some(())
    })
    .await;
    assert!(deleted.is_some(), "the undelivered secret is deleted");
}

/// A browser that does not follow redirects, to read where each step sends it.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An admin opening `/slack/install{query}`: the answer, and the query of Slack's authorize URL
/// it redirects to.
async fn install(
    s: &Setup,
    query: &str,
) -> (reqwest::Response, std::collections::HashMap<String, String>) {
    let r = browser()
        .get(format!("{}/slack/install{query}", s.server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let to = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let q = to.query_pairs().into_owned().collect();
    (r, q)
}

/// Slack sending the browser back to the OAuth callback with `query`, and `state` in its cookie.
async fn callback(s: &Setup, query: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = browser().get(format!("{}/slack/oauth/callback?{query}", s.server.base));
    if let Some(state) = cookie {
        req = req.header("cookie", format!("seecret_slack_state={state}"));
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn oauth_install_checks_state_and_keeps_the_token_sealed() {
    let s = setup(OAUTH).await;
    let (r, q) = install(&s, "").await;
    assert_eq!(q["client_id"], "111.222");
    assert_eq!(q["scope"], "commands,chat:write,im:write,users:read");
    assert_eq!(
        q["redirect_uri"],
        format!("{}/slack/oauth/callback", s.server.base)
    );
    let state = q["state"].clone();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains(&state) && cookie.contains("HttpOnly"));

    // A callback without the browser's cookie (a forged install link) is refused.
    let code = format!("code=c0de&state={state}");
    assert_eq!(callback(&s, &code, None).await.status(), 400);
    assert!(s.slack.calls_to("/api/oauth.v2.access").is_empty());
    let other = callback(&s, "code=c0de&state=other", Some(&state)).await;
    assert_eq!(other.status(), 400);

    // The real browser comes back with its cookie.
    let r = callback(&s, &code, Some(&state)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("installed in Nine"));
    let access = s.slack.calls_to("/api/oauth.v2.access");
    assert_eq!(access.len(), 1);
    assert!(access[0].query.contains("code=c0de"), "{}", access[0].query);

    // The installed workspace's token is used for it, and stored only sealed.
    s.command("T9", "U9", "", "inst").await;
    let opened = s.slack.wait_for("/api/views.open", 1, T).await;
    assert_eq!(
        opened[0].header("authorization"),
        Some("Bearer xoxb-installed-token")
    );
    for (name, bytes) in seecret_tests::stored_bytes(&s.server) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("xoxb-installed-token"),
            "token in clear in {name}"
        );
    }
    // A workspace that did not install the app is told so.
    let r = s.command("T404", "U1", "", "none").await;
    let t = r.json().await.unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(t.contains("not installed"), "{t}");
}

#[tokio::test]
async fn slack_users_are_rate_limited() {
    let s = setup(&[("SEECRET_SLACK_RATE_LIMIT", "2")]).await;
    for i in 0..2 {
        let r = s.command("T1", "U1", &format!("limited-{i}"), "rl").await;
        let t = r.json().await.unwrap()["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(t.contains("/s/"), "{t}");
    }
    let r = s.command("T1", "U1", "limited-3", "rl").await;
    let t = r.json().await.unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(t.contains("too fast"), "{t}");
    // Another user is not affected.
    let r = s.command("T1", "U7", "other-user", "rl").await;
    let t = r.json().await.unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(t.contains("/s/"), "{t}");
    assert_eq!(s.secrets().await.len(), 3);
}

#[tokio::test]
async fn slack_api_failures_are_explained_to_the_user() {
    let s = setup(&[]).await;
    s.slack.answer_with(Arc::new(|c: &Call| {
        if c.path.ends_with("views.open") {
            (200, json!({"ok": false, "error": "expired_trigger_id"}))
        } else {
            (200, json!({"ok": true}))
        }
    }));
    // The command is acknowledged at once; the failure comes through `response_url`.
    let r = s.command("T1", "U1", "", "f1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    let told = s.slack.wait_for("/hooks/f1", 1, T).await;
    let a = told[0].json();
    assert_eq!(a["response_type"], "ephemeral");
    let t = a["text"].as_str().unwrap();
    assert!(
        t.contains("Could not open the form") && t.contains("expired_trigger_id"),
        "{t}"
    );

    s.slack.answer_with(Arc::new(|c: &Call| {
        if c.path.starts_with("/api/") {
            (429, json!({"ok": false, "error": "ratelimited"}))
        } else {
            (200, json!({"ok": true}))
        }
    }));
    s.command("T1", "U1", "", "f2").await;
    let told = s.slack.wait_for("/hooks/f2", 1, T).await;
    let t = told[0].json()["text"].as_str().unwrap().to_string();
    assert!(t.contains("rate limiting"), "{t}");
    assert!(s.secrets().await.is_empty());
}

#[tokio::test]
async fn slacks_certificate_probe_gets_an_empty_200_and_does_nothing() {
    let s = setup(&[]).await;
    // What Slack sends to a command's URL to check its certificate (bolt-python's own test sends
    // exactly this, signed): no command fields at all.
    let probe = "token=gIkuvaNzQIHg97ATvDxqgjtO&ssl_check=1";
    let r = s.post_signed("/slack/commands", probe, now()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    // Signatures are still checked first: an unsigned probe is refused like any request.
    let r = http()
        .post(format!("{}/slack/commands", s.server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(probe)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(s.slack.calls().is_empty());
    assert!(s.secrets().await.is_empty());
}

#[test]
fn a_bot_token_beside_oauth_is_refused_at_start() {
    // With both, the one configured token used to serve every workspace that installed the app.
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = seecret_tests::run(
        std::process::Command::new(seecret_tests::seecret_bin())
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env_remove("SEECRET_DATABASE_URL")
            .env("SEECRET_SLACK_SIGNING_SECRET", SIGNING)
            .env("SEECRET_SLACK_BOT_TOKEN", BOT_TOKEN)
            .envs(OAUTH.iter().copied()),
        T,
    );
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("SEECRET_SLACK_BOT_TOKEN") && err.contains("OAuth"),
        "{err}"
    );
    assert!(
        !err.contains(BOT_TOKEN),
        "the token is never printed: {err}"
    );
}

#[tokio::test]
async fn an_install_started_on_slacks_own_page_is_completed_through_the_install_page() {
    let s = setup(OAUTH).await;
    // Slack's own "Add to Slack" (App Directory, the app's settings) sends the admin back with a
    // code and no state of ours: refused, as bolt-python refuses it, but with a way on.
    let r = callback(&s, "code=from-slack", None).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    let install_page = format!("{}/slack/install", s.server.base);
    assert!(
        page.contains(&format!("href=\"{install_page}\"")),
        "a link to finish the install: {page}"
    );
    assert!(page.contains("did not start on this server"), "{page}");
    assert!(s.slack.calls_to("/api/oauth.v2.access").is_empty());

    // Following it: Slack's consent again, now with our state and cookie, and it installs. The
    // workspace Slack named is kept (`team`), as bolt-python's install path does.
    let (_, q) = install(&s, "?team=T9").await;
    assert_eq!(q["team"], "T9");
    let state = q["state"].clone();
    let r = callback(&s, &format!("code=c0de&state={state}"), Some(&state)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("installed in Nine"));
}
