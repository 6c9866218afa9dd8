//! The official types as referee: every payload the bot sends to Discord (interaction responses,
//! the modal's Label components, edits, DMs, command registrations) is written into a TypeScript
//! file as an object literal typed with the matching `discord-api-types` type and checked with
//! `tsc --strict` (object literals get excess-property checks, so a field Discord does not know
//! fails too), then against the length limits Discord documents, which the types cannot express.

use super::fidelity::in_process;
use super::*;

/// The `discord-api-types` type of a request body the fake Discord received.
fn body_type(c: &Call) -> Option<&'static str> {
    let p = c.path.as_str();
    Some(match c.method.as_str() {
        "PUT" if p.contains("/guilds/") && p.ends_with("/commands") => {
            "RESTPutAPIApplicationGuildCommandsJSONBody"
        }
        "PUT" if p.ends_with("/commands") => "RESTPutAPIApplicationCommandsJSONBody",
        "POST" if p.ends_with("/users/@me/channels") => {
            "RESTPostAPICurrentUserCreateDMChannelJSONBody"
        }
        "POST" if p.starts_with("/api/v10/channels/") && p.ends_with("/messages") => {
            "RESTPostAPIChannelMessageJSONBody"
        }
        "PATCH" if p.ends_with("/messages/@original") => {
            "RESTPatchAPIWebhookWithTokenMessageJSONBody"
        }
        "POST" if p.ends_with("/callback") => "RESTPostAPIInteractionCallbackJSONBody",
        _ => return None,
    })
}

/// The type of an answer the interactions endpoint gave Discord.
const RESPONSE: &str = "RESTPostAPIInteractionCallbackJSONBody";

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Breaks of the limits Discord documents (components/reference, application-commands, message
/// and interaction-response docs) that the types cannot express.
fn limit_violations(ty: &str, v: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    fn over(bad: &mut Vec<String>, what: &str, value: &Value, max: usize) {
        if chars(value) > max {
            bad.push(format!("{what} is {} characters, over {max}", chars(value)));
        }
    }
    // Messages: content ≤ 2000, wherever a message body sits.
    for m in [v, &v["data"]] {
        over(&mut bad, "content", &m["content"], 2000);
    }
    if v["type"] == 5 && v["data"]["flags"].as_u64().unwrap_or(0) & !64 != 0 {
        bad.push(format!(
            "a deferral carries flags {} (only 64 allowed)",
            v["data"]["flags"]
        ));
    }
    if v["type"] == 9 {
        let d = &v["data"];
        over(&mut bad, "modal title", &d["title"], 45);
        over(&mut bad, "modal custom_id", &d["custom_id"], 100);
        let top = d["components"].as_array().cloned().unwrap_or_default();
        if top.is_empty() || top.len() > 5 {
            bad.push(format!(
                "a modal has {} top-level components (1-5)",
                top.len()
            ));
        }
        for c in &top {
            let inputs: Vec<&Value> = match c["type"].as_u64() {
                Some(18) => {
                    over(&mut bad, "label", &c["label"], 45);
                    over(&mut bad, "label description", &c["description"], 100);
                    if !c["component"]["label"].is_null() {
                        bad.push("a text input in a Label has its own label".into());
                    }
                    vec![&c["component"]]
                }
                _ => c["components"].as_array().into_iter().flatten().collect(),
            };
            for i in inputs {
                over(&mut bad, "custom_id", &i["custom_id"], 100);
                over(&mut bad, "placeholder", &i["placeholder"], 100);
                over(&mut bad, "value", &i["value"], 4000);
                over(&mut bad, "text input label", &i["label"], 45);
                if i["max_length"]
                    .as_u64()
                    .is_some_and(|n| !(1..=4000).contains(&n))
                {
                    bad.push(format!("max_length {} outside 1-4000", i["max_length"]));
                }
            }
        }
    }
    if ty.ends_with("CommandsJSONBody") {
        let name_ok = |n: &str| {
            (1..=32).contains(&n.chars().count())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        for cmd in v.as_array().into_iter().flatten() {
            let mut total = 0;
            let n = cmd["name"].as_str().unwrap_or_default();
            if !name_ok(n) {
                bad.push(format!("command name {n:?}"));
            }
            total += chars(&cmd["name"]) + chars(&cmd["description"]);
            if !(1..=100).contains(&chars(&cmd["description"])) {
                bad.push(format!(
                    "description of /{n} is {} characters",
                    chars(&cmd["description"])
                ));
            }
            let options = cmd["options"].as_array().cloned().unwrap_or_default();
            if options.len() > 25 {
                bad.push(format!("/{n} has {} options", options.len()));
            }
            for o in &options {
                let on = o["name"].as_str().unwrap_or_default();
                if !name_ok(on) {
                    bad.push(format!("option name {on:?}"));
                }
                if !(1..=100).contains(&chars(&o["description"])) {
                    bad.push(format!(
                        "description of option {on} is {} characters",
                        chars(&o["description"])
                    ));
                }
                total += chars(&o["name"]) + chars(&o["description"]);
                let choices = o["choices"].as_array().cloned().unwrap_or_default();
                if choices.len() > 25 {
                    bad.push(format!("option {on} has {} choices", choices.len()));
                }
                for ch in &choices {
                    if !(1..=100).contains(&chars(&ch["name"])) || chars(&ch["value"]) > 100 {
                        bad.push(format!("a choice of {on}: {ch}"));
                    }
                    total += chars(&ch["name"]) + chars(&ch["value"]);
                }
            }
            if total > 8000 {
                bad.push(format!(
                    "/{n} has {total} characters of names, descriptions and values"
                ));
            }
        }
    }
    bad
}

/// `v` as a TypeScript object literal: its JSON, except that a `flags` bit field is written as
/// the OR of its bits (`64 | 4`), as the `MessageFlags` enum is meant to be combined (a literal
/// `68` is no member of it).
fn ts_literal(v: &Value) -> String {
    let json = serde_json::to_string_pretty(v).unwrap();
    let mut out = String::new();
    for line in json.lines() {
        let flags = line
            .trim_start()
            .strip_prefix("\"flags\": ")
            .map(|rest| rest.trim_end_matches(','))
            .and_then(|n| n.parse::<u64>().ok());
        match flags {
            Some(n) if n.count_ones() > 1 => {
                let bits: Vec<String> = (0..64)
                    .filter(|b| n & (1 << b) != 0)
                    .map(|b| (1u64 << b).to_string())
                    .collect();
                let indent = &line[..line.len() - line.trim_start().len()];
                let comma = if line.ends_with(',') { "," } else { "" };
                out.push_str(&format!("{indent}\"flags\": {}{comma}\n", bits.join(" | ")));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Type-checks `payloads` (type name, JSON) with `tsc --strict --noEmit` against the pinned
/// `discord-api-types`; `Err` holds tsc's output.
fn tsc(payloads: &[(&str, Value)]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        seecret_tests::repo_path("tests/js/node_modules"),
        dir.path().join("node_modules"),
    )
    .unwrap();
    let mut types: Vec<&str> = payloads.iter().map(|(t, _)| *t).collect();
    types.sort_unstable();
    types.dedup();
    let mut ts = format!(
        "import type {{ {} }} from \"discord-api-types/v10\";\n",
        types.join(", ")
    );
    for (n, (ty, v)) in payloads.iter().enumerate() {
        // JSON is a TypeScript object literal, so each payload gets excess-property checks.
        ts.push_str(&format!("export const p{n}: {ty} = {};\n", ts_literal(v)));
    }
    let file = dir.path().join("payloads.ts");
    std::fs::write(&file, &ts).unwrap();
    let (code, out, err) = seecret_tests::run(
        std::process::Command::new("node")
            .arg(seecret_tests::repo_path(
                "tests/js/node_modules/typescript/bin/tsc",
            ))
            .args(["--strict", "--noEmit", "--module", "nodenext"])
            .args(["--moduleResolution", "nodenext", "--target", "es2022"])
            .arg(&file)
            .current_dir(dir.path()),
        Duration::from_secs(120),
    );
    if code == 0 {
        Ok(())
    } else {
        Err(format!("{out}{err}\n--- payloads.ts ---\n{ts}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
async fn every_payload_the_bot_sends_passes_discord_api_types_and_the_documented_limits() {
    let mut payloads: Vec<(&str, Value)> = Vec::new();
    // The embedded bot: guild registration, the modal, messages, DMs, settings, refusals.
    let s = setup().await;
    s.discord
        .wait_for(
            &format!("/api/v10/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
            1,
            T,
        )
        .await;
    let long = "x".repeat(3001);
    for i in [
        command(
            json!([{"name": "recipient", "type": 6, "value": RECIPIENT}, {"name": "passphrase", "type": 3, "value": "pp"}]),
        ),
        command(json!([])),
        command(json!([{"name": "content", "type": 3, "value": "inline"}])),
        submit("seecret_share", "referee-1", "1h", "1", ""),
        submit(
            &format!("seecret_share:{RECIPIENT}"),
            "referee-2",
            "1h",
            "1",
            "pp",
        ),
        submit("seecret_share", &long, "1h", "1", ""),
        submit("seecret_share", "x", "never", "1", ""),
        // /request-secret's refusal (its DMs need the request engine in the backend).
        super::request::request_command(json!([])),
        json!({"type": 1, "id": "1", "application_id": APP_ID, "token": "t", "version": 1}),
    ] {
        let (status, answer) = s.post(&i).await;
        assert_eq!(status, 200, "{answer}");
        payloads.push((RESPONSE, answer));
    }
    let mut set = base(
        2,
        json!({"name": "share-secret-settings", "type": 1, "options": [{"name": "dm-copy", "type": 5, "value": true}]}),
    );
    set["guild_id"] = GUILD_ID.into();
    let (_, answer) = s.post(&set).await;
    payloads.push((RESPONSE, answer));
    // A reveal, for the "was viewed" DM.
    let first = dms_saying(&s, SENDER, "Your one-time link");
    let link = link_in(&first[0], &s.server.base);
    Client::reveal_link(&link, None).await.unwrap();
    eventually(T, || async {
        dms_saying(&s, SENDER, "was viewed").into_iter().next()
    })
    .await
    .expect("the viewed DM");

    // A global registration, a deferred answer and its edit, and the gateway's callbacks.
    let server = Server::start();
    let discord = FakeApi::start(discord_answers()).await;
    let labels = seecret_discord::ModalLayout::Labels;
    let late = Duration::from_millis(2600);
    let (bot, url) = in_process(&server, &discord, Some(BOT_TOKEN), labels, late).await;
    bot.register_commands().await.unwrap();
    let (_, deferred) = post_to(&url, &submit("seecret_share", "late", "1h", "1", "")).await;
    payloads.push((RESPONSE, deferred));
    discord.wait_for("/messages/@original", 1, T).await;
    let rows = seecret_discord::ModalLayout::ActionRows;
    let (gw, _) = in_process(&server, &discord, Some(BOT_TOKEN), rows, Duration::ZERO).await;
    for i in [
        command(json!([])),
        submit_in_rows("seecret_share", "gw", "1h", "1", ""),
    ] {
        let msg = json!({"op": 0, "s": 1, "t": "INTERACTION_CREATE", "d": i}).to_string();
        gw.handle_gateway_message(&msg).await.unwrap();
    }

    for c in s.discord.calls().iter().chain(discord.calls().iter()) {
        let ty =
            body_type(c).unwrap_or_else(|| panic!("an unexpected call: {} {}", c.method, c.path));
        payloads.push((ty, c.json()));
    }
    let mut seen: Vec<&str> = payloads.iter().map(|(t, _)| *t).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 6, "every kind of payload was sent: {seen:?}");
    let kinds: Vec<u64> = payloads
        .iter()
        .filter(|(t, _)| *t == RESPONSE)
        .filter_map(|(_, v)| v["type"].as_u64())
        .collect();
    for k in [1, 4, 5, 9] {
        assert!(kinds.contains(&k), "no response of type {k}: {kinds:?}");
    }
    let bad: Vec<String> = payloads
        .iter()
        .flat_map(|(t, v)| {
            limit_violations(t, v)
                .into_iter()
                .map(move |b| format!("{t}: {b}: {v}"))
        })
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    tsc(&payloads).unwrap();
}

#[test]
#[cfg_attr(
    not(feature = "external"),
    ignore = "needs Node and tests/js/node_modules: run with --features seecret-tests/external"
)]
fn the_referee_rejects_a_label_without_its_input_and_flags_of_the_wrong_type() {
    let good = json!({"type": 9, "data": {"custom_id": "m", "title": "t", "components": [
        {"type": 18, "label": "Secret", "component": {"type": 4, "custom_id": "s", "style": 2}}
    ]}});
    tsc(&[(RESPONSE, good)]).unwrap();
    let no_input = json!({"type": 9, "data": {"custom_id": "m", "title": "t", "components": [
        {"type": 18, "label": "Secret"}
    ]}});
    let err = tsc(&[(RESPONSE, no_input)]).unwrap_err();
    assert!(err.contains("'component' is missing"), "{err}");
    let combined = json!({"type": 4, "data": {"content": "x", "flags": 68}});
    tsc(&[(RESPONSE, combined)]).unwrap();
    let string_flags = json!({"type": 4, "data": {"content": "x", "flags": "64"}});
    let err = tsc(&[(RESPONSE, string_flags)]).unwrap_err();
    assert!(
        err.contains("not assignable to type 'MessageFlags"),
        "{err}"
    );
    // Installation contexts on a guild-scoped command: Discord takes them only globally.
    let guild = json!([{"name": "x", "description": "d", "contexts": [0, 1]}]);
    let err = tsc(&[("RESTPutAPIApplicationGuildCommandsJSONBody", guild)]).unwrap_err();
    assert!(err.contains("'\"contexts\"' does not exist"), "{err}");
}

#[test]
fn the_limits_checker_rejects_what_discord_documents_as_too_long_or_not_allowed() {
    let modal = json!({"type": 9, "data": {"custom_id": "m", "title": "t".repeat(46), "components": [
        {"type": 18, "label": "l".repeat(46), "description": "d".repeat(101),
         "component": {"type": 4, "custom_id": "c".repeat(101), "style": 1, "label": "old"}}
    ]}});
    let bad = limit_violations(RESPONSE, &modal);
    assert_eq!(bad.len(), 5, "{bad:#?}");
    let deferral = json!({"type": 5, "data": {"flags": 68}});
    assert_eq!(limit_violations(RESPONSE, &deferral).len(), 1);
    let message = json!({"content": "x".repeat(2001)});
    assert_eq!(
        limit_violations("RESTPostAPIChannelMessageJSONBody", &message).len(),
        1
    );
    let cmds = json!([{"name": "Share Secret", "description": "", "options": [
        {"name": "o", "description": "d", "choices": [{"name": "", "value": "v"}]}
    ]}]);
    assert_eq!(
        limit_violations("RESTPutAPIApplicationCommandsJSONBody", &cmds).len(),
        3
    );
}
