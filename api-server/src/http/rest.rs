//! `/v1`: the same operations as resources, described by `/v1/openapi.json`.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use seecret_core::api::SecretInfo;
use seecret_core::api::{
    AccountInfo, CreateSecret, Deleted, ErrorBody, ListQuery, PublicStatus, RevealRequest,
    Revealed, RotatedWebhookSecret, SecretList, StatusRequest, UpdateAccount, UpdateSecret,
};
use seecret_core::model::SecretId;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    ApiError, AppState, Authed, ClientAddr, JsonBody, authenticate, limit_address,
    with_rate_headers,
};

pub fn routes(state: AppState) -> Router<AppState> {
    let owner = Router::new()
        .route("/v1/secrets", post(create).get(list))
        .route(
            "/v1/secrets/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/v1/account", get(account).patch(update_account))
        .route(
            "/v1/account/rotate-webhook-secret",
            post(rotate_webhook_secret),
        )
        .route("/v1/webhooks/{event_id}/redeliver", post(redeliver))
        .route_layer(middleware::from_fn_with_state(state, require_account));
    Router::new()
        .merge(owner)
        .route("/v1/secrets/{id}/reveal", post(reveal))
        .route("/v1/secrets/{id}/status", post(status))
}

/// Authenticates owner routes and puts the rate-limit headers on every answer, errors included.
pub async fn require_account(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let authed = match authenticate(&state, req.headers()).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let decision = authed.decision;
    req.extensions_mut().insert(authed);
    with_rate_headers(&decision, next.run(req).await)
}

fn secret_id(raw: &str) -> Result<SecretId, ApiError> {
    raw.parse()
        .map_err(|_| seecret_core::Error::NotFound.into())
}

/// Create a secret: JSON for text, or `multipart/form-data` with the metadata fields first and
/// the file last as part `file` (plaintext, sealed by the server) or `ciphertext` (a stream
/// sealed by the client, with `id`).
#[utoipa::path(post, path = "/v1/secrets", tag = "secrets", request_body = CreateSecret,
    security(("bearer" = [])),
    responses((status = 201, body = SecretInfo, description = "Created; `url` is the link to share"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`id_taken`: a secret with this id exists"),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    let info = if super::is_multipart(req.headers()) {
        super::create_from_multipart(&state, &a.account, req).await?
    } else {
        let JsonBody(body) = JsonBody::<CreateSecret>::from_request(req, &state).await?;
        state.engine.create_secret(&a.account, body).await?
    };
    Ok((StatusCode::CREATED, Json(info)))
}

/// List the account's secrets, newest first.
#[utoipa::path(get, path = "/v1/secrets", tag = "secrets", params(ListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = SecretList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    req: Request,
) -> Result<Json<SecretList>, ApiError> {
    let q = axum::extract::Query::<ListQuery>::try_from_uri(req.uri())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    Ok(Json(state.engine.list_secrets(&a.account, q.0).await?))
}

/// A secret's metadata and view log (never its content).
#[utoipa::path(get, path = "/v1/secrets/{id}", tag = "secrets", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = SecretInfo), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
) -> Result<Json<SecretInfo>, ApiError> {
    Ok(Json(
        state.engine.get_secret(&a.account, secret_id(&id)?).await?,
    ))
}

/// Change an active secret; new content answers a new `url`.
#[utoipa::path(patch, path = "/v1/secrets/{id}", tag = "secrets", params(("id" = String, Path)),
    request_body = UpdateSecret, security(("bearer" = [])),
    responses((status = 200, body = SecretInfo), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 410, body = ErrorBody, description = "the secret has ended")))]
async fn update(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateSecret>,
) -> Result<Json<SecretInfo>, ApiError> {
    Ok(Json(
        state
            .engine
            .update_secret(&a.account, secret_id(&id)?, req)
            .await?,
    ))
}

/// Delete a secret: its content is erased now.
#[utoipa::path(delete, path = "/v1/secrets/{id}", tag = "secrets", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    Ok(Json(
        state
            .engine
            .delete_secret(&a.account, secret_id(&id)?)
            .await?,
    ))
}

/// The account behind the token.
#[utoipa::path(get, path = "/v1/account", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = AccountInfo), (status = 401, body = ErrorBody)))]
async fn account(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
) -> Result<Json<AccountInfo>, ApiError> {
    Ok(Json(state.engine.account_info(&a.account).await?))
}

/// Set or clear the account's webhook URL. The first URL creates the signing secret, returned
/// once as `webhook_secret`.
#[utoipa::path(patch, path = "/v1/account", tag = "account", request_body = UpdateAccount,
    security(("bearer" = [])),
    responses((status = 200, body = AccountInfo), (status = 400, body = ErrorBody,
        description = "invalid URL, or `webhook_url_forbidden` for private addresses")))]
async fn update_account(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    JsonBody(req): JsonBody<UpdateAccount>,
) -> Result<Json<AccountInfo>, ApiError> {
    Ok(Json(state.engine.update_account(&a.account, req).await?))
}

/// Replace the webhook signing secret; the previous one keeps signing during the overlap.
#[utoipa::path(post, path = "/v1/account/rotate-webhook-secret", tag = "account",
    security(("bearer" = [])), responses((status = 200, body = RotatedWebhookSecret),
        (status = 401, body = ErrorBody)))]
async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
) -> Result<Json<RotatedWebhookSecret>, ApiError> {
    Ok(Json(state.engine.rotate_webhook_secret(&a.account).await?))
}

/// Queue a webhook event again.
#[utoipa::path(post, path = "/v1/webhooks/{event_id}/redeliver", tag = "account",
    params(("event_id" = String, Path)), security(("bearer" = [])),
    responses((status = 202, description = "queued"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn redeliver(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    Path(event_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .engine
        .redeliver_webhook(&a.account, &event_id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"event_id": event_id, "state": "pending"})),
    ))
}

/// Reveal a secret, using one view. No token: the link's key is the credential. With `key` the
/// answer carries `content`; with `proof` instead, `ciphertext` for the client to decrypt.
/// Without a valid `key` or `proof` the answer is 404, as for an unknown id, and nothing is
/// recorded.
#[utoipa::path(post, path = "/v1/secrets/{id}/reveal", tag = "reveal",
    params(("id" = String, Path)), request_body = RevealRequest,
    responses((status = 200, body = Revealed, description = "text; a file answers its bytes \
        (application/octet-stream: the sealed stream, or the decrypted file when `key` was sent)"),
        (status = 403, body = ErrorBody,
        description = "passphrase required or wrong, country refused, or for a secret bound to a \
        platform user: `sign_in_required` (no valid ticket) or `not_the_recipient` (another user \
        signed in); no view used"),
        (status = 400, body = ErrorBody, description = "malformed key, proof or passphrase"),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn reveal(
    State(state): State<AppState>,
    addr: ClientAddr,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    // Counted before the body is read: an address over its limit costs no body read.
    limit_address(&state, &addr).await?;
    let JsonBody(req) = JsonBody::<RevealRequest>::from_request(req, &state).await?;
    let out = state
        .engine
        .reveal(secret_id(&id)?, req, addr.viewer())
        .await?;
    Ok(super::reveal_response(out))
}

/// What the reveal page shows before anything is used: needs the reveal `proof` (404 without a
/// valid one, as for an unknown id), and for a secret bound to a platform user that user's sign-in
/// `ticket`. Uses no view and records nothing (but a stranger's ticket, which is used up).
#[utoipa::path(post, path = "/v1/secrets/{id}/status", tag = "reveal",
    params(("id" = String, Path)), request_body = StatusRequest,
    responses((status = 200, body = PublicStatus), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "a secret bound to a platform user: \
        `sign_in_required` (no valid ticket; `bound_to` says whom it is for) or \
        `not_the_recipient`; nothing used"),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    addr: ClientAddr,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<PublicStatus>, ApiError> {
    // Counted before the body is read, as for reveals.
    limit_address(&state, &addr).await?;
    let JsonBody(req) = JsonBody::<StatusRequest>::from_request(req, &state).await?;
    Ok(Json(
        state
            .engine
            .status(secret_id(&id)?, &req, &addr.viewer())
            .await?,
    ))
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("UUID")
                        .build(),
                ),
            );
    }
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Seecret API", description = "One-time secret links: create, share, reveal once."),
    paths(create, list, get_one, update, delete, account, update_account, rotate_webhook_secret, redeliver, reveal, status,
        super::requests::create_request, super::requests::list_requests, super::requests::get_request,
        super::requests::delete_request, super::requests::public_request, super::requests::answer_request,
        super::rpc::rpc),
    modifiers(&BearerAuth),
    tags((name = "secrets", description = "Owner operations (Bearer token)"),
        (name = "reveal", description = "Recipient operations (no token)"),
        (name = "requests", description = "Requests for a secret: the asker's operations (Bearer token)"),
        (name = "rpc", description = "The product page's operation-style endpoint"))
)]
pub struct ApiDoc;
