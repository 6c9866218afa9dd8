//! `/request-secret user:@alice note:…`: registered beside `/share-secret`; refused with the
//! reason, and nothing sent, without a person or with a note too long. Alice gets the request
//! link by DM, the asker their private answer link by DM; Alice answers the way the responder
//! page does, the asker hears it by DM and their link opens the exact answer. A request that
//! cannot reach Alice is deleted.

use seecret_core::client::{ClientError, RevealedContent};
use seecret_core::link::AnswerLink;
use seecret_core::model::{RequestStatus, SecretId};
use seecret_core::request::RequestPublicKey;

use super::*;

/// `/request-secret` with `options`, as Discord sends it in the guild.
pub(crate) fn request_command(options: Value) -> Value {
    let mut i = command(options);
    i["data"]["name"] = json!("request-secret");
    i
}

#[tokio::test]
async fn request_secret_is_registered_and_refuses_without_a_person_or_with_a_long_note() {
    let s = setup().await;
    let path = format!("/api/v10/applications/{APP_ID}/guilds/{GUILD_ID}/commands");
    let reg = s.discord.wait_for(&path, 1, T).await;
    let cmds = reg[0].json();
    let req = cmds
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "request-secret")
        .expect("/request-secret is registered");
    // Guild-scoped here: no installation contexts (the global one has /share-secret's).
    assert!(req.get("contexts").is_none(), "{req}");
    assert_eq!(req["options"][0]["name"], "user");
    assert_eq!(req["options"][0]["type"], 6);
    assert_eq!(req["options"][0]["required"], true);
    assert_eq!(req["options"][1]["name"], "note");
    assert_eq!(req["options"][1]["max_length"], 500);

    let long = "n".repeat(501);
    for (options, says) in [
        (json!([]), "Name who should send you the secret"),
        (
            json!([{"name": "user", "type": 6, "value": RECIPIENT}, {"name": "note", "type": 3, "value": long}]),
            "longer than 500",
        ),
    ] {
        let (status, reply) = s.post(&request_command(options)).await;
        assert_eq!(status, 200);
        assert_private(&reply);
        let t = content(&reply);
        assert!(
            t.contains(says) && t.contains("nothing was requested"),
            "{t}"
        );
    }
    assert!(s.messages_to(RECIPIENT).is_empty());
    assert!(s.messages_to(SENDER).is_empty());
    let none = s.server.client().list_requests(None).await.unwrap();
    assert!(none.requests.is_empty(), "{:?}", none.requests);
}

fn url_in(text: &str, base: &str, kind: &str) -> String {
    let start = text
        .find(&format!("{base}/{kind}/"))
        .unwrap_or_else(|| panic!("a /{kind}/ link in {text}"));
    let end = text[start..]
        .find(|c: char| c.is_whitespace() || c == ')' || c == '>')
        .map_or(text.len(), |e| start + e);
    text[start..end].to_string()
}

#[tokio::test]
async fn request_secret_reaches_alice_by_dm_and_only_the_asker_reads_her_answer() {
    let s = setup().await;
    let (status, reply) = s
        .post(&request_command(json!([
            {"name": "user", "type": 6, "value": RECIPIENT},
            {"name": "note", "type": 3, "value": "staging DB password"}
        ])))
        .await;
    assert_eq!(status, 200);
    assert_private(&reply);
    let said = content(&reply);
    assert!(
        said.contains(&format!("Asked <@{RECIPIENT}> for a secret")),
        "{said}"
    );
    assert!(said.contains("in [your DMs with me]"), "{said}");
    assert!(!said.contains("/a/") && !said.contains("/r/"), "{said}");

    let to_alice = dms_saying(&s, RECIPIENT, "asks you for a secret");
    assert_eq!(to_alice.len(), 1);
    assert!(
        to_alice[0].contains(&format!("<@{SENDER}> asks you")),
        "{}",
        to_alice[0]
    );
    assert!(
        to_alice[0].contains("> staging DB password"),
        "{}",
        to_alice[0]
    );
    let request_url = url_in(&to_alice[0], &s.server.base, "r");
    let to_asker = dms_saying(&s, SENDER, "Your private link to the answer");
    let answer_url = url_in(&to_asker[0], &s.server.base, "a");
    assert!(!to_alice[0].contains("/a/"));

    // Alice answers as the responder page does.
    let (path, q) = request_url.split_once('#').unwrap();
    let id: SecretId = path.rsplit_once("/r/").unwrap().1.parse().unwrap();
    let q = RequestPublicKey::from_base64url("public_key", q).unwrap();
    let anonymous = Client::new(&s.server.base, None).unwrap();
    let public = anonymous.public_request(id).await.unwrap();
    assert_eq!(public.public_key, q.to_base64url());
    assert_eq!(public.note.as_deref(), Some("staging DB password"));
    let secret = "hunter2 ☃ with spaces  ";
    anonymous
        .answer_request_text(id, &q, secret.as_bytes())
        .await
        .unwrap();

    let notice = eventually(T, || async {
        dms_saying(&s, SENDER, "answered your request")
            .into_iter()
            .next()
    })
    .await
    .expect("the asker's notice");
    assert!(
        notice.contains(&format!("<@{RECIPIENT}> answered")),
        "{notice}"
    );
    assert!(!notice.contains("http"), "{notice}");

    let link = AnswerLink::parse(&answer_url).unwrap();
    let got = Client::reveal_answer_to(&link, |_| async { Ok(tokio::io::sink()) }, None)
        .await
        .unwrap();
    let RevealedContent::Text(t) = got else {
        panic!("a text answer came back as a file");
    };
    assert_eq!(t.expose(), secret.as_bytes());
}

#[tokio::test]
async fn a_request_alice_cannot_receive_is_deleted_and_the_asker_told_why() {
    let s = setup().await;
    // Discord refuses the DM to Alice (she accepts none from this app).
    let normal = discord_answers();
    let alice = format!("/api/v10/channels/{}/messages", dm_channel(RECIPIENT));
    s.discord.answer_with(Arc::new(move |c: &Call| {
        if c.path == alice {
            (
                403,
                json!({"message": "Cannot send messages to this user", "code": 50007}),
            )
        } else {
            normal(c)
        }
    }));
    let (_, reply) = s
        .post(&request_command(
            json!([{"name": "user", "type": 6, "value": RECIPIENT}]),
        ))
        .await;
    let t = content(&reply);
    assert!(
        t.contains(&format!("could not be sent to <@{RECIPIENT}>")),
        "{t}"
    );
    assert!(t.contains("It was deleted") && !t.contains("/a/"), "{t}");
    let list = s.server.client().list_requests(None).await.unwrap();
    assert_eq!(list.requests.len(), 1);
    assert_eq!(list.requests[0].status, RequestStatus::Deleted);
    assert!(
        dms_saying(&s, SENDER, "/a/").is_empty(),
        "no private link for a deleted request"
    );
    // The link in the DM Discord refused is dead: an answer is refused as deleted.
    let id = list.requests[0].id;
    let q = RequestPublicKey::from_base64url("public_key", &list.requests[0].public_key).unwrap();
    let late = Client::new(&s.server.base, None)
        .unwrap()
        .answer_request_text(id, &q, b"too late")
        .await;
    assert!(
        matches!(late, Err(ClientError::Api { status: 410, .. })),
        "{late:?}"
    );
}
