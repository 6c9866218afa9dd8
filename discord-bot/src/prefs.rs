//! A server's own choices (`/share-secret-settings`), kept in the bot's
//! [`BotStore`](seecret_core::bots::BotStore) as the server's [`WorkspaceSettings`]: for now
//! whether the links people must keep also reach them by DM (`dm-copy`). The server-wide default
//! is `SEECRET_DISCORD_DM_LINKS`; a guild's saved choice overrides it there; in DMs and group DMs,
//! which belong to no server, the default applies.

use seecret_core::bots::WorkspaceSettings;
use serde_json::Value;
use serenity::model::permissions::Permissions;
use tracing::{info, warn};

use crate::DiscordBot;
use crate::handlers::Reply;
use crate::messages::DM_COPY_OPTION;

/// The provider under which Discord's servers' settings are kept.
const PLATFORM: &str = "discord";

async fn load(bot: &DiscordBot, guild: u64) -> Result<WorkspaceSettings, String> {
    let Some(store) = bot.inner.prefs.as_ref() else {
        return Ok(WorkspaceSettings::default());
    };
    store.settings(PLATFORM, &guild.to_string()).await
}

/// Whether a link shared in `guild` (`None`: a DM) also goes to the sender by DM. A preference
/// that cannot be read counts as the default (logged): the copy is the user's safety net, so a
/// broken store does not turn it off silently unless the default is off.
pub(crate) async fn dm_copy(bot: &DiscordBot, guild: Option<u64>) -> bool {
    let default = bot.inner.cfg.dm_copy;
    let Some(guild) = guild else {
        return default;
    };
    match load(bot, guild).await {
        Ok(p) => p.dm_links.unwrap_or(default),
        Err(e) => {
            warn!(guild, error = %e, "reading the server's Discord preferences failed; using the default");
            default
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// `/share-secret-settings [dm-copy:<bool>]`: shows or changes the server's choice. Discord
/// shows the command only to members who may manage the server (`default_member_permissions`),
/// unless a server admin grants it to others; the member's permissions are checked here too, so
/// a grant cannot hand the setting to someone who could not change it in the server settings.
pub(crate) async fn command(bot: &DiscordBot, i: &Value) -> Reply {
    let default = bot.inner.cfg.dm_copy;
    let Some(guild) = i["guild_id"]
        .as_str()
        .and_then(|g| g.parse::<u64>().ok())
        .filter(|g| *g > 0)
    else {
        return Reply::error(&format!(
            "These settings belong to a server: run /share-secret-settings there. Outside servers, \
             the links you share are sent to you by DM too: {} (the bot's default).",
            on_off(default)
        ));
    };
    let perms = i["member"]["permissions"]
        .as_str()
        .and_then(|p| p.parse::<u64>().ok())
        .map(Permissions::from_bits_truncate)
        .unwrap_or_else(Permissions::empty);
    if !perms.intersects(Permissions::MANAGE_GUILD | Permissions::ADMINISTRATOR) {
        return Reply::error(
            "Only members who can manage this server can change Seecret's settings.",
        );
    }
    let Some(store) = bot.inner.prefs.as_ref() else {
        return Reply::error("This bot has nowhere to keep settings; ask its operator.");
    };
    let mut prefs = match load(bot, guild).await {
        Ok(p) => p,
        Err(e) => {
            warn!(guild, error = %e, "reading the server's Discord preferences failed");
            return Reply::error("The settings could not be read; try again later.");
        }
    };
    let Some(wanted) = i["data"]["options"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"] == DM_COPY_OPTION)
        .and_then(|o| o["value"].as_bool())
    else {
        let (now, whose) = match prefs.dm_links {
            Some(b) => (b, "chosen for this server"),
            None => (default, "the bot's default"),
        };
        return Reply::text_plain(format!(
            "⚙️ Links people must keep are also sent to them by DM: **{}** ({whose}). Change it \
             with `/share-secret-settings dm-copy:True` or `dm-copy:False`.",
            on_off(now)
        ));
    };
    prefs.dm_links = Some(wanted);
    if let Err(e) = store
        .save_settings(PLATFORM, &guild.to_string(), &prefs)
        .await
    {
        warn!(guild, error = %e, "saving the server's Discord preferences failed");
        return Reply::error("The setting could not be saved; try again later.");
    }
    info!(
        guild,
        dm_copy = wanted,
        "a server changed its Discord preferences"
    );
    Reply::text_plain(format!(
        "✅ Saved: links people must keep are now {} sent to them by DM in this server.",
        if wanted { "also" } else { "no longer" }
    ))
}
