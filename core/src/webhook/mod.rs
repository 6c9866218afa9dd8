//! Consultation webhooks: signing (`signing`), the address guard that keeps them off private
//! networks (`guard`), and the worker that delivers the transactional outbox with retries
//! (`delivery`). What an event is, and the outbox rows a change writes, is [`crate::outbox`]:
//! the store writes those without depending on this module.

mod delivery;
mod guard;
mod signing;

pub use delivery::{Deliverer, EventSink, WebhookConfig, parse_schedule};
pub use guard::{PrivateAllowList, REFUSED_TARGET, check_url, is_forbidden};

pub use crate::crypto::WebhookSecret;
