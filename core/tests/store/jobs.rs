//! The background jobs' side: expiry, blobs, the outbox; corrupt rows.

use super::*;

pub(super) async fn expire_due_expires_each_once(db: Db) {
    let stores = db.open_two().await;
    let s = &*stores[0];
    let a = hooked(s, "alice").await;
    let live = secret(&a, 1);
    s.insert_secret(&live).await.unwrap();
    let mut due = HashSet::new();
    for i in 0..20 {
        let base = if i == 0 {
            file(&a, "blob-due")
        } else {
            secret(&a, 1)
        };
        let x = SecretRecord {
            expires_at: now() - Duration::seconds(5),
            ..base
        };
        s.insert_secret(&x).await.unwrap();
        due.insert(x.id);
    }
    // A limit is a limit.
    let first = s.expire_due(now(), 3).await.unwrap();
    assert_eq!(first.len(), 3);
    // Two sweepers racing expire each secret once, with one event each.
    let sweepers: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let rows = s.expire_due(now(), 3).await.unwrap();
                    if rows.is_empty() {
                        return got;
                    }
                    got.extend(rows);
                }
            })
        })
        .collect();
    let mut expired = first;
    for w in sweepers {
        expired.extend(w.await.unwrap());
    }
    assert_eq!(expired.len(), 20, "no secret expired twice");
    let ids: HashSet<_> = expired.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, due);
    assert_eq!(
        expired
            .iter()
            .filter_map(|(_, b)| b.clone())
            .collect::<Vec<_>>(),
        vec!["blob-due".to_string()]
    );
    for id in &due {
        let r = stored(&*stores[1], *id).await;
        assert_eq!(r.status, Status::Expired);
        assert!(r.envelope.is_none());
        assert_eq!(kinds(s, *id).await, vec!["seecret.expired"]);
    }
    assert_eq!(stored(s, live.id).await.status, Status::Active);
    assert!(s.expire_due(now(), 100).await.unwrap().is_empty());
}

pub(super) async fn blobs_leftovers_and_purge(db: Db) {
    let s = db.open().await;
    let a = account(&*s, "alice").await;
    let live = file(&a, "blob-live");
    let gone = file(&a, "blob-gone");
    let text = secret(&a, 1);
    for x in [&live, &gone, &text] {
        s.insert_secret(x).await.unwrap();
    }
    let keys: Vec<String> = ["blob-live", "blob-gone", "orphan"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        s.referenced_blobs(&keys).await.unwrap(),
        HashSet::from(["blob-live".to_string(), "blob-gone".to_string()])
    );
    // Many keys at once (more than one statement's worth of parameters on SQLite).
    let many: Vec<String> = (0..1200)
        .map(|i| format!("k{i}"))
        .chain(["blob-live".to_string()])
        .collect();
    assert_eq!(s.referenced_blobs(&many).await.unwrap().len(), 1);
    assert!(s.referenced_blobs(&[]).await.unwrap().is_empty());

    let t = now();
    s.delete_secret(a.id, gone.id, t).await.unwrap();
    s.delete_secret(a.id, text.id, t).await.unwrap();
    let later = t + Duration::seconds(1);
    assert!(
        s.leftover_blobs(t, 10).await.unwrap().is_empty(),
        "ended at t, not before"
    );
    assert_eq!(
        s.leftover_blobs(later, 10).await.unwrap(),
        vec![(gone.id, "blob-gone".to_string())]
    );
    assert_eq!(s.leftover_blobs(later, 0).await.unwrap(), vec![]);
    // Purging keeps a row until its blob is gone.
    assert_eq!(s.purge_ended(later).await.unwrap(), 1, "the text secret");
    assert!(s.secret(text.id).await.unwrap().is_none());
    s.clear_blob(gone.id, "another-key").await.unwrap();
    assert_eq!(
        stored(&*s, gone.id).await.blob_key.as_deref(),
        Some("blob-gone")
    );
    s.clear_blob(gone.id, "blob-gone").await.unwrap();
    assert_eq!(stored(&*s, gone.id).await.blob_key, None);
    assert!(s.leftover_blobs(later, 10).await.unwrap().is_empty());
    assert_eq!(
        s.purge_ended(t).await.unwrap(),
        0,
        "retention: not ended before the cutoff"
    );
    assert_eq!(s.purge_ended(later).await.unwrap(), 1);
    assert!(
        s.secret(live.id).await.unwrap().is_some(),
        "live secrets are never purged"
    );
    s.flush_erasures().await.unwrap();
}

pub(super) async fn outbox_claims_attempts_and_redelivery(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let b = hooked(&*s, "bob").await;
    let xa = secret(&a, 5);
    let xb = secret(&b, 5);
    s.insert_secret(&xa).await.unwrap();
    s.insert_secret(&xb).await.unwrap();
    for _ in 0..3 {
        assert!(granted(&view(&*s, xa.id).await));
    }
    assert!(granted(&view(&*s, xb.id).await));
    let t = now();
    let lease = t + Duration::seconds(60);
    // Per account at most 2 leased at once: alice's third waits.
    let rows = s.claim_due_events(t, lease, 10, 2).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.iter().filter(|r| r.account_id == a.id).count(), 2);
    assert!(
        rows.iter()
            .all(|r| r.attempts == 0 && r.event_type == "seecret.viewed")
    );
    assert!(
        s.claim_due_events(t, lease, 10, 2)
            .await
            .unwrap()
            .is_empty(),
        "leases count"
    );
    let third = s.claim_due_events(t, lease, 10, 3).await.unwrap();
    assert_eq!(third.len(), 1);
    // A crashed worker's lease runs out and the events come back (with a new token).
    let after = lease + Duration::seconds(1);
    let back = s
        .claim_due_events(after, after + Duration::seconds(60), 2, 100)
        .await
        .unwrap();
    assert_eq!(back.len(), 2, "the limit holds");
    let all = s
        .claim_due_events(after, after + Duration::seconds(60), 10, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    // Recording needs the current lease.
    let stale = &rows[0];
    s.record_attempt(stale, after, Attempt::Delivered { status: 200 })
        .await
        .unwrap();
    let current = back
        .iter()
        .chain(&all)
        .find(|r| r.id == stale.id)
        .unwrap()
        .clone();
    let next = after + Duration::seconds(30);
    s.record_attempt(
        &current,
        after,
        Attempt::Retry {
            status: Some(503),
            error: "unavailable".into(),
            next_at: next,
        },
    )
    .await
    .unwrap();
    let d = |id: &str, list: Vec<seecret_core::api::WebhookDelivery>| {
        list.into_iter().find(|d| d.event_id == id).unwrap()
    };
    let secret_of = if current.account_id == a.id {
        xa.id
    } else {
        xb.id
    };
    let got = d(&current.id, s.deliveries(secret_of).await.unwrap());
    assert_eq!(
        (
            got.state.as_str(),
            got.attempts,
            got.last_status,
            got.next_attempt_at
        ),
        ("pending", 1, Some(503), Some(next))
    );
    assert_eq!(
        (got.last_attempt_at, got.last_error.as_deref()),
        (Some(after), Some("unavailable"))
    );
    assert!(
        s.claim_due_events(after, after, 10, 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != current.id)
    );
    let again = s
        .claim_due_events(next, next + Duration::seconds(60), 10, 100)
        .await
        .unwrap();
    let again = again.into_iter().find(|r| r.id == current.id).unwrap();
    assert_eq!(again.attempts, 1);
    s.record_attempt(&again, next, Attempt::Delivered { status: 204 })
        .await
        .unwrap();
    let got = d(&current.id, s.deliveries(secret_of).await.unwrap());
    assert_eq!(
        (
            got.state.as_str(),
            got.attempts,
            got.last_status,
            got.next_attempt_at
        ),
        ("delivered", 2, Some(204), None)
    );

    // Redelivery: only the owner's, only once it is no longer pending.
    let other = if current.account_id == a.id {
        b.id
    } else {
        a.id
    };
    assert!(!s.redeliver(other, &current.id, next).await.unwrap());
    assert!(
        s.redeliver(current.account_id, &current.id, next)
            .await
            .unwrap()
    );
    assert!(
        !s.redeliver(current.account_id, &current.id, next)
            .await
            .unwrap()
    );
    assert!(
        !s.redeliver(current.account_id, "evt_unknown", next)
            .await
            .unwrap()
    );
    let re = s
        .claim_due_events(next, next + Duration::seconds(60), 10, 100)
        .await
        .unwrap();
    let re = re.into_iter().find(|r| r.id == current.id).unwrap();
    assert_eq!(re.attempts, 0);
    s.record_attempt(
        &re,
        next,
        Attempt::Failed {
            status: None,
            error: "refused".into(),
        },
    )
    .await
    .unwrap();
    let got = d(&current.id, s.deliveries(secret_of).await.unwrap());
    assert_eq!(
        (got.state.as_str(), got.last_status, got.next_attempt_at),
        ("failed", None, None)
    );
    // Newest first.
    let list = s.deliveries(xa.id).await.unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.windows(2).all(|w| w[0].created_at >= w[1].created_at));
}

pub(super) async fn outbox_claims_are_exact_under_racing_instances(db: Db) {
    let stores = db.open_two().await;
    let a = hooked(&*stores[0], "alice").await;
    let x = secret(&a, 30);
    stores[0].insert_secret(&x).await.unwrap();
    for _ in 0..30 {
        assert!(granted(&view(&*stores[0], x.id).await));
    }
    // viewed ×30, consumed.
    let claimers: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let t = now();
                    let rows = s
                        .claim_due_events(t, t + Duration::seconds(60), 2, 6)
                        .await
                        .unwrap();
                    if rows.is_empty() {
                        return got;
                    }
                    got.extend(rows);
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.unwrap());
    }
    let ids: HashSet<_> = claimed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), claimed.len(), "no event handed out twice");
    assert_eq!(
        claimed.len(),
        6,
        "the per-account cap holds across instances"
    );
}

pub(super) async fn endpoint_gone_removes_the_url(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let url = a.webhook_url.clone().unwrap();
    let own = SecretRecord {
        webhook_url: Some(url.clone()),
        ..secret(&a, 5)
    };
    let other = SecretRecord {
        webhook_url: Some("http://127.0.0.1:9/other".into()),
        ..secret(&a, 5)
    };
    s.insert_secret(&own).await.unwrap();
    s.insert_secret(&other).await.unwrap();
    assert!(granted(&view(&*s, own.id).await));
    assert!(granted(&view(&*s, own.id).await));
    assert!(granted(&view(&*s, other.id).await));
    let t = now();
    let row = claim_all(&*s)
        .await
        .into_iter()
        .find(|r| r.target_url == url)
        .unwrap();
    s.record_attempt(&row, t, Attempt::EndpointGone)
        .await
        .unwrap();
    assert_eq!(
        s.account_by_id_or_name("alice")
            .await
            .unwrap()
            .unwrap()
            .webhook_url,
        None
    );
    let got = stored(&*s, own.id).await;
    assert_eq!(got.webhook_url, None);
    assert!(stored(&*s, other.id).await.webhook_url.is_some());
    let ds = s.deliveries(own.id).await.unwrap();
    assert!(
        ds.iter().all(|d| d.state == "failed"),
        "what was queued for it is dropped"
    );
    let gone = ds.iter().find(|d| d.event_id == row.id).unwrap();
    assert_eq!(gone.last_status, Some(410));
    assert_eq!(
        s.deliveries(other.id).await.unwrap()[0].state,
        "pending",
        "other URLs keep theirs"
    );
}

pub(super) async fn corrupt_rows_are_errors(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let cases = [
        ("kind = 'video'", "secrets.kind"),
        ("status = 'lost'", "secrets.status"),
        ("created_at = 9223372036854775807", "secrets.created_at"),
        ("views_used = -1", "secrets.views_used"),
        ("size = -5", "secrets.size"),
        ("verifier = x'0102'", "secrets.verifier"),
        (
            r#"bound_to = '{"provider":"irc","user":"U1"}'"#,
            "secrets.bound_to",
        ),
    ];
    for (set, column) in cases {
        let x = secret(&a, 3);
        s.insert_secret(&x).await.unwrap();
        let set = if db.url.starts_with("postgres") {
            set.replace("x'0102'", "'\\x0102'::bytea")
        } else {
            set.to_string()
        };
        db.exec(&format!("UPDATE secrets SET {set} WHERE id = '{}'", x.id))
            .await;
        let err = s.secret(x.id).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { column: c, .. } if *c == column),
            "{set}: {err:?}"
        );
        // Users see an internal error (500), as for any storage failure.
        assert_eq!(Error::from(err).code(), "internal");
    }
    let x = secret(&a, 3);
    s.insert_secret(&x).await.unwrap();
    assert!(granted(&view(&*s, x.id).await));
    db.exec(&format!(
        "UPDATE views SET at = -9223372036854775807 WHERE secret_id = '{}'",
        x.id
    ))
    .await;
    assert!(matches!(
        s.views(x.id).await,
        Err(StoreError::Corrupt {
            column: "views.at",
            ..
        })
    ));
    db.exec("UPDATE outbox SET last_status = 70000").await;
    assert!(matches!(
        s.deliveries(x.id).await,
        Err(StoreError::Corrupt {
            column: "outbox.last_status",
            ..
        })
    ));
    db.exec(&format!(
        "UPDATE accounts SET created_at = 9223372036854775807 WHERE id = '{}'",
        a.id
    ))
    .await;
    assert!(matches!(
        s.account_by_id_or_name("alice").await,
        Err(StoreError::Corrupt {
            column: "accounts.created_at",
            ..
        })
    ));
}
