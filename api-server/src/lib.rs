//! `seecret`: the server (`serve`), its operator commands (`account`), and the command-line
//! client (`share`, `reveal`, `status`, `list`, `burn`). The binary is a thin `main` over
//! [`main_entry`]; the HTTP application is exported so tests can drive it in-process.

// The settings' doc comments are also their `--help` text, where `<data-dir>` is a placeholder,
// not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backup;
mod bots;
mod check;
mod cli;
mod config;
mod http;
mod logging;
mod metrics;
mod serve;
mod signin;
mod vars;

pub use http::{AppState, Guards, HttpLimits, Net, app};
pub use serve::open_engine;
pub use signin::{OAuthApp, SignIn, SignInSettings};
pub use vars::known_env_vars;

#[derive(Parser, Debug)]
#[command(
    name = "seecret",
    version,
    about = "One-time secret links: share passwords, keys and files safely."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(Box<config::ServeArgs>),
    /// Manage accounts (talks to the database directly).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
        #[command(flatten)]
        storage: config::StorageArgs,
    },
    /// Back up the SQLite database and its file blobs into one archive (safe while serving).
    Backup {
        /// The archive to write (must not exist).
        file: std::path::PathBuf,
        /// Where file ciphertext lives, as `seecret serve` takes it (default: the config file's
        /// `blob_store`, else <data-dir>/blobs).
        #[arg(long, env = "SEECRET_BLOB_STORE")]
        blob_store: Option<String>,
        #[command(flatten)]
        storage: config::StorageArgs,
    },
    /// Restore a backup archive into a new, empty data directory.
    Restore {
        /// The archive to restore.
        file: std::path::PathBuf,
        #[command(flatten)]
        storage: config::StorageArgs,
    },
    /// Print the default configuration file.
    PrintDefaultConfig,
    /// Check the configuration `serve` would use (same flags, SEECRET_* variables, <VAR>_FILE
    /// and TOML file), without listening: prints every setting and its source, secrets redacted;
    /// checks the data directory is writable and the PostgreSQL and Redis hosts accept a TCP
    /// connection (no login, no migration). Exits non-zero naming the setting at fault.
    CheckConfig(Box<config::ServeArgs>),
    #[command(flatten)]
    Client(cli::ClientCommand),
}

#[derive(Subcommand, Debug)]
enum AccountCommand {
    /// Create an account; prints its API token alone on the last line.
    Create {
        /// Display name (unique).
        #[arg(long)]
        name: String,
        /// Contact address.
        #[arg(long)]
        email: Option<String>,
    },
    /// Replace an account's token (by id or name); prints the new one alone on the last line.
    RotateToken {
        /// Account id or name.
        account: String,
    },
}

/// Parses the command line and runs the command: what the `seecret` binary does.
pub fn main_entry() -> ExitCode {
    seecret_core::init_crypto();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if let Some((var, value)) = bad_env_var(&e) {
                eprintln!("seecret: {var}: invalid value {value:?}");
            }
            e.exit()
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("seecret: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args.resolve()?).await,
            Command::Account { command, storage } => account(command, storage).await,
            Command::CheckConfig(args) => check::run(&args).await,
            Command::Backup {
                file,
                blob_store,
                storage,
            } => {
                let (data_dir, url, _) = storage.resolve()?;
                let blob_store = match blob_store {
                    Some(b) => Some(b),
                    None => storage.configured_blob_store()?,
                };
                let s =
                    backup::backup(&data_dir, url.expose(), blob_store.as_deref(), &file).await?;
                println!(
                    "backed up {} secrets and {} file blobs into {} ({} file secrets ended after \
                     the snapshot, recorded as deleted)",
                    s.secrets,
                    s.blobs,
                    file.display(),
                    s.ended_after_snapshot
                );
                Ok(())
            }
            Command::Restore { file, storage } => {
                let (data_dir, url, _) = storage.resolve()?;
                let (secrets, blobs) = backup::restore(&data_dir, url.expose(), &file).await?;
                println!(
                    "restored {secrets} secrets and {blobs} file blobs into {}",
                    data_dir.display()
                );
                Ok(())
            }
            Command::PrintDefaultConfig => {
                print!("{}", config::default_toml());
                Ok(())
            }
            Command::Client(c) => cli::run(c).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seecret: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The environment variable behind a value clap refused, when the value came from it: clap's
/// own message names only the flag, and an operator setting `SEECRET_MAX_VIEWS=abc` looks for
/// the variable.
fn bad_env_var(e: &clap::Error) -> Option<(String, String)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) = (
        e.get(ContextKind::InvalidArg),
        e.get(ContextKind::InvalidValue),
    ) else {
        return None;
    };
    let long = arg.split_whitespace().next()?.trim_start_matches("--");
    fn find(cmd: &clap::Command, long: &str) -> Option<String> {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_env())
            .map(|v| v.to_string_lossy().into_owned())
            .or_else(|| cmd.get_subcommands().find_map(|c| find(c, long)))
    }
    let var = find(&<Cli as clap::CommandFactory>::command(), long)?;
    // Only when the variable holds the refused value (else the flag did).
    (std::env::var(&var).ok().as_deref() == Some(value.as_str())).then(|| (var, value.clone()))
}

async fn account(command: AccountCommand, storage: config::StorageArgs) -> anyhow::Result<()> {
    logging::init("warn");
    let (data_dir, url, options) = storage.resolve()?;
    let engine = serve::open_engine(&data_dir, url.expose(), &options, Default::default()).await?;
    let (record, token) = match command {
        AccountCommand::Create { name, email } => {
            engine.create_account(&name, email.as_deref()).await?
        }
        AccountCommand::RotateToken { account } => engine.rotate_token(&account).await?,
    };
    println!("account {} ({})", record.name, record.id);
    println!("{}", token.expose());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_of_parsed_commands_and_settings_shows_no_secret() {
        let share = Cli::try_parse_from([
            "seecret",
            "share",
            "--token",
            "TOKEN-CANARY",
            "--passphrase",
            "PASS-CANARY",
        ])
        .unwrap();
        let reveal = Cli::try_parse_from([
            "seecret",
            "reveal",
            "http://x/s/1#k",
            "--passphrase",
            "PASS-CANARY",
        ])
        .unwrap();
        let serve = Cli::try_parse_from([
            "seecret",
            "serve",
            "--database-url",
            "postgres://u:DBPASS-CANARY@db/s",
            "--redis-url",
            "redis://:REDIS-CANARY@r/0",
        ])
        .unwrap();
        let Command::Serve(args) = &serve.command else {
            panic!("not serve")
        };
        let settings = args.resolve().unwrap();
        for shown in [
            format!("{share:?}"),
            format!("{reveal:?}"),
            format!("{serve:?}"),
            format!("{settings:?}"),
        ] {
            for canary in [
                "TOKEN-CANARY",
                "PASS-CANARY",
                "DBPASS-CANARY",
                "REDIS-CANARY",
            ] {
                assert!(!shown.contains(canary), "{canary} in {shown}");
            }
        }
        assert_eq!(
            settings.database_url.expose(),
            "postgres://u:DBPASS-CANARY@db/s"
        );
    }
}
