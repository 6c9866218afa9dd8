//! `/request-secret @alice [note]`: asks Alice for a secret that only the asker can read (DESIGN
//! §7.2). Alice gets the request link by DM; the asker gets their private answer link by DM (it
//! holds the key and exists nowhere else, so it is never only in a reply that vanishes) and hears
//! by DM when Alice answered. A request that could not reach Alice is deleted.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seecret_core::bots::{Ask, Asked, Budget, phrases, within_budget};
use seecret_core::model::SecretId;
use tracing::{info, warn};

use crate::SlackBot;
use crate::handlers::{Command, answer};
use crate::messages;
use crate::slack::{Message, Token};

/// The person named first in the command's text (`<@U123|alice>` or `<@U123>`, as Slack sends a
/// mention picked from its list), and the rest: the note.
fn named(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("<@")?;
    let (inside, note) = rest.split_once('>')?;
    let id = inside.split('|').next().unwrap_or_default();
    let well_formed = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    well_formed.then(|| (id, note.trim()))
}

/// What the asker is told, and the request whose private link only this reply carries (deleted
/// if the reply is lost).
struct Outcome {
    message: Message,
    carries: Option<SecretId>,
}

impl Outcome {
    fn error(text: &str) -> Self {
        Self {
            message: messages::error(text),
            carries: None,
        }
    }
}

/// `POST /slack/commands` for `/request-secret`; `text` is already unescaped.
pub(crate) async fn command(bot: &SlackBot, token: Token, cmd: &Command, text: &str) -> Response {
    if text.eq_ignore_ascii_case("help") {
        return answer(&messages::request_help());
    }
    let Some((responder, note)) = named(text) else {
        let hint = if text.starts_with('@') {
            "Pick the person from the list Slack shows as you type @, so that Slack sends who they are."
        } else {
            "Name who should send you the secret: `/request-secret @alice what you need`."
        };
        return answer(&messages::error(&format!(
            "{hint} See `/request-secret help`; nothing was requested."
        )));
    };
    let core = &bot.inner.core;
    let note = match core.check_note(note) {
        Ok(n) => n,
        Err(why) => return answer(&messages::error(&why)),
    };
    if let Err(msg) = core.check_rate(&format!("{}:{}", cmd.team_id, cmd.user_id)) {
        return answer(&messages::error(&msg));
    }
    info!(team = %cmd.team_id, user = %cmd.user_id, responder, "asking for a secret");
    let ask = Ask {
        note,
        expiration: None,
        label: Some(phrases::request_label(
            &format!("Slack {}", cmd.team_id),
            &cmd.user_id,
            responder,
        )),
        notify: format!("{}:{}:{}", crate::PROVIDER, cmd.team_id, cmd.user_id),
    };
    let (bot2, asker, responder2) = (bot.clone(), cmd.user_id.clone(), responder.to_string());
    let work =
        within_budget(async move { ask_and_deliver(&bot2, token, &asker, &responder2, ask).await });
    match work.await {
        Budget::Done(outcome) => answer(&outcome.message),
        Budget::Failed => answer(&messages::error(phrases::SOMETHING_WENT_WRONG)),
        Budget::Late(pending) => {
            let (bot, url) = (bot.clone(), cmd.response_url.clone());
            tokio::spawn(async move {
                let Ok(outcome) = pending.await else {
                    return;
                };
                if let Err(e) = bot.inner.slack.respond(&url, &outcome.message).await {
                    warn!(error = %e, "the late answer to /request-secret was lost");
                    if let Some(id) = outcome.carries {
                        // Nobody holds its private link: no answer could ever be read.
                        bot.inner.core.withdraw(id).await;
                    }
                }
            });
            StatusCode::OK.into_response()
        }
    }
}

/// Creates the request, DMs the responder (or deletes it), then DMs the asker their private link.
async fn ask_and_deliver(
    bot: &SlackBot,
    token: Token,
    asker: &str,
    responder: &str,
    ask: Ask,
) -> Outcome {
    let core = &bot.inner.core;
    let note = ask.note.clone();
    let asked: Asked = match core.request(ask).await {
        Ok(a) => a,
        Err(e) => {
            warn!(error = %e, "creating a request failed");
            return Outcome::error(&phrases::request_backend_message(&e));
        }
    };
    let slack = &bot.inner.slack;
    let dm = messages::request_for_responder(asker, note.as_deref(), &asked);
    let delivery = async { slack.dm(&token, responder, dm).await.map(|_| ()) };
    if let Err(e) = core.deliver_or_withdraw(asked.id, delivery).await {
        return Outcome {
            message: messages::request_undelivered(responder, &e),
            carries: None,
        };
    }
    let kept = slack
        .dm(
            &token,
            asker,
            messages::answer_link_for_asker(responder, &asked),
        )
        .await;
    match kept {
        Ok(p) => Outcome {
            message: messages::asked(responder, Ok(&messages::bot_mention(p.bot_user.as_deref()))),
            carries: None,
        },
        Err(e) => {
            warn!(error = %e, "sending the asker their answer link by DM failed");
            Outcome {
                message: messages::asked(responder, Err((&e.to_string(), &asked))),
                carries: Some(asked.id),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_person_asked_is_the_mention_slack_sent_first() {
        assert_eq!(
            named("<@U123ABC|alice> staging DB password"),
            Some(("U123ABC", "staging DB password"))
        );
        assert_eq!(named("<@W9>"), Some(("W9", "")));
        assert_eq!(named("@alice the password"), None);
        assert_eq!(named("<#C1|ops> x"), None);
        assert_eq!(named("<@u1> x"), None);
        assert_eq!(named(""), None);
    }
}
