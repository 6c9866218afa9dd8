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
