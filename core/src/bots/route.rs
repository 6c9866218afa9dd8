//! The standalone bots' HTTP route for a remote server's signed webhooks, written once: a
//! platform crate names its prefix and hands over its [`Core`] and [`Notifier`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::{Core, EventRoute, Notifier, WebhookHeaders, events};

/// A chat bot that receives Seecret's webhooks on `/{PREFIX}/seecret-events?notify=PREFIX:…`.
pub trait EventReceiver: Notifier + Clone + 'static {
    /// The route's path segment and the `notify` prefix it accepts (`slack`, `discord`).
    const PREFIX: &'static str;
    /// The platform's name, for the answers (`Slack`, `Discord`).
    const PLATFORM: &'static str;
    /// The bot core that checks the signature and the route.
    fn core(&self) -> &Core;
}

/// `POST /{PREFIX}/seecret-events`, answering as [`events::receive`] decides.
pub fn event_router<B: EventReceiver>(bot: B) -> Router {
    Router::new()
        .route(
            &format!("/{}/seecret-events", B::PREFIX),
            post(seecret_event::<B>),
        )
        .with_state(bot)
}

async fn seecret_event<B: EventReceiver>(
    State(bot): State<B>,
    Query(route): Query<EventRoute>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = WebhookHeaders::from_fn(|n| headers.get(n).and_then(|v| v.to_str().ok()));
    let secret = bot.core().webhook_secret();
    let reply = events::receive(
        secret,
        B::PREFIX,
        B::PLATFORM,
        &route.notify,
        h,
        &body,
        &bot,
    )
    .await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if reply.text.is_empty() {
        status.into_response()
    } else {
        (status, reply.text).into_response()
    }
}
