//! What the bot shows: the command, the modal, and the messages carrying links, built with
//! serenity's builders and kept as the JSON Discord receives.

use chrono::{DateTime, Utc};
use seecret_core::api::EventPayload;
use seecret_core::bots::{EXPIRATION_CHOICES, MAX_CHAT_SECRET, Shared, phrases};
use serde_json::{Value, json};
use serenity::builder::{
    CreateActionRow, CreateCommand, CreateCommandOption, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateModal,
};
use serenity::model::application::{CommandOptionType, InputTextStyle, InteractionResponseFlags};

/// The command's name.
pub const COMMAND: &str = "share-secret";
/// The modal's `custom_id` (followed by `:RECIPIENT` when the link goes to someone).
pub const MODAL_ID: &str = "seecret_share";
/// `custom_id`s of the modal's inputs.
pub mod input {
    /// The secret.
    pub const SECRET: &str = "secret";
    /// Expiration.
    pub const EXPIRES: &str = "expiration";
    /// Views.
    pub const VIEWS: &str = "views";
    /// Passphrase.
    pub const PASSPHRASE: &str = "passphrase";
}

/// Ephemeral (64) and no link previews (4).
pub fn private_flags() -> InteractionResponseFlags {
    InteractionResponseFlags::EPHEMERAL | InteractionResponseFlags::SUPPRESS_EMBEDS
}

/// `/share-secret` with its options, as registered.
pub fn command(max_views: u32) -> CreateCommand {
    let mut expiration = CreateCommandOption::new(
        CommandOptionType::String,
        "expiration",
        "How long the link lives (default 1 day)",
    );
    for (label, value) in EXPIRATION_CHOICES {
        expiration = expiration.add_string_choice(*label, *value);
    }
    CreateCommand::new(COMMAND)
        .description("Share a secret through a one-time link (opens a private form)")
        .add_option(CreateCommandOption::new(
            CommandOptionType::User,
            "recipient",
            "Send the link to this person by direct message",
        ))
        .add_option(expiration)
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::Integer,
                "views",
                "How many times it can be read (default 1)",
            )
            .min_int_value(1)
            .max_int_value(u64::from(max_views)),
        )
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::String,
                "passphrase",
                "A passphrase the recipient must also type (tell them another way)",
            )
            .max_length(200),
        )
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::String,
                "content",
                "The secret itself, skipping the form (visible to Discord: prefer the form)",
            )
            .max_length(MAX_CHAT_SECRET as u16),
        )
}

/// The JSON body that registers the bot's commands (bulk overwrite).
pub fn commands_body(max_views: u32) -> Value {
    serde_json::to_value(vec![command(max_views)]).unwrap_or(Value::Null)
}

/// The modal: the secret, then expiration and views (pre-filled from the command's options),
/// and an optional passphrase.
pub fn modal(
    recipient: Option<u64>,
    expiration: &str,
    views: u32,
    passphrase: Option<&str>,
) -> CreateInteractionResponse {
    let id = match recipient {
        Some(r) => format!("{MODAL_ID}:{r}"),
        None => MODAL_ID.to_string(),
    };
    let row = CreateActionRow::InputText;
    let mut pp = CreateInputText::new(
        InputTextStyle::Short,
        "Passphrase (optional)",
        input::PASSPHRASE,
    )
    .required(false)
    .max_length(200)
    .placeholder("The recipient must also type it");
    if let Some(p) = passphrase {
        pp = pp.value(p);
    }
    let title = if recipient.is_some() {
        "Share a secret by DM"
    } else {
        "Share a secret"
    };
    CreateInteractionResponse::Modal(CreateModal::new(id, title).components(vec![
            row(
                CreateInputText::new(InputTextStyle::Paragraph, "Secret", input::SECRET)
                    .required(true)
                    .max_length(MAX_CHAT_SECRET as u16)
                    .placeholder("Password, API key, private key… Discord only sees the link."),
            ),
            row(CreateInputText::new(
                InputTextStyle::Short,
                "Expires after (10m, 1h, 24h, 7d…)",
                input::EXPIRES,
            )
            .required(true)
            .max_length(10)
            .value(expiration)),
            row(
                CreateInputText::new(InputTextStyle::Short, "Views", input::VIEWS)
                    .required(true)
                    .max_length(3)
                    .value(views.to_string()),
            ),
            row(pp),
        ]))
}

/// An ephemeral reply without link previews.
pub fn private(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(private_message(text))
}

fn private_message(text: &str) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(text)
        .flags(private_flags())
}

/// "The bot is thinking…", visible only to the sender; the answer follows by editing it.
pub fn deferred() -> CreateInteractionResponse {
    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().flags(private_flags()))
}

/// The body of a message edit or DM with `text`, without link previews and without pinging
/// anyone (mentions are for reading, not notifying).
pub fn message_body(text: &str) -> Value {
    json!({"content": text, "flags": 4, "allowed_mentions": {"parse": []}})
}

/// A user-facing error.
pub fn error(text: &str) -> String {
    format!("⚠️ {text}")
}

fn when(t: DateTime<Utc>) -> String {
    // Discord renders <t:…> in the reader's time zone.
    format!("<t:{}:f>", t.timestamp())
}

fn terms(s: &Shared) -> String {
    phrases::terms(s, &when(s.expires_at))
}

/// The link for the sender (no recipient).
pub fn link_for_sender(s: &Shared, inline: bool) -> String {
    let mut text = format!("🔐 {}", phrases::link_for_sender(s, &terms(s)));
    if inline {
        text.push_str(INLINE_WARNING);
    }
    text
}

/// Said when the secret came as a command option.
pub const INLINE_WARNING: &str = "\n-# The secret was typed as a command option, which Discord can see: for anything that matters, use `/share-secret` without `content` and type it in the form.";

/// The link for a recipient, by DM.
pub fn link_for_recipient(sender: u64, s: &Shared, passphrase: bool) -> String {
    let how_often = phrases::times(s.views);
    let text =
        phrases::link_for_recipient(&sender.to_string(), s, &terms(s), &how_often, passphrase);
    format!("🔐 {text}")
}

/// The sender's confirmation that the recipient got the link (which it does not repeat).
pub fn sent_to(recipient: u64, s: &Shared, inline: bool) -> String {
    let mut text = format!("✅ {}", phrases::sent_to(&recipient.to_string(), &terms(s)));
    if inline {
        text.push_str(INLINE_WARNING);
    }
    text
}

/// The sender's DM about an event, if it is one worth a message.
pub fn event_text(e: &EventPayload) -> Option<String> {
    Some(format!("👀 {}", phrases::event_text(e)?))
}

/// The label stored with a secret: who shared it with whom (Discord ids, never content).
pub fn label(sender: u64, recipient: Option<u64>) -> String {
    let recipient = recipient.map(|r| r.to_string());
    phrases::label("Discord", &sender.to_string(), recipient.as_deref())
}
