//! Anonymous text sharing from the web app (`SEECRET_PUBLIC_CREATE`, DESIGN §7.3): people
//! without a token create text secrets owned by one dedicated account, under caps of their own
//! that are tighter than an account's. The transport counts each client address's creations.

use super::Engine;
use crate::api::{CreateSecret, SecretInfo};
use crate::error::{Error, Result};
use crate::model::Expiration;
use crate::store::AccountRecord;

/// The name of the account that owns anonymous secrets (created on first use, kept after).
pub const PUBLIC_ACCOUNT: &str = "public";

/// What an anonymous create may ask for.
#[derive(Clone, Debug)]
pub struct PublicCaps {
    /// Longest expiration (default 7 days).
    pub max_expiration: Expiration,
    /// Most views (default 10).
    pub max_views: u32,
    /// Whether an anonymous secret may name its own webhook (off by default: the server would
    /// call addresses strangers choose).
    pub webhooks: bool,
}

impl Default for PublicCaps {
    fn default() -> Self {
        Self {
            max_expiration: Expiration::from_duration(std::time::Duration::from_secs(7 * 86_400)),
            max_views: 10,
            webhooks: false,
        }
    }
}

fn refused(message: impl Into<String>) -> Error {
    Error::Rejected {
        code: "public_limit",
        message: message.into(),
    }
}

impl PublicCaps {
    /// Refuses what anonymous sharing does not allow, with a message a person can act on.
    pub fn check(&self, req: &CreateSecret) -> Result<()> {
        if req.content.is_some() || req.ciphertext.is_none() {
            return Err(refused(
                "anonymous secrets are sealed by the client: send id, ciphertext and verifier, \
                 never content",
            ));
        }
        if req.file_name.is_some() || req.size.is_some() {
            return Err(refused(
                "anonymous sharing takes text only; sign in with an API token to share files",
            ));
        }
        if let Some(e) = req.expiration
            && e > self.max_expiration
        {
            return Err(refused(format!(
                "anonymous secrets expire within {}; sign in with an API token for longer",
                self.max_expiration
            )));
        }
        if let Some(v) = req.views
            && v > self.max_views
        {
            return Err(refused(format!(
                "anonymous secrets allow at most {} views; sign in with an API token for more",
                self.max_views
            )));
        }
        if req.webhook_url.is_some() && !self.webhooks {
            return Err(refused("anonymous secrets cannot call webhooks"));
        }
        if req.bound_to.is_some() {
            return Err(refused(
                "anonymous secrets cannot be bound to a platform user",
            ));
        }
        Ok(())
    }
}

impl Engine {
    /// The account that owns anonymous secrets: found by name, or created (without a usable
    /// token: nobody signs in as it).
    pub async fn public_account(&self) -> Result<AccountRecord> {
        if let Some(account) = self.store.account_by_id_or_name(PUBLIC_ACCOUNT).await? {
            return Ok(account);
        }
        // Its token is dropped unseen; `seecret account rotate-token public` makes a new one.
        match self.create_account(PUBLIC_ACCOUNT, None).await {
            Ok((account, _token)) => Ok(account),
            // Another instance starting at the same moment may have created it first.
            Err(e) => self
                .store
                .account_by_id_or_name(PUBLIC_ACCOUNT)
                .await?
                .ok_or(e),
        }
    }

    /// Creates an anonymous text secret for `account` (the public one) within `caps`.
    pub async fn create_public_secret(
        &self,
        account: &AccountRecord,
        caps: &PublicCaps,
        req: CreateSecret,
    ) -> Result<SecretInfo> {
        caps.check(&req)?;
        self.create_secret(account, req).await
    }
}
