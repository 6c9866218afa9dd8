//! The GitHub Action (`integrations/github-action/action.yml`) and the GitLab CI template
//! (`integrations/gitlab/seecret.gitlab-ci.yml`), run against a real server on loopback with the
//! built CLI as `seecret` on PATH, by runners that do what GitHub's and GitLab's do
//! (`tests/ci/run_action.py`, `tests/ci/run_gitlab.py`): outputs, masking, the job log.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use seecret_core::api::ListQuery;
use seecret_core::client::Client;
use seecret_core::crypto::SecretBytes;
use seecret_core::link::Link;
use seecret_tests::{Server, repo_path, run, seecret_bin};
use serde_json::{Value, json};

/// A directory holding `seecret` (a link to the CLI under test), and PATH with it first.
fn cli_on_path() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(seecret_bin(), dir.path().join("seecret")).unwrap();
    let path = format!("{}:{}", dir.path().display(), test_path());
    (dir, path)
}

/// This test's own PATH (where `bash` and `python3` are; no `seecret` of ours).
fn test_path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// Runs a runner script on a request (written to a file beside it); returns its JSON result, or
/// the exit code and stderr when the runner itself refused.
fn runner(script: &str, args: &[&Path], request: &Value, path: &str) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("request.json");
    std::fs::write(&req, request.to_string()).unwrap();
    let (code, out, err) = run(
        Command::new("python3")
            .arg(repo_path(&format!("tests/ci/{script}")))
            .args(args)
            .arg(&req)
            .env("PATH", path)
            // The CLI must find its settings in what the runner passes, not in this process.
            .env_remove("SEECRET_SERVER")
            .env_remove("SEECRET_TOKEN")
            .env_remove("SEECRET_PASSPHRASE"),
        Duration::from_secs(30),
    );
    if code != 0 {
        return Err(format!("exit {code}: {err}"));
    }
    Ok(serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}")))
}

/// A workspace and a runner temp directory, as a GitHub job has.
struct Job {
    dir: tempfile::TempDir,
    path: String,
}

impl Job {
    fn new(path: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ws")).unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Job {
            dir,
            path: path.to_string(),
        }
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// Runs the action with these inputs, job env and secrets (the values GitHub masks because
    /// they come from `secrets.*`).
    fn action(&self, with: Value, env: Value, secrets: &[&str]) -> Value {
        self.action_at(&repo_path("integrations/github-action"), with, env, secrets)
            .unwrap()
    }

    fn action_at(
        &self,
        action: &Path,
        with: Value,
        env: Value,
        secrets: &[&str],
    ) -> Result<Value, String> {
        let request = json!({
            "with": with, "env": env, "secrets": secrets,
            "workspace": self.workspace(), "temp": self.dir.path().join("tmp"),
        });
        runner("run_action.py", &[action], &request, &self.path)
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// What a GitHub user sees and what was printed: the masked log shows neither the link nor any
/// line of the secret; in the raw output the link (and its key) appear only in the
/// `::add-mask::` lines that registered them, before anything else could print them.
fn assert_masked(result: &Value, url: &str, secret_lines: &[&str]) {
    let log = text(&result["log"]);
    let raw = text(&result["raw"]);
    let key = url.split_once('#').unwrap().1;
    assert!(
        !log.contains(url) && !log.contains(key),
        "link in the log:\n{log}"
    );
    for line in secret_lines {
        assert!(!log.contains(line), "secret {line:?} in the log:\n{log}");
    }
    let mentions: Vec<&str> = raw.lines().filter(|l| l.contains(key)).collect();
    assert_eq!(
        mentions,
        [format!("::add-mask::{url}"), format!("::add-mask::{key}")],
        "raw output:\n{raw}"
    );
}

async fn reveal_text(url: &str, passphrase: Option<&str>) -> Vec<u8> {
    let link = Link::parse(url).unwrap();
    Client::reveal_link(&link, passphrase.map(|p| SecretBytes::from(p.to_string())))
        .await
        .unwrap()
        .expose()
        .to_vec()
}

async fn shared_count(server: &Server) -> usize {
    server
        .client()
        .list(&ListQuery::default())
        .await
        .unwrap()
        .seecrets
        .len()
}

/// The three sources a workflow has (an input, a variable from `secrets.*`, a file it built), each
/// shared through the action: the output `url` opens to the exact bytes, the secrets and the link
/// never show in the log, and a value built to break out of the script runs nothing.
#[tokio::test]
async fn github_action_shares_content_a_variable_and_a_file_and_masks_the_link() {
    let server = Server::start();
    let (_cli, path) = cli_on_path();
    let job = Job::new(&path);
    let token = server.token();

    // Text as a workflow would pass it: several lines, a trailing newline, quotes, `%` escapes
    // of workflow commands and shell syntax that must stay data.
    let content = "user=deploy-ci7\npass=Zq'\"$(touch pwned)`touch pwned2`%0A::warning::x\n";
    let passphrase = "horse battery staple 42";
    let result = job.action(
        json!({"server": server.base, "token": token, "content": content,
               "passphrase": passphrase, "label": "deploy key for ci7", "views": "2"}),
        json!({}),
        &[token, content, passphrase],
    );
    assert_eq!(result["conclusion"], "success", "{}", result["log"]);
    let url = text(&result["outputs"]["url"]).to_string();
    assert!(url.starts_with(&format!("{}/s/", server.base)), "{url}");
    assert_eq!(
        result["outputs"]["id"].as_str(),
        Some(Link::parse(&url).unwrap().id.to_string().as_str())
    );
    assert_masked(
        &result,
        &url,
        &["user=deploy-ci7", "Zq'\"$(touch pwned)", passphrase, token],
    );
    assert!(
        !job.workspace().join("pwned").exists() && !job.workspace().join("pwned2").exists(),
        "the content ran as shell code"
    );
    assert!(
        result["annotations"].as_array().unwrap().is_empty(),
        "{}",
        result["annotations"]
    );
    assert_eq!(
        reveal_text(&url, Some(passphrase)).await,
        content.as_bytes()
    );
    let listed = server
        .client()
        .list(&ListQuery::default())
        .await
        .unwrap()
        .seecrets;
    assert_eq!(listed[0].label.as_deref(), Some("deploy key for ci7"));
    assert_eq!(
        listed[0].views_remaining, 1,
        "views: 2, one used by the reveal"
    );

    // from-env: the workflow sets the variable from a secret in the step's env.
    let db_password = "pg-4f9a2c1e-not-in-any-log";
    let result = job.action(
        json!({"server": server.base, "token": token, "from-env": "DB_PASSWORD"}),
        json!({"DB_PASSWORD": db_password}),
        &[token, db_password],
    );
    assert_eq!(result["conclusion"], "success", "{}", result["log"]);
    let url = text(&result["outputs"]["url"]).to_string();
    assert_masked(&result, &url, &[db_password]);
    assert_eq!(reveal_text(&url, None).await, db_password.as_bytes());

    // file: a file the job wrote, shared as a file (its name kept), relative to the workspace.
    let pem: Vec<u8> = b"-----BEGIN PRIVATE KEY-----\n"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(5000))
        .collect();
    std::fs::create_dir(job.workspace().join("certs")).unwrap();
    std::fs::write(job.workspace().join("certs/server.pem"), &pem).unwrap();
    let result = job.action(
        json!({"server": server.base, "token": token, "file": "certs/server.pem",
               "expiration": "30m"}),
        json!({}),
        &[token],
    );
    assert_eq!(result["conclusion"], "success", "{}", result["log"]);
    let url = text(&result["outputs"]["url"]).to_string();
    assert_masked(&result, &url, &[]);
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        Command::new(seecret_bin())
            .arg("reveal")
            .arg(&url)
            .arg("--output")
            .arg(out.path()),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(out.path().join("server.pem")).unwrap(), pem);

    let log = server.log();
    for secret in [content, db_password, passphrase] {
        assert!(!log.contains(secret), "a secret in the server's log");
    }
}

/// Wrong input fails the step with one clear `::error::` naming what is wrong, never echoing the
/// secret, and creates nothing on the server.
#[tokio::test]
async fn github_action_refuses_bad_input_clearly_and_creates_nothing() {
    let server = Server::start();
    let (_cli, path) = cli_on_path();
    let job = Job::new(&path);
    let token = server.token();
    let secret = "canary-7d1e0b-must-not-leak";
    std::fs::write(job.workspace().join("present.txt"), "x").unwrap();
    let base = json!({"server": server.base, "token": token});
    let with = |extra: Value| {
        let mut w = base.clone();
        w.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        w
    };
    let cases = [
        (
            with(json!({"content": secret, "file": "present.txt"})),
            "exactly one of the inputs content, file, from-env (got: content, file)",
        ),
        (with(json!({})), "(got: none)"),
        (
            with(json!({"content": secret, "views": "0"})),
            "views: \"0\" is not a whole number",
        ),
        (
            // A newline in an input must not start a workflow command of its own.
            with(json!({"content": secret, "views": "2\n::add-mask::x"})),
            "views: \"2\n::add-mask::x\" is not",
        ),
        (
            with(json!({"content": secret, "expiration": "tomorrow"})),
            "expiration: \"tomorrow\" is not a duration",
        ),
        (
            with(json!({"from-env": "NOT_SET_ANYWHERE"})),
            "the variable NOT_SET_ANYWHERE is unset or empty",
        ),
        (
            with(json!({"from-env": "A;B"})),
            "\"A;B\" is not an environment variable name",
        ),
        (
            with(json!({"file": "missing.pem"})),
            "file: no such file: missing.pem",
        ),
        (
            with(json!({"content": secret, "cli": "seecret-not-installed"})),
            "the seecret CLI was not found (cli: seecret-not-installed): install it",
        ),
        (
            json!({"server": server.base, "content": secret}),
            "no API token",
        ),
        (
            with(json!({"content": secret, "token": "00000000-0000-4000-8000-000000000000"})),
            "seecret share failed (exit 1): seecret: the server refused the API token",
        ),
    ];
    for (inputs, expected) in cases {
        let result = job.action(
            inputs.clone(),
            json!({}),
            &[token, secret, "00000000-0000-4000-8000-000000000000"],
        );
        assert_eq!(
            result["conclusion"], "failure",
            "{inputs}: {}",
            result["log"]
        );
        let errors: Vec<&str> = result["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["level"] == "error")
            .map(|a| text(&a["message"]))
            .collect();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{inputs}: expected an error containing {expected:?}, got {errors:?}"
        );
        assert!(
            !text(&result["raw"]).contains(&format!("::error title=seecret share::{secret}")),
            "{inputs}"
        );
        assert!(!text(&result["log"]).contains(secret), "{inputs}");
        assert!(
            !text(&result["raw"])
                .lines()
                .any(|l| l.starts_with("::add-mask::x")),
            "an input started a workflow command"
        );
        assert_eq!(result["outputs"]["url"], "", "{inputs}");
    }
    assert_eq!(
        shared_count(&server).await,
        0,
        "a refused input created a secret"
    );

    // The rule that keeps inputs out of script text is enforced: an action with `${{ inputs.* }}`
    // in a `run:` is refused by the runner (and the real action passes, above).
    let evil = tempfile::tempdir().unwrap();
    let action = std::fs::read_to_string(repo_path("integrations/github-action/action.yml"))
        .unwrap()
        .replace(
            "        mask \"$INPUT_TOKEN\"\n",
            "        mask \"$INPUT_TOKEN\"\n        echo \"${{ inputs.content }}\"\n",
        );
    std::fs::write(evil.path().join("action.yml"), action).unwrap();
    let refused = job
        .action_at(evil.path(), base.clone(), json!({}), &[])
        .unwrap_err();
    assert!(refused.contains("script injection"), "{refused}");
}

/// Runs a job of a pipeline that includes the template, as a GitLab runner would.
fn gitlab_job(
    path: &str,
    project: &Path,
    ci_file: &str,
    job: &str,
    variables: Value,
    masked: &[&str],
) -> Value {
    let request = json!({
        "ci_file": ci_file, "job": job, "include_root": repo_path(""),
        "project_dir": project, "variables": variables, "masked": masked,
    });
    runner("run_gitlab.py", &[], &request, path).unwrap()
}

/// A user's job `extends: .seecret-share`: a masked CI/CD variable and then a file are shared;
/// the link lands in the artifact file (mode 0600, `access: none`, expiring) and opens to the
/// exact value; it is never in the job log. Wrong settings fail the job and create nothing.
#[tokio::test]
async fn gitlab_template_shares_into_an_artifact_file_and_never_logs_the_link() {
    let server = Server::start();
    let (cli, _) = cli_on_path();
    let token = server.token();
    // The CLI is not on the runner's PATH: the user's before_script brings it, as the README says.
    let runner_path = test_path();
    let ci_file = format!(
        r#"
include:
  - local: integrations/gitlab/seecret.gitlab-ci.yml

share-db-password:
  extends: .seecret-share
  before_script:
    - export PATH="{}:$PATH"
  variables:
    SEECRET_CONTENT_VAR: DB_PASSWORD
    SEECRET_LABEL: "db password for alice"

share-cert:
  extends: share-db-password
  variables:
    SEECRET_CONTENT_VAR: ""
    SEECRET_FILE: out/tls.key
    SEECRET_VIEWS: "3"
"#,
        cli.path().display()
    );
    let db_password = "glpat-free-5b7c0d9e-db";
    let vars = json!({"SEECRET_SERVER": server.base, "SEECRET_TOKEN": token,
                      "DB_PASSWORD": db_password});
    let masked = ["SEECRET_TOKEN", "DB_PASSWORD"];

    let project = tempfile::tempdir().unwrap();
    let result = gitlab_job(
        &runner_path,
        project.path(),
        &ci_file,
        "share-db-password",
        vars.clone(),
        &masked,
    );
    let log = text(&result["log"]);
    assert_eq!(result["status"], "success", "{log}");
    let url_file = project.path().join("seecret/url");
    let url = std::fs::read_to_string(&url_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(url.starts_with(&format!("{}/s/", server.base)), "{url}");
    assert!(!log.contains(&url) && !log.contains(url.split_once('#').unwrap().1));
    assert!(log.contains("the link is in seecret/url"), "{log}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&url_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The artifact that carries it to later jobs: declared, present, downloadable by no one.
    let artifacts = &result["job"]["artifacts"];
    assert_eq!(artifacts["access"], "none");
    assert_eq!(artifacts["expire_in"], "1 hour");
    assert_eq!(result["artifacts"], json!(["seecret/"]));
    assert_eq!(reveal_text(&url, None).await, db_password.as_bytes());

    // The same template sharing a file (the job inherits the user's job, hashes merged).
    std::fs::create_dir(project.path().join("out")).unwrap();
    let key = b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\x00\xff\n".to_vec();
    std::fs::write(project.path().join("out/tls.key"), &key).unwrap();
    let result = gitlab_job(
        &runner_path,
        project.path(),
        &ci_file,
        "share-cert",
        vars.clone(),
        &masked,
    );
    assert_eq!(result["status"], "success", "{}", result["log"]);
    let url = std::fs::read_to_string(&url_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(!text(&result["log"]).contains(&url));
    let out = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        Command::new(seecret_bin())
            .arg("reveal")
            .arg(&url)
            .arg("--output")
            .arg(out.path()),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(out.path().join("tls.key")).unwrap(), key);
    let listed = server
        .client()
        .list(&ListQuery::default())
        .await
        .unwrap()
        .seecrets;
    assert_eq!(listed.len(), 2);

    // Wrong settings: the job fails with the reason, no link file, nothing more on the server.
    let bad = [
        (
            json!({"SEECRET_FILE": "out/tls.key"}),
            "set exactly one of SEECRET_CONTENT_VAR",
        ),
        (json!({"SEECRET_VIEWS": "many"}), "SEECRET_VIEWS=\"many\""),
        (
            json!({"SEECRET_CONTENT_VAR": "NOT_SET"}),
            "SEECRET_CONTENT_VAR names NOT_SET, which is unset or empty",
        ),
        (
            json!({"SEECRET_EXPIRATION": "soon"}),
            "expiration \"soon\" is not a duration",
        ),
        (json!({"SEECRET_TOKEN": ""}), "SEECRET_TOKEN is not set"),
        (
            json!({"SEECRET_CLI": "no-such-cli"}),
            "the seecret CLI was not found",
        ),
    ];
    for (extra, expected) in bad {
        let project = tempfile::tempdir().unwrap();
        let mut v = vars.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let result = gitlab_job(
            &runner_path,
            project.path(),
            &ci_file,
            "share-db-password",
            v,
            &masked,
        );
        let log = text(&result["log"]);
        assert_eq!(result["status"], "failed", "{extra}: {log}");
        assert!(log.contains(expected), "{extra}: {log}");
        assert!(!log.contains(db_password), "{extra}: {log}");
        assert!(!project.path().join("seecret/url").exists(), "{extra}");
    }
    assert_eq!(shared_count(&server).await, 2);
}
