//! Accounts, their webhooks and signing secrets, the chat installations.

use super::*;

pub(super) async fn opening_migrates_once_for_racing_instances(db: Db) {
    let [a, b] = db.open_two().await;
    a.ping().await.unwrap();
    b.ping().await.unwrap();
    // And a third opening finds nothing left to do.
    db.open().await.ping().await.unwrap();
}

pub(super) async fn accounts(db: Db) {
    let s = db.open().await;
    assert!(s.first_account().await.unwrap().is_none());
    let alice = account(&*s, "alice").await;
    // A later creation time, so alice is the first account.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let bob = account(&*s, "bob").await;
    assert_eq!(
        s.account_by_token(&token("alice")).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.account_by_token(&token("carol")).await.unwrap(), None);
    assert_eq!(
        s.account_by_id_or_name("bob").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        s.account_by_id_or_name(&alice.id.to_string())
            .await
            .unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.account_by_id_or_name("nobody").await.unwrap(), None);
    assert_eq!(s.first_account().await.unwrap().unwrap().id, alice.id);

    // Names are unique; the engine words the refusal.
    let again = AccountRecord {
        id: AccountId::new(),
        ..alice.clone()
    };
    let err = s.insert_account(&again, &token("other")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::AccountNameTaken(n) if n == "alice"),
        "{err:?}"
    );
    assert!(matches!(
        Error::from(err),
        Error::InvalidInput { field: Some("name"), message } if message == "an account named \"alice\" already exists"
    ));

    // A new token replaces the old one.
    assert!(s.set_token_hash(alice.id, &token("alice2")).await.unwrap());
    assert_eq!(s.account_by_token(&token("alice")).await.unwrap(), None);
    assert_eq!(
        s.account_by_token(&token("alice2"))
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert!(
        !s.set_token_hash(AccountId::new(), &token("x"))
            .await
            .unwrap()
    );
}

pub(super) async fn account_webhooks_and_signing_secrets(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let t = now();
    assert!(s.webhook_secrets(a.id, t).await.unwrap().current.is_none());

    // The first URL makes the candidate the signing secret; later candidates are not taken.
    let first = WebhookSecret::generate();
    assert!(
        s.set_account_webhook(a.id, Some("http://127.0.0.1:9/a"), &first)
            .await
            .unwrap()
    );
    let other = WebhookSecret::generate();
    assert!(
        !s.set_account_webhook(a.id, Some("http://127.0.0.1:9/b"), &other)
            .await
            .unwrap()
    );
    let got = s.account_by_id_or_name("alice").await.unwrap().unwrap();
    assert_eq!(got.webhook_url.as_deref(), Some("http://127.0.0.1:9/b"));
    // Clearing the URL keeps the secret.
    assert!(!s.set_account_webhook(a.id, None, &other).await.unwrap());
    assert_eq!(
        s.account_by_id_or_name("alice")
            .await
            .unwrap()
            .unwrap()
            .webhook_url,
        None
    );
    assert_eq!(
        s.webhook_secrets(a.id, t).await.unwrap().current,
        Some(first.clone())
    );
    assert!(!s.ensure_webhook_secret(a.id, &other).await.unwrap());
    assert!(matches!(
        s.set_account_webhook(AccountId::new(), Some("http://x"), &other)
            .await,
        Err(StoreError::NotFound)
    ));

    // An account without a secret gets one from `ensure`.
    let b = account(&*s, "bob").await;
    assert!(s.ensure_webhook_secret(b.id, &other).await.unwrap());
    assert_eq!(
        s.webhook_secrets(b.id, t).await.unwrap().current,
        Some(other.clone())
    );

    // Rotation: the previous secret signs until its deadline.
    let next = WebhookSecret::generate();
    s.rotate_webhook_secret(a.id, &next, t + Duration::seconds(60))
        .await
        .unwrap();
    let during = s.webhook_secrets(a.id, t).await.unwrap();
    assert_eq!(during.current, Some(next.clone()));
    assert_eq!(during.previous, Some(first));
    let after = s
        .webhook_secrets(a.id, t + Duration::seconds(61))
        .await
        .unwrap();
    assert_eq!((after.current, after.previous), (Some(next), None));
    assert!(matches!(
        s.webhook_secrets(AccountId::new(), t).await,
        Err(StoreError::NotFound)
    ));
}

pub(super) async fn installations(db: Db) {
    let s = db.open().await;
    assert_eq!(s.installation("slack", "T1").await.unwrap(), None);
    s.put_installation("slack", "T1", b"sealed-1", now())
        .await
        .unwrap();
    s.put_installation("slack", "T2", b"sealed-2", now())
        .await
        .unwrap();
    s.put_installation("slack", "T1", b"sealed-3", now())
        .await
        .unwrap();
    assert_eq!(
        s.installation("slack", "T1").await.unwrap().as_deref(),
        Some(&b"sealed-3"[..])
    );
    assert_eq!(
        s.installation("slack", "T2").await.unwrap().as_deref(),
        Some(&b"sealed-2"[..])
    );
    assert_eq!(s.installation("discord", "T1").await.unwrap(), None);
}

pub(super) async fn chat_users_shares_settings_and_event_claims(db: Db) {
    let s = db.open().await;
    let alice = account(&*s, "alice").await;
    let bob = account(&*s, "bob").await;
    // A chat user's shares: theirs only, of this account only, newest first.
    let mut mine = Vec::new();
    for _ in 0..3 {
        let mut r = secret(&alice, 1);
        r.notify = Some("slack:T1:U1".into());
        s.insert_secret(&r).await.unwrap();
        mine.push(r.id);
    }
    let mut other_user = secret(&alice, 1);
    other_user.notify = Some("slack:T1:U2".into());
    s.insert_secret(&other_user).await.unwrap();
    let mut other_account = secret(&bob, 1);
    other_account.notify = Some("slack:T1:U1".into());
    s.insert_secret(&other_account).await.unwrap();
    s.insert_secret(&secret(&alice, 1)).await.unwrap();
    let listed = s
        .secrets_notifying(alice.id, "slack:T1:U1", 10)
        .await
        .unwrap();
    let ids: Vec<SecretId> = listed.iter().map(|r| r.id).collect();
    mine.reverse();
    assert_eq!(ids, mine);
    assert!(listed.iter().all(|r| r.envelope.is_none()), "no envelopes");
    let two = s
        .secrets_notifying(alice.id, "slack:T1:U1", 2)
        .await
        .unwrap();
    assert_eq!(two.len(), 2);
    assert!(
        s.secrets_notifying(alice.id, "slack:T9:U1", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A workspace's settings, replaced whole, apart per provider and team.
    assert_eq!(s.workspace_settings("slack", "T1").await.unwrap(), None);
    s.put_workspace_settings("slack", "T1", r#"{"dm_links":false}"#, now())
        .await
        .unwrap();
    s.put_workspace_settings("slack", "T1", r#"{"dm_links":true}"#, now())
        .await
        .unwrap();
    assert_eq!(
        s.workspace_settings("slack", "T1")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"dm_links":true}"#)
    );
    assert_eq!(s.workspace_settings("slack", "T2").await.unwrap(), None);
    assert_eq!(s.workspace_settings("discord", "T1").await.unwrap(), None);

    // An event is claimed once across instances; old claims are forgotten.
    let [a, b] = db.open_two().await;
    let t = now();
    let long_ago = t - Duration::days(2);
    let (x, y) = tokio::join!(
        a.claim_bot_event("slack:Ev1", t, long_ago),
        b.claim_bot_event("slack:Ev1", t, long_ago)
    );
    assert_ne!(x.unwrap(), y.unwrap(), "exactly one instance claims it");
    assert!(!a.claim_bot_event("slack:Ev1", t, long_ago).await.unwrap());
    assert!(a.claim_bot_event("slack:Ev2", t, long_ago).await.unwrap());
    let later = t + Duration::days(2);
    assert!(
        b.claim_bot_event("slack:Ev1", later, later - Duration::days(1))
            .await
            .unwrap(),
        "a claim past the retention is forgotten"
    );
}
