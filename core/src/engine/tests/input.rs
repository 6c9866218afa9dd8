//! What a request may hold: sizes, bounds, names, content forms, countries, paging, files.

use super::*;

// ---- input rules ---------------------------------------------------------------------------

#[tokio::test]
async fn text_must_be_non_empty_and_within_the_limit() {
    let f = fixture_with(|c| c.max_text_bytes = 16).await;
    assert!(f.create(text("sixteen bytes ok")).await.is_ok());
    let err = f.create(text("seventeen bytes!!")).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert_eq!(
        field(f.create(text("")).await.unwrap_err()),
        Some("content")
    );
    assert_eq!(
        field(f.create(CreateSecret::default()).await.unwrap_err()),
        Some("content")
    );
}

#[tokio::test]
async fn views_and_expiration_must_be_within_the_server_bounds() {
    let f = fixture().await;
    for views in [0, 101] {
        let err = f
            .create(CreateSecret {
                views: Some(views),
                ..text("x")
            })
            .await
            .unwrap_err();
        assert_eq!(field(err), Some("views"), "{views}");
    }
    for expiration in ["31d", "30s"] {
        let err = f
            .create(CreateSecret {
                expiration: Some(expiration.parse().unwrap()),
                ..text("x")
            })
            .await
            .unwrap_err();
        assert_eq!(field(err), Some("expiration"), "{expiration}");
    }
    let ok = f
        .create(CreateSecret {
            views: Some(100),
            expiration: Some("30d".parse().unwrap()),
            ..text("x")
        })
        .await
        .unwrap();
    assert_eq!(ok.views, 100);
}

#[tokio::test]
async fn labels_and_file_names_refuse_hidden_characters_and_overlong_text() {
    let f = fixture().await;
    for (label, bad) in [
        ("invoice\u{202E}fdp.exe".to_string(), true),
        ("tab\there".to_string(), true),
        ("x".repeat(201), true),
        ("x".repeat(200), false),
        ("  Q3 payroll  ".to_string(), false),
    ] {
        let r = f
            .create(CreateSecret {
                label: Some(label.clone()),
                ..text("x")
            })
            .await;
        match (r, bad) {
            (Err(e), true) => assert_eq!(field(e), Some("label"), "{label:?}"),
            (Ok(info), false) => assert_eq!(info.label.as_deref(), Some(label.trim())),
            (r, _) => panic!("{label:?}: {r:?}"),
        }
    }
    // A blank label is no label.
    let blank = f
        .create(CreateSecret {
            label: Some("   ".into()),
            ..text("x")
        })
        .await
        .unwrap();
    assert_eq!(blank.label, None);
    // A clear-text file name is checked whatever the kind.
    let err = f
        .create(CreateSecret {
            file_name: Some("report\u{200B}.pdf".into()),
            ..text("x")
        })
        .await
        .unwrap_err();
    assert_eq!(field(err), Some("file_name"));
}

#[tokio::test]
async fn content_and_ciphertext_combinations_are_checked() {
    let f = fixture().await;
    // Plaintext: the server derives the verifier, a client's is refused.
    let err = f
        .create(CreateSecret {
            verifier: Some("abc".into()),
            ..text("x")
        })
        .await
        .unwrap_err();
    assert_eq!(field(err), Some("verifier"));
    // Both forms at once.
    let err = f
        .create(CreateSecret {
            ciphertext: Some("AAAA".into()),
            ..text("x")
        })
        .await
        .unwrap_err();
    assert_eq!(field(err), Some("content"));
    // Ciphertext needs the id it was sealed for, and the verifier.
    let id = SecretId::new();
    let key = SecretKey::generate();
    let sealed = crypto::b64encode(&crypto::seal(&key, &id, b"sealed by the client").unwrap());
    let err = f
        .create(CreateSecret {
            ciphertext: Some(sealed.clone()),
            ..CreateSecret::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field(err), Some("id"));
    let err = f
        .create(CreateSecret {
            ciphertext: Some(sealed.clone()),
            id: Some(id),
            ..CreateSecret::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field(err), Some("verifier"));

    let info = f
        .create(CreateSecret {
            ciphertext: Some(sealed.clone()),
            id: Some(id),
            verifier: Some(RevealProof::of_key(&key).verifier().to_base64url()),
            ..CreateSecret::default()
        })
        .await
        .unwrap();
    assert_eq!(info.id, id);
    // The server never had the key: the link carries none, and the reveal hands back the
    // envelope as it was stored.
    assert!(!info.url.unwrap().contains('#'));
    let r = f.reveal(id, with_proof(&key)).await.unwrap();
    assert_eq!(r.ciphertext.as_deref(), Some(sealed.as_str()));
    // The id is taken now, whoever asks.
    let err = f
        .create(CreateSecret {
            ciphertext: Some(sealed),
            id: Some(id),
            verifier: Some(RevealProof::of_key(&key).verifier().to_base64url()),
            ..CreateSecret::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IdTaken), "{err:?}");
}

#[tokio::test]
async fn countries_need_a_geo_source_and_a_refused_country_uses_no_view() {
    let f = fixture().await;
    let in_de = || CreateSecret {
        allowed_countries: Some(vec!["de".into()]),
        ..text("for Germany")
    };
    assert_eq!(
        field(f.create(in_de()).await.unwrap_err()),
        Some("allowed_countries")
    );

    let f = fixture_with(|c| c.geo_available = true).await;
    let info = f.create(in_de()).await.unwrap();
    assert_eq!(info.allowed_countries, ["DE"]);
    let key = key_of(&info);
    let from = |c: Option<&str>| Viewer {
        country: c.map(String::from),
    };
    for country in [Some("FR"), None] {
        let err = f
            .engine
            .reveal(info.id, with_key(&key), from(country))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "geo_blocked", "{country:?}");
    }
    match f
        .engine
        .reveal(info.id, with_key(&key), from(Some("DE")))
        .await
        .unwrap()
    {
        Reveal::Text(r) => assert_eq!(content(&r), "for Germany"),
        Reveal::File(_) => panic!("text revealed as a file"),
    }
    let bad = CreateSecret {
        allowed_countries: Some(vec!["Germany".into()]),
        ..text("x")
    };
    assert_eq!(
        field(f.create(bad).await.unwrap_err()),
        Some("allowed_countries")
    );
}

#[tokio::test]
async fn listing_pages_newest_first_with_a_cursor() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(f.create(text(&format!("secret {n}"))).await.unwrap().id);
        // Ids are time-ordered: one millisecond apart at least, so the order is the creation's.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let page = |limit, cursor| ListQuery {
        limit: Some(limit),
        cursor,
        ..ListQuery::default()
    };
    let first = f
        .engine
        .list_secrets(&f.alice, page(2, None))
        .await
        .unwrap();
    let got: Vec<SecretId> = first.seecrets.iter().map(|s| s.id).collect();
    assert_eq!(got, [ids[2], ids[1]]);
    let second = f
        .engine
        .list_secrets(&f.alice, page(2, first.next_cursor))
        .await
        .unwrap();
    assert_eq!(second.seecrets.len(), 1);
    assert_eq!(second.seecrets[0].id, ids[0]);
    assert!(second.next_cursor.is_none());
    for limit in [0, 101] {
        let err = f
            .engine
            .list_secrets(&f.alice, page(limit, None))
            .await
            .unwrap_err();
        assert_eq!(field(err), Some("limit"));
    }
    let err = f
        .engine
        .list_secrets(&f.alice, page(2, Some("nonsense".into())))
        .await
        .unwrap_err();
    assert_eq!(field(err), Some("cursor"));
}

#[tokio::test]
async fn account_names_are_checked_and_a_rotated_token_stops_working_at_once() {
    let f = fixture().await;
    let (bob, token) = f.engine.create_account("  bob  ", Some(" ")).await.unwrap();
    assert_eq!((bob.name.as_str(), bob.email.as_deref()), ("bob", None));
    for bad in ["   ".to_string(), "x".repeat(101)] {
        let err = f.engine.create_account(&bad, None).await.unwrap_err();
        assert_eq!(field(err), Some("name"), "{bad:?}");
    }
    assert_eq!(
        f.engine.authenticate(token.expose()).await.unwrap().id,
        bob.id
    );
    let (_, fresh) = f.engine.rotate_token("bob").await.unwrap();
    let err = f.engine.authenticate(token.expose()).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized), "{err:?}");
    assert_eq!(
        f.engine.authenticate(fresh.expose()).await.unwrap().id,
        bob.id
    );
}

#[tokio::test]
async fn an_in_process_subscriber_name_is_checked() {
    let f = fixture().await;
    let long = "s".repeat(201);
    for bad in ["", "slack:T1\nU2", long.as_str()] {
        let err = f
            .engine
            .create_secret_notifying(&f.alice, text("x"), Some(bad.to_string()))
            .await
            .unwrap_err();
        assert_eq!(field(err), Some("notify"), "{bad:?}");
    }
    let ok = f
        .engine
        .create_secret_notifying(&f.alice, text("x"), Some("slack:T1:U2".into()))
        .await;
    assert!(ok.is_ok());
}

// ---- files ---------------------------------------------------------------------------------

fn plain_file(
    name: &str,
    data: Vec<u8>,
) -> FileSource<impl futures::Stream<Item = Result<Bytes, String>> + Send> {
    let chunks: Vec<Result<Bytes, String>> = data
        .chunks(700)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    FileSource::Plain {
        name: name.into(),
        media_type: "text/plain".into(),
        stream: futures::stream::iter(chunks),
    }
}

#[tokio::test]
async fn a_file_larger_than_the_limit_is_refused_and_leaves_nothing() {
    let f = fixture_with(|c| c.max_file_bytes = 1024).await;
    let err = f
        .engine
        .create_file(
            &f.alice,
            CreateSecret::default(),
            plain_file("big.bin", vec![7; 2048]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    let list = f
        .engine
        .list_secrets(&f.alice, ListQuery::default())
        .await
        .unwrap();
    assert!(list.seecrets.is_empty());
    // The upload left no blob behind, not even an orphan for the sweeper.
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let blobs = f.engine.blobs().unwrap().keys_older_than(tomorrow).await;
    assert!(blobs.unwrap().is_empty());
}

#[tokio::test]
async fn a_file_reveals_with_its_name_and_its_last_download_ends_it() {
    let f = fixture().await;
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let info = f
        .engine
        .create_file(
            &f.alice,
            CreateSecret::default(),
            plain_file("../../notes.txt", data.clone()),
        )
        .await
        .unwrap();
    assert_eq!(info.size, Some(5000));
    let key = key_of(&info);
    let Reveal::File(download) = f
        .engine
        .reveal(info.id, with_key(&key), Viewer::default())
        .await
        .unwrap()
    else {
        panic!("a file revealed as text");
    };
    assert_eq!(download.status, Status::Consumed);
    assert_eq!(download.len, 5000);
    // Directories are stripped from the sealed name.
    assert_eq!(download.meta.as_ref().unwrap().name, "notes.txt");
    let mut got = Vec::new();
    let mut stream = download.stream;
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, data);
    let err = f
        .engine
        .reveal(info.id, with_key(&key), Viewer::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Gone(GoneReason::Consumed)), "{err:?}");
}
