//! "Only them": the sender binds the secret to the recipient picked in the form, so only that
//! Slack user opens the link (after signing in with Slack on the reveal page).

use seecret_core::client::ClientError;

use super::*;

/// The form's values with the "Only them" box ticked.
fn only_them(secret: &str, recipient: Option<&str>) -> Value {
    let mut v = values(secret, "1h", "1", recipient);
    v["only"] = json!({"value": {"type": "checkboxes", "selected_options": [
        {"text": {"type": "plain_text", "text": "Only the person in Send to can open the link"}, "value": "bound"}
    ]}});
    v
}

/// Slack's ids have this shape; the binding checks it (the other tests' `T1` would be refused).
const TEAM: &str = "T0ACME001";
const BOB: &str = "U0BOB0001";

/// Submits the form as `U1` of [`TEAM`] (the form was opened in `T1`: only the metadata
/// travels between the two).
async fn submit(s: &Setup, values: Value, metadata: &str) -> Reply {
    let payload = json!({
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": "U1", "username": "alice", "team_id": TEAM},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "view": {
            "id": "V1", "team_id": TEAM, "type": "modal", "hash": "h",
            "callback_id": "seecret_share",
            "private_metadata": metadata,
            "state": {"values": values}
        }
    });
    let body = form(&[("payload", &payload.to_string())]);
    s.post_signed("/slack/interactions", &body, now()).await
}

/// A single-workspace app whose server also offers Sign in with Slack.
async fn with_sign_in() -> Setup {
    setup(&[
        ("SEECRET_SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SEECRET_SLACK_CLIENT_ID", "111.222"),
        ("SEECRET_SLACK_CLIENT_SECRET", "client-secret-value"),
    ])
    .await
}

#[tokio::test]
async fn only_them_binds_the_secret_to_the_recipient_who_is_told_to_sign_in() {
    let s = with_sign_in().await;
    let metadata = s.open_form("only1").await;

    // Ticked without a recipient: said next to the box, nothing created.
    let r = submit(&s, only_them("pw-1", None), &metadata).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response_action"], "errors", "{body}");
    assert!(
        body["errors"]["only"].as_str().unwrap().contains("Send to"),
        "{body}"
    );
    assert!(s.secrets().await.is_empty());

    let r = submit(&s, only_them("pw-for-bob", Some(BOB)), &metadata).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "", "an empty 200 closes the form");
    let dm = &s.slack.wait_for("/api/chat.postMessage", 1, T).await[0];
    assert_eq!(dm.json()["channel"], format!("D-{BOB}"));
    let text = message_text(dm);
    assert!(
        text.contains("Only you can open it: the page asks you to sign in with Slack first."),
        "{text}"
    );

    // Bound to U2 of T1, as the owner sees it.
    let secrets = s.secrets().await;
    assert_eq!(secrets.len(), 1);
    let bound = secrets[0].bound_to.as_ref().expect("bound");
    assert_eq!(
        (
            bound.provider.as_str(),
            bound.team.as_deref(),
            bound.user.as_str()
        ),
        ("slack", Some(TEAM), BOB)
    );

    // The whole link without a sign-in opens nothing and uses no view.
    let link = link_in(&text, &s.server.base);
    match Client::reveal_link(&link, None).await {
        Err(ClientError::Api {
            status: 403, code, ..
        }) => assert_eq!(code, "sign_in_required"),
        other => panic!("expected 403 sign_in_required, got {other:?}"),
    }
    let info = s.server.client().get(link.id).await.unwrap();
    assert_eq!(info.views_remaining, 1);
}

#[tokio::test]
async fn only_them_on_a_server_without_sign_in_is_refused_in_the_form() {
    let s = setup(&[]).await;
    let metadata = s.open_form("only2").await;
    let r = submit(&s, only_them("pw-nobody-can-open", Some(BOB)), &metadata).await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response_action"], "errors", "{body}");
    let why = body["errors"]["only"].as_str().unwrap();
    assert!(
        why.contains("sign-in with Slack is not configured"),
        "{why}"
    );
    assert!(s.secrets().await.is_empty(), "nothing left behind");
    assert!(s.slack.calls_to("/api/chat.postMessage").is_empty());
}
