//! The audit records the engine emits: what the owner could see, in order, and nothing else.

use std::sync::{Arc, Mutex};

use super::*;
use crate::audit::{AuditEvent, AuditSink};

/// Keeps each record as the JSON line a sink would write.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<serde_json::Value>>);

impl AuditSink for Recorder {
    fn record(&self, event: &AuditEvent<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(serde_json::to_value(event).unwrap());
    }
}

#[tokio::test]
async fn owners_see_creates_reveals_refusals_and_deletes_but_not_strangers_or_page_steps() {
    let Fixture {
        engine,
        alice,
        _dir,
    } = fixture_with(|c| c.passphrase_attempts_per_minute = 2).await;
    let audit = Arc::new(Recorder::default());
    let engine = engine.with_audit(audit.clone());
    let guarded = engine
        .create_secret(
            &alice,
            CreateSecret {
                passphrase: Some(bytes("correct horse")),
                label: Some("LABEL-CANARY".into()),
                ..text("CONTENT-CANARY")
            },
        )
        .await
        .unwrap();
    let key = key_of(&guarded);
    let from = |c: &str| Viewer {
        country: Some(c.into()),
    };
    let attempt = |p: Option<&str>| RevealRequest {
        passphrase: p.map(bytes),
        ..with_key(&key)
    };
    // The page's first step (no passphrase yet) and a stranger's wrong key: not the owner's.
    assert!(matches!(
        engine.reveal(guarded.id, attempt(None), from("FR")).await,
        Err(Error::PassphraseRequired)
    ));
    assert!(matches!(
        engine
            .reveal(guarded.id, with_key(&SecretKey::generate()), from("FR"))
            .await,
        Err(Error::NotFound)
    ));
    // Two wrong passphrases use the window; the third attempt is refused unevaluated.
    for _ in 0..3 {
        assert!(
            engine
                .reveal(guarded.id, attempt(Some("wrong")), from("BR"))
                .await
                .is_err()
        );
    }
    let other = engine.create_secret(&alice, text("another")).await.unwrap();
    engine
        .reveal(other.id, with_proof(&key_of(&other)), from("SE"))
        .await
        .unwrap();
    assert!(matches!(
        engine
            .reveal(other.id, with_key(&key_of(&other)), Viewer::default())
            .await,
        Err(Error::Gone(GoneReason::Consumed))
    ));
    engine.delete_secret(&alice, guarded.id).await.unwrap();

    let records = audit.0.lock().unwrap().clone();
    let summary: Vec<(String, String, Option<String>, Option<String>)> = records
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap().to_string(),
                r["secret"].as_str().unwrap().to_string(),
                r["reason"].as_str().map(String::from),
                r["country"].as_str().map(String::from),
            )
        })
        .collect();
    let (g, o) = (guarded.id.to_string(), other.id.to_string());
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        summary,
        [
            ("created".into(), g.clone(), None, None),
            ("denied".into(), g.clone(), s("passphrase"), s("BR")),
            ("denied".into(), g.clone(), s("passphrase"), s("BR")),
            ("denied".into(), g.clone(), s("passphrase_locked"), s("BR")),
            ("created".into(), o.clone(), None, None),
            ("revealed".into(), o.clone(), None, s("SE")),
            ("denied".into(), o, s("consumed"), None),
            ("deleted".into(), g, None, None),
        ]
    );
    assert_eq!(records[5]["views_remaining"], 0);
    assert_eq!(records[0]["views"], 1);
    assert!(records.iter().all(|r| r["account"] == alice.id.to_string()));
    let text = serde_json::to_string(&records).unwrap();
    for canary in ["CONTENT-CANARY", "LABEL-CANARY", "correct horse", "wrong"] {
        assert!(!text.contains(canary), "{canary} in {text}");
    }
}
