//! The Ansible collection of `integrations/ansible` (`seecret.share`) under ansible-core from
//! PyPI: real `ansible-playbook` runs on localhost drive the built CLI against a real server on
//! loopback; the test opens what the playbook shared and checks what Ansible printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use seecret_core::api::ListQuery;
use seecret_core::model::SecretId;
use seecret_core::request::RequestPublicKey;
use seecret_tests::{Server, free_port, repo_path, run, seecret_bin};
use serde_json::{Value, json};

/// The test's own controller and managed host (both this machine): the collection copied under
/// `ansible_collections/seecret/share`, the built CLI first on PATH as `seecret`, and Ansible's
/// and the CLI's state kept in a temp dir.
struct Controller {
    dir: tempfile::TempDir,
}

/// The Python that runs Ansible (its interpreter discovery may pick a broken shim).
fn python() -> String {
    let (code, out, err) = run(
        Command::new("python3")
            .arg("-c")
            .arg("import sys; print(sys.executable)"),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "python3: {err}");
    out.trim().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the collection where Ansible looks for it: `<root>/ansible_collections/seecret/share`.
fn collection_under(root: &Path) -> PathBuf {
    let dest = root.join("ansible_collections/seecret/share");
    copy_dir(&repo_path("integrations/ansible"), &dest);
    dest
}

impl Controller {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(seecret_bin(), bin.join("seecret")).unwrap();
        collection_under(&dir.path().join("collections"));
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `ansible-playbook` on `yaml` with `vars` given as an extra-vars file (never on the
    /// command line); returns the exit code, everything it printed, and the results file the
    /// playbook wrote (`results` in vars).
    fn playbook(
        &self,
        name: &str,
        yaml: &str,
        vars: &Value,
        extra: &[&str],
    ) -> (i32, String, Value) {
        let book = self.path(&format!("{name}.yml"));
        std::fs::write(&book, yaml).unwrap();
        let results = self.path(&format!("{name}.results.json"));
        let _ = std::fs::remove_file(&results);
        let mut vars = vars.clone();
        vars["results"] = json!(results);
        let vars_file = self.path(&format!("{name}.vars.json"));
        std::fs::write(&vars_file, vars.to_string()).unwrap();
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("ansible-playbook");
        cmd.args(["-i", "localhost,", "-c", "local", "-e"])
            .arg(format!("@{}", vars_file.display()))
            .args(extra)
            .arg(&book)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("ANSIBLE_COLLECTIONS_PATH", self.path("collections"))
            .env("ANSIBLE_PYTHON_INTERPRETER", python())
            .env("ANSIBLE_HOME", self.path("ansible-home"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env_remove("ANSIBLE_DEBUG")
            .env_remove("ANSIBLE_CONFIG");
        for var in [
            "SEECRET_SERVER",
            "SEECRET_TOKEN",
            "SEECRET_TOKEN_FILE",
            "SEECRET_PASSPHRASE",
            "SEECRET_PASSPHRASE_FILE",
        ] {
            cmd.env_remove(var);
        }
        let (code, out, err) = run(&mut cmd, Duration::from_secs(120));
        let results = std::fs::read_to_string(&results)
            .map(|text| serde_json::from_str(&text).unwrap())
            .unwrap_or(Value::Null);
        (code, format!("{out}\n{err}"), results)
    }
}

/// The share-and-request playbook; `--tags text` reruns the text share alone.
const PLAYBOOK: &str = r#"
- name: Share and request through seecret.share
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/seecret.share.all:
      server: "{{ server }}"
      token: "{{ token }}"
  tasks:
    - name: Share the text
      seecret.share.seecret_share:
        content: "{{ content }}"
        passphrase: "{{ passphrase }}"
        expiration: 1h
        views: 2
        label: "{{ label }}"
        unique_label: true
      register: text
      no_log: true
      tags: [text]
    - name: Share the file
      seecret.share.seecret_share:
        src: "{{ src }}"
        label: ansible file
      register: file
      no_log: true
      tags: [file]
    - name: Ask for a secret
      seecret.share.seecret_request:
        note: staging DB password
        label: ansible request
        answer_views: 1
      register: req
      tags: [request]
    - name: Hand the results to the test
      ansible.builtin.copy:
        content: "{{ {'text': text | default(none), 'file': file | default(none), 'req': req | default(none)} | to_json }}"
        dest: "{{ results }}"
        mode: "0600"
      check_mode: false
      no_log: true
      tags: [always]
"#;

/// Tasks that must fail, each with the message a user needs, and one share without the task's
/// `no_log` (run with -vvv: the module's own no_log options are all that masks the secrets).
const FAILURES: &str = r#"
- name: What goes wrong, and what shows
  hosts: localhost
  gather_facts: false
  tasks:
    - name: A refused token
      seecret.share.seecret_share:
        server: "{{ server }}"
        token: "{{ bad_token }}"
        content: "{{ content }}"
        passphrase: "{{ passphrase }}"
      register: refused
      ignore_errors: true
    - name: A refused token, asking
      seecret.share.seecret_request:
        server: "{{ server }}"
        token: "{{ bad_token }}"
        note: anything
      register: refused_request
      ignore_errors: true
    - name: A server that is not there
      seecret.share.seecret_share:
        server: "{{ nowhere }}"
        token: "{{ token }}"
        content: "{{ content }}"
      register: unreachable
      ignore_errors: true
    - name: A bad expiration
      seecret.share.seecret_share:
        server: "{{ server }}"
        token: "{{ token }}"
        content: "{{ content }}"
        expiration: forever
      register: bad_expiration
      ignore_errors: true
    - name: A missing file
      seecret.share.seecret_share:
        server: "{{ server }}"
        token: "{{ token }}"
        src: /nonexistent/key.pem
      register: missing
      ignore_errors: true
    - name: A share whose task does not hide its output
      seecret.share.seecret_share:
        server: "{{ server }}"
        token: "{{ token }}"
        content: "{{ content }}"
        passphrase: "{{ passphrase }}"
      register: shown
    - name: Hand the results to the test
      ansible.builtin.copy:
        content: "{{ {'refused': refused, 'refused_request': refused_request, 'unreachable': unreachable,
                      'bad_expiration': bad_expiration, 'missing': missing, 'shown': shown} | to_json }}"
        dest: "{{ results }}"
        mode: "0600"
      no_log: true
"#;

/// All secrets of the account (the test makes fewer than 100) and all its requests. A fresh
/// client each time: a pooled connection may have idled out while a playbook ran.
async fn counts(server: &Server) -> (usize, usize) {
    let client = server.client();
    let secrets = client
        .list(&ListQuery {
            status: None,
            limit: Some(100),
            cursor: None,
        })
        .await
        .unwrap();
    let requests = client.list_requests(Some(100)).await.unwrap();
    (secrets.seecrets.len(), requests.requests.len())
}

/// `seecret reveal ARGS` with the controller's config dir (where request keys are kept).
fn reveal(
    controller: &Controller,
    args: &[&str],
    passphrase: Option<&str>,
) -> (i32, Vec<u8>, String) {
    let mut cmd = Command::new(seecret_bin());
    cmd.arg("reveal")
        .args(args)
        .env("XDG_CONFIG_HOME", controller.path("config"))
        .env_remove("SEECRET_PASSPHRASE");
    if let Some(p) = passphrase {
        cmd.env("SEECRET_PASSPHRASE", p);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn ansible_playbook_shares_requests_and_keeps_secrets_out_of_its_output() {
    let started = Instant::now();
    let server = Server::start();
    let controller = Controller::new();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    // Multi-line, non-ASCII, YAML- and shell-looking text: it must arrive exactly.
    let content =
        format!("ansible-content-canary-{tag}\n  ünïcødé: 'quoted' # not a comment $HOME");
    let passphrase = format!("ansible-passphrase-canary-{tag}");
    let bad_token = format!("ansible-bad-token-canary-{tag}");
    let file_bytes: Vec<u8> = [
        b"ansible-file-canary-".as_slice(),
        tag.as_bytes(),
        &[0, 0xff, 0xfe, b'\n'],
    ]
    .concat();
    let src = controller.path("db-backup.key");
    std::fs::write(&src, &file_bytes).unwrap();
    let label = format!("db password {tag}");
    let vars = json!({
        "server": server.base,
        "token": server.token(),
        "content": content,
        "passphrase": passphrase,
        "label": label,
        "src": src,
    });
    let mut outputs = Vec::new();

    // 1. The playbook shares a text and a file and asks for a secret.
    let (code, out, first) = controller.playbook("main", PLAYBOOK, &vars, &["-v"]);
    assert_eq!(code, 0, "{out}");
    let text_url = first["text"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let file_url = first["file"]["url"].as_str().unwrap().to_string();
    assert_eq!(first["text"]["changed"], true, "{first}");
    assert_eq!(first["text"]["status"], "active", "{first}");
    assert_eq!(first["text"]["views_remaining"], 2, "{first}");
    assert_eq!(first["text"]["kind"], "text", "{first}");
    assert!(first["text"]["expires_at"].is_string(), "{first}");
    assert_eq!(first["file"]["kind"], "file", "{first}");
    let text_id = first["text"]["id"].as_str().unwrap().to_string();
    assert!(
        text_url.starts_with(&format!("{}/s/{text_id}#", server.base)),
        "{text_url}"
    );
    // The links are the secrets: the tasks' no_log keeps them out of the output.
    assert!(
        !out.contains(&text_url) && !out.contains(&file_url),
        "{out}"
    );
    assert!(out.contains("the output has been hidden"), "{out}");
    outputs.push(out);

    // The text opens to the exact content, with the passphrase only.
    let (code, _, err) = reveal(&controller, &[&text_url], None);
    assert_ne!(code, 0, "revealed without the passphrase");
    assert!(err.contains("passphrase"), "{err}");
    let (code, revealed, err) = reveal(&controller, &[&text_url], Some(&passphrase));
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(revealed).unwrap(), content);
    // The file, to its exact bytes, under its own name.
    let downloads = controller.path("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let (code, _, err) = reveal(
        &controller,
        &[&file_url, "-o", downloads.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(downloads.join("db-backup.key")).unwrap(),
        file_bytes
    );

    // The request: answered as the responder's browser does, opened with the key kept on the host.
    let req = &first["req"];
    let request_url = req["request_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"));
    let request_id: SecretId = req["id"].as_str().unwrap().parse().unwrap();
    assert!(
        request_url.starts_with(&format!("{}/r/{request_id}#", server.base)),
        "{request_url}"
    );
    let key_path = controller.path(&format!("config/seecret/requests/{request_id}"));
    assert_eq!(req["key_path"], json!(key_path), "{req}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let q = RequestPublicKey::from_base64url("public_key", request_url.split('#').nth(1).unwrap())
        .unwrap();
    let answer = format!("the answer {tag}");
    server
        .client()
        .answer_request_text(request_id, &q, answer.as_bytes())
        .await
        .unwrap();
    let (code, opened, err) = reveal(&controller, &[&request_id.to_string()], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8(opened).unwrap(), answer);

    // 2. A second run of the labelled share finds it and creates nothing.
    let before = counts(&server).await;
    let (code, out, second) =
        controller.playbook("main", PLAYBOOK, &vars, &["-v", "--tags", "text"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(second["text"]["changed"], false, "{second}");
    assert_eq!(second["text"]["id"], json!(text_id), "{second}");
    assert_eq!(second["text"]["status"], "active", "{second}");
    assert!(second["text"].get("url").is_none(), "{second}");
    assert!(
        second["text"]["msg"]
            .as_str()
            .unwrap()
            .contains("cannot be recovered"),
        "{second}"
    );
    // What the user sees: the task is `ok`, not `changed`.
    let task = out.split("TASK [Share the text]").nth(1).unwrap();
    assert!(
        task.trim_start_matches(['*', ' ', '\n'])
            .starts_with("ok: [localhost]"),
        "{out}"
    );
    assert_eq!(
        counts(&server).await,
        before,
        "the second run created something"
    );
    outputs.push(out);

    // 3. Check mode creates nothing and says what it would do.
    let (code, out, checked) = controller.playbook("main", PLAYBOOK, &vars, &["-v", "--check"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(checked["file"]["changed"], true, "{checked}");
    assert!(checked["file"].get("url").is_none(), "{checked}");
    assert!(
        checked["file"]["msg"]
            .as_str()
            .unwrap()
            .contains("check mode"),
        "{checked}"
    );
    assert_eq!(checked["req"]["changed"], true, "{checked}");
    assert!(checked["req"].get("request_url").is_none(), "{checked}");
    assert_eq!(checked["text"]["changed"], false, "{checked}");
    assert_eq!(
        counts(&server).await,
        before,
        "check mode created something"
    );
    outputs.push(out);

    // 4. Failures, each with the message that says what is wrong; -vvv shows module arguments.
    let mut failing = vars.clone();
    failing["bad_token"] = json!(bad_token);
    failing["nowhere"] = json!(format!("http://127.0.0.1:{}", free_port()));
    let (code, out, failed) = controller.playbook("failures", FAILURES, &failing, &["-vvv"]);
    assert_eq!(code, 0, "{out}");
    let msg = |task: &str| {
        assert_eq!(failed[task]["failed"], true, "{task}: {failed}");
        failed[task]["msg"].as_str().unwrap().to_string()
    };
    assert!(
        msg("refused").contains("the server refused the API token"),
        "{failed}"
    );
    assert!(
        msg("refused_request").contains("the server refused the API token"),
        "{failed}"
    );
    let unreachable = msg("unreachable");
    assert!(unreachable.starts_with("sharing failed: "), "{unreachable}");
    assert!(
        unreachable.contains("cannot reach the Seecret server"),
        "{unreachable}"
    );
    assert!(msg("bad_expiration").contains("forever"), "{failed}");
    assert!(
        msg("missing").contains("/nonexistent/key.pem is not a readable file"),
        "{failed}"
    );
    // Without the task's no_log the link shows (as documented), the secrets do not.
    let shown = failed["shown"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{failed}"));
    assert!(out.contains(shown), "{out}");
    assert!(out.contains("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"), "{out}");
    outputs.push(out);
    assert_eq!(
        counts(&server).await.0,
        before.0 + 1,
        "a failed task created a secret"
    );

    // No run printed the content, the passphrase, a token or the file, with any verbosity.
    let file_canary = format!("ansible-file-canary-{tag}");
    for out in &outputs {
        for canary in [
            "ansible-content-canary",
            &passphrase,
            server.token(),
            &bad_token,
            &file_canary,
        ] {
            assert!(!out.contains(canary), "{canary} in the output:\n{out}");
        }
    }
    let log = server.log();
    for canary in [
        "ansible-content-canary",
        &passphrase,
        &file_canary,
        &bad_token,
    ] {
        assert!(!log.contains(canary), "{canary} in the server's log");
    }
    eprintln!("ansible playbook runs: {:?}", started.elapsed());
}

#[test]
fn ansible_test_sanity_passes_on_the_collection() {
    let started = Instant::now();
    let root = tempfile::tempdir().unwrap();
    let collection = collection_under(root.path());
    // ansible-test takes the collection's files from git.
    for args in [&["init", "-q"][..], &["add", "-A"]] {
        let (code, _, err) = run(
            Command::new("git").args(args).current_dir(&collection),
            Duration::from_secs(30),
        );
        assert_eq!(code, 0, "git {args:?}: {err}");
    }
    let (code, out, err) = run(
        Command::new("ansible-test")
            .args(["sanity", "--python", "3.11", "--color", "no"])
            .current_dir(&collection)
            .env_remove("ANSIBLE_DEBUG"),
        Duration::from_secs(300),
    );
    assert_eq!(code, 0, "ansible-test sanity:\n{out}\n{err}");
    for test in [
        "validate-modules",
        "ansible-doc",
        "pylint",
        "yamllint",
        "import",
        "compile",
    ] {
        assert!(
            out.contains(&format!("Running sanity test \"{test}\"")),
            "{test} did not run:\n{out}\n{err}"
        );
    }
    eprintln!("ansible-test sanity: {:?}", started.elapsed());
}
