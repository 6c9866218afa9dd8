//! A secret's life: views, expiry, passphrases, the proof of the right to reveal, updates and
//! deletes.

use super::*;

// ---- views and expiry ----------------------------------------------------------------------

#[tokio::test]
async fn views_count_down_and_the_last_one_ends_the_secret() {
    let f = fixture().await;
    let info = f
        .create(CreateSecret {
            views: Some(2),
            ..text("the launch code")
        })
        .await
        .unwrap();
    assert_eq!((info.views, info.views_remaining), (2, 2));
    let key = key_of(&info);

    let first = f.reveal(info.id, with_key(&key)).await.unwrap();
    assert_eq!(content(&first), "the launch code");
    assert_eq!((first.views_remaining, first.status), (1, Status::Active));

    let last = f.reveal(info.id, with_key(&key)).await.unwrap();
    assert_eq!(content(&last), "the launch code");
    assert_eq!((last.views_remaining, last.status), (0, Status::Consumed));

    // 410 after the last view, and the owner sees it consumed.
    let err = f.reveal(info.id, with_key(&key)).await.unwrap_err();
    assert!(matches!(err, Error::Gone(GoneReason::Consumed)), "{err:?}");
    let owner = f.engine.get_secret(&f.alice, info.id).await.unwrap();
    assert_eq!(owner.status, Status::Consumed);
    assert_eq!(owner.view_log.unwrap().len(), 2);
}

#[tokio::test]
async fn an_expired_secret_is_gone_before_the_sweep_and_the_sweep_erases_it() {
    let f = fixture_with(|c| c.min_expiration = Expiration::from_duration(Duration::from_secs(1)))
        .await;
    let info = f
        .create(CreateSecret {
            expiration: Some("1s".parse().unwrap()),
            ..text("short-lived")
        })
        .await
        .unwrap();
    let key = key_of(&info);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Not swept yet, but every answer already says expired.
    let err = f.reveal(info.id, with_key(&key)).await.unwrap_err();
    assert!(matches!(err, Error::Gone(GoneReason::Expired)), "{err:?}");
    let status = f
        .engine
        .status(info.id, &status_of(&key), &Viewer::default())
        .await
        .unwrap();
    assert_eq!(status.status, Status::Expired);
    let list = f
        .engine
        .list_secrets(&f.alice, ListQuery::default())
        .await
        .unwrap();
    assert_eq!(list.seecrets[0].status, Status::Expired);

    let report = f.engine.sweep().await.unwrap();
    assert_eq!(report.expired, 1);
    let owner = f.engine.get_secret(&f.alice, info.id).await.unwrap();
    assert_eq!(owner.status, Status::Expired);
}

#[test]
fn the_live_status_rule() {
    let now = chrono::Utc::now();
    let past = now - chrono::Duration::seconds(1);
    assert_eq!(Status::Active.live_at(past, now), Status::Expired);
    assert_eq!(Status::Active.live_at(now, now), Status::Expired);
    assert_eq!(
        Status::Active.live_at(now + chrono::Duration::seconds(1), now),
        Status::Active
    );
    // An ended secret keeps the reason it ended for.
    assert_eq!(Status::Consumed.live_at(past, now), Status::Consumed);
    assert_eq!(Status::Deleted.live_at(past, now), Status::Deleted);
}

// ---- passphrases ---------------------------------------------------------------------------

#[tokio::test]
async fn a_passphrase_is_required_and_a_wrong_one_uses_no_view() {
    let f = fixture().await;
    let info = f
        .create(CreateSecret {
            passphrase: Some(bytes("correct horse")),
            ..text("behind a passphrase")
        })
        .await
        .unwrap();
    assert!(info.passphrase_protected);
    let key = key_of(&info);

    let err = f.reveal(info.id, with_key(&key)).await.unwrap_err();
    assert!(matches!(err, Error::PassphraseRequired), "{err:?}");
    let wrong = RevealRequest {
        passphrase: Some(bytes("battery staple")),
        ..with_key(&key)
    };
    let err = f.reveal(info.id, wrong).await.unwrap_err();
    assert!(matches!(err, Error::PassphraseInvalid), "{err:?}");
    let status = f
        .engine
        .status(info.id, &status_of(&key), &Viewer::default())
        .await
        .unwrap();
    assert_eq!(status.views_remaining, 1);
    assert!(status.passphrase_protected);

    let right = RevealRequest {
        passphrase: Some(bytes("correct horse")),
        ..with_key(&key)
    };
    let r = f.reveal(info.id, right).await.unwrap();
    assert_eq!(content(&r), "behind a passphrase");
}

#[tokio::test]
async fn passphrase_attempts_past_the_window_limit_are_refused_with_a_retry_time() {
    let f = fixture_with(|c| c.passphrase_attempts_per_minute = 2).await;
    let info = f
        .create(CreateSecret {
            passphrase: Some(bytes("right")),
            ..text("guarded")
        })
        .await
        .unwrap();
    let key = key_of(&info);
    let attempt = |p: &str| RevealRequest {
        passphrase: Some(bytes(p)),
        ..with_key(&key)
    };
    for _ in 0..2 {
        let err = f.reveal(info.id, attempt("wrong")).await.unwrap_err();
        assert!(matches!(err, Error::PassphraseInvalid), "{err:?}");
    }
    // Locked: even the right passphrase is not evaluated, and asking without one says so too.
    for req in [attempt("right"), with_key(&key)] {
        match f.reveal(info.id, req).await.unwrap_err() {
            Error::RateLimited { retry_after } => {
                assert!(retry_after <= Duration::from_secs(60), "{retry_after:?}");
                assert!(retry_after > Duration::ZERO);
            }
            other => panic!("expected rate_limited, got {other:?}"),
        }
    }
    let status = f
        .engine
        .status(info.id, &status_of(&key), &Viewer::default())
        .await
        .unwrap();
    assert_eq!((status.status, status.views_remaining), (Status::Active, 1));
}

// ---- proof of the right to reveal ----------------------------------------------------------

#[tokio::test]
async fn reveal_needs_the_key_or_the_proof_and_a_wrong_one_is_not_found() {
    let f = fixture().await;
    let info = f.create(text("need to know")).await.unwrap();
    let key = key_of(&info);
    let other = SecretKey::generate();

    for req in [
        RevealRequest::default(),
        with_key(&other),
        with_proof(&other),
        RevealRequest {
            key: Some(bytes("not a key")),
            ..RevealRequest::default()
        },
        // A right key with a wrong proof is refused too.
        RevealRequest {
            proof: Some(proof_of(&other)),
            ..with_key(&key)
        },
    ] {
        let err = f.reveal(info.id, req).await.unwrap_err();
        assert!(matches!(err, Error::NotFound), "{err:?}");
    }
    // An unknown id answers exactly the same.
    let err = f.reveal(SecretId::new(), with_key(&key)).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    // None of the refusals used the view.
    let status = f
        .engine
        .status(info.id, &status_of(&key), &Viewer::default())
        .await
        .unwrap();
    assert_eq!(status.views_remaining, 1);

    // The proof alone reveals the envelope, for the client to open with the key it holds.
    let r = f.reveal(info.id, with_proof(&key)).await.unwrap();
    assert!(r.content.is_none());
    let envelope = crypto::b64decode("ciphertext", r.ciphertext.as_deref().unwrap()).unwrap();
    let opened = crypto::open(&key, &info.id, &envelope).unwrap();
    assert_eq!(opened.as_str(), Some("need to know"));
}

#[tokio::test]
async fn status_needs_the_proof_and_uses_no_view() {
    let f = fixture().await;
    let info = f.create(text("peek")).await.unwrap();
    let key = key_of(&info);
    let err = f
        .engine
        .status(
            info.id,
            &status_of(&SecretKey::generate()),
            &Viewer::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    for _ in 0..3 {
        let s = f
            .engine
            .status(info.id, &status_of(&key), &Viewer::default())
            .await
            .unwrap();
        assert_eq!((s.status, s.views_remaining), (Status::Active, 1));
    }
}

// ---- updates and deletes -------------------------------------------------------------------

#[tokio::test]
async fn views_can_only_be_raised_above_those_already_used() {
    let f = fixture().await;
    let info = f
        .create(CreateSecret {
            views: Some(3),
            ..text("shared thrice")
        })
        .await
        .unwrap();
    let key = key_of(&info);
    f.reveal(info.id, with_key(&key)).await.unwrap();
    let lower = UpdateSecret {
        views: Some(1),
        ..UpdateSecret::default()
    };
    let err = f
        .engine
        .update_secret(&f.alice, info.id, lower)
        .await
        .unwrap_err();
    assert_eq!(field(err), Some("views"));
    let raised = UpdateSecret {
        views: Some(5),
        ..UpdateSecret::default()
    };
    let updated = f
        .engine
        .update_secret(&f.alice, info.id, raised)
        .await
        .unwrap();
    assert_eq!((updated.views, updated.views_remaining), (5, 4));
}

#[tokio::test]
async fn an_ended_secret_cannot_be_updated() {
    let f = fixture().await;
    let info = f.create(text("once")).await.unwrap();
    f.reveal(info.id, with_key(&key_of(&info))).await.unwrap();
    let relabel = UpdateSecret {
        label: Some("too late".into()),
        ..UpdateSecret::default()
    };
    let err = f
        .engine
        .update_secret(&f.alice, info.id, relabel)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Gone(GoneReason::Consumed)), "{err:?}");
}

#[tokio::test]
async fn new_content_gets_a_new_key_and_the_old_link_stops_working() {
    let f = fixture().await;
    let info = f.create(text("first draft")).await.unwrap();
    let old = key_of(&info);
    let update = UpdateSecret {
        content: Some(bytes("final text")),
        ..UpdateSecret::default()
    };
    let updated = f
        .engine
        .update_secret(&f.alice, info.id, update)
        .await
        .unwrap();
    let new = key_of(&updated);
    assert_ne!(new.as_bytes(), old.as_bytes());
    let err = f.reveal(info.id, with_key(&old)).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    let r = f.reveal(info.id, with_key(&new)).await.unwrap();
    assert_eq!(content(&r), "final text");
}

#[tokio::test]
async fn another_account_can_neither_read_change_nor_delete_a_secret() {
    let f = fixture().await;
    let (mallory, _) = f.engine.create_account("mallory", None).await.unwrap();
    let info = f.create(text("alice's")).await.unwrap();

    let err = f.engine.get_secret(&mallory, info.id).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    let relabel = UpdateSecret {
        label: Some("mine now".into()),
        ..UpdateSecret::default()
    };
    let err = f
        .engine
        .update_secret(&mallory, info.id, relabel)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    let err = f.engine.delete_secret(&mallory, info.id).await.unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    let theirs = f
        .engine
        .list_secrets(&mallory, ListQuery::default())
        .await
        .unwrap();
    assert!(theirs.seecrets.is_empty());

    let owner = f.engine.get_secret(&f.alice, info.id).await.unwrap();
    assert_eq!((owner.status, owner.label), (Status::Active, None));
}

#[tokio::test]
async fn delete_erases_at_once_and_deleting_again_still_answers_deleted() {
    let f = fixture().await;
    let info = f.create(text("regret")).await.unwrap();
    let key = key_of(&info);
    let d = f.engine.delete_secret(&f.alice, info.id).await.unwrap();
    assert!(d.deleted);
    assert_eq!(d.status, Status::Deleted);
    let again = f.engine.delete_secret(&f.alice, info.id).await.unwrap();
    assert_eq!((again.deleted, again.status), (true, Status::Deleted));
    let err = f.reveal(info.id, with_key(&key)).await.unwrap_err();
    assert!(matches!(err, Error::Gone(GoneReason::Deleted)), "{err:?}");
}
