//! Requests for a secret (DESIGN §7.2): one answer, sealed to the asker's key, read back with
//! the proof from d; refusals for a second answer, an expired or deleted request.

use std::sync::Arc;

use super::*;
use crate::api::{AnswerRequest, CreateRequest, RequestListQuery};
use crate::error::RequestGoneReason;
use crate::model::RequestStatus;
use crate::request::{RequestPrivateKey, RequestPublicKey, answer_key_for};

fn ask(d: &RequestPrivateKey) -> CreateRequest {
    CreateRequest {
        public_key: d.public_key().to_base64url(),
        verifier: d.verifier().to_base64url(),
        note: Some("staging DB password".into()),
        ..CreateRequest::default()
    }
}

/// What the responder page does: seal `text` for the request's id under the derived key.
fn sealed(id: SecretId, public_key: &str, text: &str) -> AnswerRequest {
    let q = RequestPublicKey::from_base64url("public_key", public_key).unwrap();
    let (k, e) = answer_key_for(&id, &q).unwrap();
    AnswerRequest {
        ciphertext: crypto::b64encode(&crypto::seal(&k, &id, text.as_bytes()).unwrap()),
        ephemeral_public_key: e.to_base64url(),
    }
}

#[tokio::test]
async fn an_answer_is_read_back_by_the_asker_with_the_private_key_only() {
    let f = fixture().await;
    let d = RequestPrivateKey::generate();
    let req = f.engine.create_request(&f.alice, ask(&d)).await.unwrap();
    assert_eq!(req.status, RequestStatus::Open);
    assert!(
        req.request_url
            .ends_with(&format!("/r/{}#{}", req.id, d.public_key().to_base64url())),
        "{}",
        req.request_url
    );
    // The responder page's view: note and Q, nothing else.
    let public = f.engine.public_request(req.id).await.unwrap();
    assert_eq!(public.note.as_deref(), Some("staging DB password"));
    assert_eq!(public.public_key, d.public_key().to_base64url());

    let answered = f
        .engine
        .answer_request(req.id, sealed(req.id, &public.public_key, "hunter2"))
        .await
        .unwrap();
    assert_eq!(answered.id, req.id);

    // The asker: status and reveal with the proof from d, then K from d and E.
    let proof = bytes(&d.proof().to_base64url());
    let status = f
        .engine
        .status(
            req.id,
            &StatusRequest {
                proof: proof.clone(),
                ticket: None,
            },
            &Viewer::default(),
        )
        .await
        .unwrap();
    assert_eq!(status.status, Status::Active);
    let revealed = f
        .reveal(
            req.id,
            RevealRequest {
                proof: Some(proof),
                ..RevealRequest::default()
            },
        )
        .await
        .unwrap();
    let e = RequestPublicKey::from_base64url(
        "ephemeral_public_key",
        revealed.ephemeral_public_key.as_deref().unwrap(),
    )
    .unwrap();
    let k = d.answer_key(&req.id, &e).unwrap();
    let envelope =
        crypto::b64decode("ciphertext", revealed.ciphertext.as_deref().unwrap()).unwrap();
    assert_eq!(
        crypto::open(&k, &req.id, &envelope).unwrap().expose(),
        b"hunter2"
    );
    // One view by default: the answer is gone now, and the request says answered.
    assert_eq!(revealed.status, Status::Consumed);
    let owner = f.engine.get_request(&f.alice, req.id).await.unwrap();
    assert_eq!(owner.status, RequestStatus::Answered);
    assert_eq!(owner.answer_id, Some(req.id));
    let list = f
        .engine
        .list_requests(&f.alice, RequestListQuery::default())
        .await
        .unwrap();
    assert_eq!(list.requests.len(), 1);
}

#[tokio::test]
async fn a_second_answer_is_refused_as_already_answered() {
    let f = fixture().await;
    let d = RequestPrivateKey::generate();
    let req = f.engine.create_request(&f.alice, ask(&d)).await.unwrap();
    f.engine
        .answer_request(req.id, sealed(req.id, &req.public_key, "first"))
        .await
        .unwrap();
    let err = f
        .engine
        .answer_request(req.id, sealed(req.id, &req.public_key, "second"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyAnswered), "{err:?}");
    assert_eq!(err.code(), "already_answered");
}

#[tokio::test]
async fn concurrent_answers_store_exactly_one() {
    let f = Arc::new(fixture().await);
    let d = RequestPrivateKey::generate();
    let req = f.engine.create_request(&f.alice, ask(&d)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let f = f.clone();
        let body = sealed(req.id, &req.public_key, &format!("answer {i}"));
        tasks.push(tokio::spawn(async move {
            f.engine.answer_request(req.id, body).await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(Error::AlreadyAnswered) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn a_deleted_request_refuses_answers_with_request_deleted() {
    let f = fixture().await;
    let d = RequestPrivateKey::generate();
    let req = f.engine.create_request(&f.alice, ask(&d)).await.unwrap();
    let deleted = f.engine.delete_request(&f.alice, req.id).await.unwrap();
    assert_eq!(deleted.status, RequestStatus::Deleted);
    let err = f
        .engine
        .answer_request(req.id, sealed(req.id, &req.public_key, "late"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RequestGone(RequestGoneReason::Deleted)),
        "{err:?}"
    );
    assert_eq!(err.code(), "request_deleted");
}

#[tokio::test]
async fn an_expired_request_refuses_answers_with_request_expired() {
    let f = fixture_with(|c| c.min_expiration = Expiration::from_duration(Duration::from_secs(1)))
        .await;
    let d = RequestPrivateKey::generate();
    let req = f
        .engine
        .create_request(
            &f.alice,
            CreateRequest {
                expiration: Some("1s".parse().unwrap()),
                ..ask(&d)
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        f.engine.public_request(req.id).await.unwrap().status,
        RequestStatus::Expired
    );
    let err = f
        .engine
        .answer_request(req.id, sealed(req.id, &req.public_key, "late"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RequestGone(RequestGoneReason::Expired)),
        "{err:?}"
    );
    // The sweep marks it; it still reads expired.
    f.engine.sweep().await.unwrap();
    let owner = f.engine.get_request(&f.alice, req.id).await.unwrap();
    assert_eq!(owner.status, RequestStatus::Expired);
}

#[tokio::test]
async fn the_id_alone_cannot_read_the_answer() {
    let f = fixture().await;
    let d = RequestPrivateKey::generate();
    let req = f.engine.create_request(&f.alice, ask(&d)).await.unwrap();
    f.engine
        .answer_request(req.id, sealed(req.id, &req.public_key, "hunter2"))
        .await
        .unwrap();
    // Another key's proof: the unknown-id 404, no view used.
    let other = RequestPrivateKey::generate();
    let err = f
        .reveal(
            req.id,
            RevealRequest {
                proof: Some(bytes(&other.proof().to_base64url())),
                ..RevealRequest::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    let info = f.engine.get_secret(&f.alice, req.id).await.unwrap();
    assert_eq!(info.views_remaining, 1);
}

#[tokio::test]
async fn bad_request_inputs_name_their_field() {
    let f = fixture().await;
    let d = RequestPrivateKey::generate();
    for (req, expected) in [
        (
            CreateRequest {
                public_key: "short".into(),
                ..ask(&d)
            },
            "public_key",
        ),
        (
            CreateRequest {
                verifier: "x".into(),
                ..ask(&d)
            },
            "verifier",
        ),
        (
            CreateRequest {
                note: Some("n".repeat(501)),
                ..ask(&d)
            },
            "note",
        ),
        (
            CreateRequest {
                answer_views: Some(0),
                ..ask(&d)
            },
            "answer_views",
        ),
    ] {
        let err = f.engine.create_request(&f.alice, req).await.unwrap_err();
        assert_eq!(field(err), Some(expected));
    }
}

/// The request id travels in the `/r/` link's path (chat previews, proxy logs). Anyone with an
/// account who learns it must not be able to take the answer's id first: the real answer would
/// then be refused and the asker never get it.
#[tokio::test]
async fn a_secret_cannot_squat_a_requests_id_and_block_its_answer() {
    let f = fixture().await;
    let d = RequestPrivateKey::generate();
    let req = f.engine.create_request(&f.alice, ask(&d)).await.unwrap();

    let key = SecretKey::generate();
    let squat = CreateSecret {
        ciphertext: Some(crypto::b64encode(
            &crypto::seal(&key, &req.id, b"decoy").unwrap(),
        )),
        id: Some(req.id),
        verifier: Some(RevealProof::of_key(&key).verifier().to_base64url()),
        ..CreateSecret::default()
    };
    let err = f.create(squat).await.unwrap_err();
    assert!(matches!(err, Error::IdTaken), "{err:?}");

    let file = f
        .engine
        .create_file(
            &f.alice,
            CreateSecret {
                id: Some(req.id),
                size: Some(5),
                verifier: Some(RevealProof::of_key(&key).verifier().to_base64url()),
                ..CreateSecret::default()
            },
            FileSource::Sealed {
                stream: futures::stream::iter([Ok::<_, String>(Bytes::from_static(b"decoy"))]),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(file, Error::IdTaken), "{file:?}");

    // The real answer still goes through.
    f.engine
        .answer_request(req.id, sealed(req.id, &req.public_key, "hunter2"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bots_request_announces_its_answer_to_the_bots_chat_user() {
    let f = fixture().await;
    let d = RequestPrivateKey::generate();
    let req = f
        .engine
        .create_request_notifying(&f.alice, ask(&d), Some("slack:T1:U1".into()))
        .await
        .unwrap();
    f.engine
        .answer_request(req.id, sealed(req.id, &req.public_key, "hunter2"))
        .await
        .unwrap();

    let t = chrono::Utc::now();
    let events = f
        .engine
        .store()
        .claim_due_events(t, t + chrono::Duration::seconds(60), 100, u32::MAX)
        .await
        .unwrap();
    let to_bot: Vec<_> = events
        .iter()
        .filter(|e| e.target_url == "internal:slack:T1:U1")
        .collect();
    assert_eq!(to_bot.len(), 1, "{events:?}");
    assert_eq!(to_bot[0].event_type, "seecret.request_answered");
    let payload: serde_json::Value = serde_json::from_str(&to_bot[0].payload).unwrap();
    assert_eq!(payload["secret_id"], req.id.to_string());

    // The subscriber name is checked as for shares.
    let err = f
        .engine
        .create_request_notifying(&f.alice, ask(&d), Some("slack:T1\nU2".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
}
