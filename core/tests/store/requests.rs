//! Requests for a secret: insert, read, list, delete, and the one answer accepted atomically,
//! also when two instances race on one database.

use seecret_core::model::RequestStatus;
use seecret_core::request::RequestPrivateKey;
use seecret_core::store::{AnswerOutcome, RequestRecord};

use super::*;

fn request(account: &AccountRecord) -> RequestRecord {
    let t = now();
    let d = RequestPrivateKey::generate();
    RequestRecord {
        id: SecretId::new(),
        account_id: account.id,
        public_key: d.public_key(),
        verifier: d.verifier(),
        note: Some("staging DB password".into()),
        label: Some("ops".into()),
        webhook_url: None,
        notify: Some("slack:T1:U1".into()),
        allow_files: true,
        answer_expiration: std::time::Duration::from_secs(3600),
        answer_views: 2,
        status: RequestStatus::Open,
        created_at: t,
        expires_at: t + Duration::hours(1),
        answered_at: None,
    }
}

fn answer(r: &RequestRecord) -> SecretRecord {
    SecretRecord {
        id: r.id,
        verifier: Some(r.verifier.clone()),
        ephemeral_public_key: Some(RequestPrivateKey::generate().public_key()),
        views_total: r.answer_views,
        notify: r.notify.clone(),
        ..secret(
            &AccountRecord {
                id: r.account_id,
                name: String::new(),
                email: None,
                plan: String::new(),
                webhook_url: None,
                created_at: now(),
            },
            r.answer_views,
        )
    }
}

pub(super) async fn requests_round_trip_and_end_once(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let r = request(&a);
    s.insert_request(&r).await.unwrap();
    let back = s.request(r.id).await.unwrap().unwrap();
    assert_eq!(
        (
            back.public_key,
            back.note.as_deref(),
            back.allow_files,
            back.answer_views
        ),
        (r.public_key, Some("staging DB password"), true, 2)
    );
    assert_eq!(back.verifier, r.verifier);
    assert_eq!(back.answer_expiration, r.answer_expiration);
    assert_eq!(back.notify.as_deref(), Some("slack:T1:U1"));
    let second = request(&a);
    s.insert_request(&second).await.unwrap();
    let listed = s.list_requests(a.id, None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second.id, r.id]
    );
    assert_eq!(
        s.list_requests(a.id, Some(second.id), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // The answer: the request moves to answered, the secret exists with E and `notify`; one
    // event for the account's webhook, one for the bot's chat user.
    let x = answer(&r);
    assert_eq!(
        s.answer_request(&x, now()).await.unwrap(),
        AnswerOutcome::Accepted { events: 2 }
    );
    let stored_answer = stored(&*s, r.id).await;
    assert_eq!(stored_answer.ephemeral_public_key, x.ephemeral_public_key);
    assert_eq!(stored_answer.verifier, Some(r.verifier.clone()));
    assert_eq!(stored_answer.notify.as_deref(), Some("slack:T1:U1"));
    // It is not one of the chat user's shares.
    assert!(
        s.secrets_notifying(a.id, "slack:T1:U1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(kinds(&*s, r.id).await, vec!["seecret.request_answered"]);
    assert_eq!(
        s.request(r.id).await.unwrap().unwrap().status,
        RequestStatus::Answered
    );
    // A second answer stores nothing; deleting an answered request changes nothing.
    assert_eq!(
        s.answer_request(&answer(&r), now()).await.unwrap(),
        AnswerOutcome::NotOpen(RequestStatus::Answered)
    );
    assert!(!s.delete_request(a.id, r.id, now()).await.unwrap());

    // Deleted: answers refused.
    assert!(s.delete_request(a.id, second.id, now()).await.unwrap());
    assert_eq!(
        s.answer_request(&answer(&second), now()).await.unwrap(),
        AnswerOutcome::NotOpen(RequestStatus::Deleted)
    );
    assert!(s.secret(second.id).await.unwrap().is_none());

    // Past its expiry: refused (still `open` in the row), then marked by the sweep.
    let late = request(&a);
    s.insert_request(&late).await.unwrap();
    let after = late.expires_at + Duration::seconds(1);
    assert_eq!(
        s.answer_request(&answer(&late), after).await.unwrap(),
        AnswerOutcome::NotOpen(RequestStatus::Open)
    );
    assert_eq!(s.expire_requests(after).await.unwrap(), 1);
    assert_eq!(
        s.request(late.id).await.unwrap().unwrap().status,
        RequestStatus::Expired
    );
    assert_eq!(
        s.answer_request(
            &answer(&RequestRecord {
                id: SecretId::new(),
                ..late
            }),
            now()
        )
        .await
        .unwrap(),
        AnswerOutcome::Unknown
    );
}

pub(super) async fn one_answer_wins_across_racing_instances(db: Db) {
    let [s1, s2] = db.open_two().await;
    let a = account(&*s1, "alice").await;
    for _ in 0..3 {
        let r = request(&a);
        s1.insert_request(&r).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = if i % 2 == 0 { s1.clone() } else { s2.clone() };
            let x = answer(&r);
            tasks.push(tokio::spawn(
                async move { s.answer_request(&x, now()).await },
            ));
        }
        let mut accepted = 0;
        for t in tasks {
            match t.await.unwrap().unwrap() {
                AnswerOutcome::Accepted { .. } => accepted += 1,
                AnswerOutcome::NotOpen(RequestStatus::Answered) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(accepted, 1);
        assert!(s2.secret(r.id).await.unwrap().is_some());
    }
}
