//! The command-line client. It encrypts and decrypts locally through the typed client in `core`:
//! plaintext and keys never leave this process.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use seecret_core::api::SecretInfo;
use seecret_core::api::{CreateRequest, ListQuery};
use seecret_core::client::{Client, ClientError, RevealedContent, ShareOptions};
use seecret_core::crypto::SecretBytes;
use seecret_core::filestream::FileMeta;
use seecret_core::link::{AnswerLink, Link};
use seecret_core::model::{Expiration, RequestStatus, SecretId, Status};

use crate::config::Hidden;

mod batch;
mod listen;
mod mcp;

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
    token: Option<Hidden>,
}

impl Remote {
    fn client(&self) -> anyhow::Result<Client> {
        let Some(token) = or_file(self.token.clone(), "SEECRET_TOKEN")? else {
            bail!("no API token: pass --token or set SEECRET_TOKEN");
        };
        Ok(Client::new(&self.server, Some(token.expose()))?)
    }
}

/// A secret-bearing flag's value, or else the content of the file its `<VAR>_FILE` names.
fn or_file(value: Option<Hidden>, var: &str) -> anyhow::Result<Option<Hidden>> {
    match value {
        Some(v) => Ok(Some(v)),
        None => Ok(crate::config::from_file_var(var)?.map(Hidden::from)),
    }
}

/// What the server's answer means for the person at the terminal, when there is something to do.
fn hint(e: &ClientError) -> Option<String> {
    match e.code()? {
        "unauthorized" => {
            Some("the server refused the API token (check --token or SEECRET_TOKEN)".into())
        }
        "passphrase_required" => Some(
            "this secret needs its passphrase: pass --passphrase or set SEECRET_PASSPHRASE".into(),
        ),
        "passphrase_invalid" => Some(
            "that passphrase is not this secret's (no view was used; a few wrong ones in a \
             minute lock it for the rest of the minute)"
                .into(),
        ),
        "sign_in_required" | "not_the_recipient" => Some(
            "this secret is for one Slack or Discord user only: open the link in a browser, \
             which asks them to sign in"
                .into(),
        ),
        "rate_limited" | "busy" | "overloaded" => e.retry_after().map(|d| {
            format!(
                "the server asks to wait {} s before trying again",
                d.as_secs()
            )
        }),
        "invalid_request" => e
            .field()
            .map(|f| format!("the server refused the value of {f}")),
        _ => None,
    }
}

/// A client error with its hint as context, for `seecret: {hint}: {error}`.
fn explained(e: ClientError) -> anyhow::Error {
    match hint(&e) {
        Some(h) => anyhow::Error::new(e).context(h),
        None => e.into(),
    }
}

/// Client commands.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Encrypt a secret locally, upload the ciphertext, print the link.
    Share {
        /// File to share, sealed and uploaded as a stream (default: text from standard input).
        #[arg(value_name = "FILE", conflicts_with = "file_flag")]
        file: Option<PathBuf>,
        /// File to share (same as the positional argument).
        #[arg(long = "file", value_name = "FILE")]
        file_flag: Option<PathBuf>,
        /// Share the value of this environment variable as text (exact bytes; an unset or empty
        /// variable is an error, never an empty secret).
        #[arg(long, value_name = "VAR", conflicts_with_all = ["file", "file_flag", "from_file", "batch"])]
        from_env: Option<String>,
        /// Share this file's content as text, the way standard input is (no file name; `--file`
        /// shares it as a file to download).
        #[arg(long, value_name = "PATH", conflicts_with_all = ["file", "file_flag", "batch"])]
        from_file: Option<PathBuf>,
        /// Share one secret per row of a CSV file with a header row (`-` for standard input);
        /// prints the same CSV with the secret column replaced by `url`. All or nothing: if a row
        /// fails, the links already made are burnt and nothing is printed.
        #[arg(long, value_name = "CSV", conflicts_with_all = ["file", "file_flag"])]
        batch: Option<PathBuf>,
        /// With --batch: the column holding the secrets.
        #[arg(
            long,
            value_name = "NAME",
            default_value = "secret",
            requires = "batch"
        )]
        column: String,
        /// With --batch: a column whose value becomes each secret's label (e.g. the person's
        /// e-mail), instead of --label.
        #[arg(
            long,
            value_name = "NAME",
            requires = "batch",
            conflicts_with = "label"
        )]
        label_column: Option<String>,
        /// Views allowed.
        #[arg(long)]
        views: Option<u32>,
        /// Lifetime: 30m, 24h, 7d…
        #[arg(long, alias = "expiration")]
        expires: Option<Expiration>,
        /// Passphrase the recipient must also give (or SEECRET_PASSPHRASE_FILE with a path).
        #[arg(long, env = "SEECRET_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<Hidden>,
        /// Note for yourself (stored in clear, never the secret).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Reveal a link (uses one view) and print the secret. Also opens the answer to a request:
    /// its /a/ link, or the request's id or link when `seecret request` kept its key.
    Reveal {
        /// The link, key fragment included (an /s/ or /a/ link), or a request's id.
        link: String,
        /// Write the secret (text or file) to this path instead of standard output. For a file
        /// and an existing directory: saved there under the file's own name, cleaned of
        /// directories and control characters.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Passphrase, if the secret has one (or SEECRET_PASSPHRASE_FILE with a path).
        #[arg(long, env = "SEECRET_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<Hidden>,
    },
    /// Ask someone for a secret: prints the request link to send them. Their answer is encrypted
    /// in their browser to a key only this command holds.
    Request {
        /// What you ask for, shown to the responder (never a secret), e.g. "staging DB password".
        #[arg(long)]
        note: Option<String>,
        /// How long the request stays open: 30m, 24h, 7d… (default 7d).
        #[arg(long, alias = "expiration")]
        expires: Option<Expiration>,
        /// How long the answer lives once given (default 24h).
        #[arg(long)]
        answer_expires: Option<Expiration>,
        /// Views the answer allows (default 1).
        #[arg(long)]
        views: Option<u32>,
        /// Let the responder send a file.
        #[arg(long)]
        allow_files: bool,
        /// Note for yourself (stored in clear).
        #[arg(long)]
        label: Option<String>,
        /// Keep the private key in memory, wait for the answer and print it (a file goes to
        /// --output, or under its own name in the current directory).
        #[arg(long)]
        wait: bool,
        /// Print the answer's /a/ link (private key included) once, instead of keeping the key
        /// in a file under your configuration directory.
        #[arg(long, conflicts_with = "wait")]
        print_answer_link: bool,
        /// With --wait: where to write the answer.
        #[arg(short, long, value_name = "PATH", requires = "wait")]
        output: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
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
    /// Serve the client commands to an AI agent as MCP tools over stdio (links out, never values).
    Mcp(mcp::McpArgs),
    /// Receive the account's webhooks and run a command per chosen event (rotation on read).
    Listen(listen::ListenArgs),
    /// Print the settings table of docs/configuration.md (generated from the declarations).
    #[command(hide = true)]
    PrintSettingsTable {
        /// The client commands' table instead of the server's.
        #[arg(long)]
        client: bool,
    },
}

/// The client commands' table of `docs/configuration.md`: every flag that a variable can set,
/// read from the same declarations `--help` shows.
pub fn client_settings_table() -> String {
    use clap::Subcommand as _;
    let cmd = ClientCommand::augment_subcommands(clap::Command::new("seecret"));
    // One row per variable, with the commands that read it, in declaration order.
    let mut rows: Vec<(String, String, String, String, Vec<String>)> = Vec::new();
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        for arg in sub.get_arguments() {
            let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
                continue;
            };
            let env = env.to_string_lossy().into_owned();
            let used_by = sub.get_name().to_string();
            if let Some(row) = rows.iter_mut().find(|r| r.1 == env) {
                row.4.push(used_by);
                continue;
            }
            let default = match arg.get_default_values() {
                [] => "none".to_string(),
                values => format!("`{}`", values[0].to_string_lossy()),
            };
            // clap drops a doc comment's final period; the table's sentences keep theirs.
            let help = arg.get_help().map_or(String::new(), |h| format!("{h}."));
            rows.push((format!("`--{long}`"), env, default, help, vec![used_by]));
        }
    }
    let mut out = String::from(
        "| flag | environment variable | default | commands | meaning |\n|---|---|---|---|---|\n",
    );
    for (flag, env, default, help, used_by) in rows {
        out.push_str(&format!(
            "| {flag} | `{env}` | {default} | {} | {} |\n",
            used_by.join(", "),
            help.replace('|', "\\|")
        ));
    }
    out
}

/// An id, or a link whose id we take (the key part is ignored).
fn parse_id(s: &str) -> anyhow::Result<SecretId> {
    let s = s.trim();
    let s = s.split('#').next().unwrap_or(s);
    let s = s.rsplit("/s/").next().unwrap_or(s).trim_end_matches('/');
    s.parse()
        .with_context(|| format!("{s:?} is not a secret id or link"))
}

fn progress_bar(len: u64, verb: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{verb} {{bar:40}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

async fn share_file(
    client: &Client,
    path: &std::path::Path,
    opts: ShareOptions,
) -> anyhow::Result<seecret_core::client::Shared> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let size = file
        .metadata()
        .await
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let meta = FileMeta {
        media_type: media_type_of(&name).into(),
        name,
        size: Some(size),
    };
    let bar = progress_bar(size, "sealing and uploading");
    let b = bar.clone();
    let shared = client
        .share_file(
            file,
            meta,
            opts,
            Some(std::sync::Arc::new(move |done, _| b.set_position(done))),
        )
        .await;
    bar.finish_and_clear();
    shared.map_err(explained)
}

/// A media type from the extension: enough for the recipient's browser to open the file right.
fn media_type_of(name: &str) -> &'static str {
    match name
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("gz" | "tgz") => "application/gzip",
        Some("json") => "application/json",
        Some("txt" | "md" | "env" | "conf" | "ini" | "yaml" | "yml" | "toml") => "text/plain",
        Some("pem" | "crt" | "cer" | "key") => "application/x-pem-file",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// What `seecret reveal` opens: a share link, or the answer to a request.
enum Target {
    Share(Link),
    Answer(AnswerLink),
}

/// A share link, an answer link, or a request's id (or `/r/` link) whose key `seecret request`
/// kept in its key file.
fn target_of(text: &str) -> anyhow::Result<Target> {
    let text = text.trim();
    if text.contains("/a/") {
        return Ok(Target::Answer(AnswerLink::parse(text)?));
    }
    if text.contains("/s/") {
        return Ok(Target::Share(Link::parse(text)?));
    }
    let id_text = text.split('#').next().unwrap_or(text);
    let id_text = id_text
        .rsplit("/r/")
        .next()
        .unwrap_or(id_text)
        .trim_end_matches('/');
    let id: SecretId = id_text
        .parse()
        .with_context(|| format!("{text:?} is not a Seecret link or request id"))?;
    let path = request_key_path(id)?;
    let kept = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no key kept for request {id} (looked in {}): use the /a/ link it printed",
            path.display()
        )
    })?;
    Ok(Target::Answer(AnswerLink::parse(kept.trim())?))
}

/// Where `seecret request` keeps the private key of request `id`: under the user's
/// configuration directory (`$XDG_CONFIG_HOME`, else `~/.config`), `seecret/requests/<id>`.
fn request_key_path(id: SecretId) -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                bail!("neither XDG_CONFIG_HOME nor HOME is set: pass --print-answer-link or --wait")
            }
        },
    };
    Ok(base.join("seecret").join("requests").join(id.to_string()))
}

/// Writes the answer link (private key included) readable by this user only.
fn keep_request_key(id: SecretId, answer_link: &str) -> anyhow::Result<PathBuf> {
    let path = request_key_path(id)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(answer_link.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

async fn reveal(
    link: &str,
    output: Option<PathBuf>,
    passphrase: Option<Hidden>,
) -> anyhow::Result<()> {
    reveal_target(target_of(link)?, output, passphrase, false).await
}

/// Reveals and writes out a share or an answer. `file_to_name`: a file with no `output` goes to
/// its own (cleaned) name in the current directory instead of standard output.
async fn reveal_target(
    target: Target,
    output: Option<PathBuf>,
    passphrase: Option<Hidden>,
    file_to_name: bool,
) -> anyhow::Result<()> {
    let bar = progress_bar(0, "downloading and decrypting");
    let b = bar.clone();
    let progress = move |done: u64, total: u64| {
        if total > 0 {
            b.set_length(total);
        }
        b.set_position(done);
    };
    let opened = std::sync::Mutex::new(None::<PathBuf>);
    let sink = |meta: &FileMeta| {
        // The name comes from the sender's sealed stream: never a path of their choosing.
        let target = match output.clone() {
            Some(p) if p.is_dir() => Some(p.join(safe_file_name(&meta.name))),
            Some(p) => Some(p),
            None if file_to_name => Some(PathBuf::from(safe_file_name(&meta.name))),
            None => None,
        };
        let opened = &opened;
        async move {
            let w: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match target {
                Some(path) => {
                    let f = tokio::fs::File::create(&path).await?;
                    if let Ok(mut o) = opened.lock() {
                        *o = Some(path);
                    }
                    Box::new(f)
                }
                None => Box::new(tokio::io::stdout()),
            };
            Ok(w)
        }
    };
    let result = match &target {
        Target::Share(link) => {
            Client::reveal_link_to(
                link,
                passphrase.map(|p| SecretBytes::from(p.expose().to_string())),
                sink,
                Some(&progress),
            )
            .await
        }
        Target::Answer(link) => Client::reveal_answer_to(link, sink, Some(&progress)).await,
    };
    bar.finish_and_clear();
    match result {
        Ok(RevealedContent::Text(text)) => match output {
            Some(path) => std::fs::write(&path, text.expose())
                .with_context(|| format!("writing {}", path.display()))?,
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.expose())?;
                out.flush()?;
            }
        },
        Ok(RevealedContent::File(meta, n)) => {
            if let Some(path) = opened.lock().ok().and_then(|o| o.clone()) {
                eprintln!(
                    "saved {} ({n} bytes, {}) to {}",
                    printable(&meta.name),
                    printable(&meta.media_type),
                    printable(&path.display().to_string())
                );
            }
        }
        Err(e) => {
            // Never leave a partial file behind that could pass for the real one.
            if let Some(path) = opened.lock().ok().and_then(|o| o.clone()) {
                let _ = std::fs::remove_file(path);
            }
            return Err(explained(e));
        }
    }
    Ok(())
}

/// The value of environment variable `var`, as a secret (its exact bytes): unset or empty is an
/// error naming the variable, never its value. `share --from-env` and the MCP tool read it here.
fn read_env(var: &str) -> anyhow::Result<SecretBytes> {
    use std::os::unix::ffi::OsStringExt;
    // `var_os` may panic on such names.
    if var.is_empty() || var.contains(['=', '\0']) {
        bail!("{var:?} is not an environment variable name");
    }
    match std::env::var_os(var) {
        None => bail!("environment variable {var} is not set"),
        Some(v) if v.is_empty() => bail!("environment variable {var} is empty"),
        Some(v) => Ok(SecretBytes::new(v.into_vec())),
    }
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
    // rmcp logs whole requests (tool arguments: inline secrets) at debug: capped at info, always.
    let filter = std::env::var("SEECRET_LOG").unwrap_or_else(|_| "warn".into());
    crate::logging::init(&format!("{filter},rmcp=info"));
    match cmd {
        ClientCommand::Share {
            file,
            file_flag,
            from_env,
            from_file,
            batch,
            column,
            label_column,
            views,
            expires,
            passphrase,
            label,
            remote,
        } => {
            let client = remote.client()?;
            let opts = ShareOptions {
                expiration: expires,
                views,
                passphrase: or_file(passphrase, "SEECRET_PASSPHRASE")?
                    .map(|p| SecretBytes::from(p.expose().to_string())),
                label,
                webhook_url: None,
            };
            if let Some(csv) = batch {
                let columns = batch::Columns {
                    secret: column,
                    label: label_column,
                };
                return batch::share_rows(&client, &csv, &columns, opts).await;
            }
            let shared = match (from_env, from_file, file.or(file_flag)) {
                (Some(var), _, _) => {
                    let content = read_env(&var).context("--from-env")?;
                    client
                        .share(content.expose(), opts)
                        .await
                        .map_err(explained)?
                }
                (None, Some(path), _) => {
                    let content = read_input(Some(&path))?;
                    client
                        .share(content.expose(), opts)
                        .await
                        .map_err(explained)?
                }
                (None, None, Some(path)) if path.as_os_str() != "-" => {
                    share_file(&client, &path, opts).await?
                }
                (None, None, _) => {
                    let content = read_input(None)?;
                    client
                        .share(content.expose(), opts)
                        .await
                        .map_err(explained)?
                }
            };
            println!("{}", shared.link.as_str());
        }
        ClientCommand::Listen(args) => listen::run(args).await?,
        ClientCommand::Reveal {
            link,
            output,
            passphrase,
        } => reveal(&link, output, or_file(passphrase, "SEECRET_PASSPHRASE")?).await?,
        ClientCommand::Request {
            note,
            expires,
            answer_expires,
            views,
            allow_files,
            label,
            wait,
            print_answer_link,
            output,
            remote,
        } => {
            let client = remote.client()?;
            let (info, d) = client
                .request_secret(CreateRequest {
                    note,
                    label,
                    expiration: expires,
                    answer_expiration: answer_expires,
                    answer_views: views,
                    allow_files: Some(allow_files),
                    ..CreateRequest::default()
                })
                .await
                .map_err(explained)?;
            println!("{}", info.request_url);
            let answer_link = AnswerLink::format(client.base(), &info.id, &d);
            if print_answer_link {
                // Printed once and kept nowhere: whoever holds it can open the answer.
                println!("{answer_link}");
                eprintln!(
                    "Send the first link. Open the answer with: seecret reveal '<the second link>'"
                );
            } else if wait {
                eprintln!("Send this link. Waiting for the answer (Ctrl-C to stop)…");
                wait_answered(&client, info.id).await?;
                reveal_target(
                    Target::Answer(AnswerLink::parse(&answer_link)?),
                    output,
                    None,
                    true,
                )
                .await?;
            } else {
                let path = keep_request_key(info.id, &answer_link)?;
                eprintln!(
                    "Send this link. The private key is kept in {}; once answered, open it with: seecret reveal {}",
                    printable(&path.display().to_string()),
                    info.id
                );
            }
        }
        ClientCommand::Status { id, json, remote } => {
            let info = remote
                .client()?
                .get(parse_id(&id)?)
                .await
                .map_err(explained)?;
            if json {
                println!("{}", printable_json(&serde_json::to_string_pretty(&info)?));
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
                .await
                .map_err(explained)?;
            for s in &page.seecrets {
                if json {
                    println!("{}", printable_json(&serde_json::to_string(s)?));
                } else {
                    print_info(s);
                }
            }
        }
        ClientCommand::Burn { id, remote } => {
            let d = remote
                .client()?
                .delete(parse_id(&id)?)
                .await
                .map_err(explained)?;
            println!("{} {}", d.id, d.status.as_str());
        }
        ClientCommand::Mcp(args) => mcp::run(args).await?,
        ClientCommand::PrintSettingsTable { client: false } => {
            print!("{}", crate::config::settings_table())
        }
        ClientCommand::PrintSettingsTable { client: true } => print!("{}", client_settings_table()),
    }
    Ok(())
}

/// Polls the request until it is answered; an expired or deleted request is an error.
async fn wait_answered(client: &Client, id: SecretId) -> anyhow::Result<()> {
    loop {
        let r = client.get_request(id).await.map_err(explained)?;
        match r.status {
            RequestStatus::Answered => return Ok(()),
            RequestStatus::Expired => bail!("the request expired without an answer"),
            RequestStatus::Deleted => bail!("the request was deleted"),
            RequestStatus::Open => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
        }
    }
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
            .map(|l| format!("  {}", printable(l)))
            .unwrap_or_default()
    );
}

/// Characters that must not reach a terminal from text we did not write: C0/C1 controls (ESC
/// starts colour and cursor sequences), and invisible or reordering format characters (bidi
/// overrides make `invoice\u{202e}fdp.exe` read as `invoiceexe.pdf`).
fn is_unsafe_char(c: char) -> bool {
    // The line and paragraph separators are not format characters but break lines too.
    seecret_core::text::is_hidden_char(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` for a terminal: unsafe characters shown as visible escapes (`\u{1b}`), the rest as is.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON for a terminal: the same characters as `\uXXXX` escapes, which keeps it valid JSON
/// (outside strings JSON has only ASCII punctuation and white space).
fn printable_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_unsafe_char(c) && !matches!(c, '\n' | '\t' | '\r') {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A base name to save a sender-named file under: no directories, no unsafe characters, never
/// empty, `.` or `..`, at most 255 bytes.
fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut cleaned = String::new();
    for c in base.chars().filter(|c| !is_unsafe_char(*c)) {
        if cleaned.len() + c.len_utf8() > 255 {
            break;
        }
        cleaned.push(c);
    }
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        "download".into()
    } else {
        cleaned.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_senders_cannot_steer_the_terminal_or_the_path() {
        let evil = "../../.bashrc\u{1b}[31m\u{202e}gpj.exe";
        let shown = printable(evil);
        assert!(!shown.chars().any(is_unsafe_char), "{shown}");
        assert!(
            shown.contains("\\u{1b}") && shown.contains("\\u{202e}"),
            "{shown}"
        );
        assert_eq!(safe_file_name(evil), ".bashrc[31mgpj.exe");
        assert_eq!(safe_file_name("..\\..\\"), "download");
        assert_eq!(safe_file_name("\u{200b}"), "download");
        let json = printable_json(&serde_json::json!({"label": "a\u{202e}b"}).to_string());
        assert_eq!(json, r#"{"label":"a\u202eb"}"#);
        let back: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back["label"], "a\u{202e}b");
    }
}
