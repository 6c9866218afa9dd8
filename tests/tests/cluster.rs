//! The README's "Running at scale" example, for real: `scripts/cluster up` starts two instances on
//! PostgreSQL with S3-compatible storage (moto) and Redis; a file shared through one instance is
//! revealed through the other, exactly once, and its object is gone from the bucket after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use futures::future::join_all;
use seecret_tests::{eventually, http, repo_path, run, seecret_bin};
use serde_json::json;

struct Cluster {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl Cluster {
    fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (code, out, err) = run(
            Command::new(repo_path("scripts/cluster"))
                .arg("up")
                .arg(dir.path())
                .env("SEECRET_BIN", seecret_bin()),
            Duration::from_secs(120),
        );
        let cluster_env = |out: &str| {
            out.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let env = cluster_env(&out);
        let cluster = Self { dir, env };
        assert_eq!(code, 0, "scripts/cluster up failed: {err}");
        cluster
    }

    fn get(&self, k: &str) -> &str {
        &self.env[k]
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run(
            Command::new(repo_path("scripts/cluster"))
                .arg("down")
                .arg(self.dir.path()),
            Duration::from_secs(60),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_cluster_shares_through_one_instance_and_reveals_through_the_other() {
    let c = Cluster::up();
    let (a, b, token) = (
        c.get("SEECRET_CLUSTER_A"),
        c.get("SEECRET_CLUSTER_B"),
        c.get("SEECRET_CLUSTER_TOKEN"),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kubeconfig.yaml");
    std::fs::write(&file, "apiVersion: v1\nclusters: []\n".repeat(20_000)).unwrap();
    let (code, link, err) = run(
        Command::new(seecret_bin())
            .arg("share")
            .arg(&file)
            .env("SEECRET_SERVER", a)
            .env("SEECRET_TOKEN", token),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    let link = link.trim().replace(a, b);
    // Blob keys are random, not the id: the bucket's one object under the prefix is the blob.
    let (bucket, prefix) = c.get("SEECRET_CLUSTER_S3").rsplit_once('/').unwrap();
    let keys = seecret_tests::s3_keys(bucket, &format!("{prefix}/")).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let object = format!("{bucket}/{}", keys[0]);
    assert_eq!(
        http().head(&object).send().await.unwrap().status(),
        200,
        "the blob is in the bucket"
    );

    let out = dir.path().join("out.yaml");
    let (code, _, err) = run(
        Command::new(seecret_bin())
            .arg("reveal")
            .arg(&link)
            .arg("-o")
            .arg(&out),
        Duration::from_secs(60),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&file).unwrap());
    let gone = eventually(Duration::from_secs(10), || async {
        (http().head(&object).send().await.unwrap().status() == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the object outlived its download");

    // A text secret created on B, raced for on both: exactly one reveal wins.
    let created: serde_json::Value = http()
        .post(format!("{b}/api.php"))
        .bearer_auth(token)
        .json(&json!({"operation": "create_seecret", "content": "once", "views": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["url"]
        .as_str()
        .unwrap()
        .split('#')
        .nth(1)
        .unwrap()
        .to_string();
    let statuses = join_all((0..100).map(|i| {
        let base = if i % 2 == 0 { a } else { b };
        http()
            .post(format!(
                "{base}/v1/secrets/{}/reveal",
                created["id"].as_str().unwrap()
            ))
            .json(&json!({ "key": key }))
            .send()
    }))
    .await;
    let ok = statuses
        .iter()
        .filter(|r| r.as_ref().map(|r| r.status() == 200).unwrap_or(false))
        .count();
    assert_eq!(ok, 1);
}
