//! Secrets: insert, update, list, usage, delete.

use super::*;

pub(super) async fn secrets_round_trip(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let full = SecretRecord {
        label: Some("label".into()),
        passphrase_hash: Some("$argon2id$…".into()),
        allowed_countries: vec!["DE".into(), "FR".into()],
        webhook_url: Some("http://127.0.0.1:9/s".into()),
        notify: Some("slack:T1:U2".into()),
        verifier: Some(Verifier::from_bytes(&[7; 32]).unwrap()),
        ..secret(&a, 3)
    };
    s.insert_secret(&full).await.unwrap();
    let got = stored(&*s, full.id).await;
    assert_eq!(got.account_id, a.id);
    assert_eq!(got.kind, Kind::Text);
    assert_eq!(got.envelope.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(got.label.as_deref(), Some("label"));
    assert_eq!(got.passphrase_hash.as_deref(), Some("$argon2id$…"));
    assert_eq!(got.allowed_countries, vec!["DE", "FR"]);
    assert_eq!(got.webhook_url.as_deref(), Some("http://127.0.0.1:9/s"));
    assert_eq!(got.notify.as_deref(), Some("slack:T1:U2"));
    assert_eq!((got.views_total, got.views_used), (3, 0));
    assert_eq!(got.status, Status::Active);
    assert_eq!(
        (got.created_at, got.expires_at),
        (full.created_at, full.expires_at)
    );
    assert_eq!(got.last_viewed_at, None);
    assert_eq!(
        (got.pp_fail_count, got.pp_fail_window),
        (0, DateTime::UNIX_EPOCH)
    );
    assert!(got.verifier == full.verifier);
    assert_eq!(got.content_version, 0);

    let f = SecretRecord {
        file_name: Some("report.pdf".into()),
        ..file(&a, "blob-1")
    };
    s.insert_secret(&f).await.unwrap();
    let got = stored(&*s, f.id).await;
    assert_eq!(got.kind, Kind::File);
    assert_eq!(got.envelope, None);
    assert_eq!(got.blob_key.as_deref(), Some("blob-1"));
    assert_eq!(got.size, Some(1234));
    assert_eq!(got.file_name.as_deref(), Some("report.pdf"));
    assert!(got.allowed_countries.is_empty());

    assert!(s.secret(SecretId::new()).await.unwrap().is_none());
}

pub(super) async fn insert_refuses_taken_ids_and_out_of_range_values(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let first = secret(&a, 1);
    s.insert_secret(&first).await.unwrap();
    // The id is taken, whoever's it is; nothing is changed.
    let clash = SecretRecord {
        envelope: Some(vec![9]),
        ..secret(&b, 1)
    };
    let clash = SecretRecord {
        id: first.id,
        ..clash
    };
    let err = s.insert_secret(&clash).await.unwrap_err();
    assert!(matches!(err, StoreError::IdTaken), "{err:?}");
    assert!(matches!(Error::from(err), Error::IdTaken));
    assert_eq!(stored(&*s, first.id).await.account_id, a.id);

    // Values the columns cannot hold are refused the same way on both backends.
    let huge = SecretRecord {
        size: Some(u64::MAX),
        ..file(&a, "blob-huge")
    };
    let err = s.insert_secret(&huge).await.unwrap_err();
    assert!(
        matches!(err, StoreError::OutOfRange { field: "size", .. }),
        "{err:?}"
    );
    assert!(matches!(
        Error::from(err),
        Error::InvalidInput { field: Some("size"), message } if message == "the file is too large"
    ));
    let err = s.insert_secret(&secret(&a, u32::MAX)).await.unwrap_err();
    assert!(matches!(
        Error::from(err),
        Error::InvalidInput {
            field: Some("views"),
            ..
        }
    ));
    assert!(s.secret(huge.id).await.unwrap().is_none());
}

pub(super) async fn update_applies_patches_to_live_secrets_only(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let x = secret(&a, 3);
    s.insert_secret(&x).await.unwrap();
    let t = now();

    assert!(
        s.update_secret(a.id, x.id, &SecretPatch::default(), t)
            .await
            .unwrap()
    );
    let patch = SecretPatch {
        expires_at: Some(t + Duration::hours(2)),
        views_total: Some(5),
        passphrase_hash: Some(Some("hash".into())),
        label: Some(Some("renamed".into())),
        allowed_countries: Some(vec!["NL".into()]),
        webhook_url: Some(Some("http://127.0.0.1:9/x".into())),
        envelope: Some(vec![4, 5]),
        verifier: Some(Verifier::from_bytes(&[1; 32]).unwrap()),
    };
    assert!(s.update_secret(a.id, x.id, &patch, t).await.unwrap());
    let got = stored(&*s, x.id).await;
    assert_eq!(got.expires_at, t + Duration::hours(2));
    assert_eq!(got.views_total, 5);
    assert_eq!(got.passphrase_hash.as_deref(), Some("hash"));
    assert_eq!(got.label.as_deref(), Some("renamed"));
    assert_eq!(got.allowed_countries, vec!["NL"]);
    assert_eq!(got.webhook_url.as_deref(), Some("http://127.0.0.1:9/x"));
    assert_eq!(got.envelope.as_deref(), Some(&[4u8, 5][..]));
    assert!(got.verifier == patch.verifier);
    assert_eq!(got.content_version, 1, "new content bumps the version");

    // `Some(None)` clears; other fields stay.
    let clear = SecretPatch {
        label: Some(None),
        passphrase_hash: Some(None),
        webhook_url: Some(None),
        ..Default::default()
    };
    assert!(s.update_secret(a.id, x.id, &clear, t).await.unwrap());
    let got = stored(&*s, x.id).await;
    assert_eq!(
        (got.label, got.passphrase_hash, got.webhook_url),
        (None, None, None)
    );
    assert_eq!(got.views_total, 5);

    // Not below the views already used; not someone else's; not an unknown id.
    assert!(granted(
        &s.claim_view(x.id, now(), None, None, 1).await.unwrap()
    ));
    assert!(granted(
        &s.claim_view(x.id, now(), None, None, 1).await.unwrap()
    ));
    let views = |v| SecretPatch {
        views_total: Some(v),
        ..Default::default()
    };
    assert!(!s.update_secret(a.id, x.id, &views(2), t).await.unwrap());
    assert!(s.update_secret(a.id, x.id, &views(3), t).await.unwrap());
    assert!(!s.update_secret(b.id, x.id, &views(4), t).await.unwrap());
    assert!(
        !s.update_secret(a.id, SecretId::new(), &views(4), t)
            .await
            .unwrap()
    );
    assert!(matches!(
        s.update_secret(a.id, x.id, &views(u32::MAX), t).await,
        Err(StoreError::OutOfRange { field: "views", .. })
    ));
    // Not once it has expired, nor once it has ended.
    assert!(
        !s.update_secret(a.id, x.id, &views(4), t + Duration::hours(3))
            .await
            .unwrap()
    );
    s.delete_secret(a.id, x.id, t).await.unwrap();
    assert!(!s.update_secret(a.id, x.id, &views(4), t).await.unwrap());
}

pub(super) async fn list_pages_newest_first(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let mut made = Vec::new();
    for _ in 0..7 {
        let x = secret(&a, 1);
        s.insert_secret(&x).await.unwrap();
        made.push(x.id);
    }
    s.insert_secret(&secret(&b, 1)).await.unwrap();
    made.reverse();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s.list_secrets(a.id, None, before, 3).await.unwrap();
        assert!(page.len() <= 3);
        assert!(
            page.iter().all(|r| r.envelope.is_none()),
            "listings carry no content"
        );
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        seen.extend(page.iter().map(|r| r.id));
    }
    assert_eq!(
        seen, made,
        "newest first, every secret once, only the account's"
    );

    s.delete_secret(a.id, made[2], now()).await.unwrap();
    let deleted = s
        .list_secrets(a.id, Some(Status::Deleted), None, 10)
        .await
        .unwrap();
    assert_eq!(
        deleted.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![made[2]]
    );
    assert_eq!(deleted[0].status, Status::Deleted);
    let active = s
        .list_secrets(a.id, Some(Status::Active), None, 10)
        .await
        .unwrap();
    assert_eq!(active.len(), 6);
}

pub(super) async fn usage_counts_by_status(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let u = s.usage(a.id).await.unwrap();
    assert_eq!(
        (u.active, u.consumed, u.expired, u.deleted, u.views),
        (0, 0, 0, 0, 0)
    );
    let consumed = secret(&a, 1);
    let twice = secret(&a, 3);
    let deleted = secret(&a, 1);
    let expired = SecretRecord {
        expires_at: now() - Duration::seconds(1),
        ..secret(&a, 1)
    };
    for x in [&consumed, &twice, &deleted, &expired] {
        s.insert_secret(x).await.unwrap();
    }
    assert!(granted(&view(&*s, consumed.id).await));
    assert!(granted(&view(&*s, twice.id).await));
    assert!(granted(&view(&*s, twice.id).await));
    s.delete_secret(a.id, deleted.id, now()).await.unwrap();
    s.expire_due(now(), 10).await.unwrap();
    let u = s.usage(a.id).await.unwrap();
    assert_eq!(
        (u.active, u.consumed, u.expired, u.deleted, u.views),
        (1, 1, 1, 1, 3)
    );
    // Purged metadata leaves the figures, as the rows leave the table.
    s.purge_ended(now() + Duration::seconds(1)).await.unwrap();
    let u = s.usage(a.id).await.unwrap();
    assert_eq!(
        (u.active, u.consumed, u.expired, u.deleted, u.views),
        (1, 0, 0, 0, 2)
    );
}

pub(super) async fn usage_stays_exact_under_concurrent_writers_on_two_instances(db: Db) {
    let [s1, s2] = db.open_two().await;
    let a = account(&*s1, "alice").await;
    let mut tasks = Vec::new();
    for i in 0..80 {
        let s = if i % 2 == 0 { s1.clone() } else { s2.clone() };
        let x = secret(&a, 2);
        tasks.push(tokio::spawn(async move {
            s.insert_secret(&x).await.unwrap();
            // Half of them are viewed once, a quarter twice (consumed), a quarter deleted.
            match i % 4 {
                0 => assert!(granted(&view(&*s, x.id).await)),
                1 => {
                    assert!(granted(&view(&*s, x.id).await));
                    assert!(granted(&view(&*s, x.id).await));
                }
                2 => assert!(
                    s.delete_secret(x.account_id, x.id, now())
                        .await
                        .unwrap()
                        .is_some()
                ),
                _ => {}
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for s in [&s1, &s2] {
        let u = s.usage(a.id).await.unwrap();
        assert_eq!(
            (u.active, u.consumed, u.expired, u.deleted, u.views),
            (40, 20, 0, 20, 60)
        );
    }
}

pub(super) async fn delete_erases_and_reports_once(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let b = account(&*s, "bob").await;
    let x = secret(&a, 1);
    let f = file(&a, "blob-1");
    s.insert_secret(&x).await.unwrap();
    s.insert_secret(&f).await.unwrap();
    let t = now();
    assert_eq!(
        s.delete_secret(b.id, x.id, t).await.unwrap(),
        None,
        "not bob's"
    );
    assert_eq!(s.delete_secret(a.id, x.id, t).await.unwrap(), Some(None));
    let got = stored(&*s, x.id).await;
    assert_eq!(got.status, Status::Deleted);
    assert!(got.envelope.is_none(), "deleting erases the content");
    assert_eq!(
        s.delete_secret(a.id, x.id, t).await.unwrap(),
        None,
        "only once"
    );
    assert_eq!(kinds(&*s, x.id).await, vec!["seecret.deleted"]);
    // A file hands back its blob to delete.
    assert_eq!(
        s.delete_secret(a.id, f.id, t).await.unwrap(),
        Some(Some("blob-1".to_string()))
    );
    assert!(!granted(&view(&*s, x.id).await));
}
