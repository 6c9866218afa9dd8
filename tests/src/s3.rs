//! A real S3-compatible server (moto) for the object-store tests.

use super::*;

/// A real S3-compatible server (moto, installed by `scripts/setup-test-deps`) on a free
/// loopback port, with one bucket; stopped when dropped.
pub struct Moto {
    /// Its base URL, e.g. `http://127.0.0.1:41235`.
    pub endpoint: String,
    _child: KillOnDrop,
}

impl Moto {
    /// Starts moto and creates `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let port = free_port();
        let child = KillOnDrop(
            Command::new("python3")
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        let up = eventually(Duration::from_secs(30), || async {
            http()
                .put(format!("{endpoint}/{bucket}"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
        assert!(up.is_some(), "moto did not start");
        Self {
            endpoint,
            _child: child,
        }
    }
}

/// The object keys under `prefix` (e.g. `blobs/`) of the S3 bucket at `bucket_url`.
pub async fn s3_keys(bucket_url: &str, prefix: &str) -> Vec<String> {
    let listing = http()
        .get(format!("{bucket_url}?list-type=2&prefix={prefix}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next().map(str::to_string))
        .collect()
}
