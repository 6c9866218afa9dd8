//! The command-line client. It encrypts and decrypts locally through the typed client in `core`:
//! plaintext and keys never leave this process.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use seecret_core::api::ListQuery;
use seecret_core::client::{Client, ShareOptions};
use seecret_core::crypto::SecretBytes;
use seecret_core::model::{Expiration, Link, SecretId, SecretInfo, Status};
use zeroize::Zeroizing;

/// Where the server is and who we are.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// Server base URL.
    #[arg(
        long,
        env = "SEECRET_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    server: String,
    /// API token (or SEECRET_TOKEN_FILE with a path).
    #[arg(long, env = "SEECRET_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
}

impl Remote {
    fn client(&self) -> anyhow::Result<Client> {
        let token = match &self.token {
            Some(t) => Some(Zeroizing::new(t.clone())),
            None => crate::config::from_file_var("SEECRET_TOKEN")?.map(Zeroizing::new),
        };
        let Some(token) = token else {
            bail!("no API token: pass --token or set SEECRET_TOKEN");
        };
        Ok(Client::new(&self.server, Some(token.as_str()))?)
    }
}

/// Client commands.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Encrypt a secret locally, upload the ciphertext, print the link.
    Share {
        /// File to share (default: standard input).
        file: Option<PathBuf>,
        /// Views allowed.
        #[arg(long)]
        views: Option<u32>,
        /// Lifetime: 30m, 24h, 7d…
        #[arg(long, alias = "expiration")]
        expires: Option<Expiration>,
        /// Passphrase the recipient must also give.
        #[arg(long, env = "SEECRET_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<String>,
        /// Note for yourself (stored in clear, never the secret).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Reveal a link (uses one view) and print the secret.
    Reveal {
        /// The link, key fragment included.
        link: String,
        /// Passphrase, if the secret has one.
        #[arg(long, env = "SEECRET_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<String>,
    },
    /// Show a secret's status and view log.
    Status {
        /// Secret id or link.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// List your secrets, newest first.
    List {
        /// Only this status: active, consumed, expired, deleted.
        #[arg(long)]
        status: Option<Status>,
        /// How many (default 20).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a secret now: its content is erased.
    Burn {
        /// Secret id or link.
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

/// An id, or a link whose id we take (the key part is ignored).
fn parse_id(s: &str) -> anyhow::Result<SecretId> {
    let s = s.trim();
    let s = s.split('#').next().unwrap_or(s);
    let s = s.rsplit("/s/").next().unwrap_or(s).trim_end_matches('/');
    s.parse()
        .with_context(|| format!("{s:?} is not a secret id or link"))
}

fn read_input(file: Option<&PathBuf>) -> anyhow::Result<SecretBytes> {
    let mut buf = Vec::new();
    match file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::File::open(p)
                .with_context(|| format!("opening {}", p.display()))?
                .read_to_end(&mut buf)
                .with_context(|| format!("reading {}", p.display()))?;
        }
        _ => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!("Type or paste the secret, then press Ctrl-D:");
            }
            stdin
                .read_to_end(&mut buf)
                .context("reading standard input")?;
        }
    }
    let buf = SecretBytes::new(buf);
    if buf.is_empty() {
        bail!("nothing to share: the input is empty");
    }
    Ok(buf)
}

/// Runs a client command.
pub async fn run(cmd: ClientCommand) -> anyhow::Result<()> {
    crate::serve::init_logging(&std::env::var("SEECRET_LOG").unwrap_or_else(|_| "warn".into()));
    match cmd {
        ClientCommand::Share {
            file,
            views,
            expires,
            passphrase,
            label,
            remote,
        } => {
            let client = remote.client()?;
            let content = read_input(file.as_ref())?;
            let opts = ShareOptions {
                expiration: expires,
                views,
                passphrase: passphrase.map(SecretBytes::from),
                label,
            };
            let shared = client.share(content.expose(), opts).await?;
            println!("{}", shared.link.as_str());
        }
        ClientCommand::Reveal { link, passphrase } => {
            let link = Link::parse(&link)?;
            let content = Client::reveal_link(&link, passphrase.map(SecretBytes::from)).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(content.expose())?;
            out.flush()?;
        }
        ClientCommand::Status { id, json, remote } => {
            let info = remote.client()?.get(parse_id(&id)?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print_info(&info);
                for v in info.view_log.iter().flatten() {
                    println!(
                        "  viewed {} from {}",
                        v.at.to_rfc3339(),
                        v.country.as_deref().unwrap_or("unknown country")
                    );
                }
            }
        }
        ClientCommand::List {
            status,
            limit,
            json,
            remote,
        } => {
            let page = remote
                .client()?
                .list(&ListQuery {
                    status,
                    limit: Some(limit),
                    cursor: None,
                })
                .await?;
            for s in &page.seecrets {
                if json {
                    println!("{}", serde_json::to_string(s)?);
                } else {
                    print_info(s);
                }
            }
        }
        ClientCommand::Burn { id, remote } => {
            let d = remote.client()?.delete(parse_id(&id)?).await?;
            println!("{} {}", d.id, d.status.as_str());
        }
    }
    Ok(())
}

fn print_info(s: &SecretInfo) {
    println!(
        "{}  {:<8}  {}/{} views left  expires {}{}",
        s.id,
        s.status.as_str(),
        s.views_remaining,
        s.views,
        s.expires_at.format("%Y-%m-%d %H:%M UTC"),
        s.label
            .as_deref()
            .map(|l| format!("  {l}"))
            .unwrap_or_default()
    );
}
