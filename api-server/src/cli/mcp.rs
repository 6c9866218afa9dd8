//! `seecret mcp`: the client commands as Model Context Protocol tools, over stdio, for AI agents.
//!
//! The agent names where a secret is (an environment variable or a file of this process); this
//! process reads, encrypts and uploads it, and the agent gets the link and metadata back, never
//! the value. Standard output carries the protocol only: logs go to standard error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use seecret_core::api::{CreateRequest, ListQuery};
use seecret_core::client::{Client, ShareOptions};
use seecret_core::crypto::SecretBytes;
use seecret_core::link::AnswerLink;
use seecret_core::model::{Expiration, Status};
use serde::Deserialize;
use serde_json::json;

use super::{Remote, explained, keep_request_key, parse_id, read_env, share_file};

/// Options of `seecret mcp`.
#[derive(Args, Debug)]
pub struct McpArgs {
    /// Accept `content` (the secret's value itself) in share_secret. Off by default: a value the
    /// model passes is a value the model, its provider and the transcript have seen.
    #[arg(long)]
    allow_inline: bool,
    /// Share only files under this directory (`from_file`); symlinks and `..` are resolved first.
    #[arg(long, value_name = "DIR")]
    files_under: Option<PathBuf>,
    /// Share only environment variables whose name starts with this prefix (`from_env`).
    #[arg(long, value_name = "PREFIX")]
    env_prefix: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

/// Serves the tools on stdin/stdout until the client closes the connection.
pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let client = args.remote.client()?;
    let files_under = match &args.files_under {
        Some(dir) => Some(
            dir.canonicalize()
                .with_context(|| format!("--files-under {}", dir.display()))?,
        ),
        None => None,
    };
    let server = Seecret {
        client: Arc::new(client),
        allow_inline: args.allow_inline,
        files_under,
        env_prefix: args.env_prefix,
        tool_router: Seecret::tool_router(),
    };
    tracing::info!(
        server = server.client.base(),
        "seecret mcp: serving on stdio"
    );
    let service = server
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the MCP session")?;
    service.waiting().await.context("MCP session")?;
    Ok(())
}

#[derive(Clone)]
struct Seecret {
    client: Arc<Client>,
    allow_inline: bool,
    files_under: Option<PathBuf>,
    env_prefix: Option<String>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for Seecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seecret")
            .field("client", &self.client)
            .field("allow_inline", &self.allow_inline)
            .field("files_under", &self.files_under)
            .field("env_prefix", &self.env_prefix)
            .finish()
    }
}

/// share_secret's arguments.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ShareArgs {
    /// Name of an environment variable of the `seecret mcp` process that holds the secret.
    from_env: Option<String>,
    /// Path of a file to share (sent as a file, under its own name).
    from_file: Option<String>,
    /// The secret's text itself; refused unless `seecret mcp` was started with --allow-inline.
    content: Option<String>,
    /// Lifetime: 30m, 24h, 7d, 1w (the server's default if absent).
    expiration: Option<String>,
    /// Views allowed (the server's default if absent).
    views: Option<u32>,
    /// A passphrase the recipient must also give. You see it, so does your transcript: prefer
    /// passphrase_from_env.
    passphrase: Option<String>,
    /// Name of an environment variable of the `seecret mcp` process that holds the passphrase.
    passphrase_from_env: Option<String>,
    /// A note for the owner, stored in clear (never the secret).
    label: Option<String>,
}

/// request_secret's arguments.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RequestArgs {
    /// What is asked for, shown to the responder (never a secret), e.g. "staging DB password".
    note: Option<String>,
    /// How long the request stays open: 30m, 24h, 7d (default 7d).
    expiration: Option<String>,
    /// How long the answer lives once given (default 24h).
    answer_expiration: Option<String>,
    /// Views the answer allows (default 1).
    views: Option<u32>,
    /// Let the responder send a file.
    allow_files: Option<bool>,
    /// A note for the owner, stored in clear.
    label: Option<String>,
}

/// An id or link of a secret.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    /// The secret's id, or its link.
    id: String,
}

/// list_secrets' arguments.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    /// Only this status: active, consumed, expired or deleted.
    status: Option<String>,
    /// How many, newest first (default 20, at most 100).
    limit: Option<u32>,
}

/// A tool's outcome: the structured result, or a tool error with the reason (never a secret).
fn outcome(result: anyhow::Result<serde_json::Value>) -> CallToolResult {
    match result {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => {
            tracing::info!(error = %format!("{e:#}"), "tool call refused or failed");
            CallToolResult::error(vec![ContentBlock::text(format!("{e:#}"))])
        }
    }
}

fn expiration(field: &str, value: Option<String>) -> anyhow::Result<Option<Expiration>> {
    value
        .map(|v| v.parse::<Expiration>().with_context(|| field.to_string()))
        .transpose()
}

#[tool_router]
impl Seecret {
    /// Shares a secret as a one-time link: the value is read here (from an environment variable
    /// or a file of this process), encrypted locally and uploaded; you get the link and its
    /// metadata, never the value. Give exactly one of from_env, from_file, content.
    #[tool]
    async fn share_secret(&self, Parameters(args): Parameters<ShareArgs>) -> CallToolResult {
        outcome(self.share(args).await)
    }

    /// Asks someone for a secret: returns the /r/ link to send them. Their answer is encrypted
    /// in their browser to a key kept on this machine, never returned here; the user opens it
    /// with `seecret reveal <id>`.
    #[tool]
    async fn request_secret(&self, Parameters(args): Parameters<RequestArgs>) -> CallToolResult {
        outcome(self.request(args).await)
    }

    /// A secret's status: views left, expiry, and its view log (time and country of each reveal).
    #[tool]
    async fn secret_status(&self, Parameters(args): Parameters<IdArgs>) -> CallToolResult {
        outcome(
            async {
                let info = self
                    .client
                    .get(parse_id(&args.id)?)
                    .await
                    .map_err(explained)?;
                Ok(serde_json::to_value(&info)?)
            }
            .await,
        )
    }

    /// Deletes a secret now: its content is erased and its link stops working.
    #[tool]
    async fn burn_secret(&self, Parameters(args): Parameters<IdArgs>) -> CallToolResult {
        outcome(
            async {
                let d = self
                    .client
                    .delete(parse_id(&args.id)?)
                    .await
                    .map_err(explained)?;
                Ok(json!({ "id": d.id, "status": d.status.as_str() }))
            }
            .await,
        )
    }

    /// Lists the account's secrets, newest first (metadata only).
    #[tool]
    async fn list_secrets(&self, Parameters(args): Parameters<ListArgs>) -> CallToolResult {
        outcome(
            async {
                let status = args
                    .status
                    .map(|s| s.parse::<Status>().context("status"))
                    .transpose()?;
                let limit = args.limit.unwrap_or(20);
                if !(1..=100).contains(&limit) {
                    bail!("limit must be between 1 and 100");
                }
                let page = self
                    .client
                    .list(&ListQuery {
                        status,
                        limit: Some(limit),
                        cursor: None,
                    })
                    .await
                    .map_err(explained)?;
                Ok(json!({ "secrets": page.seecrets }))
            }
            .await,
        )
    }
}

impl Seecret {
    async fn share(&self, args: ShareArgs) -> anyhow::Result<serde_json::Value> {
        let sources = [
            args.from_env.is_some(),
            args.from_file.is_some(),
            args.content.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            bail!("give exactly one of from_env, from_file or content");
        }
        if args.passphrase.is_some() && args.passphrase_from_env.is_some() {
            bail!("give passphrase or passphrase_from_env, not both");
        }
        let passphrase = match (args.passphrase, args.passphrase_from_env) {
            (Some(p), _) => Some(SecretBytes::from(p)),
            (None, Some(var)) => Some(self.env_value(&var, "passphrase_from_env")?),
            (None, None) => None,
        };
        let opts = ShareOptions {
            expiration: expiration("expiration", args.expiration)?,
            views: args.views,
            passphrase,
            label: args.label,
            webhook_url: None,
        };
        let shared = if let Some(path) = args.from_file {
            let path = self.allowed_file(Path::new(&path))?;
            share_file(&self.client, &path, opts).await?
        } else {
            let value = match (args.from_env, args.content) {
                (Some(var), _) => self.env_value(&var, "from_env")?,
                (None, Some(content)) if self.allow_inline => SecretBytes::from(content),
                (None, Some(_)) => bail!(
                    "content is refused: this seecret mcp was started without --allow-inline, \
                     so a secret's value must not pass through the conversation; use from_env \
                     or from_file"
                ),
                (None, None) => bail!("give exactly one of from_env, from_file or content"),
            };
            if value.is_empty() {
                bail!("nothing to share: the value is empty");
            }
            self.client
                .share(value.expose(), opts)
                .await
                .map_err(explained)?
        };
        let info = &shared.info;
        Ok(json!({
            "link": shared.link.as_str(),
            "id": info.id,
            "kind": info.kind,
            "views": info.views,
            "expires_at": info.expires_at,
            "passphrase_protected": info.passphrase_protected,
            "label": info.label,
        }))
    }

    /// The value of environment variable `name`, if the prefix rule allows it.
    fn env_value(&self, name: &str, field: &str) -> anyhow::Result<SecretBytes> {
        if let Some(prefix) = &self.env_prefix
            && !name.starts_with(prefix.as_str())
        {
            bail!(
                "{field}: {name} is refused: this seecret mcp shares only environment variables \
                 whose name starts with {prefix} (--env-prefix)"
            );
        }
        read_env(name).context(field.to_string())
    }

    /// The file to share, resolved (symlinks, `..`), if the --files-under rule allows it.
    fn allowed_file(&self, path: &Path) -> anyhow::Result<PathBuf> {
        let real = path
            .canonicalize()
            .with_context(|| format!("from_file: {}", path.display()))?;
        if let Some(dir) = &self.files_under
            && !real.starts_with(dir)
        {
            bail!(
                "from_file: {} is refused: this seecret mcp shares only files under {} \
                 (--files-under)",
                path.display(),
                dir.display()
            );
        }
        if !real.is_file() {
            bail!("from_file: {} is not a regular file", path.display());
        }
        Ok(real)
    }

    async fn request(&self, args: RequestArgs) -> anyhow::Result<serde_json::Value> {
        let (info, d) = self
            .client
            .request_secret(CreateRequest {
                note: args.note,
                label: args.label,
                expiration: expiration("expiration", args.expiration)?,
                answer_expiration: expiration("answer_expiration", args.answer_expiration)?,
                answer_views: args.views,
                allow_files: args.allow_files,
                ..CreateRequest::default()
            })
            .await
            .map_err(explained)?;
        // The private key goes where `seecret request` keeps it, never to the model.
        let answer_link = AnswerLink::format(self.client.base(), &info.id, &d);
        keep_request_key(info.id, &answer_link)?;
        Ok(json!({
            "request_url": info.request_url,
            "id": info.id,
            "status": info.status,
            "expires_at": info.expires_at,
            "open_answer_with": format!("seecret reveal {}", info.id),
        }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Seecret {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("seecret", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Seecret shares secrets as one-time links. share_secret takes where the value \
                 is (from_env, from_file), never the value itself unless inline content is \
                 allowed; results carry links and metadata, never secret values. Treat a link \
                 as the secret: give it only to its recipient.",
            )
    }
}
