//! `/v1/requests`: requests for a secret (DESIGN §7.2). The asker's operations need the token;
//! the responder's two (read the request, post the one answer) need none and are counted
//! against the client's address.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::StreamExt;
use seecret_core::api::{
    AnswerRequest, Answered, CreateRequest, ErrorBody, PublicRequest, RequestDeleted, RequestInfo,
    RequestList, RequestListQuery,
};
use seecret_core::model::SecretId;

use super::rest::require_account;
use super::{ApiError, AppState, Authed, ClientAddr, JsonBody, limit_address};

pub fn routes(state: AppState) -> Router<AppState> {
    let owner = Router::new()
        .route("/v1/requests", post(create_request).get(list_requests))
        .route("/v1/requests/{id}", get(get_request).delete(delete_request))
        .route_layer(middleware::from_fn_with_state(state, require_account));
    Router::new()
        .merge(owner)
        .route("/v1/requests/{id}/public", get(public_request))
        .route("/v1/requests/{id}/answer", post(answer_request))
}

fn request_id(raw: &str) -> Result<SecretId, ApiError> {
    raw.parse()
        .map_err(|_| seecret_core::Error::NotFound.into())
}

/// Ask someone for a secret: send the X25519 public key Q and the verifier of the reveal proof
/// derived from the private key d, which the client keeps. `request_url` is the link to send.
#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = CreateRequest,
    security(("bearer" = [])),
    responses((status = 201, body = RequestInfo, description = "Created; `request_url` is the link to send the responder"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_request(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let info = state.engine.create_request(&a.account, req).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// List the account's requests, newest first.
#[utoipa::path(get, path = "/v1/requests", tag = "requests", params(RequestListQuery),
    security(("bearer" = [])),
    responses((status = 200, body = RequestList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn list_requests(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    req: Request,
) -> Result<Json<RequestList>, ApiError> {
    let q = axum::extract::Query::<RequestListQuery>::try_from_uri(req.uri())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    Ok(Json(state.engine.list_requests(&a.account, q.0).await?))
}

/// One of the account's requests. Once `answered`, its answer is the secret with the same id.
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = RequestInfo), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_request(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
) -> Result<Json<RequestInfo>, ApiError> {
    Ok(Json(
        state
            .engine
            .get_request(&a.account, request_id(&id)?)
            .await?,
    ))
}

/// Delete a request: later answers are refused (410 `request_deleted`).
#[utoipa::path(delete, path = "/v1/requests/{id}", tag = "requests", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = RequestDeleted), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_request(
    State(state): State<AppState>,
    Extension(a): Extension<Authed>,
    Path(id): Path<String>,
) -> Result<Json<RequestDeleted>, ApiError> {
    Ok(Json(
        state
            .engine
            .delete_request(&a.account, request_id(&id)?)
            .await?,
    ))
}

/// What the responder page shows (no token): the note, the public key Q (the page checks it
/// equals the one in its link), the status, the expiry and whether a file may be sent.
#[utoipa::path(get, path = "/v1/requests/{id}/public", tag = "reveal",
    params(("id" = String, Path)),
    responses((status = 200, body = PublicRequest), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn public_request(
    State(state): State<AppState>,
    addr: ClientAddr,
    Path(id): Path<String>,
) -> Result<Json<PublicRequest>, ApiError> {
    limit_address(&state, &addr).await?;
    Ok(Json(state.engine.public_request(request_id(&id)?).await?))
}

/// Query of a file answer: the body is the sealed file stream itself.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAnswerQuery {
    /// The responder's ephemeral X25519 public key E, base64url (32 bytes).
    ephemeral_public_key: String,
    /// The file's plaintext size in bytes, for the asker's listings.
    size: Option<u64>,
}

/// Answer a request (no token), once. JSON: a v1 envelope sealed under
/// `K = HKDF-SHA256(X25519(e, Q), salt = request id, info = "seecret/v1/request")` for the
/// request's id, with the ephemeral public key E. A file, only when the request allows files
/// (else 403 `files_not_allowed`): send the file stream sealed under K as the body with
/// `Content-Type: application/octet-stream`, and E and the size in the query. The answer becomes
/// the asker's secret with the request's id.
#[utoipa::path(post, path = "/v1/requests/{id}/answer", tag = "reveal",
    params(("id" = String, Path)), request_body = AnswerRequest,
    responses((status = 201, body = Answered, description = "Stored; the asker can now reveal it"),
        (status = 400, body = ErrorBody, description = "malformed ciphertext or key, or a file for a text-only request"),
        (status = 403, body = ErrorBody, description = "`files_not_allowed`: a file for a request that accepts text only"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`already_answered`: only the first answer is kept"),
        (status = 410, body = ErrorBody, description = "`request_expired` or `request_deleted`"),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn answer_request(
    State(state): State<AppState>,
    addr: ClientAddr,
    Path(id): Path<String>,
    req: Request,
) -> Result<impl IntoResponse, ApiError> {
    // Counted before the body is read, as for reveals.
    limit_address(&state, &addr).await?;
    let id = request_id(&id)?;
    let is_json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let out = if is_json {
        let JsonBody(body) = JsonBody::<AnswerRequest>::from_request(req, &state).await?;
        state.engine.answer_request(id, body).await?
    } else {
        let q = axum::extract::Query::<FileAnswerQuery>::try_from_uri(req.uri()).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
        })?;
        // Only an open request that accepts files buys an upload's long deadline.
        let public = state.engine.public_request(id).await?;
        if public.allow_files
            && public.status == seecret_core::model::RequestStatus::Open
            && let Some(deadline) = req.extensions().get::<super::Deadline>()
        {
            deadline.extend_for_upload();
        }
        let stream = req
            .into_body()
            .into_data_stream()
            .map(|r| r.map_err(|e| e.to_string()));
        state
            .engine
            .answer_request_file(id, &q.0.ephemeral_public_key, q.0.size, stream)
            .await?
    };
    Ok((StatusCode::CREATED, Json(out)))
}
