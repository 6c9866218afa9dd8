//! The [`Backend`] of a standalone bot: a remote Seecret server over the typed client.

use std::sync::Arc;

use tracing::warn;

use zeroize::Zeroizing;

use super::{Ask, Asked, Backend, BackendError, Ledger, Share, Shared};
use crate::api::{CreateRequest, SecretInfo};
use crate::client::{Client, ClientError, ShareOptions};
use crate::link::AnswerLink;
use crate::model::SecretId;

/// A remote Seecret server reached with an API token. Each secret gets its own webhook URL,
/// `{events_url}?notify=…`, so its events come back to the bot that created it. The server knows
/// only the token, not which chat user shared what: a [`Ledger`] kept by the bot remembers it.
#[derive(Debug, Clone)]
pub struct Remote {
    client: Client,
    events_url: Option<String>,
    ledger: Option<Arc<dyn Ledger>>,
}

impl Remote {
    /// `events_url`: where this bot receives Seecret webhooks (`None`: no "was viewed" messages).
    pub fn new(client: Client, events_url: Option<String>) -> Self {
        Self {
            client,
            events_url,
            ledger: None,
        }
    }

    /// Remembers in `ledger` who shared what, so a user's recent shares can be listed.
    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    fn webhook_for(&self, notify: &str) -> Option<String> {
        let mut url = url::Url::parse(self.events_url.as_deref()?).ok()?;
        url.query_pairs_mut().append_pair("notify", notify);
        Some(url.into())
    }
}

#[async_trait::async_trait]
impl Backend for Remote {
    async fn share(&self, share: Share) -> Result<Shared, BackendError> {
        let owner = share.notify.clone();
        let opts = ShareOptions {
            expiration: Some(share.expiration),
            views: Some(share.views),
            passphrase: share.passphrase,
            label: share.label,
            webhook_url: self.webhook_for(&share.notify),
        };
        let shared = self
            .client
            .share_to(share.secret.expose(), opts, share.bound_to)
            .await?;
        if let Some(ledger) = &self.ledger {
            // The link is made: failing to remember it only keeps it off the home screen.
            if let Err(e) = ledger.record(&owner, shared.info.id).await {
                warn!(error = %e, "remembering a share in the ledger failed");
            }
        }
        Ok(Shared {
            id: shared.info.id,
            expires_at: shared.info.expires_at,
            views: shared.info.views,
            bound_to: shared.info.bound_to,
            link: shared.link,
        })
    }

    async fn burn(&self, id: SecretId) -> Result<(), BackendError> {
        match self.client.delete(id).await {
            Ok(_) => Ok(()),
            Err(ClientError::Api {
                status: 404 | 410, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn request(&self, ask: Ask) -> Result<Asked, BackendError> {
        let req = CreateRequest {
            note: ask.note,
            label: ask.label,
            expiration: ask.expiration,
            // Like a share's: the answered event comes back to this bot for `notify`.
            webhook_url: self.webhook_for(&ask.notify),
            ..CreateRequest::default()
        };
        let (info, d) = self.client.request_secret(req).await?;
        // The server's public address, as it wrote the request link.
        let base = info
            .request_url
            .rsplit_once("/r/")
            .map_or("", |(base, _)| base);
        Ok(Asked {
            id: info.id,
            answer_link: Zeroizing::new(AnswerLink::format(base, &info.id, &d)),
            request_link: info.request_url,
            expires_at: info.expires_at,
        })
    }

    async fn withdraw(&self, id: SecretId) -> Result<(), BackendError> {
        match self.client.delete_request(id).await {
            Ok(_) => Ok(()),
            Err(ClientError::Api {
                status: 404 | 410, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn shares_of(&self, owner: &str, limit: u32) -> Result<Vec<SecretInfo>, BackendError> {
        let Some(ledger) = &self.ledger else {
            return Err(BackendError::Refused(
                "this bot keeps no record of who shared what".into(),
            ));
        };
        let mut ids = ledger.ids(owner).await.map_err(BackendError::Unavailable)?;
        ids.truncate(limit as usize);
        let infos = futures::future::join_all(ids.into_iter().map(|id| self.client.get(id))).await;
        let mut out = Vec::new();
        for info in infos {
            match info {
                Ok(i) => out.push(i),
                // Purged by the server after its retention: nothing left to show.
                Err(ClientError::Api { status: 404, .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}
