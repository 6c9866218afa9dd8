//! `seecret mcp` under the official MCP Python SDK as the client (`tests/mcp/client.py`): the
//! tools and their input schemas, each tool called for real against a server on loopback, the
//! links it returns opened by the CLI to the exact values, and no secret value in any message the
//! client received nor in the mcp process's standard error.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use seecret_core::client::Client;
use seecret_core::link::Link;
use seecret_core::model::SecretId;
use seecret_core::request::RequestPublicKey;
use seecret_tests::{KillOnDrop, Server, repo_path, run, seecret_bin};
use serde_json::Value;

/// A tool result's text (its first content block).
fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// Asserts a tool error whose text contains every one of `words`.
fn refused(result: &Value, words: &[&str]) {
    assert_eq!(result["isError"], true, "{result}");
    for w in words {
        assert!(text(result).contains(w), "{w:?} not in {result}");
    }
}

/// Asserts a successful tool result and returns its structured content.
fn ok(result: &Value) -> &Value {
    assert_eq!(result["isError"], false, "{result}");
    &result["structuredContent"]
}

fn reveal_cli(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(seecret_bin());
    cmd.arg("reveal")
        .args(args)
        .env_remove("SEECRET_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (code, out, err) = run(&mut cmd, Duration::from_secs(30));
    assert_eq!(code, 0, "seecret reveal: {err}");
    out
}

#[tokio::test]
async fn an_agent_shares_requests_and_manages_secrets_over_mcp_without_seeing_values() {
    let started = Instant::now();
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let shared = work.path().join("shared");
    let config = work.path().join("config");
    std::fs::create_dir_all(&shared).unwrap();
    let canary = |what: &str| format!("{what}-{}", uuid::Uuid::new_v4().simple());
    let db_password = canary("db-password");
    let passphrase = canary("passphrase");
    let inline = canary("inline");
    let answer = canary("answer");
    let file_content = format!("DATABASE_URL=postgres://app:{}@db/app\n", canary("file"));
    let outside = canary("outside");
    std::fs::write(shared.join("creds.env"), &file_content).unwrap();
    std::fs::write(work.path().join("outside.txt"), &outside).unwrap();
    std::os::unix::fs::symlink(work.path().join("outside.txt"), shared.join("sneaky-link"))
        .unwrap();

    let mut child = KillOnDrop(
        Command::new("python3")
            .arg(repo_path("tests/mcp/client.py"))
            .arg(seecret_bin())
            .arg(work.path())
            .env("SEECRET_SERVER", &server.base)
            .env("SEECRET_TOKEN", server.token())
            .env("SEECRET_LOG", "debug")
            .env("XDG_CONFIG_HOME", &config)
            .env("MCP_DB_PASSWORD", &db_password)
            .env("MCP_PASSPHRASE", &passphrase)
            .env("INLINE_SECRET", &inline)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = mpsc::channel::<String>();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stderr = child.0.stderr.take().unwrap();
    let client_stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let next_line = |what: &str| -> String {
        lines
            .recv_timeout(Duration::from_secs(40))
            .unwrap_or_else(|_| panic!("no {what} from the MCP client"))
    };

    // Phase 1: the tools, the shares and the refusals.
    let line1 = next_line("first report");
    let phase1: Value = serde_json::from_str(&line1).unwrap();
    let r = &phase1["results"];
    let tools = r["tools"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "burn_secret",
            "list_secrets",
            "request_secret",
            "secret_status",
            "share_secret"
        ]
    );
    let schema =
        |name: &str| tools.iter().find(|t| t["name"] == name).unwrap()["inputSchema"].clone();
    let share_schema = schema("share_secret");
    for p in [
        "from_env",
        "from_file",
        "content",
        "expiration",
        "views",
        "passphrase",
        "passphrase_from_env",
        "label",
    ] {
        assert!(
            share_schema["properties"][p].is_object(),
            "{p}: {share_schema}"
        );
    }
    assert_eq!(
        share_schema["properties"]["views"]["type"],
        serde_json::json!(["integer", "null"])
    );
    assert!(
        share_schema["required"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{share_schema}"
    );
    for name in ["secret_status", "burn_secret"] {
        assert_eq!(
            schema(name)["required"],
            serde_json::json!(["id"]),
            "{name}"
        );
    }
    assert!(schema("list_secrets")["properties"]["status"].is_object());
    assert!(schema("request_secret")["properties"]["note"].is_object());

    let env_share = ok(&r["share_env"]);
    let env_link = env_share["link"].as_str().unwrap();
    assert!(
        env_link.starts_with(&format!("{}/s/", server.base)),
        "{env_share}"
    );
    assert_eq!(env_share["views"], 2);
    assert_eq!(env_share["passphrase_protected"], true);
    assert_eq!(env_share["label"], "db password");
    let file_share = ok(&r["share_file"]);
    assert_eq!(file_share["kind"], "file", "{file_share}");
    let burn_share = ok(&r["share_to_burn"]);
    refused(&r["inline_refused"], &["--allow-inline", "from_env"]);
    refused(
        &r["env_outside_prefix"],
        &["SEECRET_TOKEN", "starts with MCP_ (--env-prefix)"],
    );
    refused(&r["file_outside_dir"], &["--files-under"]);
    refused(&r["link_outside_dir"], &["sneaky-link", "--files-under"]);
    refused(
        &r["two_sources"],
        &["exactly one of from_env, from_file or content"],
    );
    refused(&r["missing_env"], &["MCP_NOT_SET is not set"]);
    refused(&r["bad_expiration"], &["expiration", "\"soon\""]);
    let request = ok(&r["request"]);
    let request_id = request["id"].as_str().unwrap();
    assert!(
        request["request_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/r/{request_id}#", server.base)),
        "{request}"
    );
    // The request's private key is kept as `seecret request` keeps it, for this user only.
    let key_file = config.join("seecret/requests").join(request_id);
    let answer_link = std::fs::read_to_string(&key_file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let private_key = answer_link.trim().rsplit('#').next().unwrap().to_string();

    // Without its passphrase, or with a wrong one, the recipient is told which (no view used).
    for (given, told) in [
        (None, "this secret needs its passphrase: pass --passphrase"),
        (
            Some("not-it"),
            "that passphrase is not this secret's (no view was used",
        ),
    ] {
        let mut cmd = Command::new(seecret_bin());
        cmd.args(["reveal", env_link])
            .env_remove("SEECRET_PASSPHRASE");
        if let Some(p) = given {
            cmd.env("SEECRET_PASSPHRASE", p);
        }
        let (code, _, err) = run(&mut cmd, Duration::from_secs(30));
        assert_ne!(code, 0);
        assert!(err.contains(told), "{err}");
    }
    // The links open to the exact values, as their recipient opens them.
    let got = reveal_cli(&[env_link], &[("SEECRET_PASSPHRASE", &passphrase)]);
    assert_eq!(got, db_password);
    let out = work.path().join("revealed.env");
    reveal_cli(
        &[
            file_share["link"].as_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), file_content);
    // The request, answered as the responder page does, opens with the key mcp kept.
    let id: SecretId = request_id.parse().unwrap();
    let q = request["request_url"]
        .as_str()
        .unwrap()
        .rsplit('#')
        .next()
        .unwrap();
    let q = RequestPublicKey::from_base64url("public_key", q).unwrap();
    Client::new(&server.base, None)
        .unwrap()
        .answer_request_text(id, &q, answer.as_bytes())
        .await
        .unwrap();
    let got = reveal_cli(
        &[request_id],
        &[("XDG_CONFIG_HOME", config.to_str().unwrap())],
    );
    assert_eq!(got, answer);

    // Phase 2: status (with the view just made), list, burn, bad input; then inline allowed.
    child.0.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let line2 = next_line("final report");
    let report: Value = serde_json::from_str(&line2).unwrap();
    let r = &report["results"];
    let status = ok(&r["status"]);
    assert_eq!(status["id"], env_share["id"]);
    assert_eq!(status["views_remaining"], 1, "{status}");
    assert_eq!(status["status"], "active");
    assert!(status["expires_at"].is_string());
    let log = status["view_log"].as_array().unwrap();
    assert_eq!(log.len(), 1, "{status}");
    assert!(
        log[0]["at"].is_string() && log[0].get("country").is_some(),
        "{status}"
    );
    // Only what was shared and is still active: the refused calls created nothing, and the file
    // (one view, revealed) is consumed.
    let mut listed: Vec<&str> = ok(&r["list"])["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    listed.sort();
    let mut expected = [
        env_share["id"].as_str().unwrap(),
        burn_share["id"].as_str().unwrap(),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(ok(&r["burn"])["status"], "deleted");
    assert_eq!(ok(&r["status_burned"])["status"], "deleted");
    assert!(
        Client::reveal_link(
            &Link::parse(burn_share["link"].as_str().unwrap()).unwrap(),
            None
        )
        .await
        .is_err()
    );
    refused(
        &r["status_bad_id"],
        &["\"not-an-id\" is not a secret id or link"],
    );
    refused(&r["list_bad_status"], &["status must be one of"]);
    let inline_link = ok(&r["inline_accepted"])["link"].as_str().unwrap();
    let got = Client::reveal_link(&Link::parse(inline_link).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(got.expose(), inline.as_bytes());

    // Nothing secret in what the client saw, nor in what mcp logged (at debug level).
    let received = report["received"].as_array().unwrap();
    assert!(received.len() > 20, "{} messages", received.len());
    for m in received {
        assert!(
            m["message"].get("exception").is_none(),
            "not MCP on stdout: {m}"
        );
    }
    let _ = child.0.wait();
    let client_err = client_stderr.join().unwrap();
    let seen = format!("{line1}\n{line2}");
    let mut logs = Vec::new();
    for session in ["restricted", "inline"] {
        let log =
            std::fs::read_to_string(work.path().join(format!("stderr-{session}.log"))).unwrap();
        assert!(log.contains("serving on stdio"), "{session}: {log}");
        logs.push(log);
    }
    for (what, value) in [
        ("database password", db_password.as_str()),
        ("passphrase", passphrase.as_str()),
        ("file content", file_content.trim()),
        ("outside file", outside.as_str()),
        ("inline content", inline.as_str()),
        ("request answer", answer.as_str()),
        ("request private key", private_key.as_str()),
        ("API token", server.token()),
    ] {
        assert!(!seen.contains(value), "the {what} reached the MCP client");
        for log in &logs {
            assert!(!log.contains(value), "the {what} is in mcp's stderr");
        }
        assert!(
            !client_err.contains(value),
            "the {what} is in the client's stderr"
        );
    }
    eprintln!("mcp test: {:?}", started.elapsed());
}
