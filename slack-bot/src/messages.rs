//! What the app shows: the modal, help, and the messages carrying links. Written as Block Kit
//! JSON so what Slack receives can be read here directly.

use chrono::{DateTime, Utc};
use seecret_core::api::EventPayload;
use seecret_core::bots::{EXPIRATION_CHOICES, Shared, phrases, views_phrase};
use serde_json::{Value, json};

use crate::slack::Message;

/// The modal's `callback_id`.
pub const MODAL_ID: &str = "seecret_share";
/// Block ids of the modal's inputs (errors are reported against them).
pub mod block {
    /// The secret.
    pub const SECRET: &str = "secret";
    /// Expiration.
    pub const EXPIRES: &str = "expires";
    /// Views.
    pub const VIEWS: &str = "views";
    /// Recipient.
    pub const RECIPIENT: &str = "recipient";
    /// Passphrase.
    pub const PASSPHRASE: &str = "passphrase";
}
/// Every input's `action_id` (one input per block).
pub const ACTION: &str = "value";

/// The "share a secret" modal. `metadata` comes back with the submission.
pub fn modal(metadata: &str, max_views: u32) -> Value {
    let option = |text: &str, value: &str| json!({"text": {"type": "plain_text", "text": text}, "value": value});
    let expirations: Vec<Value> = EXPIRATION_CHOICES
        .iter()
        .map(|(t, v)| option(t, v))
        .collect();
    let views: Vec<Value> = seecret_core::bots::VIEW_CHOICES
        .iter()
        .filter(|n| **n <= max_views)
        .map(|n| option(&views_phrase(*n), &n.to_string()))
        .collect();
    json!({
        "type": "modal",
        "callback_id": MODAL_ID,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Share a secret"},
        "submit": {"type": "plain_text", "text": "Create link"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input", "block_id": block::SECRET,
                "label": {"type": "plain_text", "text": "Secret"},
                "hint": {"type": "plain_text", "text": "Encrypted at once; Slack only ever sees the link."},
                "element": {
                    "type": "plain_text_input", "action_id": ACTION, "multiline": true,
                    "max_length": seecret_core::bots::MAX_CHAT_SECRET,
                    "placeholder": {"type": "plain_text", "text": "Password, API key, private key…"}
                }
            },
            {
                "type": "input", "block_id": block::EXPIRES,
                "label": {"type": "plain_text", "text": "Expires after"},
                "element": {
                    "type": "static_select", "action_id": ACTION, "options": expirations,
                    "initial_option": option("1 day", "24h")
                }
            },
            {
                "type": "input", "block_id": block::VIEWS,
                "label": {"type": "plain_text", "text": "Views"},
                "element": {
                    "type": "static_select", "action_id": ACTION, "options": views,
                    "initial_option": option("1 view", "1")
                }
            },
            {
                "type": "input", "block_id": block::RECIPIENT, "optional": true,
                "label": {"type": "plain_text", "text": "Send to"},
                "hint": {"type": "plain_text", "text": "They get the link by direct message. Empty: the link comes back to you."},
                "element": {"type": "users_select", "action_id": ACTION}
            },
            {
                "type": "input", "block_id": block::PASSPHRASE, "optional": true,
                "label": {"type": "plain_text", "text": "Passphrase"},
                "hint": {"type": "plain_text", "text": "The recipient must also type it. Tell them another way."},
                "element": {"type": "plain_text_input", "action_id": ACTION, "max_length": 200}
            }
        ]
    })
}

/// `/share-secret help`.
pub fn help(max_views: u32) -> Message {
    let text = format!(
        "*Share a secret through a one-time link*\n\
         • `/share-secret` opens a private form: type the secret there, choose how long it lives, \
         how many views it allows, an optional passphrase and who gets it. Nothing you type is \
         posted anywhere; the link goes to the person you pick by DM, or back to you.\n\
         • `/share-secret &lt;secret&gt;` (quick mode) creates the link at once and shows it only to \
         you. Options: `--views N` (1–{max_views}), `--expires 1h` (`30m`, `24h`, `7d`…). \
         Put them before or after the secret; `--` before a secret that starts with `--`. \
         Slack keeps command text in its logs, so prefer the form for anything long-lived.\n\
         • You get a DM when the secret is read. The link works once (or N times) and then the \
         secret is erased; link previews never use it up."
    );
    plain(&text)
}

/// A message of one mrkdwn section.
pub fn plain(text: &str) -> Message {
    Message {
        text: text.to_string(),
        blocks: Some(json!([{"type": "section", "text": {"type": "mrkdwn", "text": text}}])),
    }
}

/// A user-facing error.
pub fn error(text: &str) -> Message {
    plain(&format!(":warning: {text}"))
}

fn when(t: DateTime<Utc>) -> String {
    // Slack renders <!date…> in the reader's time zone.
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        t.timestamp(),
        t.format("%Y-%m-%d %H:%M UTC")
    )
}

fn terms(s: &Shared) -> String {
    phrases::terms(s, &when(s.expires_at))
}

/// The link for the sender (no recipient chosen, or quick mode).
pub fn link_for_sender(s: &Shared) -> Message {
    plain(&phrases::link_for_sender(s, &terms(s)))
}

/// The link for a recipient, by DM.
pub fn link_for_recipient(sender: &str, s: &Shared, passphrase: bool) -> Message {
    let how_often = views_phrase(s.views).replace("view", "time");
    plain(&phrases::link_for_recipient(
        sender,
        s,
        &terms(s),
        &how_often,
        passphrase,
    ))
}

/// The sender's confirmation that the recipient got the link (which it does not repeat).
pub fn sent_to(recipient: &str, s: &Shared) -> Message {
    plain(&phrases::sent_to(recipient, &terms(s)))
}

/// The sender's DM about an event, if it is one worth a message.
pub fn event_text(e: &EventPayload) -> Option<String> {
    Some(format!(":eyes: {}", phrases::event_text(e)?))
}

/// The label stored with a secret: who shared it with whom (Slack ids, never content).
pub fn label(team: &str, sender: &str, recipient: Option<&str>) -> String {
    phrases::label(&format!("Slack {team}"), sender, recipient)
}
