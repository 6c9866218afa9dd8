//! Secrets bound to a platform user: what creation accepts, and the reveal rule (a ticket of the
//! bound user, checked right after the proof, used once; strangers refused without a view).

use chrono::Duration as Span;

use super::*;
use crate::api::StatusRequest;
use crate::crypto::SignInTicket;
use crate::model::{PlatformIdentity, Provider};

fn slack(team: &str, user: &str, name: Option<&str>) -> PlatformIdentity {
    PlatformIdentity {
        provider: Provider::Slack,
        team: Some(team.into()),
        user: user.into(),
        name: name.map(String::from),
    }
}

fn discord(user: &str) -> PlatformIdentity {
    PlatformIdentity {
        provider: Provider::Discord,
        team: None,
        user: user.into(),
        name: None,
    }
}

fn bob() -> PlatformIdentity {
    slack("T0TEAM1", "U0BOB", Some("@bob"))
}

async fn signing_in() -> Fixture {
    fixture_with(|c| c.sign_in_providers = vec![Provider::Slack, Provider::Discord]).await
}

fn bound(views: u32, to: PlatformIdentity) -> CreateSecret {
    CreateSecret {
        views: Some(views),
        bound_to: Some(to),
        ..text("for bob only")
    }
}

fn with_ticket(mut req: RevealRequest, ticket: &SignInTicket) -> RevealRequest {
    req.ticket = Some(bytes(&ticket.to_base64url()));
    req
}

fn status_with(key: &SecretKey, ticket: Option<&SignInTicket>) -> StatusRequest {
    StatusRequest {
        ticket: ticket.map(|t| bytes(&t.to_base64url())),
        ..status_of(key)
    }
}

impl Fixture {
    /// Reveals `id` as `who`, just signed in.
    async fn reveal_as(
        &self,
        id: SecretId,
        req: RevealRequest,
        who: PlatformIdentity,
    ) -> Result<Revealed, Error> {
        let ticket = self.engine.issue_ticket(id, who).await.unwrap();
        self.reveal(id, with_ticket(req, &ticket)).await
    }
}

/// The views left and the view log's length, as the owner sees them.
async fn owner_sees(f: &Fixture, id: SecretId) -> (u32, usize) {
    let info = f.engine.get_secret(&f.alice, id).await.unwrap();
    (info.views_remaining, info.view_log.unwrap().len())
}

fn bound_to_of(e: &Error) -> Option<&PlatformIdentity> {
    match e {
        Error::SignInRequired { bound_to, .. } | Error::NotTheRecipient { bound_to } => {
            Some(bound_to)
        }
        _ => None,
    }
}

#[tokio::test]
async fn binding_needs_that_platforms_sign_in_and_ids_in_its_own_form() {
    // No sign-in configured: refused at creation, never silently unenforced.
    let f = fixture().await;
    let err = f.create(bound(1, bob())).await.unwrap_err();
    assert!(err.to_string().contains("SEECRET_SLACK_CLIENT_ID"), "{err}");
    assert_eq!(field(err), Some("bound_to"));
    let f = fixture_with(|c| c.sign_in_providers = vec![Provider::Slack]).await;
    let err = f
        .create(bound(1, discord("80351110224678912")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Discord"), "{err}");

    let f = signing_in().await;
    for (who, says) in [
        (
            PlatformIdentity {
                team: None,
                ..bob()
            },
            "team",
        ),
        (slack("X0TEAM", "U0BOB", None), "workspace id"),
        (slack("T0TEAM", "u0bob", None), "member id"),
        (slack("T0TEAM", "B0BOT", None), "member id"),
        (slack("T0TEAM", "U", None), "member id"),
        (
            slack("T0TEAM", &format!("U{}", "A".repeat(40)), None),
            "member id",
        ),
        (
            PlatformIdentity {
                team: Some("T0TEAM".into()),
                ..discord("80351110224678912")
            },
            "only for Slack",
        ),
        (discord("1234"), "snowflake"),
        (discord("080351110224678912"), "snowflake"),
        (discord("8035111022467891x"), "snowflake"),
        (
            slack("T0TEAM", "U0BOB", Some("bob\u{202E}evil")),
            "bound_to.name",
        ),
        (
            slack("T0TEAM", "U0BOB", Some(&"b".repeat(101))),
            "bound_to.name",
        ),
    ] {
        let err = f.create(bound(1, who.clone())).await.unwrap_err();
        assert!(err.to_string().contains(says), "{who:?}: {err}");
        assert_eq!(field(err), Some("bound_to"), "{who:?}");
    }
    let info = f
        .create(bound(1, slack("T0TEAM", "W0BOB", Some("  Bob  "))))
        .await
        .unwrap();
    assert_eq!(info.bound_to, Some(slack("T0TEAM", "W0BOB", Some("Bob"))));
    let info = f
        .create(bound(1, discord("1181818181818181818")))
        .await
        .unwrap();
    assert_eq!(info.bound_to, Some(discord("1181818181818181818")));
    // The owner's reads show it too.
    let got = f.engine.get_secret(&f.alice, info.id).await.unwrap();
    assert_eq!(got.bound_to, info.bound_to);
}

#[tokio::test]
async fn a_bound_secret_opens_only_with_its_recipients_ticket_once() {
    let f = signing_in().await;
    let info = f.create(bound(2, bob())).await.unwrap();
    let key = key_of(&info);

    // Without a ticket: asked to sign in with Slack, told for whom; nothing is used.
    let err = f
        .engine
        .status(info.id, &status_of(&key), &Viewer::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sign_in_required");
    assert_eq!(bound_to_of(&err), Some(&bob()));
    assert!(err.to_string().contains("@bob on Slack"), "{err}");
    let err = f.reveal(info.id, with_proof(&key)).await.unwrap_err();
    assert_eq!(err.code(), "sign_in_required");
    assert_eq!(owner_sees(&f, info.id).await, (2, 0));

    // The platform vouched for bob (with its own display name, cleaned for display).
    let signed_in = slack("T0TEAM1", "U0BOB", Some("Bob\u{200B} Builder"));
    let ticket = f.engine.issue_ticket(info.id, signed_in).await.unwrap();
    // The id alone, even with the ticket, is nothing: the proof comes first.
    let err = f
        .reveal(info.id, with_ticket(RevealRequest::default(), &ticket))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound), "{err:?}");
    // The status call checks the ticket without using it up.
    for _ in 0..2 {
        let s = f
            .engine
            .status(
                info.id,
                &status_with(&key, Some(&ticket)),
                &Viewer::default(),
            )
            .await
            .unwrap();
        assert_eq!((s.status, s.views_remaining), (Status::Active, 2));
        assert_eq!(s.bound_to, Some(bob()));
    }
    let r = f
        .reveal(info.id, with_ticket(with_proof(&key), &ticket))
        .await
        .unwrap();
    assert!(r.ciphertext.is_some());
    let log = f
        .engine
        .get_secret(&f.alice, info.id)
        .await
        .unwrap()
        .view_log
        .unwrap();
    assert_eq!(
        log[0].viewer,
        Some(slack("T0TEAM1", "U0BOB", Some("Bob Builder"))),
        "the view log says who revealed it"
    );
    // Used: the same ticket opens nothing more, and uses no view.
    let err = f
        .reveal(info.id, with_ticket(with_proof(&key), &ticket))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sign_in_required");
    assert!(err.to_string().contains("already used"), "{err}");
    assert_eq!(owner_sees(&f, info.id).await, (1, 1));
    // A new sign-in opens the last view (with the key this time: the server decrypts).
    let r = f.reveal_as(info.id, with_key(&key), bob()).await.unwrap();
    assert_eq!(content(&r), "for bob only");
    assert_eq!(owner_sees(&f, info.id).await, (0, 2));
}

#[tokio::test]
async fn a_stranger_is_refused_without_a_view_and_the_owner_hears_of_it_once() {
    let f = signing_in().await;
    let info = f
        .engine
        .create_secret_notifying(&f.alice, bound(1, bob()), Some("slack:T1:U1".into()))
        .await
        .unwrap();
    let key = key_of(&info);
    let mallory = slack("T0TEAM1", "U0MAL", Some("Mallory"));
    let ticket = f
        .engine
        .issue_ticket(info.id, mallory.clone())
        .await
        .unwrap();
    let err = f
        .reveal(info.id, with_ticket(with_proof(&key), &ticket))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_the_recipient");
    assert_eq!(bound_to_of(&err), Some(&bob()));
    assert_eq!(
        err.to_string(),
        "this secret is for another Slack user; nothing was used"
    );
    assert_eq!(owner_sees(&f, info.id).await, (1, 0));
    // The refusal used the ticket up: trying again costs a new sign-in, and no second event.
    let err = f
        .reveal(info.id, with_ticket(with_proof(&key), &ticket))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sign_in_required");
    let t = chrono::Utc::now();
    let events = f
        .engine
        .store()
        .claim_due_events(t, t + Span::seconds(60), 100, u32::MAX)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let payload: serde_json::Value = serde_json::from_str(&events[0].payload).unwrap();
    assert_eq!(payload["type"], "seecret.access_denied");
    assert_eq!(payload["reason"], "recipient");
    assert_eq!(payload["viewer"]["user"], "U0MAL");
    assert_eq!(payload["views_remaining"], 1);

    // The status call refuses the same way, and so does bob's id in another workspace.
    for who in [mallory, slack("T0OTHER", "U0BOB", None)] {
        let ticket = f.engine.issue_ticket(info.id, who).await.unwrap();
        let err = f
            .engine
            .status(
                info.id,
                &status_with(&key, Some(&ticket)),
                &Viewer::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_the_recipient");
    }
    assert_eq!(owner_sees(&f, info.id).await, (1, 0));
    // Bob still opens it.
    let r = f.reveal_as(info.id, with_key(&key), bob()).await.unwrap();
    assert_eq!(content(&r), "for bob only");
}

#[tokio::test]
async fn tickets_forged_expired_or_of_another_secret_count_for_nothing() {
    let f = signing_in().await;
    let info = f.create(bound(1, bob())).await.unwrap();
    let other = f.create(bound(1, bob())).await.unwrap();
    let key = key_of(&info);
    let forged = SignInTicket::generate();
    let elsewhere = f.engine.issue_ticket(other.id, bob()).await.unwrap();
    for ticket in [&forged, &elsewhere] {
        let err = f
            .reveal(info.id, with_ticket(with_proof(&key), ticket))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "sign_in_required");
    }
    let mut garbled = with_proof(&key);
    garbled.ticket = Some(bytes("not a ticket"));
    let err = f.reveal(info.id, garbled).await.unwrap_err();
    assert_eq!(err.code(), "sign_in_required");
    // The other secret's ticket was not used up by being shown here.
    let r = f
        .reveal(other.id, with_ticket(with_key(&key_of(&other)), &elsewhere))
        .await
        .unwrap();
    assert_eq!(content(&r), "for bob only");

    let f = fixture_with(|c| {
        c.sign_in_providers = vec![Provider::Slack];
        c.sign_in_ticket_ttl = Duration::ZERO;
    })
    .await;
    let info = f.create(bound(1, bob())).await.unwrap();
    let expired = f.engine.issue_ticket(info.id, bob()).await.unwrap();
    let err = f
        .reveal(info.id, with_ticket(with_proof(&key_of(&info)), &expired))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(owner_sees(&f, info.id).await, (1, 0));
    // The sweep forgets it.
    f.engine.sweep().await.unwrap();
    let hash = expired.hash();
    assert!(f.engine.store().ticket(&hash).await.unwrap().is_none());
    // Issuing needs that platform's sign-in and a well-formed identity.
    assert!(
        f.engine
            .issue_ticket(info.id, discord("80351110224678912"))
            .await
            .is_err()
    );
    assert!(
        f.engine
            .issue_ticket(info.id, slack("T0TEAM1", "not-an-id", None))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_binding_is_checked_before_gone_geo_and_passphrase() {
    let f = fixture_with(|c| {
        c.sign_in_providers = vec![Provider::Slack];
        c.geo_available = true;
    })
    .await;
    let mallory = slack("T0TEAM1", "U0MAL", None);
    // A stranger does not learn that a secret was consumed.
    let info = f.create(bound(1, bob())).await.unwrap();
    let key = key_of(&info);
    f.reveal_as(info.id, with_key(&key), bob()).await.unwrap();
    let err = f
        .reveal_as(info.id, with_key(&key), mallory.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_the_recipient");
    let err = f.reveal(info.id, with_key(&key)).await.unwrap_err();
    assert_eq!(err.code(), "sign_in_required");

    // Nor meets its country rule or its passphrase (so cannot lock the passphrase out).
    let info = f
        .create(CreateSecret {
            allowed_countries: Some(vec!["DE".into()]),
            passphrase: Some(bytes("open sesame")),
            ..bound(1, bob())
        })
        .await
        .unwrap();
    let key = key_of(&info);
    let err = f
        .reveal_as(info.id, with_key(&key), mallory)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_the_recipient");
    let err = f.reveal(info.id, with_key(&key)).await.unwrap_err();
    assert_eq!(err.code(), "sign_in_required");

    // Bob's wrong passphrase uses neither a view nor his ticket; the right one then opens it.
    let ticket = f.engine.issue_ticket(info.id, bob()).await.unwrap();
    let in_de = Viewer {
        country: Some("DE".into()),
    };
    let mut wrong = with_ticket(with_key(&key), &ticket);
    wrong.passphrase = Some(bytes("open barley"));
    let err = f
        .engine
        .reveal(info.id, wrong, in_de.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "passphrase_invalid");
    let mut right = with_ticket(with_key(&key), &ticket);
    right.passphrase = Some(bytes("open sesame"));
    match f.engine.reveal(info.id, right, in_de).await.unwrap() {
        Reveal::Text(r) => assert_eq!(content(&r), "for bob only"),
        Reveal::File(_) => panic!("text revealed as a file"),
    }
}
