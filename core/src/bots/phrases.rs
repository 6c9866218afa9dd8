//! What both bots say, in plain text. Each platform adds its own markup around it (an icon, its
//! date rendering) and mentions people as `<@id>`, which Slack and Discord both understand.

use std::time::Duration;

use super::{BackendError, Shared};
use crate::api::EventPayload;

/// A task creating or delivering a secret failed unexpectedly.
pub const SOMETHING_WENT_WRONG: &str = "Something went wrong; nothing was shared.";

/// "1 view" / "3 views".
pub fn views_phrase(n: u32) -> String {
    if n == 1 {
        "1 view".into()
    } else {
        format!("{n} views")
    }
}

/// "once" / "3 times".
pub fn times(n: u32) -> String {
    if n == 1 {
        "once".into()
    } else {
        format!("{n} times")
    }
}

/// A short "what happened" line for an event: `viewed (1 of 1, from FR)`.
pub fn event_phrase(e: &EventPayload) -> Option<String> {
    use crate::api::event_type as t;
    let used = e.views.saturating_sub(e.views_remaining);
    let from = e
        .country
        .as_deref()
        .map(|c| format!(", from {c}"))
        .unwrap_or_default();
    match e.kind.as_str() {
        t::VIEWED => Some(format!("was viewed ({used} of {}{from})", e.views)),
        t::ACCESS_DENIED => Some(format!(
            "was refused to a visitor ({}{from})",
            e.reason.as_deref().unwrap_or("denied")
        )),
        t::EXPIRED => Some("expired unread".to_string()).filter(|_| used == 0),
        _ => None,
    }
}

/// The sender's message about an event, if it is one worth a message:
/// `Your secret for <@U2> was viewed (1 of 1).` (the recipient comes from the label).
pub fn event_text(e: &EventPayload) -> Option<String> {
    if e.kind == crate::api::event_type::REQUEST_ANSWERED {
        return Some(request_answered(e.label.as_deref()));
    }
    let what = event_phrase(e)?;
    let which = e
        .label
        .as_deref()
        .and_then(recipient_of)
        .map(|to| format!(" for {to}"))
        .unwrap_or_default();
    Some(format!("Your secret{which} {what}."))
}

/// The asker's notice that their request was answered; the responder comes from the label
/// (`… asks <@U2>`). The answer itself is only behind the asker's private link.
pub fn request_answered(label: Option<&str>) -> String {
    let who = label.and_then(responder_of).map_or_else(
        || "Your request for a secret was answered".to_string(),
        |r| format!("{r} answered your request for a secret"),
    );
    format!("{who}. Open the answer with your private link, in the DM I sent you when you asked.")
}

/// The label stored with a request: who asks whom (platform ids, never content), e.g.
/// `Slack T1: <@U1> asks <@U2>`.
pub fn request_label(platform: &str, asker: &str, responder: &str) -> String {
    format!("{platform}: <@{asker}> asks <@{responder}>")
}

/// Whom a request was sent to, from its label (`… asks <@U2>`).
pub fn responder_of(label: &str) -> Option<&str> {
    label.split_once(" asks ").map(|(_, to)| to)
}

/// The responder's DM: who asks, their note (already in the platform's markup), the link.
pub fn request_for_responder(asker: &str, note: Option<&str>, link: &str, until: &str) -> String {
    let note = note
        .map(|n| format!(":\n> {}", n.replace('\n', "\n> ")))
        .unwrap_or_else(|| ".".into());
    format!(
        "<@{asker}> asks you for a secret{note}\nAnswer on this page (until {until}): {link}\nWhat you type there is encrypted in your browser so that only <@{asker}> can read it; it can be answered once."
    )
}

/// The asker's DM with their private link to the answer (it holds the key, and exists nowhere
/// else: this message is where it stays).
pub fn answer_link_for_asker(responder: &str, link: &str, until: &str) -> String {
    format!(
        "You asked <@{responder}> for a secret (open until {until}). Your private link to the answer:\n{link}\nOnly this link can read the answer, so keep this message and share the link with nobody. I will tell you here when they answer."
    )
}

/// The asker's confirmation; `kept` says where their private link is.
pub fn asked(responder: &str, kept: &str) -> String {
    format!("Asked <@{responder}> for a secret by direct message. {kept}")
}

/// The request's link could not be sent to the person asked.
pub fn request_undelivered(responder: &str, e: &dyn std::fmt::Display) -> String {
    format!(
        "The request could not be sent to <@{responder}>: {e}. It was deleted; nothing was requested."
    )
}

/// The label stored with a secret: who shared it with whom (platform ids, never content), e.g.
/// `Slack T1: <@U1> to <@U2>`.
pub fn label(platform: &str, sender: &str, recipient: Option<&str>) -> String {
    match recipient {
        Some(r) => format!("{platform}: <@{sender}> to <@{r}>"),
        None => format!("{platform}: <@{sender}>"),
    }
}

/// `3 views, expires {when}`; `when` is the expiry in the platform's date markup.
pub fn terms(s: &Shared, when: &str) -> String {
    format!("{}, expires {when}", views_phrase(s.views))
}

/// The link for the sender (no recipient chosen, or quick mode).
pub fn link_for_sender(s: &Shared, terms: &str) -> String {
    format!(
        "Your one-time link ({terms}):\n{}\nIt shows the secret {} and is then erased. You will get a DM when it is read.",
        s.link.as_str(),
        times(s.views)
    )
}

/// The link for a recipient, by DM; `how_often` says how many times it can be read.
pub fn link_for_recipient(
    sender: &str,
    s: &Shared,
    terms: &str,
    how_often: &str,
    passphrase: bool,
) -> String {
    let pp = if passphrase {
        " It is protected by a passphrase: ask the sender for it."
    } else {
        ""
    };
    let only = match &s.bound_to {
        Some(who) => format!(
            " Only you can open it: the page asks you to sign in with {} first.",
            who.provider.label()
        ),
        None => String::new(),
    };
    format!(
        "<@{sender}> shared a secret with you ({terms}):\n{}\nOpen it when you are ready to copy it: it can be read {how_often}.{pp}{only}",
        s.link.as_str(),
    )
}

/// What became of the copy a sender gets by DM of a message they must keep (durable delivery:
/// replies seen only by them vanish on reload and on their other devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmCopy<'a> {
    /// The workspace turned copies off (or there was nothing to copy).
    Off,
    /// Sent; `from` names the bot as the platform renders it (`<@U0BOT>`).
    Sent {
        /// The bot, as mentioned in the platform's markup.
        from: &'a str,
    },
    /// Not sent, and why.
    Failed {
        /// What the platform said.
        why: &'a str,
    },
}

/// The line an ephemeral reply adds about the DM copy of the link it carries.
pub fn dm_copy_of_link(copy: DmCopy<'_>) -> Option<String> {
    match copy {
        DmCopy::Off => None,
        DmCopy::Sent { from } => Some(format!(
            "A copy is in your DMs from {from}, where it stays: this reply disappears when you reload or switch devices."
        )),
        DmCopy::Failed { why } => Some(format!(
            "Sending you a copy by DM failed ({why}): copy the link now, this reply disappears when you reload or switch devices."
        )),
    }
}

/// The line a confirmation adds about its DM copy (it carries no link, so a failure is minor).
pub fn dm_copy_of_note(copy: DmCopy<'_>) -> Option<String> {
    match copy {
        DmCopy::Sent { from } => Some(format!("A note of it is in your DMs from {from}.")),
        DmCopy::Off | DmCopy::Failed { .. } => None,
    }
}

/// Whom a share was for, from its label (`… to <@U2>`): `None` when it was the sender's own.
pub fn recipient_of(label: &str) -> Option<&str> {
    label.split_once(" to ").map(|(_, to)| to)
}

/// The sender's confirmation that the recipient got the link (which it does not repeat).
pub fn sent_to(recipient: &str, terms: &str) -> String {
    format!(
        "Sent a one-time link to <@{recipient}> by direct message ({terms}). You will get a DM when it is read."
    )
}

/// The per-user limit refused a share.
pub fn too_fast(retry_after: Duration) -> String {
    format!(
        "You are creating secrets too fast; try again in {} s.",
        retry_after.as_secs().max(1)
    )
}

/// The backend refused or failed: what the user is told.
pub fn backend_message(e: &BackendError) -> String {
    match e {
        BackendError::Invalid { message, .. } => format!("{message}. Nothing was shared."),
        other => format!("{other}. Nothing was shared."),
    }
}

/// The backend refused or failed a request: what the asker is told.
pub fn request_backend_message(e: &BackendError) -> String {
    match e {
        BackendError::Invalid { message, .. } => format!("{message}. Nothing was requested."),
        other => format!("{other}. Nothing was requested."),
    }
}

/// The link was burnt because it could not be `how` ("delivered", "sent to <@U2>").
pub fn undelivered(how: &str, e: &dyn std::fmt::Display) -> String {
    format!("The link could not be {how}: {e}. The secret was deleted; nothing was shared.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, views: u32, left: u32) -> EventPayload {
        EventPayload {
            id: "evt_1".into(),
            kind: kind.into(),
            created_at: chrono::Utc::now(),
            secret_id: crate::model::SecretId::new(),
            label: Some(label("Slack T1", "U1", Some("U2"))),
            views,
            views_remaining: left,
            country: Some("FR".into()),
            reason: None,
        }
    }

    #[test]
    fn a_request_answered_names_the_responder_and_never_carries_a_link() {
        let mut e = event(crate::api::event_type::REQUEST_ANSWERED, 1, 1);
        e.label = Some(request_label("Slack T1", "U1", "U2"));
        let t = event_text(&e).unwrap();
        assert!(
            t.starts_with("<@U2> answered your request for a secret."),
            "{t}"
        );
        assert!(!t.contains("http"), "{t}");
        e.label = None;
        assert!(
            event_text(&e)
                .unwrap()
                .starts_with("Your request for a secret was answered.")
        );
        let dm = request_for_responder(
            "U1",
            Some("staging DB\npassword"),
            "https://x/r/1#Q",
            "soon",
        );
        assert!(
            dm.starts_with("<@U1> asks you for a secret:\n> staging DB\n> password\n"),
            "{dm}"
        );
        assert!(dm.contains("https://x/r/1#Q"), "{dm}");
    }

    #[test]
    fn events_are_phrased_for_the_sender_without_noise() {
        let t = event_text(&event(crate::api::event_type::VIEWED, 2, 1)).unwrap();
        assert_eq!(t, "Your secret for <@U2> was viewed (1 of 2, from FR).");
        assert!(event_text(&event(crate::api::event_type::EXPIRED, 1, 0)).is_none());
        assert!(event_text(&event(crate::api::event_type::DELETED, 1, 1)).is_none());
        assert_eq!(views_phrase(1), "1 view");
        assert_eq!(times(3), "3 times");
    }
}
