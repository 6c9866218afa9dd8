//! `only-recipient`: the sender binds the secret to the recipient they named, so only that
//! Discord user opens the link (after signing in with Discord on the reveal page).

use seecret_core::client::ClientError;

use super::*;

/// A Discord user id as Discord writes them (the binding checks the shape).
const BOB: &str = "210000000000000021";

#[tokio::test]
async fn only_recipient_binds_the_secret_to_them_and_tells_them_to_sign_in() {
    let s = setup_with(&[
        ("SEECRET_DISCORD_CLIENT_ID", APP_ID),
        ("SEECRET_DISCORD_CLIENT_SECRET", "client-secret-value"),
    ])
    .await;

    // Without a recipient there is nobody to bind to: refused before the form.
    let (_, answer) = s
        .post(&command(
            json!([{"name": "only-recipient", "type": 5, "value": true}]),
        ))
        .await;
    assert_private(&answer);
    assert!(content(&answer).contains("Pick a recipient"), "{answer}");

    let (_, modal) = s
        .post(&command(json!([
            {"name": "recipient", "type": 6, "value": BOB},
            {"name": "only-recipient", "type": 5, "value": true}
        ])))
        .await;
    assert_eq!(modal["type"], 9);
    let custom_id = modal["data"]["custom_id"].as_str().unwrap().to_string();
    assert_eq!(custom_id, format!("seecret_share:{BOB}:only"));

    let (status, answer) = s
        .post(&submit(&custom_id, "pw-only-for-bob", "1h", "1", ""))
        .await;
    assert_eq!(status, 200);
    assert!(
        content(&answer).contains(&format!("Sent a one-time link to <@{BOB}>")),
        "{answer}"
    );
    let dm = s.messages_to(BOB)[0].json();
    let text = dm["content"].as_str().unwrap();
    assert!(
        text.contains("Only you can open it: the page asks you to sign in with Discord first."),
        "{text}"
    );

    let secrets = s.secrets().await;
    assert_eq!(secrets.len(), 1);
    let bound = secrets[0].bound_to.as_ref().expect("bound");
    assert_eq!(
        (
            bound.provider.as_str(),
            bound.team.as_deref(),
            bound.user.as_str()
        ),
        ("discord", None, BOB)
    );
    // The whole link without a sign-in opens nothing and uses no view.
    let link = link_in(text, &s.server.base);
    match Client::reveal_link(&link, None).await {
        Err(ClientError::Api {
            status: 403, code, ..
        }) => assert_eq!(code, "sign_in_required"),
        other => panic!("expected 403 sign_in_required, got {other:?}"),
    }
    assert_eq!(
        s.server
            .client()
            .get(link.id)
            .await
            .unwrap()
            .views_remaining,
        1
    );
}

#[tokio::test]
async fn only_recipient_on_a_server_without_sign_in_creates_nothing_and_says_why() {
    let s = setup().await;
    let custom_id = format!("seecret_share:{BOB}:only");
    let (_, answer) = s
        .post(&submit(&custom_id, "pw-nobody-can-open", "1h", "1", ""))
        .await;
    assert_private(&answer);
    let text = content(&answer);
    assert!(
        text.contains("sign-in with Discord is not configured"),
        "{text}"
    );
    assert!(s.secrets().await.is_empty());
    assert!(s.messages_to(BOB).is_empty());
}

#[tokio::test]
async fn a_damaged_binding_in_the_form_id_shares_nothing() {
    let s = setup().await;
    let (_, answer) = s
        .post(&submit(
            &format!("seecret_share:{BOB}:everyone"),
            "pw",
            "1h",
            "1",
            "",
        ))
        .await;
    assert!(content(&answer).contains("damaged"), "{answer}");
    assert!(s.secrets().await.is_empty());
}
