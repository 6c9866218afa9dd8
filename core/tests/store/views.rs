//! Views: claims (also racing), passphrase attempts, denials, their order.

use super::*;

pub(super) async fn claim_view_uses_views_and_erases_the_last(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let x = secret(&a, 2);
    s.insert_secret(&x).await.unwrap();
    // A claim for content the caller did not check is refused, and uses nothing.
    assert!(!granted(
        &s.claim_view(x.id, now(), None, None, 1).await.unwrap()
    ));
    let t1 = now();
    match s.claim_view(x.id, t1, Some("DE"), None, 0).await.unwrap() {
        ViewClaim::Granted {
            envelope,
            blob_key,
            views_remaining,
            status,
            events,
        } => {
            assert_eq!(envelope.as_deref(), Some(&[1u8, 2, 3][..]));
            assert_eq!(blob_key, None);
            assert_eq!((views_remaining, status, events), (1, Status::Active, 1));
        }
        ViewClaim::Refused => panic!("the first view is refused"),
    }
    let got = stored(&*s, x.id).await;
    assert_eq!((got.views_used, got.last_viewed_at), (1, Some(t1)));
    assert!(got.envelope.is_some());
    match view(&*s, x.id).await {
        ViewClaim::Granted {
            envelope,
            views_remaining,
            status,
            events,
            ..
        } => {
            // The content as it was, although the same transaction erased it.
            assert_eq!(envelope.as_deref(), Some(&[1u8, 2, 3][..]));
            assert_eq!((views_remaining, status, events), (0, Status::Consumed, 2));
        }
        ViewClaim::Refused => panic!("the last view is refused"),
    }
    let got = stored(&*s, x.id).await;
    assert_eq!(got.status, Status::Consumed);
    assert!(got.envelope.is_none(), "the last view erases the content");
    assert!(!granted(&view(&*s, x.id).await));
    assert_eq!(
        kinds(&*s, x.id).await,
        vec!["seecret.consumed", "seecret.viewed", "seecret.viewed"]
    );
    let views = s.views(x.id).await.unwrap();
    assert_eq!(views.len(), 2);
    assert_eq!((views[0].at, views[0].country.as_deref()), (t1, Some("DE")));

    // Expired, unknown, or with nothing left to hand out: refused.
    let late = SecretRecord {
        expires_at: now() - Duration::seconds(1),
        ..secret(&a, 1)
    };
    s.insert_secret(&late).await.unwrap();
    assert!(!granted(&view(&*s, late.id).await));
    assert!(!granted(&view(&*s, SecretId::new()).await));
    let f = file(&a, "blob-1");
    s.insert_secret(&f).await.unwrap();
    match view(&*s, f.id).await {
        ViewClaim::Granted {
            blob_key, envelope, ..
        } => {
            assert_eq!((blob_key.as_deref(), envelope), (Some("blob-1"), None));
        }
        ViewClaim::Refused => panic!("a file's view is refused"),
    }
    // No webhook: no events.
    let quiet = account(&*s, "bob").await;
    let q = secret(&quiet, 2);
    s.insert_secret(&q).await.unwrap();
    assert!(matches!(
        view(&*s, q.id).await,
        ViewClaim::Granted { events: 0, .. }
    ));
}

pub(super) async fn claim_view_is_exact_under_racing_instances(db: Db) {
    let stores = db.open_two().await;
    let a = account(&*stores[0], "alice").await;
    for views in [1, 3] {
        let x = secret(&a, views);
        stores[0].insert_secret(&x).await.unwrap();
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let s = stores[i % 2].clone();
                tokio::spawn(async move { s.claim_view(x.id, now(), None, None, 0).await.unwrap() })
            })
            .collect();
        let mut remaining = Vec::new();
        for t in tasks {
            if let ViewClaim::Granted {
                views_remaining, ..
            } = t.await.unwrap()
            {
                remaining.push(views_remaining);
            }
        }
        remaining.sort_unstable();
        assert_eq!(
            remaining,
            (0..views).collect::<Vec<_>>(),
            "exactly {views} granted"
        );
        let got = stored(&*stores[1], x.id).await;
        assert_eq!((got.status, got.views_used), (Status::Consumed, views));
        assert_eq!(stores[1].views(x.id).await.unwrap().len(), views as usize);
    }
}

pub(super) async fn passphrase_attempts_per_window(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let x = secret(&a, 1);
    s.insert_secret(&x).await.unwrap();
    let t = now();
    // The third claim is the window's last: a wrong passphrase there locks the secret.
    for n in 1..=3 {
        assert_eq!(
            s.claim_passphrase_attempt(x.id, 3, t).await.unwrap(),
            AttemptClaim::Granted { last: n == 3 }
        );
    }
    assert_eq!(
        s.claim_passphrase_attempt(x.id, 3, t + Duration::seconds(30))
            .await
            .unwrap(),
        AttemptClaim::Refused {
            window_end: t + Duration::seconds(60)
        }
    );
    let got = stored(&*s, x.id).await;
    assert_eq!(
        (got.pp_fail_count, got.pp_fail_window, got.views_used),
        (3, t, 0)
    );
    // A new window starts when the last one ended.
    let later = t + Duration::seconds(61);
    assert_eq!(
        s.claim_passphrase_attempt(x.id, 3, later).await.unwrap(),
        AttemptClaim::Granted { last: false }
    );
    let got = stored(&*s, x.id).await;
    assert_eq!((got.pp_fail_count, got.pp_fail_window), (1, later));
    assert!(matches!(
        s.claim_passphrase_attempt(SecretId::new(), 3, t).await,
        Err(StoreError::NotFound)
    ));
    // Huge limits are fine (they are only compared).
    assert_eq!(
        s.claim_passphrase_attempt(x.id, u32::MAX, later)
            .await
            .unwrap(),
        AttemptClaim::Granted { last: false }
    );
}

pub(super) async fn access_denied_events(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let x = secret(&a, 1);
    s.insert_secret(&x).await.unwrap();
    s.record_access_denied(x.id, "passphrase", Some("DE"), None, now())
        .await
        .unwrap();
    s.record_access_denied(x.id, "country", None, None, now())
        .await
        .unwrap();
    assert_eq!(kinds(&*s, x.id).await, vec!["seecret.access_denied"; 2]);
    let rows = claim_all(&*s).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().any(|r| r.payload.contains("passphrase")));
    assert!(
        rows.iter()
            .all(|r| r.target_url == "http://127.0.0.1:9/hook")
    );
    assert!(matches!(
        s.record_access_denied(SecretId::new(), "rate", None, None, now())
            .await,
        Err(StoreError::NotFound)
    ));
    // The secret's own webhook wins over the account's; `notify` adds an internal target
    // (which deliveries do not list).
    let own = SecretRecord {
        webhook_url: Some("http://127.0.0.1:9/own".into()),
        notify: Some("slack:T1:U2".into()),
        ..secret(&a, 1)
    };
    s.insert_secret(&own).await.unwrap();
    s.record_access_denied(own.id, "rate", None, None, now())
        .await
        .unwrap();
    let mut targets: Vec<String> = claim_all(&*s)
        .await
        .into_iter()
        .map(|r| r.target_url)
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        vec!["http://127.0.0.1:9/own", "internal:slack:T1:U2"]
    );
    assert_eq!(s.deliveries(own.id).await.unwrap().len(), 1);
}

pub(super) async fn views_keep_their_order(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let x = secret(&a, 5);
    s.insert_secret(&x).await.unwrap();
    let t = now();
    for c in ["NL", "DE", "FR"] {
        assert!(granted(
            &s.claim_view(x.id, t, Some(c), None, 0).await.unwrap()
        ));
    }
    assert!(granted(
        &s.claim_view(x.id, t - Duration::seconds(1), None, None, 0)
            .await
            .unwrap()
    ));
    let got: Vec<_> = s
        .views(x.id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.country)
        .collect();
    assert_eq!(
        got,
        vec![
            None,
            Some("NL".into()),
            Some("DE".into()),
            Some("FR".into())
        ],
        "oldest first; the same millisecond in insertion order"
    );
    assert!(s.views(SecretId::new()).await.unwrap().is_empty());
}
