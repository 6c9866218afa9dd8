//! `/request-secret user:@alice note:…`: registered beside `/share-secret`; refused with the
//! reason, and nothing sent, without a person or with a note too long.

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
}
