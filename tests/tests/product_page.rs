//! The product page's promise: its four code samples work unchanged except for host and token,
//! and the link they print opens in a browser, reveals once, and is gone after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use seecret_core::client::Client;
use seecret_core::link::Link;
use seecret_tests::{Server, repo_path, run};

/// The first `http…/s/<id>#<key>` link in a program's output.
fn find_link(out: &str) -> Link {
    let start = out
        .find("http")
        .unwrap_or_else(|| panic!("no link in {out:?}"));
    let link: String = out[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    Link::parse(&link).unwrap_or_else(|e| panic!("{link:?} is not a link: {e}"))
}

fn sample(name: &str, server: &Server) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_path(&format!("tests/samples/{name}")))
        .unwrap()
        .replace("https://seecret.it", &server.base)
        .replace("YOUR_TOKEN", server.token());
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn assert_reveals_once(link: &Link) {
    let content = Client::reveal_link(link, None).await.unwrap();
    assert_eq!(content.expose(), b"Password2026!");
    let again = Client::reveal_link(link, None).await.unwrap_err();
    assert_eq!(again.status(), Some(410), "{again}");
}

#[tokio::test]
async fn the_four_product_page_samples_print_a_link_that_reveals_once() {
    let server = Server::start();
    let runs: [(&str, Vec<&str>); 4] = [
        ("sample.php", vec!["php"]),
        ("sample.py", vec!["python3"]),
        ("sample.mjs", vec!["node"]),
        ("sample.sh", vec!["sh"]),
    ];
    for (file, interpreter) in runs {
        let path = sample(file, &server);
        let (code, out, err) = run(
            Command::new(interpreter[0]).arg(&path),
            Duration::from_secs(60),
        );
        assert_eq!(code, 0, "{file} failed: {err}");
        let link = find_link(&out);
        assert!(
            link.base == server.base,
            "{file} printed a link to {}",
            link.base
        );
        assert_reveals_once(&link).await;
    }
}

fn browser(link: &str, mode: &str, passphrase: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new("node");
    cmd.arg(repo_path("tests/js/reveal-page.mjs"))
        .arg(link)
        .arg(mode);
    if let Some(p) = passphrase {
        cmd.env("PASSPHRASE", p);
    }
    let artifacts = repo_path("tests/artifacts");
    let _ = std::fs::create_dir_all(&artifacts);
    cmd.env("SCREENSHOT_DIR", artifacts);
    let (code, out, err) = run(&mut cmd, Duration::from_secs(90));
    assert_eq!(code, 0, "browser ({mode}) failed: {err}\n{out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("browser said {out:?}"))
}

#[tokio::test]
async fn the_reveal_page_in_a_real_browser_consumes_nothing_until_clicked_then_is_gone() {
    let server = Server::start();
    let client = server.client();
    let secret = "Wi-Fi: ünïcödé ✓ 🔑\n  indented line\n\ttab\nlast line without newline";
    let created = client
        .create(&seecret_core::api::CreateSecret {
            content: Some(secret.to_string().into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let link = created.url.unwrap();

    // Link-preview bots and a person who only opens the page use nothing.
    for _ in 0..2 {
        let loaded = browser(&link, "load", None);
        assert_eq!(loaded["http"], 200);
        assert!(loaded["lead"].as_str().unwrap().contains("shared a secret"));
    }
    let plain = seecret_tests::http().get(&link).send().await.unwrap();
    let csp = plain.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(plain.headers()["cache-control"], "no-store");
    assert_eq!(plain.headers()["referrer-policy"], "no-referrer");
    assert!(
        plain.headers()["x-robots-tag"]
            .to_str()
            .unwrap()
            .contains("noindex")
    );
    let html = plain.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("onclick=") && !html.contains("onload="),
        "no inline script"
    );
    let info = client.get(created.id).await.unwrap();
    assert_eq!(info.views_remaining, 1, "loading the page used a view");

    let revealed = browser(&link, "reveal", None);
    assert_eq!(revealed["content"].as_str().unwrap(), secret);
    assert!(
        revealed["errors"].as_array().unwrap().is_empty(),
        "{revealed}"
    );
    assert!(
        !revealed["url"].as_str().unwrap().contains('#'),
        "key left in the address bar"
    );

    let gone = browser(&link, "gone", None);
    // The page is one static document for every id; what it shows comes from the status call.
    assert_eq!(gone["http"], 200);
    assert_eq!(gone["state"], "gone");
    assert!(
        gone["gone"].as_str().unwrap().contains("already viewed"),
        "{gone}"
    );
}

#[tokio::test]
async fn the_reveal_page_asks_for_the_passphrase_and_a_megabyte_of_text_survives() {
    let server = Server::start();
    let client = server.client();
    // 1 MiB exactly, multi-byte characters and newlines included.
    let mut secret = String::new();
    while secret.len() < 1024 * 1024 - 8 {
        secret.push_str("línea ✓\n");
    }
    while secret.len() < 1024 * 1024 {
        secret.push('x');
    }
    let created = client
        .create(&seecret_core::api::CreateSecret {
            content: Some(secret.clone().into()),
            passphrase: Some("correct horse".to_string().into()),
            views: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    let link = created.url.unwrap();
    let revealed = browser(&link, "reveal", Some("correct horse"));
    assert_eq!(revealed["content"].as_str().unwrap().len(), secret.len());
    assert!(revealed["content"].as_str().unwrap() == secret);
    assert!(revealed["status"].as_str().unwrap().contains("1 more time"));
}
