//! Recipient binding: a bound secret's identity, the signed-in viewer in the view log and the
//! events, and sign-in tickets.

use seecret_core::model::{PlatformIdentity, Provider};
use seecret_core::store::TicketRecord;

use super::*;

fn bob() -> PlatformIdentity {
    PlatformIdentity {
        provider: Provider::Slack,
        team: Some("T0001".into()),
        user: "U0BOB".into(),
        name: Some("Bob ✓".into()),
    }
}

pub(super) async fn bound_secrets_and_their_viewers(db: Db) {
    let s = db.open().await;
    let a = hooked(&*s, "alice").await;
    let x = SecretRecord {
        bound_to: Some(bob()),
        ..secret(&a, 2)
    };
    s.insert_secret(&x).await.unwrap();
    assert_eq!(stored(&*s, x.id).await.bound_to, Some(bob()));
    let listed = s.list_secrets(a.id, None, None, 10).await.unwrap();
    assert_eq!(listed[0].bound_to, Some(bob()));
    let plain = secret(&a, 1);
    s.insert_secret(&plain).await.unwrap();
    assert_eq!(stored(&*s, plain.id).await.bound_to, None);

    // The signed-in viewer goes to the view log and to the view's events.
    let t = now();
    assert!(granted(
        &s.claim_view(x.id, t, Some("DE"), Some(&bob()), 0)
            .await
            .unwrap()
    ));
    let views = s.views(x.id).await.unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(
        (views[0].country.as_deref(), views[0].viewer.as_ref()),
        (Some("DE"), Some(&bob()))
    );
    // A stranger refused: an access_denied event naming who tried.
    let mallory = PlatformIdentity {
        user: "U0MAL".into(),
        name: None,
        ..bob()
    };
    s.record_access_denied(x.id, "recipient", None, Some(&mallory), now())
        .await
        .unwrap();
    let rows = claim_all(&*s).await;
    let payload = |kind: &str| -> serde_json::Value {
        let row = rows.iter().find(|r| r.event_type == kind).unwrap();
        serde_json::from_str(&row.payload).unwrap()
    };
    let viewed = payload("seecret.viewed");
    assert_eq!(viewed["viewer"]["user"], "U0BOB");
    assert_eq!(viewed["viewer"]["team"], "T0001");
    assert_eq!(viewed["country"], "DE");
    let denied = payload("seecret.access_denied");
    assert_eq!(
        (denied["reason"].as_str(), denied["viewer"]["user"].as_str()),
        (Some("recipient"), Some("U0MAL"))
    );
    // Without a viewer the payload has no such field (unchanged for unbound secrets).
    assert!(granted(&view(&*s, plain.id).await));
    let rows = claim_all(&*s).await;
    let plain_viewed: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
    assert!(plain_viewed.get("viewer").is_none(), "{plain_viewed}");
    assert_eq!(s.views(plain.id).await.unwrap()[0].viewer, None);
}

pub(super) async fn sign_in_tickets_are_used_once(db: Db) {
    let [s, other] = db.open_two().await;
    let a = account(&*s, "alice").await;
    let x = SecretRecord {
        bound_to: Some(bob()),
        ..secret(&a, 3)
    };
    s.insert_secret(&x).await.unwrap();
    let t = now();
    let ticket = TicketRecord {
        secret_id: x.id,
        identity: bob(),
        created_at: t,
        expires_at: t + Duration::minutes(10),
    };
    let hash = [9u8; 32];
    s.insert_ticket(&hash, &ticket).await.unwrap();
    // Any instance reads it; reading does not use it.
    assert_eq!(other.ticket(&hash).await.unwrap(), Some(ticket.clone()));
    assert_eq!(s.ticket(&hash).await.unwrap(), Some(ticket.clone()));
    assert_eq!(s.ticket(&[8u8; 32]).await.unwrap(), None);
    // Taking it for another secret takes nothing.
    assert_eq!(s.take_ticket(&hash, SecretId::new()).await.unwrap(), None);
    // Of racing takers on two instances, exactly one gets it.
    let takers: Vec<_> = (0..8)
        .map(|n| {
            let store = if n % 2 == 0 { s.clone() } else { other.clone() };
            tokio::spawn(async move { store.take_ticket(&hash, x.id).await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for t in takers {
        got.extend(t.await.unwrap());
    }
    assert_eq!(got, vec![ticket]);
    assert_eq!(s.ticket(&hash).await.unwrap(), None);

    // Expired tickets are purged, live ones stay.
    let old = TicketRecord {
        secret_id: x.id,
        identity: bob(),
        created_at: t - Duration::minutes(20),
        expires_at: t - Duration::minutes(10),
    };
    s.insert_ticket(&[1u8; 32], &old).await.unwrap();
    let live = TicketRecord {
        expires_at: t + Duration::minutes(10),
        ..old.clone()
    };
    s.insert_ticket(&[2u8; 32], &live).await.unwrap();
    assert_eq!(s.purge_tickets(t).await.unwrap(), 1);
    assert_eq!(s.ticket(&[1u8; 32]).await.unwrap(), None);
    assert_eq!(s.ticket(&[2u8; 32]).await.unwrap(), Some(live));
}
