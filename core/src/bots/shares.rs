//! A chat user's recent shares, as a bot's home screen shows them (Slack's App Home), and the
//! rule for burning one: only its sender may, and only a live one.

use super::{BackendError, Core};
use crate::api::SecretInfo;
use crate::model::{SecretId, Status};

/// How many recent shares a bot shows a user (and lets them burn).
pub const RECENT_SHARES: u32 = 10;

/// Where a share is, as its sender sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareState {
    /// Live, not opened yet.
    Waiting,
    /// Live, opened `used` of `views` times.
    Viewed {
        /// Views used.
        used: u32,
        /// Views allowed.
        views: u32,
    },
    /// Every view used: erased.
    Consumed,
    /// Past its expiry: erased.
    Expired,
    /// Deleted (burnt by its sender, or because its link could not be delivered).
    Burnt,
}

impl ShareState {
    /// The state of a secret as its owner lists it (with its live status).
    pub fn of(info: &SecretInfo) -> Self {
        let used = info.views.saturating_sub(info.views_remaining);
        match info.status {
            Status::Active if used == 0 => Self::Waiting,
            Status::Active => Self::Viewed {
                used,
                views: info.views,
            },
            Status::Consumed => Self::Consumed,
            Status::Expired => Self::Expired,
            Status::Deleted => Self::Burnt,
        }
    }

    /// Whether it can still be opened, hence burnt.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Waiting | Self::Viewed { .. })
    }

    /// One word (or a few) for it: `waiting`, `viewed 1 of 3`, `consumed`, `expired`, `burnt`.
    pub fn phrase(self) -> String {
        match self {
            Self::Waiting => "waiting".into(),
            Self::Viewed { used, views } => format!("viewed {used} of {views}"),
            Self::Consumed => "consumed".into(),
            Self::Expired => "expired".into(),
            Self::Burnt => "burnt".into(),
        }
    }
}

/// What [`Core::burn_own`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Burn {
    /// Deleted now.
    Burnt,
    /// Not among the user's recent shares (someone else's, or unknown): untouched.
    NotYours,
    /// Theirs, but already consumed, expired or burnt.
    NotLive,
}

impl Core {
    /// The latest [`RECENT_SHARES`] secrets `owner` (a `notify` route, `slack:T1:U1`) shared,
    /// newest first: only theirs, never anyone else's.
    pub async fn recent_shares(&self, owner: &str) -> Result<Vec<SecretInfo>, BackendError> {
        let mut list = self.backend().shares_of(owner, RECENT_SHARES).await?;
        // Whatever the backend, nothing of another user's leaves here.
        list.truncate(RECENT_SHARES as usize);
        Ok(list)
    }

    /// Burns `id` for `owner`: only a live secret among the shares [`recent_shares`] lists for
    /// them (what their home screen offers to burn), so a forged request naming someone else's
    /// secret burns nothing.
    ///
    /// [`recent_shares`]: Self::recent_shares
    pub async fn burn_own(&self, owner: &str, id: SecretId) -> Result<Burn, BackendError> {
        let mine = self.recent_shares(owner).await?;
        let Some(share) = mine.iter().find(|s| s.id == id) else {
            return Ok(Burn::NotYours);
        };
        if !ShareState::of(share).is_live() {
            return Ok(Burn::NotLive);
        }
        self.backend().burn(id).await?;
        Ok(Burn::Burnt)
    }
}
