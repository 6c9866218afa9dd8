use super::*;
use std::path::Path;

use super::docs::declared;
use crate::vars::known_env_vars;

#[derive(clap::Parser, Debug)]
struct Serve {
    #[command(flatten)]
    args: ServeArgs,
}

fn serve(args: &[&str]) -> ServeArgs {
    use clap::Parser;
    Serve::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
        .unwrap()
        .args
}

#[test]
fn flags_beat_file_and_file_beats_defaults() {
    let dir = std::env::temp_dir().join(format!("seecret-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.toml");
    std::fs::write(
        &file,
        "max_views = 7\nrate_limit_per_minute = 5\nbind = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let s = serve(&["--config", &file, "--rate-limit-per-minute", "9"])
        .resolve()
        .unwrap();
    assert_eq!(s.engine.max_views, 7, "file beats default");
    assert_eq!(s.engine.rate_limit_per_minute, 9, "flag beats file");
    assert_eq!(s.engine.public_url, "http://127.0.0.1:9999");
    assert_eq!(s.engine.max_expiration.to_string(), "30d");
    assert!(default_toml().contains("\nmax_views = 100\n"));
}

#[test]
fn the_default_configuration_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("seecret-dflt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("default.toml");
    std::fs::write(&file, default_toml()).unwrap();
    let file = file.display().to_string();
    let with = format!("{:?}", serve(&["--config", &file]).resolve().unwrap());
    let without = format!("{:?}", serve(&[]).resolve().unwrap());
    assert_eq!(with, without);
    let w = WebhookConfig::default();
    let s = serve(&[]).resolve().unwrap();
    assert_eq!(s.engine.webhooks.retry_schedule, w.retry_schedule);
    assert_eq!(s.sweep_interval, Duration::from_secs(60));
    assert_eq!(s.header_timeout, Duration::from_secs(10));
    assert_eq!(s.database.pool_size, 10);
    assert_eq!(s.database.statement_timeout, Duration::from_secs(5));
    assert_eq!(s.database.sqlite_synchronous, SqliteSynchronous::Normal);
}

#[test]
fn unknown_keys_and_bad_values_in_the_file_are_refused_with_their_name() {
    let dir = std::env::temp_dir().join(format!("seecret-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (text, named) in [
        ("max_veiws = 3\n", "max_veiws"),
        ("max_views = \"many\"\n", "max_views"),
        ("config = \"other.toml\"\n", "config"),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let file = file.display().to_string();
        // Refused even when a flag would override the value.
        let err = serve(&["--config", &file, "--max-views", "5"])
            .resolve()
            .unwrap_err();
        assert!(format!("{err:#}").contains(named), "{err:#}");
    }
    let file = dir.join("bool.toml");
    std::fs::write(&file, "webhook_allow_private = true\n").unwrap();
    let file = file.display().to_string();
    let err = serve(&["--config", &file]).resolve().unwrap_err();
    assert!(
        format!("{err:#}").contains("SEECRET_WEBHOOK_ALLOW_PRIVATE"),
        "{err:#}"
    );
}

#[test]
fn durations_are_written_in_their_largest_whole_unit_and_read_back() {
    for (secs, millis, text) in [
        (86_400, 0, "24h"),
        (90, 0, "90s"),
        (0, 500, "500ms"),
        (600, 0, "10m"),
    ] {
        let d = Duration::from_secs(secs) + Duration::from_millis(millis);
        assert_eq!(Human(d).to_string(), text);
        assert_eq!(text.parse::<Human>().unwrap(), Human(d));
    }
}

#[test]
fn every_setting_has_a_variable_a_flag_and_help() {
    for s in declared().unwrap() {
        assert!(!s.help.is_empty(), "{} has no help", s.flag);
        let env = s.env.as_deref().unwrap_or_default();
        let expected = format!(
            "SEECRET_{}",
            s.flag
                .trim_start_matches("--")
                .replace('-', "_")
                .to_uppercase()
        );
        assert_eq!(env, expected, "{} is not named like its flag", s.flag);
    }
    let known = known_env_vars();
    for var in [
        "SEECRET_DATABASE_POOL_SIZE",
        "SEECRET_SQLITE_SYNCHRONOUS",
        "SEECRET_DATABASE_URL_FILE",
        "SEECRET_REDIS_URL_FILE",
        "SEECRET_TOKEN_FILE",
        "SEECRET_SERVER",
        "SEECRET_PASSPHRASE",
        "SEECRET_SLACK_SIGNING_SECRET",
        "SEECRET_DISCORD_TOKEN_FILE",
    ] {
        assert!(known.contains(var), "{var} is not known");
    }
    assert!(!known.contains("SEECRET_BOGUS_SETTING"));
}

/// The table between the markers of `docs/configuration.md` is the one the code declares.
#[test]
fn the_settings_table_in_the_docs_is_generated_from_the_declarations() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = (
        "<!-- settings table: generated by `seecret print-settings-table` -->\n",
        "<!-- end of settings table -->",
    );
    let from = doc.find(start).expect("start marker") + start.len();
    let to = doc[from..].find(end).expect("end marker") + from;
    assert_eq!(
        &doc[from..to],
        settings_table(),
        "docs/configuration.md is stale: replace its table by the output of \
         `seecret print-settings-table`"
    );
}

/// Names in the docs that are not the server's: the example receiver's own variable, what
/// `scripts/cluster` prints, and the test harness's switches.
const NOT_SERVER_VARIABLES: &[&str] = &[
    "SEECRET_WEBHOOK_SECRET",
    "SEECRET_CLUSTER_A",
    "SEECRET_CLUSTER_B",
    "SEECRET_CLUSTER_S3",
    "SEECRET_CLUSTER_DB",
    "SEECRET_CLUSTER_TOKEN",
    "SEECRET_BIN",
    "SEECRET_TEST_DATABASE",
    "SEECRET_TEST_POSTGRES_URL",
];

#[test]
fn every_variable_the_docs_mention_is_known_to_the_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut docs = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let known = known_env_vars();
    let mut unknown = BTreeSet::new();
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        for (at, _) in text.match_indices("SEECRET_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // `SEECRET_*` and `SEECRET_SLACK_…` are families, not names.
            if name.ends_with('_') {
                continue;
            }
            if !known.contains(&name) && !NOT_SERVER_VARIABLES.contains(&name.as_str()) {
                unknown.insert(format!("{name} ({})", doc.display()));
            }
        }
    }
    assert!(unknown.is_empty(), "unknown to the server: {unknown:?}");
}
