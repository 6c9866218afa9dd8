//! The Terraform and onboarding recipes of `integrations/terraform` and `integrations/onboarding`,
//! run as written in their READMEs, with stand-ins for the programs the tests cannot have
//! (`terraform`, `mail`) first on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use seecret_core::api::ListQuery;
use seecret_core::client::Client;
use seecret_core::link::Link;
use seecret_core::model::Status;
use seecret_tests::{Server, ServerOptions, repo_path, run, seecret_bin, snippet_in};

/// A directory holding `seecret` (the CLI under test) and the given stand-in scripts, for the
/// front of `PATH`.
fn bin_dir(stand_ins: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(seecret_bin(), dir.path().join("seecret")).unwrap();
    for (name, script) in stand_ins {
        let path = dir.path().join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    dir
}

/// `sh`/`bash` running `script` in `cwd` with the CLI under test first on `PATH`, pointed at
/// `server`.
fn shell(shell: &str, script: &str, cwd: &Path, bin: &Path, server: &Server) -> Command {
    let mut cmd = Command::new(shell);
    cmd.arg("-c")
        .arg(script)
        .current_dir(cwd)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("SEECRET_SERVER", &server.base)
        .env("SEECRET_TOKEN", server.token())
        .env_remove("SEECRET_TOKEN_FILE");
    cmd
}

async fn open(link: &str) -> Vec<u8> {
    Client::reveal_link(&Link::parse(link.trim()).unwrap(), None)
        .await
        .unwrap()
        .expose()
        .to_vec()
}

async fn listed(server: &Server, status: Option<Status>) -> Vec<(String, Option<String>)> {
    let page = server
        .client()
        .list(&ListQuery {
            status,
            limit: Some(100),
            cursor: None,
        })
        .await
        .unwrap();
    page.seecrets
        .iter()
        .map(|s| (s.id.to_string(), s.label.clone()))
        .collect()
}

#[tokio::test]
async fn terraform_recipes_share_the_output_exactly() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    // `terraform output -raw NAME` prints the value with no quotes and no newline; an unknown
    // output is an error on stderr and exit 1.
    let value = "p@ss w0rd\"'$(x)`\\ é";
    let outputs = work.path().join("outputs");
    std::fs::create_dir(&outputs).unwrap();
    std::fs::write(outputs.join("db_password"), value).unwrap();
    let terraform = format!(
        "#!/bin/sh\n[ \"$1 $2\" = 'output -raw' ] || exit 2\n\
         [ -f '{0}'/\"$3\" ] || {{ echo \"Error: Output \\\"$3\\\" not found\" >&2; exit 1; }}\n\
         cat '{0}'/\"$3\"\n",
        outputs.display()
    );
    let bin = bin_dir(&[("terraform", &terraform)]);

    let pipe = snippet_in("integrations/terraform/README.md", "terraform-pipe");
    let (code, out, err) = run(
        &mut shell(
            "bash",
            &format!("set -eo pipefail\n{pipe}"),
            work.path(),
            bin.path(),
            &server,
        ),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(open(&out).await, value.as_bytes());
    assert!(!err.contains(value) && !out.contains(value));
    let labels = listed(&server, None).await;
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].1.as_deref(), Some("prod db (terraform)"));

    // A missing output fails the pipeline, and nothing is created.
    let missing = pipe.replace("db_password", "no_such_output");
    let (code, _, err) = run(
        &mut shell(
            "bash",
            &format!("set -eo pipefail\n{missing}"),
            work.path(),
            bin.path(),
            &server,
        ),
        Duration::from_secs(30),
    );
    assert_ne!(code, 0);
    assert!(err.contains("input is empty"), "{err}");
    assert_eq!(listed(&server, None).await.len(), 1);

    // The provisioner: Terraform runs `command` with `/bin/sh -c`, `environment` added.
    let hcl = snippet_in("integrations/terraform/README.md", "terraform-local-exec");
    let command = hcl
        .lines()
        .find_map(|l| l.trim().strip_prefix("command = "))
        .unwrap();
    let command: String = serde_json::from_str(command).unwrap(); // an HCL string is a JSON string here
    assert!(
        hcl.contains("DB_PASSWORD = random_password.db.result"),
        "{hcl}"
    );
    let (code, _, err) = run(
        shell("/bin/sh", &command, work.path(), bin.path(), &server).env("DB_PASSWORD", value),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    let link = std::fs::read_to_string(work.path().join("db-password.link")).unwrap();
    assert_eq!(open(&link).await, value.as_bytes());
    assert!(!command.contains(value));

    // An unset variable is refused by name, never shared as an empty secret.
    let (code, _, err) = run(
        shell("/bin/sh", &command, work.path(), bin.path(), &server).env_remove("DB_PASSWORD"),
        Duration::from_secs(30),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("DB_PASSWORD") && err.contains("not set"),
        "{err}"
    );
    assert_eq!(listed(&server, None).await.len(), 2);
}

#[tokio::test]
async fn onboarding_mails_each_new_hire_a_link_to_their_own_password() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let mailbox = work.path().join("mailbox");
    std::fs::create_dir(&mailbox).unwrap();
    // `mail -s SUBJECT TO` with the body on stdin: each message kept as a file.
    let mail = format!(
        "#!/bin/sh\n[ \"$1\" = -s ] || exit 2\nf='{}'/\"$3\"\n\
         {{ echo \"Subject: $2\"; echo; cat; }} > \"$f\"\n",
        mailbox.display()
    );
    let bin = bin_dir(&[("mail", &mail)]);
    let hires = [
        (
            "ana@example.com",
            "Ana, \"the new SRE\"",
            "Xk2-first,pass\"word",
        ),
        ("bo@example.com", "Bo", "q9P second"),
        ("cy@example.com", "Cy", "3rd/é"),
    ];
    let mut csv = String::from("email,name,password\n");
    for (email, name, pw) in hires {
        csv.push_str(&format!(
            "{email},\"{}\",\"{}\"\n",
            name.replace('"', "\"\""),
            pw.replace('"', "\"\"")
        ));
    }
    std::fs::write(work.path().join("hires.csv"), &csv).unwrap();

    let script = snippet_in("integrations/onboarding/README.md", "onboarding-run");
    // The documented command, from the repository root's view, with this server's settings.
    let script: String = script
        .lines()
        .filter(|l| !l.starts_with("export "))
        .map(|l| l.replace("integrations/onboarding/new-hire.sh", &script_path()))
        .collect::<Vec<_>>()
        .join("\n");
    let (code, out, err) = run(
        &mut shell("bash", &script, work.path(), bin.path(), &server),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !work.path().join("hires.csv").exists(),
        "the passwords' CSV is deleted"
    );
    for (email, _, pw) in hires {
        assert!(!out.contains(pw) && !err.contains(pw));
        let message = std::fs::read_to_string(mailbox.join(email)).unwrap();
        assert!(
            message.starts_with("Subject: Your initial password\n"),
            "{message}"
        );
        let link = message
            .split_whitespace()
            .find(|w| w.contains("/s/"))
            .unwrap();
        assert_eq!(open(link).await, pw.as_bytes(), "{email}'s link");
    }
    let mut labels: Vec<String> = listed(&server, None)
        .await
        .into_iter()
        .filter_map(|(_, l)| l)
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        ["ana@example.com", "bo@example.com", "cy@example.com"]
    );
}

fn script_path() -> String {
    let p: PathBuf = repo_path("integrations/onboarding/new-hire.sh");
    p.canonicalize().unwrap().display().to_string()
}

#[tokio::test]
async fn a_batch_that_fails_part_way_leaves_no_live_link() {
    let server = Server::start_with(ServerOptions::default().env("SEECRET_MAX_TEXT_SIZE", 64));
    let work = tempfile::tempdir().unwrap();
    let too_big = "Z".repeat(200);
    std::fs::write(
        work.path().join("hires.csv"),
        format!("email,password\na@x.io,CANARY-one\nb@x.io,CANARY-two\nc@x.io,{too_big}\n"),
    )
    .unwrap();
    let bin = bin_dir(&[]);
    let batch = "seecret share --batch hires.csv --column password --label-column email";
    let (code, out, err) = run(
        &mut shell("bash", batch, work.path(), bin.path(), &server),
        Duration::from_secs(30),
    );
    assert_ne!(code, 0);
    assert_eq!(out, "", "nothing printed");
    assert!(
        err.contains("row 3 (line 4)") && err.contains("2 links already made were burnt"),
        "{err}"
    );
    assert!(!err.contains("CANARY") && !err.contains(&too_big), "{err}");
    assert_eq!(listed(&server, Some(Status::Active)).await, []);
    assert_eq!(listed(&server, Some(Status::Deleted)).await.len(), 2);

    // A CSV without the column is refused before anything is shared.
    let (code, _, err) = run(
        &mut shell(
            "bash",
            "seecret share --batch hires.csv --column pw",
            work.path(),
            bin.path(),
            &server,
        ),
        Duration::from_secs(30),
    );
    assert_ne!(code, 0);
    assert!(err.contains("no column \"pw\""), "{err}");
    assert_eq!(listed(&server, None).await.len(), 2);
}

#[tokio::test]
async fn from_file_shares_the_files_bytes_as_text_and_sources_do_not_mix() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    // A trailing newline is part of the value: nothing is trimmed.
    std::fs::write(work.path().join("initial.txt"), "line one\nline two\n").unwrap();
    let bin = bin_dir(&[]);
    let (code, out, err) = run(
        &mut shell(
            "bash",
            "seecret share --from-file initial.txt --views 1",
            work.path(),
            bin.path(),
            &server,
        ),
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(open(&out).await, b"line one\nline two\n");

    // Two sources at once is refused by the argument parser, before anything is read or sent.
    let (code, _, err) = run(
        &mut shell(
            "bash",
            "X=1 seecret share --from-file initial.txt --from-env X",
            work.path(),
            bin.path(),
            &server,
        ),
        Duration::from_secs(30),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
    // An empty file is refused as empty input.
    std::fs::write(work.path().join("empty.txt"), "").unwrap();
    let (code, _, err) = run(
        &mut shell(
            "bash",
            "seecret share --from-file empty.txt",
            work.path(),
            bin.path(),
            &server,
        ),
        Duration::from_secs(30),
    );
    assert_ne!(code, 0);
    assert!(err.contains("empty"), "{err}");
    assert_eq!(listed(&server, None).await.len(), 1);
}
