//! The HTTP endpoints Slack calls. Each checks Slack's signature over the raw body first, answers
//! within Slack's three seconds, and does slow work (creating, delivering) after the answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seecret_core::bots::phrases::DmCopy;
use seecret_core::bots::{
    self, BackendError, Budget, Form, FormError, Refused, Share, Shared, WorkspaceSettings,
    phrases, within_budget,
};
use seecret_core::crypto::SecretBytes;
use seecret_core::model::{Expiration, PlatformIdentity, Provider};
use serde::Deserialize;
use serde_json::{Value, json};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use crate::messages::{self, ACTION, MODAL_ID, block};
use crate::slack::{Message, Reply, SlackError, Token};
use crate::{PROVIDER, SlackBot, events};

/// Checks `X-Slack-Signature` over the raw body and the timestamp's age (5 minutes).
pub(crate) fn verify(bot: &SlackBot, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(sig), Some(ts)) = (
        header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
    ) else {
        return Err("missing Slack signature headers");
    };
    let Ok(body) = std::str::from_utf8(body) else {
        return Err("invalid Slack signature");
    };
    let secret = SlackSigningSecret::new(bot.inner.cfg.signing_secret.to_string());
    SlackEventSignatureVerifier::new(&secret)
        .verify(sig, body, ts)
        .map_err(|_| "invalid or expired Slack signature")
}

/// Whether a signed form body is Slack's certificate probe (`token=…&ssl_check=1`), which
/// carries no command and wants an empty 200 (bolt answers it in middleware, before anything else).
fn is_ssl_check(body: &[u8]) -> bool {
    url::form_urlencoded::parse(body).any(|(k, v)| k == "ssl_check" && v == "1")
}

pub(crate) fn unauthorized(why: &'static str) -> Response {
    debug!(why, "refused a request not signed by Slack");
    (StatusCode::UNAUTHORIZED, why).into_response()
}

pub(crate) fn bad_request(why: String) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

/// An immediate ephemeral answer to a slash command.
pub(crate) fn answer(message: &Message) -> Response {
    Json(Reply::ephemeral(message)).into_response()
}

/// The slash command's form. `text` may hold a secret (quick mode): zeroed, never printed.
#[derive(Deserialize)]
pub(crate) struct Command {
    pub team_id: String,
    channel_id: String,
    pub user_id: String,
    command: String,
    #[serde(default)]
    text: String,
    pub response_url: String,
    trigger_id: String,
}

/// Undoes the HTML escaping Slack applies to a slash command's text: `&`, `<` and `>` arrive as
/// `&amp;`, `&lt;` and `&gt;` whatever the command's `should_escape` says (that flag governs only
/// the rewriting of mentions and links). One pass, so `&amp;lt;` (a typed `&lt;`) gives `&lt;`
/// back, as replacing `&amp;` last would; nothing else is touched. Modal inputs are not escaped.
fn unescape(text: &str) -> Zeroizing<String> {
    // Sized up front: the result is never longer, so no copy of the secret is left behind.
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (ch, len) = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')]
            .iter()
            .find(|(entity, _)| tail.starts_with(entity))
            .map_or(('&', 1), |(entity, ch)| (*ch, entity.len()));
        out.push(ch);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// What the modal carries from the command to its submission.
#[derive(serde::Serialize, Deserialize)]
struct Metadata {
    /// Where to answer the sender ephemerally (the command's channel).
    response_url: Option<String>,
    channel_id: Option<String>,
}

/// `POST /slack/commands`.
pub async fn command(State(bot): State<SlackBot>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = verify(&bot, &headers, &body) {
        return unauthorized(why);
    }
    if is_ssl_check(&body) {
        return StatusCode::OK.into_response();
    }
    let mut cmd: Command = match serde_urlencoded::from_bytes(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(format!("not a slash command: {e}")),
    };
    info!(team = %cmd.team_id, user = %cmd.user_id, command = %cmd.command, "slash command");
    let token = match bot.token_for(&cmd.team_id).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return answer(&messages::error(
                "Seecret is not installed in this workspace yet: ask an admin to install it.",
            ));
        }
        Err(e) => {
            warn!(error = %e, team = %cmd.team_id, "loading the workspace's token failed");
            return answer(&messages::error(
                "Seecret cannot use this workspace's installation right now.",
            ));
        }
    };
    let raw = unescape(&Zeroizing::new(std::mem::take(&mut cmd.text)));
    let text = raw.trim();
    if cmd.command == messages::REQUEST_COMMAND {
        return crate::request::command(&bot, token, &cmd, text).await;
    }
    let max_views = bot.inner.cfg.max_views;
    if text.eq_ignore_ascii_case("help") {
        return answer(&messages::help(max_views));
    }
    if let Some(args) = settings_args(text) {
        return settings_command(&bot, token, &cmd, args).await;
    }
    if text.is_empty() {
        let meta = Metadata {
            response_url: Some(cmd.response_url.clone()),
            channel_id: Some(cmd.channel_id.clone()),
        };
        let view = messages::modal(&serde_json::to_string(&meta).unwrap_or_default(), max_views);
        open_form(&bot, token, cmd.trigger_id, view, Some(cmd.response_url));
        // Acknowledged now, as Bolt does: Slack shows "operation_timeout" to a user whose
        // command is not answered within three seconds, whatever views.open is doing.
        return StatusCode::OK.into_response();
    }
    let quick = match bots::parse_quick(text) {
        Ok(q) => q,
        Err(e) => return answer(&messages::error(&format!("{e}. See `/share-secret help`."))),
    };
    let views = quick.views.unwrap_or(1);
    if !bot.inner.core.views_allowed(views) {
        return answer(&messages::error(&format!(
            "--views must be between 1 and {max_views}."
        )));
    }
    if let Err(msg) = bot
        .inner
        .core
        .check_rate(&format!("{}:{}", cmd.team_id, cmd.user_id))
    {
        return answer(&messages::error(&msg));
    }
    let share = Share {
        secret: SecretBytes::new(quick.secret.as_bytes().to_vec()),
        expiration: quick.expiration.unwrap_or(Expiration::DEFAULT),
        views,
        passphrase: None,
        label: Some(messages::label(&cmd.team_id, &cmd.user_id, None)),
        notify: format!("slack:{}:{}", cmd.team_id, cmd.user_id),
        bound_to: None,
    };
    let to = Delivery {
        team: cmd.team_id.clone(),
        sender: cmd.user_id.clone(),
        recipient: None,
        response_url: Some(cmd.response_url.clone()),
        passphrase: false,
        dm_links: bot.dm_links(&cmd.team_id).await,
    };
    let (bot2, to2) = (bot.clone(), to.clone());
    // Answer within Slack's deadline, with the link and where its DM copy went; past it, the link
    // follows through `response_url`.
    let work = within_budget(async move {
        let shared = bot2.inner.core.share(share).await?;
        let copy = copy_to_sender(&bot2, &to2, &shared).await;
        Ok::<_, BackendError>((shared, copy))
    });
    match work.await {
        Budget::Done(Ok((shared, copy))) => {
            answer(&messages::link_for_sender(&shared, copy.note()))
        }
        Budget::Done(Err(e)) => answer(&messages::error(&phrases::backend_message(&e))),
        Budget::Failed => answer(&messages::error(phrases::SOMETHING_WENT_WRONG)),
        Budget::Late(pending) => {
            tokio::spawn(async move {
                match pending.await {
                    Ok(Ok((shared, copy))) => {
                        let id = shared.id;
                        let reply = reply_with_link(&bot, &to, &shared, copy);
                        if let Err(e) = bot.inner.core.deliver_or_burn(id, reply).await {
                            warn!(error = %e, "the late link reached the sender nowhere");
                        }
                    }
                    Ok(Err(e)) => {
                        let msg = messages::error(&phrases::backend_message(&e));
                        let _ = tell_sender(&bot, &to, &msg).await;
                    }
                    Err(_) => {}
                }
            });
            StatusCode::OK.into_response()
        }
    }
}

/// `settings` or `settings …` (the command's text), and what follows.
fn settings_args(text: &str) -> Option<&str> {
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    word.eq_ignore_ascii_case("settings").then_some(rest.trim())
}

/// `/share-secret settings [dm-links on|off|default]`: shows the workspace's settings, or (admins
/// and owners only, checked with `users.info`) changes one; a change is answered through
/// `response_url`, after the acknowledgement.
async fn settings_command(bot: &SlackBot, token: Token, cmd: &Command, args: &str) -> Response {
    let team = cmd.team_id.clone();
    if args.is_empty() {
        return match bot.inner.store.settings(PROVIDER, &team).await {
            Ok(chosen) => answer(&messages::settings(
                chosen.dm_links.unwrap_or(bot.inner.cfg.dm_links),
                chosen.dm_links.is_some(),
            )),
            Err(e) => {
                warn!(error = %e, "reading the workspace's settings failed");
                answer(&messages::error("The settings cannot be read right now."))
            }
        };
    }
    let words: Vec<&str> = args.split_whitespace().collect();
    let choice = match words.as_slice() {
        [name, value] if name.eq_ignore_ascii_case("dm-links") => {
            match value.to_ascii_lowercase().as_str() {
                "on" => Some(Some(true)),
                "off" => Some(Some(false)),
                "default" => Some(None),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(dm_links) = choice else {
        return answer(&messages::error(
            "Unknown setting: use `/share-secret settings dm-links on`, `off` or `default`.",
        ));
    };
    let (bot, user, url) = (bot.clone(), cmd.user_id.clone(), cmd.response_url.clone());
    tokio::spawn(async move {
        let reply = match bot.inner.slack.is_admin(&token, &user).await {
            Ok(false) => messages::error(
                "Only this workspace's admins and owners can change Seecret's settings.",
            ),
            Err(e) => messages::error(&format!("Could not check that you are an admin: {e}.")),
            Ok(true) => {
                let chosen = WorkspaceSettings { dm_links };
                match bot
                    .inner
                    .store
                    .save_settings(PROVIDER, &team, &chosen)
                    .await
                {
                    Ok(()) => {
                        info!(%team, %user, ?dm_links, "workspace settings changed");
                        messages::settings(
                            dm_links.unwrap_or(bot.inner.cfg.dm_links),
                            dm_links.is_some(),
                        )
                    }
                    Err(e) => {
                        warn!(error = %e, "saving the workspace's settings failed");
                        messages::error("The settings could not be saved; try again.")
                    }
                }
            }
        };
        if let Err(e) = bot.inner.slack.respond(&url, &reply).await {
            warn!(error = %e, "answering a settings change failed");
        }
    });
    StatusCode::OK.into_response()
}

/// Calls `views.open` right away in its own task (the trigger id dies three seconds after Slack
/// sent it), so the request that brought the trigger can be acknowledged first. A failure is told
/// to the user through `response_url` when there is one (a command), else only logged.
fn open_form(
    bot: &SlackBot,
    token: Token,
    trigger_id: String,
    view: Value,
    response_url: Option<String>,
) {
    let bot = bot.clone();
    tokio::spawn(async move {
        let Err(e) = bot.inner.slack.open_modal(&token, &trigger_id, view).await else {
            return;
        };
        warn!(error = %e, "views.open failed");
        let Some(url) = response_url else {
            return;
        };
        let msg = messages::error(&format!(
            "Could not open the form: {e}. Try again, or use `/share-secret help`."
        ));
        if let Err(e) = bot.inner.slack.respond(&url, &msg).await {
            warn!(error = %e, "telling the user that views.open failed failed too");
        }
    });
}

/// Who sent an interaction: their workspace and user id.
pub(crate) struct Who {
    pub team: String,
    pub user: String,
}

impl Who {
    /// From an interaction payload (`team.id`, or the user's `team_id`; `user.id`).
    fn of(payload: &Value) -> Option<Self> {
        let team = payload["team"]["id"]
            .as_str()
            .or_else(|| payload["user"]["team_id"].as_str())?;
        let user = payload["user"]["id"].as_str()?;
        Some(Self {
            team: team.to_string(),
            user: user.to_string(),
        })
    }

    /// The `notify` route of their shares (`slack:T1:U1`): whose recent shares they are.
    pub fn owner(&self) -> String {
        format!("{PROVIDER}:{}:{}", self.team, self.user)
    }
}

/// Opens the form for an interaction that carries a `trigger_id` (the shortcut, the App Home's
/// button). There is no `response_url` there: the link goes to the sender by DM.
async fn open_form_for(bot: &SlackBot, payload: &Value) {
    let (Some(who), Some(trigger)) = (Who::of(payload), payload["trigger_id"].as_str()) else {
        debug!("an interaction without user or trigger");
        return;
    };
    let token = match bot.token_for(&who.team).await {
        Ok(Some(t)) => t,
        Ok(None) => return debug!(team = %who.team, "not installed"),
        Err(e) => return warn!(error = %e, "loading the workspace's token failed"),
    };
    let meta = Metadata {
        response_url: None,
        channel_id: None,
    };
    let view = messages::modal(
        &serde_json::to_string(&meta).unwrap_or_default(),
        bot.inner.cfg.max_views,
    );
    open_form(bot, token, trigger.to_string(), view, None);
}

/// `POST /slack/interactions`: the modal's submission, the global shortcut and the App Home's
/// buttons (other interactions are acknowledged).
pub async fn interaction(State(bot): State<SlackBot>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(why) = verify(&bot, &headers, &body) {
        return unauthorized(why);
    }
    #[derive(Deserialize)]
    struct Form {
        payload: String,
    }
    let form: Form = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(format!("not an interaction: {e}")),
    };
    let form = Zeroizing::new(form.payload);
    let payload: Value = match serde_json::from_str(&form) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("interaction payload is not JSON: {e}")),
    };
    match payload["type"].as_str().unwrap_or_default() {
        "view_submission" if payload["view"]["callback_id"] == MODAL_ID => {}
        // The global shortcut "Share a secret": the same form as the command.
        "shortcut" if payload["callback_id"] == messages::SHORTCUT_ID => {
            open_form_for(&bot, &payload).await;
            return StatusCode::OK.into_response();
        }
        // The App Home's buttons.
        "block_actions" => {
            let action = &payload["actions"][0];
            match action["action_id"].as_str().unwrap_or_default() {
                messages::action::SHARE => open_form_for(&bot, &payload).await,
                messages::action::BURN => {
                    if let Some(who) = Who::of(&payload) {
                        let id = action["value"].as_str().unwrap_or_default().to_string();
                        tokio::spawn(events::burn(bot.clone(), who, id));
                    }
                }
                // A link button, a select…: nothing to do but acknowledge.
                _ => {}
            }
            return StatusCode::OK.into_response();
        }
        // view_closed, message shortcuts of other apps…: acknowledged.
        _ => return StatusCode::OK.into_response(),
    }
    match submission(&bot, &payload).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Refusal::Fields(errors)) => {
            Json(json!({"response_action": "errors", "errors": errors})).into_response()
        }
        Err(Refusal::Bad(why)) => bad_request(why),
    }
}

enum Refusal {
    /// Shown next to the modal's inputs.
    Fields(serde_json::Map<String, Value>),
    /// Not a well-formed submission.
    Bad(String),
}

fn field(block: &str, message: impl Into<String>) -> Refusal {
    let mut m = serde_json::Map::new();
    m.insert(block.to_string(), Value::String(message.into()));
    Refusal::Fields(m)
}

async fn submission(bot: &SlackBot, payload: &Value) -> Result<(), Refusal> {
    let team = payload["team"]["id"]
        .as_str()
        .or_else(|| payload["user"]["team_id"].as_str())
        .ok_or_else(|| Refusal::Bad("submission without team".into()))?
        .to_string();
    let user = payload["user"]["id"]
        .as_str()
        .ok_or_else(|| Refusal::Bad("submission without user".into()))?
        .to_string();
    let values = &payload["view"]["state"]["values"];
    if !values.is_object() {
        return Err(Refusal::Bad("submission without state".into()));
    }
    let input = |b: &str| &values[b][ACTION];
    let secret = Zeroizing::new(
        input(block::SECRET)["value"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    );
    let selected = |b: &str, default: &'static str| -> String {
        input(b)["selected_option"]["value"]
            .as_str()
            .unwrap_or(default)
            .to_string()
    };
    let recipient = input(block::RECIPIENT)["selected_user"]
        .as_str()
        .map(String::from);
    let only_them = input(block::ONLY)["selected_options"]
        .as_array()
        .is_some_and(|o| o.iter().any(|o| o["value"] == "bound"));
    let bound_to = match (&recipient, only_them) {
        (Some(r), true) => Some(PlatformIdentity {
            provider: Provider::Slack,
            team: Some(team.clone()),
            user: r.clone(),
            name: None,
        }),
        (None, true) => {
            return Err(field(
                block::ONLY,
                "Pick who gets it in Send to: only they will be able to open it.",
            ));
        }
        (_, false) => None,
    };
    let meta: Metadata =
        serde_json::from_str(payload["view"]["private_metadata"].as_str().unwrap_or("{}"))
            .unwrap_or(Metadata {
                response_url: None,
                channel_id: None,
            });
    let form = Form {
        secret: &secret,
        expiration: &selected(block::EXPIRES, "24h"),
        views: &selected(block::VIEWS, "1"),
        passphrase: input(block::PASSPHRASE)["value"].as_str(),
    };
    let label = messages::label(&team, &user, recipient.as_deref());
    let mut share = bot
        .inner
        .core
        .accept(
            form,
            &format!("{team}:{user}"),
            label,
            format!("slack:{team}:{user}"),
        )
        .map_err(|r| match r {
            Refused::Form(FormError::NoSecret) => field(block::SECRET, "Type the secret to share."),
            Refused::Form(FormError::TooLong) => field(
                block::SECRET,
                "That is too long for the form; use the CLI or the web.",
            ),
            Refused::Form(FormError::Expiration) => {
                field(block::EXPIRES, "Pick how long the link lives.")
            }
            Refused::Form(FormError::Views) => field(
                block::VIEWS,
                format!(
                    "Views must be between 1 and {}.",
                    bot.inner.core.max_views()
                ),
            ),
            Refused::TooFast(m) => field(block::SECRET, m),
        })?;
    share.bound_to = bound_to;
    drop(secret);
    let has_passphrase = share.passphrase.is_some();
    let dm_links = bot.dm_links(&team).await;
    let to = Delivery {
        team,
        sender: user,
        recipient,
        response_url: meta.response_url,
        passphrase: has_passphrase,
        dm_links,
    };
    let bot2 = bot.clone();
    let work = within_budget(async move {
        let shared = bot2.inner.core.share(share).await?;
        deliver(&bot2, &to, shared).await;
        Ok::<(), BackendError>(())
    });
    // Settings the server refuses are shown in the form, if the answer comes in time; anything
    // later is reported by message.
    match work.await {
        Budget::Done(Err(BackendError::Invalid { field: f, message })) => {
            let b = match f.as_deref() {
                Some("expiration") => block::EXPIRES,
                Some("views") => block::VIEWS,
                Some("passphrase") => block::PASSPHRASE,
                Some("bound_to") => block::ONLY,
                _ => block::SECRET,
            };
            Err(field(b, message))
        }
        Budget::Done(Err(e)) => Err(field(block::SECRET, phrases::backend_message(&e))),
        _ => Ok(()),
    }
}

/// Where a created link goes.
#[derive(Clone)]
struct Delivery {
    team: String,
    sender: String,
    recipient: Option<String>,
    response_url: Option<String>,
    passphrase: bool,
    /// The workspace wants a DM copy of what the sender must keep.
    dm_links: bool,
}

/// The sender's DM copy of what they must keep (durable delivery): sent, failed, or off.
enum Copy {
    Off,
    Sent(Posted),
    /// Why, as the sender is told.
    Failed(String),
}

impl Copy {
    fn note(&self) -> DmCopy<'_> {
        match self {
            Self::Off => DmCopy::Off,
            Self::Sent(p) => DmCopy::Sent {
                from: p.mention.as_str(),
            },
            Self::Failed(why) => DmCopy::Failed { why },
        }
    }
}

/// A message posted, and how the bot that posted it is mentioned.
struct Posted {
    mention: String,
}

/// DMs `msg` to the sender when the workspace wants copies.
async fn copy_message(bot: &SlackBot, to: &Delivery, msg: Message) -> Copy {
    if !to.dm_links {
        return Copy::Off;
    }
    let sent = async {
        let token = token(bot, &to.team).await?;
        bot.inner.slack.dm(&token, &to.sender, msg).await
    };
    match sent.await {
        Ok(p) => Copy::Sent(Posted {
            mention: messages::bot_mention(p.bot_user.as_deref()),
        }),
        Err(e) => {
            warn!(error = %e, "the sender's DM copy failed");
            Copy::Failed(e.to_string())
        }
    }
}

/// The sender's own link, by DM, when the workspace wants copies.
async fn copy_to_sender(bot: &SlackBot, to: &Delivery, shared: &Shared) -> Copy {
    copy_message(bot, to, messages::link_for_sender(shared, DmCopy::Off)).await
}

/// Delivers the link: by DM to the recipient (the sender is told), or to the sender. If it
/// reached nobody the secret is deleted, so no link to it exists anywhere, and the sender is told
/// why; a link that reached someone somewhere is never burnt.
async fn deliver(bot: &SlackBot, to: &Delivery, shared: Shared) {
    let delivery = deliver_link(bot, to, &shared);
    if let Err(e) = bot.inner.core.deliver_or_burn(shared.id, delivery).await {
        let msg = messages::error(&phrases::undelivered("delivered", &e));
        let _ = tell_sender(bot, to, &msg).await;
    }
}

async fn deliver_link(bot: &SlackBot, to: &Delivery, shared: &Shared) -> Result<(), SlackError> {
    match &to.recipient {
        Some(r) => {
            let token = token(bot, &to.team).await?;
            bot.inner
                .slack
                .dm(
                    &token,
                    r,
                    messages::link_for_recipient(&to.sender, shared, to.passphrase),
                )
                .await?;
            // The recipient has it; the sender's confirmation (and its copy) never burns it.
            let copy = copy_message(bot, to, messages::sent_to(r, shared, DmCopy::Off)).await;
            if let Err(e) = tell_sender(bot, to, &messages::sent_to(r, shared, copy.note())).await {
                warn!(error = %e, "confirming to the sender failed");
            }
            Ok(())
        }
        None => {
            let copy = copy_to_sender(bot, to, shared).await;
            reply_with_link(bot, to, shared, copy).await
        }
    }
}

/// The sender's ephemeral reply carrying their link and where its DM copy went. `Ok` when the
/// link reached them somewhere: the reply, or the copy already in their DMs.
async fn reply_with_link(
    bot: &SlackBot,
    to: &Delivery,
    shared: &Shared,
    copy: Copy,
) -> Result<(), SlackError> {
    let msg = messages::link_for_sender(shared, copy.note());
    let replied = match &to.response_url {
        Some(url) => bot.inner.slack.respond(url, &msg).await,
        None => Err(SlackError::Api("no response_url".into())),
    };
    match (replied, copy) {
        (Ok(()), _) | (Err(_), Copy::Sent(_)) => Ok(()),
        (Err(e), Copy::Failed(_)) => Err(e),
        // Copies are off, and there is no reply to carry it: a DM is the only way left.
        (Err(e), Copy::Off) => {
            debug!(error = %e, "no ephemeral reply; the link goes by DM");
            let token = token(bot, &to.team).await?;
            let msg = messages::link_for_sender(shared, DmCopy::Off);
            bot.inner
                .slack
                .dm(&token, &to.sender, msg)
                .await
                .map(|_| ())
        }
    }
}

pub(crate) async fn token(bot: &SlackBot, team: &str) -> Result<Token, SlackError> {
    match bot.token_for(team).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(SlackError::Auth("not_installed".into())),
        Err(e) => Err(SlackError::Api(e.to_string())),
    }
}

/// Ephemerally in the command's channel when possible, else by DM.
async fn tell_sender(bot: &SlackBot, to: &Delivery, msg: &Message) -> Result<(), SlackError> {
    if let Some(url) = &to.response_url {
        match bot.inner.slack.respond(url, msg).await {
            Ok(()) => return Ok(()),
            Err(e) => debug!(error = %e, "response_url failed; falling back to a DM"),
        }
    }
    let token = token(bot, &to.team).await?;
    bot.inner
        .slack
        .dm(&token, &to.sender, msg.clone())
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_text_is_unescaped_exactly_once() {
        for (sent, typed) in [
            ("p&amp;ss&lt;1&gt;", "p&ss<1>"),
            ("&amp;lt;", "&lt;"),
            ("&amp;amp;", "&amp;"),
            ("a & b &quot; &#60;", "a & b &quot; &#60;"),
            ("&", "&"),
            ("ünï&lt;", "ünï<"),
        ] {
            assert_eq!(unescape(sent).as_str(), typed, "{sent}");
        }
    }
}
