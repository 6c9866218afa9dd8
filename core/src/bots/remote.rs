//! The [`Backend`] of a standalone bot: a remote Seecret server over the typed client.

use super::{Backend, BackendError, Share, Shared};
use crate::client::{Client, ClientError, ShareOptions};
use crate::model::SecretId;

/// A remote Seecret server reached with an API token. Each secret gets its own webhook URL,
/// `{events_url}?notify=…`, so its events come back to the bot that created it.
#[derive(Debug, Clone)]
pub struct Remote {
    client: Client,
    events_url: Option<String>,
}

impl Remote {
    /// `events_url`: where this bot receives Seecret webhooks (`None`: no "was viewed" messages).
    pub fn new(client: Client, events_url: Option<String>) -> Self {
        Self { client, events_url }
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
        let opts = ShareOptions {
            expiration: Some(share.expiration),
            views: Some(share.views),
            passphrase: share.passphrase,
            label: share.label,
            webhook_url: self.webhook_for(&share.notify),
        };
        let shared = self.client.share(share.secret.expose(), opts).await?;
        Ok(Shared {
            id: shared.info.id,
            expires_at: shared.info.expires_at,
            views: shared.info.views,
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
}
