//! The rules every share from chat follows, whatever the platform: the form is checked, the
//! user's limit counted, the secret created within the platform's answer deadline (or finished
//! later), and a link that cannot be delivered is burnt so no secret is left that nobody can open.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::warn;

use super::limit::PerUser;
use super::{
    Ask, Asked, Backend, BackendError, MAX_CHAT_SECRET, MAX_REQUEST_NOTE, Share, Shared, phrases,
};
use crate::crypto::{SecretBytes, WebhookSecret};
use crate::model::{Expiration, SecretId};

/// How long creating (and delivering) may take before the answer to the platform is sent
/// without it: Slack and Discord both want one within three seconds.
pub const BUDGET: Duration = Duration::from_millis(2000);

/// What is wrong with a share form (each platform words it, next to its input or as a message;
/// none repeats what was typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormError {
    /// No secret (or only spaces).
    NoSecret,
    /// Longer than [`MAX_CHAT_SECRET`] characters.
    TooLong,
    /// Not a duration.
    Expiration,
    /// Not a number between 1 and [`Core::max_views`].
    Views,
}

/// A share form as the person typed it (a modal, or a command's options).
pub struct Form<'a> {
    /// The secret.
    pub secret: &'a str,
    /// A duration (`1h`).
    pub expiration: &'a str,
    /// A number of views.
    pub views: &'a str,
    /// An optional passphrase (empty: none).
    pub passphrase: Option<&'a str>,
}

impl fmt::Debug for Form<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form")
            .field("expiration", &self.expiration)
            .field("views", &self.views)
            .finish_non_exhaustive()
    }
}

/// Why [`Core::accept`] refused a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The form breaks a rule.
    Form(FormError),
    /// The user is over the limit: what to tell them.
    TooFast(String),
}

/// How work run [`within_budget`] went.
#[derive(Debug)]
pub enum Budget<T> {
    /// Finished in time.
    Done(T),
    /// The task panicked.
    Failed,
    /// Still running: the platform gets an answer now, the rest follows from this handle.
    Late(JoinHandle<T>),
}

/// Runs `work` as its own task and waits at most [`BUDGET`] for it. Dropping a `Late` handle
/// does not stop the task.
pub async fn within_budget<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Budget<T> {
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(BUDGET, &mut task).await {
        Ok(Ok(t)) => Budget::Done(t),
        Ok(Err(_)) => Budget::Failed,
        Err(_) => Budget::Late(task),
    }
}

/// A bot's platform-independent half: its backend, limits and event route.
pub struct Core {
    backend: Arc<dyn Backend>,
    per_user: PerUser,
    max_views: u32,
    /// Standalone: verifies the remote server's webhooks.
    webhook_secret: Option<WebhookSecret>,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("backend", &self.backend)
            .field("max_views", &self.max_views)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Shares through `backend`, `per_user_per_minute` secrets per user (0: unlimited), at most
    /// `max_views` views each.
    pub fn new(backend: Arc<dyn Backend>, per_user_per_minute: u32, max_views: u32) -> Self {
        Self {
            backend,
            per_user: PerUser::per_minute(per_user_per_minute),
            max_views,
            webhook_secret: None,
        }
    }

    /// Standalone: accept the remote server's webhooks signed with `whsec`.
    pub fn set_webhook_secret(&mut self, whsec: &str) {
        self.webhook_secret = Some(WebhookSecret::from_stored(whsec.to_string()));
    }

    /// The most views a secret may allow.
    pub fn max_views(&self) -> u32 {
        self.max_views
    }

    /// Whether `n` views are allowed (1 to [`max_views`](Self::max_views)).
    pub fn views_allowed(&self, n: u32) -> bool {
        (1..=self.max_views).contains(&n)
    }

    /// Checks what a person typed: the secret, a duration and a number of views (each trimmed).
    /// The rules run in this order, so each platform reports the first problem.
    pub fn check_form(
        &self,
        secret: &str,
        expiration: &str,
        views: &str,
    ) -> Result<(Expiration, u32), FormError> {
        if secret.trim().is_empty() {
            return Err(FormError::NoSecret);
        }
        if secret.chars().count() > MAX_CHAT_SECRET {
            return Err(FormError::TooLong);
        }
        let expiration = expiration
            .trim()
            .parse::<Expiration>()
            .map_err(|_| FormError::Expiration)?;
        let views = views
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|v| self.views_allowed(*v))
            .ok_or(FormError::Views)?;
        Ok((expiration, views))
    }

    /// Checks `form` ([`check_form`](Self::check_form)), then counts one share for `user`
    /// ([`check_rate`](Self::check_rate)), and makes the share: labelled `label`, its events
    /// going to `notify`.
    pub fn accept(
        &self,
        form: Form<'_>,
        user: &str,
        label: String,
        notify: String,
    ) -> Result<Share, Refused> {
        let (expiration, views) = self
            .check_form(form.secret, form.expiration, form.views)
            .map_err(Refused::Form)?;
        self.check_rate(user).map_err(Refused::TooFast)?;
        Ok(Share {
            secret: SecretBytes::new(form.secret.as_bytes().to_vec()),
            expiration,
            views,
            passphrase: form
                .passphrase
                .filter(|p| !p.is_empty())
                .map(|p| SecretBytes::new(p.as_bytes().to_vec())),
            label: Some(label),
            notify,
            bound_to: None,
        })
    }

    /// Counts one share for `user`; the refusal is what to tell them.
    pub fn check_rate(&self, user: &str) -> Result<(), String> {
        self.per_user.check(user).map_err(phrases::too_fast)
    }

    /// The backend secrets are created through.
    pub(super) fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Creates the secret.
    pub async fn share(&self, share: Share) -> Result<Shared, BackendError> {
        self.backend.share(share).await
    }

    /// Deletes a secret whose link could not be delivered (a failure is logged: the secret then
    /// expires on its own).
    pub async fn burn(&self, id: SecretId) {
        if let Err(e) = self.backend.burn(id).await {
            warn!(error = %e, secret = %id, "deleting an undelivered secret failed");
        }
    }

    /// Runs `delivery` of the link to secret `id`; if it fails the secret is burnt, so no link
    /// to it exists anywhere, and the error is returned for the sender to be told.
    pub async fn deliver_or_burn<E: fmt::Display>(
        &self,
        id: SecretId,
        delivery: impl Future<Output = Result<(), E>>,
    ) -> Result<(), E> {
        let result = delivery.await;
        if let Err(e) = &result {
            warn!(error = %e, secret = %id, "delivering a link failed; deleting the secret");
            self.burn(id).await;
        }
        result
    }

    /// Checks a request's note (trimmed; empty: none): at most [`MAX_REQUEST_NOTE`] characters.
    /// The refusal is what to tell the asker.
    pub fn check_note(&self, note: &str) -> Result<Option<String>, String> {
        let note = note.trim();
        if note.chars().count() > MAX_REQUEST_NOTE {
            return Err(format!(
                "The note is longer than {MAX_REQUEST_NOTE} characters; nothing was requested."
            ));
        }
        Ok((!note.is_empty()).then(|| note.to_string()))
    }

    /// Creates a request for a secret.
    pub async fn request(&self, ask: Ask) -> Result<Asked, BackendError> {
        self.backend.request(ask).await
    }

    /// Runs `delivery` of request `id`'s link to the person asked; if it fails the request is
    /// deleted (so nobody can answer a request its asker believes undelivered) and the error
    /// returned for the asker to be told.
    pub async fn deliver_or_withdraw<E: fmt::Display>(
        &self,
        id: SecretId,
        delivery: impl Future<Output = Result<(), E>>,
    ) -> Result<(), E> {
        let result = delivery.await;
        if let Err(e) = &result {
            warn!(error = %e, request = %id, "delivering a request failed; deleting it");
            self.withdraw(id).await;
        }
        result
    }

    /// Deletes a request nobody can use any more (a failure is logged: it then expires on its
    /// own).
    pub async fn withdraw(&self, id: SecretId) {
        if let Err(e) = self.backend.withdraw(id).await {
            warn!(error = %e, request = %id, "deleting an undelivered request failed");
        }
    }

    /// The secret a standalone bot's webhooks are signed with (none: the route answers 404).
    pub fn webhook_secret(&self) -> Option<&WebhookSecret> {
        self.webhook_secret.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use zeroize::Zeroizing;

    use super::*;

    /// Creates links that exist nowhere; records burns.
    #[derive(Debug, Default)]
    struct Stub {
        burnt: Mutex<Vec<SecretId>>,
    }

    #[async_trait::async_trait]
    impl Backend for Stub {
        async fn share(&self, share: Share) -> Result<Shared, BackendError> {
            Ok(Shared {
                id: SecretId::new(),
                link: Zeroizing::new("https://s.example/s/ID#KEY".into()),
                expires_at: chrono::Utc::now(),
                views: share.views,
                bound_to: share.bound_to,
            })
        }
        async fn burn(&self, id: SecretId) -> Result<(), BackendError> {
            self.burnt.lock().unwrap().push(id);
            Ok(())
        }
    }

    fn core(stub: &Arc<Stub>) -> Core {
        Core::new(stub.clone(), 2, 5)
    }

    #[test]
    fn the_form_rules_in_order() {
        let c = core(&Arc::default());
        let long = "x".repeat(MAX_CHAT_SECRET + 1);
        assert_eq!(c.check_form(" ", "1h", "1"), Err(FormError::NoSecret));
        assert_eq!(c.check_form(&long, "soon", "0"), Err(FormError::TooLong));
        assert_eq!(c.check_form("s", "soon", "0"), Err(FormError::Expiration));
        assert_eq!(c.check_form("s", "1h", "6"), Err(FormError::Views));
        assert_eq!(c.check_form("s", "1h", "0"), Err(FormError::Views));
        let (e, v) = c.check_form("s", " 7d ", " 5 ").unwrap();
        assert_eq!((e, v), ("7d".parse().unwrap(), 5));
        let form = |secret| Form {
            secret,
            expiration: "1h",
            views: "2",
            passphrase: Some(""),
        };
        let accept = |f| c.accept(f, "u", "label".into(), "x:u".into());
        assert_eq!(
            accept(form("")).unwrap_err(),
            Refused::Form(FormError::NoSecret)
        );
        let share = accept(form("s3cret")).unwrap();
        assert_eq!(share.secret.expose(), b"s3cret");
        assert_eq!((share.views, share.passphrase.is_none()), (2, true));
        assert_eq!(share.notify, "x:u");
        assert!(accept(form("s")).is_ok());
        let Err(Refused::TooFast(msg)) = accept(form("s")) else {
            panic!("not limited");
        };
        assert!(msg.contains("too fast"), "{msg}");
        assert!(c.check_rate("v").is_ok(), "another user is not affected");
    }

    #[tokio::test]
    async fn an_undelivered_link_is_burnt_and_a_delivered_one_kept() {
        let stub = Arc::new(Stub::default());
        let c = core(&stub);
        let share = || Share {
            secret: SecretBytes::new(b"s".to_vec()),
            expiration: Expiration::DEFAULT,
            views: 1,
            passphrase: None,
            label: None,
            notify: "x:y".into(),
            bound_to: None,
        };
        let kept = c.share(share()).await.unwrap();
        let ok = c.deliver_or_burn(kept.id, async { Ok::<(), String>(()) });
        assert!(ok.await.is_ok());
        let lost = c.share(share()).await.unwrap();
        let err = c.deliver_or_burn(lost.id, async { Err::<(), _>("channel_not_found") });
        assert_eq!(err.await, Err("channel_not_found"));
        assert_eq!(*stub.burnt.lock().unwrap(), [lost.id]);
    }

    #[tokio::test]
    async fn work_past_the_budget_is_handed_back_still_running() {
        assert!(matches!(within_budget(async { 1 }).await, Budget::Done(1)));
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let slow = within_budget(async move {
            let _ = wait.await;
            2
        });
        let Budget::Late(task) = slow.await else {
            panic!("not late");
        };
        go.send(()).unwrap();
        assert_eq!(task.await.unwrap(), 2);
        let crash = within_budget(async {
            if BUDGET > Duration::ZERO {
                panic!("boom");
            }
            3
        });
        assert!(matches!(crash.await, Budget::Failed));
    }
}
