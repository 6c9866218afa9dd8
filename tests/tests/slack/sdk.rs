//! The official SDK as referee: every payload the app sent Slack in a test (modal and home views,
//! messages, `response_url` follow-ups, the answers to commands and submissions) is checked by
//! `tests/slack/check_payloads.py` against python `slack_sdk`'s models and Slack's documented
//! limits. It needs Python with `slack_sdk` (installed by `scripts/setup-test-deps`), so it runs
//! with `--features seecret-tests/external`, where [`Setup`]'s drop checks what its test sent.

use super::*;

/// What one test sent Slack, in the checker's terms: `(kind, payload)`.
pub fn sent(calls: &[Call], answers: &[Value]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for c in calls {
        let method = c.path.rsplit('/').next().unwrap_or("");
        let kind = match method {
            "views.open" | "views.publish" | "chat.postMessage" => method,
            _ if c.path.starts_with("/hooks/") => "response",
            _ => continue,
        };
        out.push((kind.to_string(), c.json()));
    }
    for a in answers {
        let kind = if a.get("response_action").is_some() {
            "view_errors"
        } else {
            "response"
        };
        out.push((kind.to_string(), a.clone()));
    }
    out
}

/// Runs the checker on `payloads`; `Err` holds its report (each refused payload and why).
pub fn check(payloads: &[(String, Value)]) -> Result<String, String> {
    let items: Vec<Value> = payloads
        .iter()
        .map(|(kind, payload)| json!({"kind": kind, "payload": payload}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payloads.json");
    std::fs::write(&file, serde_json::to_vec(&items).unwrap()).unwrap();
    let (code, out, err) = seecret_tests::run(
        std::process::Command::new("python3")
            .arg(seecret_tests::repo_path("tests/slack/check_payloads.py"))
            .arg(&file),
        Duration::from_secs(60),
    );
    assert!(
        !err.contains("ModuleNotFoundError"),
        "python slack_sdk is missing: run scripts/setup-test-deps\n{err}"
    );
    if code == 0 {
        Ok(out)
    } else {
        Err(format!("{out}{err}"))
    }
}

/// Panics with the checker's report unless every payload passes (outside `external`, where
/// Python's `slack_sdk` may be absent, nothing is checked).
pub fn assert_valid(payloads: &[(String, Value)]) {
    if !cfg!(feature = "external") || payloads.is_empty() {
        return;
    }
    if let Err(report) = check(payloads) {
        panic!("Slack would refuse what the app sent (python slack_sdk):\n{report}");
    }
}

#[cfg(feature = "external")]
#[test]
fn the_checker_refuses_what_slack_would_refuse() {
    let text = |t: &str| json!({"type": "plain_text", "text": t});
    let section = |t: &str| json!({"type": "section", "text": {"type": "mrkdwn", "text": t}});
    let modal = |title: &str, blocks: Value| {
        json!({"trigger_id": "1.2.3", "view": {"type": "modal", "title": text(title),
            "blocks": blocks}})
    };
    let good_message = json!({"channel": "D1", "text": "Hi <@U1>, see <https://x.example/s/1#k|this>",
        "blocks": [section("Expires <!date^1700000000^{date_short_pretty} at {time}|2023-11-14 22:13 UTC>")],
        "unfurl_links": false});
    let good = [
        (
            "views.open",
            modal("Share a secret", json!([section("fine")])),
        ),
        ("chat.postMessage", good_message.clone()),
    ];
    let good: Vec<(String, Value)> = good
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert!(check(&good).is_ok(), "{:?}", check(&good));

    let mut long_metadata = modal("ok", json!([section("x")]));
    long_metadata["view"]["private_metadata"] = json!("m".repeat(3001));
    let mut home_with_submit = json!({"user_id": "U1", "view": {"type": "home",
        "blocks": [section("x")]}});
    home_with_submit["view"]["submit"] = text("Go");
    let mut typo = modal(
        "ok",
        json!([{"type": "input", "block_id": "b", "label": text("L"),
        "element": {"type": "plain_text_input", "action_id": "a", "multiline": true}}]),
    );
    typo["view"]["blocks"][0]["element"]["max_lenght"] = json!(10);
    let many: Vec<Value> = (0..51).map(|i| section(&format!("{i}"))).collect();
    // Each refused, for the reason given.
    let bad = [
        (
            "views.open",
            modal(
                "A title far longer than 24 characters",
                json!([section("x")]),
            ),
            "title must be between 1 and 24",
        ),
        (
            "views.open",
            modal("ok", json!([{"type": "no_such_block"}])),
            "Unknown block",
        ),
        (
            "views.open",
            long_metadata,
            "private_metadata cannot exceed 3000",
        ),
        (
            "views.open",
            typo,
            "max_lenght: not a field slack_sdk knows",
        ),
        (
            "views.publish",
            home_with_submit,
            "home view cannot have submit",
        ),
        (
            "views.open",
            modal(
                "ok",
                json!([section("a"), {"type": "divider", "block_id": "d"},
                {"type": "divider", "block_id": "d"}]),
            ),
            "duplicate block_id",
        ),
        (
            "chat.postMessage",
            json!({"channel": "D1", "text": "`/share-secret <secret>`"}),
            "reads <secret> as markup",
        ),
        (
            "chat.postMessage",
            json!({"channel": "D1", "text": "x", "blocks": [section("Q&A")]}),
            "a bare & in mrkdwn",
        ),
        (
            "chat.postMessage",
            json!({"channel": "D1", "text": "x", "blocks": many}),
            "at most 50 blocks",
        ),
        (
            "response",
            json!({"response_type": "ephemeral"}),
            "needs text or blocks",
        ),
    ];
    let all: Vec<(String, Value)> = bad
        .iter()
        .map(|(kind, payload, _)| (kind.to_string(), payload.clone()))
        .collect();
    let report = check(&all).expect_err("accepted invalid payloads");
    assert!(
        report.contains(&format!("checked {n} payloads, {n} refused", n = bad.len())),
        "{report}"
    );
    for (_, _, why) in bad {
        assert!(report.contains(why), "{why}: {report}");
    }
}
