//! Accounts: creation, tokens and their cache, the profile, and webhook settings.

use std::time::Instant;

use tracing::info;

use super::rules::check_account_name;
use super::{Engine, now, to_chrono};
use crate::api::{AccountInfo, Limits, RateLimit, RotatedWebhookSecret, UpdateAccount};
use crate::crypto::{ApiToken, WebhookSecret};
use crate::error::{Error, Result};
use crate::model::AccountId;
use crate::store::AccountRecord;

impl Engine {
    /// Creates an account and its first token (shown once).
    pub async fn create_account(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(AccountRecord, ApiToken)> {
        let name = check_account_name(name)?;
        let account = AccountRecord {
            id: AccountId::new(),
            name: name.to_string(),
            email: email
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(String::from),
            plan: "self-hosted".into(),
            webhook_url: None,
            created_at: now(),
        };
        let token = ApiToken::generate();
        self.store.insert_account(&account, &token.hash()).await?;
        info!(account = %account.id, "account created");
        Ok((account, token))
    }

    /// On first start with an empty database, creates the one account and returns its token.
    pub async fn bootstrap(&self) -> Result<Option<(AccountRecord, ApiToken)>> {
        if self.store.first_account().await?.is_some() {
            return Ok(None);
        }
        self.create_account("admin", None).await.map(Some)
    }

    /// Replaces an account's token (by id or name); the old one stops working at once here and
    /// within the token cache's lifetime on other instances.
    pub async fn rotate_token(&self, account: &str) -> Result<(AccountRecord, ApiToken)> {
        let record = self
            .store
            .account_by_id_or_name(account)
            .await?
            .ok_or(Error::NotFound)?;
        let token = ApiToken::generate();
        if !self.store.set_token_hash(record.id, &token.hash()).await? {
            return Err(Error::NotFound);
        }
        self.forget_cached(record.id);
        info!(account = %record.id, "token rotated");
        Ok((record, token))
    }

    /// Finds the account a Bearer token belongs to. Lookups are cached briefly so most requests
    /// never touch the database.
    pub async fn authenticate(&self, bearer: &str) -> Result<AccountRecord> {
        let hash = ApiToken::parse(bearer)?.hash();
        if let Ok(cache) = self.tokens.read()
            && let Some((account, at)) = cache.get(&hash)
            && at.elapsed() < self.cfg.token_cache_ttl
        {
            return Ok(account.clone());
        }
        let account = self
            .store
            .account_by_token(&hash)
            .await?
            .ok_or(Error::Unauthorized)?;
        if let Ok(mut cache) = self.tokens.write() {
            cache.insert(hash, (account.clone(), Instant::now()));
        }
        Ok(account)
    }

    /// The account's profile, limits and usage.
    pub async fn account_info(&self, account: &AccountRecord) -> Result<AccountInfo> {
        Ok(AccountInfo {
            id: account.id,
            name: account.name.clone(),
            email: account.email.clone(),
            plan: account.plan.clone(),
            created_at: account.created_at,
            rate_limit: RateLimit {
                per_minute: self.cfg.rate_limit_per_minute,
            },
            usage: self.store.usage(account.id).await?,
            webhook_url: account.webhook_url.clone(),
            webhook_secret: None,
            limits: Limits {
                max_expiration: self.cfg.max_expiration,
                max_views: self.cfg.max_views,
                max_text_bytes: self.cfg.max_text_bytes as u64,
                max_file_bytes: Some(self.cfg.max_file_bytes),
            },
        })
    }

    /// Sets or clears the account's webhook URL. The first URL ever set creates the signing
    /// secret, returned once in this answer.
    pub async fn update_account(
        &self,
        account: &AccountRecord,
        req: UpdateAccount,
    ) -> Result<AccountInfo> {
        let mut created = None;
        if let Some(url) = req.webhook_url {
            let url = self.check_webhook_url(Some(url)).await?;
            let candidate = WebhookSecret::generate();
            if self
                .store
                .set_account_webhook(account.id, url.as_deref(), &candidate)
                .await?
            {
                created = Some(candidate);
            }
            self.forget_cached(account.id);
        }
        let fresh = self
            .store
            .account_by_id_or_name(&account.id.to_string())
            .await?
            .ok_or(Error::NotFound)?;
        let mut info = self.account_info(&fresh).await?;
        info.webhook_secret = created;
        Ok(info)
    }

    /// Replaces the webhook signing secret. The previous one keeps signing for the configured
    /// overlap, so receivers can switch without losing events.
    pub async fn rotate_webhook_secret(
        &self,
        account: &AccountRecord,
    ) -> Result<RotatedWebhookSecret> {
        let now = now();
        let had = self
            .store
            .webhook_secrets(account.id, now)
            .await?
            .current
            .is_some();
        let new = WebhookSecret::generate();
        let until = now + to_chrono(self.cfg.webhooks.secret_overlap);
        self.store
            .rotate_webhook_secret(account.id, &new, until)
            .await?;
        Ok(RotatedWebhookSecret {
            webhook_secret: new,
            previous_secret_valid_until: had.then_some(until),
        })
    }

    /// Queues a webhook event again (after its deliveries failed, or to replay it).
    pub async fn redeliver_webhook(&self, account: &AccountRecord, event_id: &str) -> Result<()> {
        if !self.store.redeliver(account.id, event_id, now()).await? {
            return Err(Error::NotFound);
        }
        self.wake.notify_one();
        Ok(())
    }
}
