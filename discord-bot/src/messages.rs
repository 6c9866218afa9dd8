//! What the bot shows: the commands, the modal, and the messages carrying links, written as the
//! JSON Discord receives. serenity 0.12's builders have no Label component, and its command
//! builder sends fields the official types do not have (`"autocomplete": false` on a user
//! option, `null` lengths), so none of them is used here.

use chrono::{DateTime, Utc};
use seecret_core::api::EventPayload;
use seecret_core::bots::{
    Asked, EXPIRATION_CHOICES, MAX_CHAT_SECRET, MAX_REQUEST_NOTE, Shared, phrases,
};
use serde_json::{Value, json};
use serenity::model::application::InteractionResponseFlags;
use serenity::model::permissions::Permissions;

/// The command's name.
pub const COMMAND: &str = "share-secret";
/// The command that asks someone for a secret.
pub const REQUEST_COMMAND: &str = "request-secret";
/// `/request-secret`'s option naming who is asked.
pub const REQUEST_USER_OPTION: &str = "user";
/// `/request-secret`'s option carrying the note they see.
pub const REQUEST_NOTE_OPTION: &str = "note";
/// The settings command's name (guild admins only).
pub const SETTINGS_COMMAND: &str = "share-secret-settings";
/// The settings command's option: whether links are also sent by DM.
pub const DM_COPY_OPTION: &str = "dm-copy";
/// The modal's `custom_id` (followed by `:RECIPIENT` when the link goes to someone).
pub const MODAL_ID: &str = "seecret_share";

/// The command option binding the secret to its recipient ("only @bob can open it").
pub const ONLY_OPTION: &str = "only-recipient";

/// After the recipient in the modal's `custom_id`: the secret is bound to them.
pub const ONLY_SUFFIX: &str = "only";
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

/// `/share-secret` with its options, as registered. Registered globally, it can be used
/// wherever the app is installed: in servers that installed it (guild install) and, for people who
/// installed it to their account (user install), in any server, in DMs with the bot and in other
/// DMs and group DMs. A guild-scoped registration cannot name installation or interaction
/// contexts (Discord takes both "only for globally-scoped commands").
pub fn command(max_views: u32, global: bool) -> Value {
    let choices: Vec<Value> = EXPIRATION_CHOICES
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let mut cmd = json!({
        "name": COMMAND,
        "type": 1,
        "description": "Share a secret through a one-time link (opens a private form)",
        "options": [
            {"type": 6, "name": "recipient", "description": "Send the link to this person by direct message"},
            {"type": 5, "name": ONLY_OPTION, "description": "Only the recipient can open the link (they sign in with Discord first)"},
            {"type": 3, "name": "expiration", "description": "How long the link lives (default 1 day)", "choices": choices},
            {"type": 4, "name": "views", "description": "How many times it can be read (default 1)",
             "min_value": 1, "max_value": max_views},
            {"type": 3, "name": "passphrase", "description": "A passphrase the recipient must also type (tell them another way)",
             "max_length": 200},
            {"type": 3, "name": "content", "description": "The secret itself, skipping the form (visible to Discord: prefer the form)",
             "max_length": MAX_CHAT_SECRET}
        ]
    });
    if global {
        // Guild install and user install; servers, DMs with the bot, other DMs and group DMs.
        cmd["integration_types"] = json!([0, 1]);
        cmd["contexts"] = json!([0, 1, 2]);
    }
    cmd
}

/// `/share-secret-settings`: a server's own choice of whether links are also sent by DM. Only
/// for members who may manage the server (`default_member_permissions`; the handler checks the
/// member's permissions too), only in servers that installed the app.
pub fn settings_command(global: bool) -> Value {
    let mut cmd = json!({
        "name": SETTINGS_COMMAND,
        "type": 1,
        "description": "Seecret's settings for this server (server managers only)",
        "default_member_permissions": Permissions::MANAGE_GUILD.bits().to_string(),
        "options": [
            {"type": 5, "name": DM_COPY_OPTION,
             "description": "Also send people the links they must keep by DM (leave out to see the setting)"}
        ]
    });
    if global {
        cmd["integration_types"] = json!([0]);
        cmd["contexts"] = json!([0]);
    }
    cmd
}

/// `/request-secret user:@alice note:…`, installed and usable wherever `/share-secret` is.
pub fn request_command(global: bool) -> Value {
    let mut cmd = json!({
        "name": REQUEST_COMMAND,
        "type": 1,
        "description": "Ask someone for a secret that only you can read",
        "options": [
            {"type": 6, "name": REQUEST_USER_OPTION, "description": "Who should send it to you (they get a link by direct message)",
             "required": true},
            {"type": 3, "name": REQUEST_NOTE_OPTION, "description": "What you need, shown to them (never a secret)",
             "max_length": MAX_REQUEST_NOTE}
        ]
    });
    if global {
        cmd["integration_types"] = json!([0, 1]);
        cmd["contexts"] = json!([0, 1, 2]);
    }
    cmd
}

/// The JSON body that registers the bot's commands (bulk overwrite), globally or in one guild.
pub fn commands_body(max_views: u32, global: bool) -> Value {
    json!([
        command(max_views, global),
        settings_command(global),
        request_command(global)
    ])
}

/// How the modal's inputs are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModalLayout {
    /// Each text input in a Label component (type 18), as Discord documents since 2025-08.
    Labels,
    /// Each text input in an action row (type 1), deprecated by Discord but still accepted. For
    /// gateway mode: serenity 0.12's model reads a Label back as an empty action row, losing what
    /// was typed, so a form answered over the gateway must come back in the older shape.
    ActionRows,
}

/// One text input, wrapped as `layout` says.
fn text_input(layout: ModalLayout, label: &str, description: Option<&str>, input: Value) -> Value {
    match layout {
        ModalLayout::Labels => {
            let mut l = json!({"type": 18, "label": label, "component": input});
            if let Some(d) = description {
                l["description"] = d.into();
            }
            l
        }
        ModalLayout::ActionRows => {
            let mut input = input;
            input["label"] = label.into();
            json!({"type": 1, "components": [input]})
        }
    }
}

/// The modal: the secret, then expiration and views (pre-filled from the command's options),
/// and an optional passphrase.
pub fn modal(
    layout: ModalLayout,
    recipient: Option<u64>,
    only_recipient: bool,
    expiration: &str,
    views: u32,
    passphrase: Option<&str>,
) -> Value {
    let id = match (recipient, only_recipient) {
        (Some(r), true) => format!("{MODAL_ID}:{r}:{ONLY_SUFFIX}"),
        (Some(r), false) => format!("{MODAL_ID}:{r}"),
        (None, _) => MODAL_ID.to_string(),
    };
    let title = if recipient.is_some() {
        "Share a secret by DM"
    } else {
        "Share a secret"
    };
    let mut pp = json!({
        "type": 4, "custom_id": input::PASSPHRASE, "style": 1, "required": false,
        "max_length": 200, "placeholder": "The recipient must also type it"
    });
    if let Some(p) = passphrase {
        pp["value"] = p.into();
    }
    let components = vec![
        text_input(
            layout,
            "Secret",
            Some("Only the link goes through Discord: the secret is encrypted by Seecret."),
            json!({
                "type": 4, "custom_id": input::SECRET, "style": 2, "required": true,
                "max_length": MAX_CHAT_SECRET,
                "placeholder": "Password, API key, private key…"
            }),
        ),
        text_input(
            layout,
            "Expires after",
            Some("A duration: 10m, 1h, 24h, 7d…"),
            json!({
                "type": 4, "custom_id": input::EXPIRES, "style": 1, "required": true,
                "max_length": 10, "value": expiration
            }),
        ),
        text_input(
            layout,
            "Views",
            None,
            json!({
                "type": 4, "custom_id": input::VIEWS, "style": 1, "required": true,
                "max_length": 3, "value": views.to_string()
            }),
        ),
        text_input(layout, "Passphrase (optional)", None, pp),
    ];
    json!({"type": 9, "data": {"custom_id": id, "title": title, "components": components}})
}

/// An ephemeral reply without link previews (flags EPHEMERAL | SUPPRESS_EMBEDS) that pings
/// nobody.
pub fn private(text: &str) -> Value {
    json!({
        "type": 4,
        "data": {"content": text, "flags": private_flags().bits(), "allowed_mentions": {"parse": []}}
    })
}

/// "The bot is thinking…", visible only to the sender; the answer follows by editing it. A
/// deferral may carry no flag but EPHEMERAL (Discord refuses others); the edit that replaces it
/// turns link previews off.
pub fn deferred() -> Value {
    json!({"type": 5, "data": {"flags": InteractionResponseFlags::EPHEMERAL.bits()}})
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

/// Said under a link or confirmation whose copy reached the sender by DM (in `channel`).
pub fn copy_sent(what: &str, channel: u64) -> String {
    format!(
        "\n📬 {what} is also in [your DMs with me](https://discord.com/channels/@me/{channel}), where it stays: this message disappears when you reload Discord."
    )
}

/// Said under a link or confirmation whose copy could not be sent by DM (`why`).
pub fn copy_failed(what: &str, why: &str) -> String {
    format!(
        "\n⚠️ I could not send you {what} by DM ({why}): keep it now, this message disappears when you reload Discord."
    )
}

/// The sender's DM about an event, if it is one worth a message.
pub fn event_text(e: &EventPayload) -> Option<String> {
    let icon = if e.kind == seecret_core::api::event_type::REQUEST_ANSWERED {
        "📥"
    } else {
        "👀"
    };
    Some(format!("{icon} {}", phrases::event_text(e)?))
}

/// The responder's DM: who asks, their note, the request link.
pub fn request_for_responder(asker: u64, note: Option<&str>, a: &Asked) -> String {
    format!(
        "🔑 {}",
        phrases::request_for_responder(
            &asker.to_string(),
            note,
            &a.request_link,
            &when(a.expires_at)
        )
    )
}

/// The asker's DM with their private link to the answer.
pub fn answer_link_for_asker(responder: u64, a: &Asked) -> String {
    format!(
        "🔒 {}",
        phrases::answer_link_for_asker(&responder.to_string(), &a.answer_link, &when(a.expires_at))
    )
}

/// The asker's confirmation: their private link is in their DMs (`Ok(channel)`), or (`Err`: why
/// the DM failed) in this reply, which they must copy now.
pub fn asked(responder: u64, kept: Result<u64, &str>, a: &Asked) -> String {
    let kept = match kept {
        Ok(channel) => format!(
            "Your private link to the answer is in [your DMs with me](https://discord.com/channels/@me/{channel}), where it stays; you will hear there when they answer."
        ),
        Err(why) => format!(
            "\n⚠️ I could not send you your private answer link by DM ({why}): copy it now, this message disappears when you reload Discord:\n{}",
            a.answer_link.as_str()
        ),
    };
    format!("✅ {}", phrases::asked(&responder.to_string(), &kept))
}

/// The label stored with a secret: who shared it with whom (Discord ids, never content).
pub fn label(sender: u64, recipient: Option<u64>) -> String {
    let recipient = recipient.map(|r| r.to_string());
    phrases::label("Discord", &sender.to_string(), recipient.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_secret_is_installed_and_usable_wherever_share_secret_is() {
        for global in [true, false] {
            let (share, request) = (command(10, global), request_command(global));
            assert_eq!(share["integration_types"], request["integration_types"]);
            assert_eq!(share["contexts"], request["contexts"]);
        }
        assert_eq!(request_command(true)["contexts"], json!([0, 1, 2]));
        assert_eq!(commands_body(10, true)[2]["name"], REQUEST_COMMAND);
    }
}
