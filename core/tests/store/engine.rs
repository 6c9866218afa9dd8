//! The engine over the store, the way the API server drives it, with two instances.

use super::*;

pub(super) fn config() -> EngineConfig {
    EngineConfig {
        webhooks: WebhookConfig {
            allow_private: seecret_core::webhook::PrivateAllowList::parse("127.0.0.1/32").unwrap(),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub(super) fn text(content: &str, views: u32) -> CreateSecret {
    CreateSecret {
        content: Some(SecretBytes::from(content.to_string())),
        views: Some(views),
        ..Default::default()
    }
}

pub(super) fn with_key(url: &str) -> (SecretId, RevealRequest) {
    let link = Link::parse(url).unwrap();
    let key = link.key.to_base64url().as_str().to_string();
    (
        link.id,
        RevealRequest {
            key: Some(SecretBytes::from(key)),
            proof: None,
            passphrase: None,
            ticket: None,
        },
    )
}

/// Reveals `id` `n` times at once, alternating between the two instances; returns the
/// successful reveals' (views_remaining, status) and the number of `Gone` answers.
pub(super) async fn race_reveals(
    engines: &[Arc<Engine>; 2],
    id: SecretId,
    req: &RevealRequest,
    n: usize,
) -> (Vec<(u32, Status)>, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let engine = engines[i % 2].clone();
            let req = req.clone();
            tokio::spawn(async move { engine.reveal(id, req, Viewer::default()).await })
        })
        .collect();
    let mut granted = Vec::new();
    let mut gone = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(Reveal::Text(r)) => {
                assert_eq!(r.content.as_ref().unwrap().expose(), b"race me");
                granted.push((r.views_remaining, r.status));
            }
            Ok(Reveal::File(_)) => panic!("a text secret revealed as a file"),
            Err(Error::Gone(GoneReason::Consumed)) => gone += 1,
            Err(e) => panic!("unexpected reveal error: {e:?}"),
        }
    }
    (granted, gone)
}

pub(super) async fn engine_scenario_across_two_instances(db: Db) {
    let [a, b] = db.open_two().await;
    let engines = [
        Arc::new(Engine::new(a.clone(), config())),
        Arc::new(Engine::new(b.clone(), config())),
    ];
    let engine = &engines[0];
    engine.ready().await.unwrap();

    // ---- accounts ----
    let (account, token) = engine.create_account("alice", None).await.unwrap();
    assert_eq!(
        engines[1].authenticate(token.expose()).await.unwrap().id,
        account.id
    );
    assert!(matches!(
        engine.create_account("alice", None).await,
        Err(Error::InvalidInput {
            field: Some("name"),
            ..
        })
    ));

    // ---- a 1-view secret: of 50 concurrent reveals on two instances exactly one wins ----
    let created = engine
        .create_secret(&account, text("race me", 1))
        .await
        .unwrap();
    let (id, req) = with_key(created.url.as_deref().unwrap());
    let (granted, gone) = race_reveals(&engines, id, &req, 50).await;
    assert_eq!(
        granted,
        vec![(0, Status::Consumed)],
        "exactly one reveal wins"
    );
    assert_eq!(gone, 49);
    let record = a.secret(id).await.unwrap().unwrap();
    assert_eq!((record.status, record.views_used), (Status::Consumed, 1));
    assert!(
        record.envelope.is_none(),
        "the last view erases the content"
    );

    // ---- a 3-view secret: exactly 3 ----
    let created = engine
        .create_secret(&account, text("race me", 3))
        .await
        .unwrap();
    let (id3, req3) = with_key(created.url.as_deref().unwrap());
    let (mut granted, gone) = race_reveals(&engines, id3, &req3, 50).await;
    granted.sort_by_key(|g| g.0);
    assert_eq!(
        granted,
        vec![
            (0, Status::Consumed),
            (1, Status::Active),
            (2, Status::Active)
        ]
    );
    assert_eq!(gone, 47);

    // ---- update ----
    let created = engine
        .create_secret(&account, text("race me", 2))
        .await
        .unwrap();
    let (idu, requ) = with_key(created.url.as_deref().unwrap());
    engine.reveal(idu, requ, Viewer::default()).await.unwrap();
    let update = |views, label: Option<&str>| UpdateSecret {
        views,
        label: label.map(Into::into),
        ..Default::default()
    };
    let info = engine
        .update_secret(&account, idu, update(Some(4), Some("renamed")))
        .await
        .unwrap();
    assert_eq!((info.views, info.views_remaining), (4, 3));
    assert_eq!(info.label.as_deref(), Some("renamed"));
    assert!(matches!(
        engine
            .update_secret(&account, idu, update(Some(1), None))
            .await,
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        engine
            .update_secret(&account, id, update(None, Some("x")))
            .await,
        Err(Error::Gone(GoneReason::Consumed))
    ));

    // ---- delete ----
    let created = engine
        .create_secret(&account, text("race me", 1))
        .await
        .unwrap();
    let (idd, reqd) = with_key(created.url.as_deref().unwrap());
    assert_eq!(
        engine.delete_secret(&account, idd).await.unwrap().status,
        Status::Deleted
    );
    assert!(matches!(
        engines[1].reveal(idd, reqd, Viewer::default()).await,
        Err(Error::Gone(GoneReason::Deleted))
    ));
    // Deleting again is an idempotent no-op; deleting a consumed secret keeps its status.
    assert_eq!(
        engine.delete_secret(&account, idd).await.unwrap().status,
        Status::Deleted
    );
    assert_eq!(
        engine.delete_secret(&account, id).await.unwrap().status,
        Status::Consumed
    );

    // ---- list with cursor paging (a fresh account, so the set is known) ----
    let (bob, _) = engine.create_account("bob", None).await.unwrap();
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(
            engine
                .create_secret(&bob, text(&format!("s{i}"), 1))
                .await
                .unwrap()
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = engines[1]
            .list_secrets(
                &bob,
                ListQuery {
                    limit: Some(3),
                    cursor: cursor.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(page.seecrets.len() <= 3);
        seen.extend(page.seecrets.iter().map(|s| s.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, every secret once");
    let consumed = engine
        .list_secrets(
            &account,
            ListQuery {
                status: Some(Status::Consumed),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let consumed: HashSet<_> = consumed.seecrets.iter().map(|s| s.id).collect();
    assert_eq!(consumed, HashSet::from([id, id3]));
    let usage = a.usage(account.id).await.unwrap();
    assert_eq!(
        (usage.active, usage.consumed, usage.deleted, usage.views),
        (1, 2, 1, 5)
    );

    // ---- webhooks: reveals write outbox rows in the same transaction ----
    let info = engine
        .update_account(
            &account,
            UpdateAccount {
                webhook_url: Some("http://127.0.0.1:9/hook".into()),
            },
        )
        .await
        .unwrap();
    assert!(
        info.webhook_secret.is_some(),
        "first URL creates the secret"
    );
    let account = a
        .account_by_id_or_name(&account.id.to_string())
        .await
        .unwrap()
        .unwrap();
    let created = engine
        .create_secret(&account, text("race me", 2))
        .await
        .unwrap();
    let (idw, reqw) = with_key(created.url.as_deref().unwrap());
    let (granted, _) = race_reveals(&engines, idw, &reqw, 10).await;
    assert_eq!(granted.len(), 2);
    // viewed, viewed, consumed.
    assert_eq!(a.deliveries(idw).await.unwrap().len(), 3);

    // ---- passphrase failures ----
    let created = engine
        .create_secret(
            &account,
            CreateSecret {
                passphrase: Some(SecretBytes::from("hunter2".to_string())),
                ..text("race me", 1)
            },
        )
        .await
        .unwrap();
    let (idp, reqp) = with_key(created.url.as_deref().unwrap());
    let wrong = RevealRequest {
        passphrase: Some(SecretBytes::from("wrong".to_string())),
        ..reqp.clone()
    };
    for _ in 0..2 {
        assert!(matches!(
            engine.reveal(idp, wrong.clone(), Viewer::default()).await,
            Err(Error::PassphraseInvalid)
        ));
    }
    let record = b.secret(idp).await.unwrap().unwrap();
    assert_eq!(record.pp_fail_count, 2);
    assert_eq!(record.views_used, 0, "a wrong passphrase uses no view");
    let deliveries = a.deliveries(idp).await.unwrap();
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.kind == "seecret.access_denied"));
    let right = RevealRequest {
        passphrase: Some(SecretBytes::from("hunter2".to_string())),
        ..reqp
    };
    assert!(matches!(
        engines[1].reveal(idp, right, Viewer::default()).await,
        Ok(Reveal::Text(_))
    ));

    // ---- the sweep ----
    assert_eq!(engine.sweep().await.unwrap().expired, 0);
    assert_eq!(
        a.purge_ended(Utc::now() - Duration::days(1)).await.unwrap(),
        0
    );
}
