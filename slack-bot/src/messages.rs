//! What the app shows: the modal, help, and the messages carrying links. Written as Block Kit
//! JSON so what Slack receives can be read here directly.

use chrono::{DateTime, Utc};
use seecret_core::api::{EventPayload, SecretInfo};
use seecret_core::bots::phrases::DmCopy;
use seecret_core::bots::{
    Asked, EXPIRATION_CHOICES, RECENT_SHARES, ShareState, Shared, phrases, views_phrase,
};
use serde_json::{Value, json};

use crate::slack::Message;

/// The command that asks someone for a secret (declared in the manifest).
pub const REQUEST_COMMAND: &str = "/request-secret";
/// The modal's `callback_id`.
pub const MODAL_ID: &str = "seecret_share";
/// The global shortcut's `callback_id` (declared in the manifest).
pub const SHORTCUT_ID: &str = "share_secret";
/// `action_id`s of the App Home's buttons.
pub mod action {
    /// "Share a secret": opens the modal.
    pub const SHARE: &str = "share_secret";
    /// "Burn" on a live share; its `value` is the secret's id.
    pub const BURN: &str = "burn";
}
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
    /// "Only them": bind the secret to the recipient.
    pub const ONLY: &str = "only";
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
                "type": "input", "block_id": block::ONLY, "optional": true,
                "label": {"type": "plain_text", "text": "Only them"},
                "element": {
                    "type": "checkboxes", "action_id": ACTION,
                    "options": [{
                        "text": {"type": "plain_text", "text": "Only the person in Send to can open the link"},
                        "description": {"type": "plain_text", "text": "They sign in with Slack on the page first; anyone else holding the link is refused."},
                        "value": "bound"
                    }]
                }
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
         Put them before or after the secret; `--` before a secret that starts with `--` or with \
         the word `settings`, or is just `help`. Slack keeps command text in its logs, so prefer the form for \
         anything long-lived.\n\
         • Links you must keep also reach you by DM from Seecret; your recent shares, their \
         status and a Burn button are on Seecret's Home tab.\n\
         • `/share-secret settings` shows this workspace's settings; admins change them there.\n\
         • You get a DM when the secret is read. The link works once (or N times) and then the \
         secret is erased; link previews never use it up."
    );
    plain(&text)
}

/// `/request-secret help`.
pub fn request_help() -> Message {
    plain(
        "*Ask someone for a secret that only you can read*\n\
         • `/request-secret @alice staging DB password` sends Alice a link by DM, with your note \
         (optional, at most 500 characters; never put a secret in it). She types the secret on \
         that page, where it is encrypted in her browser for you alone; it can be answered once.\n\
         • You get your private answer link by DM from Seecret. It holds the only key to the \
         answer: keep that message and share the link with nobody.\n\
         • When Alice answers you get a DM; open your answer link to read it. A request that \
         cannot reach her is deleted, and an unanswered one closes after 7 days.",
    )
}

/// The responder's DM: who asks, their note, the request link.
pub fn request_for_responder(asker: &str, note: Option<&str>, a: &Asked) -> Message {
    let note = note.map(escape);
    plain(&format!(
        ":key: {}",
        phrases::request_for_responder(
            asker,
            note.as_deref(),
            &a.request_link,
            &when(a.expires_at)
        )
    ))
}

/// The asker's DM with their private link to the answer.
pub fn answer_link_for_asker(responder: &str, a: &Asked) -> Message {
    plain(&format!(
        ":lock: {}",
        phrases::answer_link_for_asker(responder, &a.answer_link, &when(a.expires_at))
    ))
}

/// The asker's confirmation: their private link is in their DMs from `Ok(bot)`, or (`Err`: the
/// DM failed, and why) in this reply, which they must copy now.
pub fn asked(responder: &str, kept: Result<&str, (&str, &Asked)>) -> Message {
    let kept = match kept {
        Ok(from) => format!(
            "Your private link to the answer is in your DMs from {from}, where it stays; you will hear there when they answer."
        ),
        Err((why, a)) => format!(
            ":warning: Sending you your private answer link by DM failed ({}): copy it now, this reply disappears when you reload:\n{}",
            escape(why),
            a.answer_link.as_str()
        ),
    };
    plain(&format!(
        ":white_check_mark: {}",
        phrases::asked(responder, &kept)
    ))
}

/// A message of one mrkdwn section.
pub fn plain(text: &str) -> Message {
    Message {
        text: text.to_string(),
        blocks: Some(json!([{"type": "section", "text": {"type": "mrkdwn", "text": text}}])),
    }
}

/// A user-facing error. Its text may quote a server or Slack (an error code, a limit), so `&`,
/// `<` and `>` are escaped: mrkdwn would read them as markup.
pub fn error(text: &str) -> Message {
    plain(&format!(":warning: {}", escape(text)))
}

/// The request's link could not be sent to `responder` (a checked user id, kept as a mention;
/// only Slack's reason is escaped).
pub fn request_undelivered(responder: &str, e: &dyn std::fmt::Display) -> Message {
    let why = escape(&e.to_string());
    plain(&format!(
        ":warning: {}",
        phrases::request_undelivered(responder, &why)
    ))
}

/// `text` as mrkdwn shows it literally (Slack's three escapes).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack user mention (`<@U0123ABC>`) read back from a label, if that is what it is.
fn mention(s: &str) -> Option<&str> {
    let id = s.strip_prefix("<@")?.strip_suffix('>')?;
    (!id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
    .then_some(s)
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

/// The link for the sender (no recipient chosen, or quick mode); `copy` says where its DM copy
/// went, when this is the reply that vanishes.
pub fn link_for_sender(s: &Shared, copy: DmCopy<'_>) -> Message {
    let mut text = phrases::link_for_sender(s, &terms(s));
    if let Some(note) = phrases::dm_copy_of_link(copy) {
        let icon = if matches!(copy, DmCopy::Failed { .. }) {
            ":warning:"
        } else {
            ":mailbox_with_mail:"
        };
        text.push_str(&format!("\n{icon} {note}"));
    }
    plain(&text)
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
pub fn sent_to(recipient: &str, s: &Shared, copy: DmCopy<'_>) -> Message {
    let mut text = phrases::sent_to(recipient, &terms(s));
    if let Some(note) = phrases::dm_copy_of_note(copy) {
        text.push(' ');
        text.push_str(&note);
    }
    plain(&text)
}

/// How the bot is named in a message: a mention when Slack told us its user id.
pub fn bot_mention(bot_user: Option<&str>) -> String {
    match bot_user {
        Some(u) => format!("<@{u}>"),
        None => "Seecret".into(),
    }
}

/// `/share-secret settings`: this workspace's choices, and how admins change them.
pub fn settings(dm_links: bool, chosen_here: bool) -> Message {
    let state = if dm_links { "on" } else { "off" };
    let whose = if chosen_here {
        "chosen by this workspace's admins"
    } else {
        "the server's default"
    };
    plain(&format!(
        "*Seecret's settings for this workspace*\n\
         • Link DMs: *{state}* ({whose}). When on, a link you must keep (yours, or the note that \
         someone got one) also reaches you by DM from Seecret, where it stays; replies only you \
         see vanish when you reload or switch devices.\n\
         Admins and owners change it with `/share-secret settings dm-links on`, `off` or \
         `default`."
    ))
}

/// The App Home tab: the "Share a secret" button, then the user's recent shares (or why they
/// cannot be listed), each live one with a Burn button. Never a link: only statuses.
pub fn home(shares: Result<&[SecretInfo], &str>, notice: Option<&str>) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "Seecret"}}),
        json!({
            "type": "section", "block_id": "intro",
            "text": {"type": "mrkdwn", "text": "Share passwords, keys and certificates through one-time links: \
                the secret is encrypted at once, the link opens it a set number of times, then it is erased."},
            "accessory": {
                "type": "button", "action_id": action::SHARE, "style": "primary",
                "text": {"type": "plain_text", "text": "Share a secret"}
            }
        }),
    ];
    if let Some(n) = notice {
        blocks.push(json!({"type": "section", "block_id": "notice",
            "text": {"type": "mrkdwn", "text": n}}));
    }
    blocks.push(json!({"type": "divider"}));
    blocks.push(
        json!({"type": "header", "text": {"type": "plain_text", "text": "Your recent shares"}}),
    );
    match shares {
        Err(why) => blocks.push(json!({"type": "section", "block_id": "unavailable",
            "text": {"type": "mrkdwn", "text": format!(":warning: Your recent shares cannot be listed right now ({}).", escape(why))}})),
        Ok([]) => blocks.push(json!({"type": "section", "block_id": "none",
            "text": {"type": "mrkdwn", "text": "Nothing shared yet. Use the button above or `/share-secret`."}})),
        Ok(list) => blocks.extend(list.iter().map(share_block)),
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
        "Your latest {RECENT_SHARES} shares and where they are; never their links, which live only in the messages that carried them. Burn makes a link stop working at once."
    )}]}));
    json!({"type": "home", "blocks": blocks})
}

fn share_block(s: &SecretInfo) -> Value {
    let state = ShareState::of(s);
    let icon = match state {
        ShareState::Waiting => ":hourglass_flowing_sand:",
        ShareState::Viewed { .. } => ":eyes:",
        ShareState::Consumed => ":white_check_mark:",
        ShareState::Expired => ":clock3:",
        ShareState::Burnt => ":fire:",
    };
    // The label is the bot's own (`Slack T1: <@U1> to <@U2>`), but its owner may edit it: only a
    // mention is shown as one.
    let whom = match s.label.as_deref().and_then(phrases::recipient_of) {
        Some(to) => format!(
            "For {}",
            mention(to).map_or_else(|| escape(to), String::from)
        ),
        None => "For you".into(),
    };
    let ends = if state.is_live() { "expires" } else { "expiry" };
    let text = format!(
        "*{whom}* · {icon} {}\nShared {}, {ends} {} · {}",
        state.phrase(),
        when(s.created_at),
        when(s.expires_at),
        views_phrase(s.views)
    );
    let mut block = json!({"type": "section", "block_id": format!("share-{}", s.id),
        "text": {"type": "mrkdwn", "text": text}});
    if state.is_live() {
        block["accessory"] = json!({
            "type": "button", "action_id": action::BURN, "style": "danger", "value": s.id.to_string(),
            "text": {"type": "plain_text", "text": "Burn"},
            "confirm": {
                "title": {"type": "plain_text", "text": "Burn this secret?"},
                "text": {"type": "plain_text", "text": "Its link stops working at once, for everyone. This cannot be undone."},
                "confirm": {"type": "plain_text", "text": "Burn"},
                "deny": {"type": "plain_text", "text": "Keep"},
                "style": "danger"
            }
        });
    }
    block
}

/// The sender's DM about an event, if it is one worth a message.
pub fn event_text(e: &EventPayload) -> Option<String> {
    let icon = if e.kind == seecret_core::api::event_type::REQUEST_ANSWERED {
        ":inbox_tray:"
    } else {
        ":eyes:"
    };
    Some(format!("{icon} {}", phrases::event_text(e)?))
}

/// The label stored with a secret: who shared it with whom (Slack ids, never content).
pub fn label(team: &str, sender: &str, recipient: Option<&str>) -> String {
    phrases::label(&format!("Slack {team}"), sender, recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_text_cannot_become_markup() {
        let e = error("limit <1> & <!channel>");
        assert_eq!(e.text, ":warning: limit &lt;1&gt; &amp; &lt;!channel&gt;");
        assert_eq!(mention("<@U0123ABC>"), Some("<@U0123ABC>"));
        assert_eq!(mention("<!channel>"), None);
        assert_eq!(mention("<@U1|x>"), None);
    }
}
