//! `POST /api.php` (and `/api`): the product page's operation-style API. One JSON object in, one
//! flat JSON object out; `operation` picks what to do.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use seecret_core::api::{
    CreateSecret, ListQuery, Redeliver, RevealRequest, UpdateAccount, UpdateSecret,
};
use seecret_core::model::SecretId;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    ApiError, AppState, ClientAddr, authenticate, limit_address, read_body, with_rate_headers,
};

/// Every operation, in the order the docs list them.
pub const OPERATIONS: &[&str] = &[
    "create_seecret",
    "update_seecret",
    "get_seecret",
    "list_seecrets",
    "delete_seecret",
    "get_account",
    "update_account",
    "rotate_webhook_secret",
    "redeliver_webhook",
    "reveal_seecret",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api.php", post(rpc))
        .route("/api", post(rpc))
}

fn take_id(map: &mut Map<String, Value>) -> Result<SecretId, ApiError> {
    match map.remove("id") {
        Some(Value::String(s)) => Ok(s
            .parse::<SecretId>()
            .map_err(|_| seecret_core::Error::NotFound)?),
        Some(_) => Err(seecret_core::Error::invalid("id", "id must be a string").into()),
        None => Err(seecret_core::Error::invalid("id", "id is required").into()),
    }
}

fn fields<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(map)).map_err(|e| ApiError::bad_json(&e))
}

/// The product page's endpoint: a JSON object whose `operation` is one of create_seecret,
/// update_seecret, get_seecret, list_seecrets, delete_seecret, get_account (Bearer token) or
/// reveal_seecret (no token). The other fields are those of the matching `/v1` operation, plus
/// `id` where one secret is meant. Answers are the same flat objects as `/v1`.
#[utoipa::path(post, path = "/api.php", tag = "rpc",
    security((), ("bearer" = [])),
    request_body(content = Object, description = "`{\"operation\": \"create_seecret\", \"content\": \"…\", \"expiration\": \"24h\", \"views\": 1}`"),
    responses((status = 200, description = "The operation's answer, a flat JSON object"),
        (status = 400, body = seecret_core::api::ErrorBody, description = "bad input or unknown operation"),
        (status = 401, body = seecret_core::api::ErrorBody, description = "owner operations: missing or unknown token"),
        (status = 403, body = seecret_core::api::ErrorBody, description = "passphrase required or wrong, or geo-blocked"),
        (status = 404, body = seecret_core::api::ErrorBody, description = "unknown id"),
        (status = 409, body = seecret_core::api::ErrorBody, description = "`id_taken`: a secret with this id exists"),
        (status = 410, body = seecret_core::api::ErrorBody, description = "the secret has ended"),
        (status = 413, body = seecret_core::api::ErrorBody, description = "body or content too large"),
        (status = 429, body = seecret_core::api::ErrorBody, description = "rate limited")))]
pub async fn rpc(State(state): State<AppState>, addr: ClientAddr, req: Request) -> Response {
    let headers = req.headers().clone();
    match dispatch(&state, addr, &headers, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(
    state: &AppState,
    addr: ClientAddr,
    headers: &HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    if super::is_multipart(headers) {
        // The product page's file upload: multipart with operation=create_seecret.
        let authed = authenticate(state, headers).await?;
        let resp = super::create_from_multipart(state, &authed.account, req)
            .await
            .map(|info| Json(info).into_response())
            .unwrap_or_else(IntoResponse::into_response);
        return Ok(with_rate_headers(&authed.decision, resp));
    }
    // Nothing is read before the caller is known: a token is checked first, and a caller
    // without one (a recipient) is counted against its address first.
    let authed = if headers.contains_key(axum::http::header::AUTHORIZATION) {
        Some(authenticate(state, headers).await?)
    } else {
        limit_address(state, &addr).await?;
        None
    };
    let body = read_body(req, state).await?;
    let mut map: Map<String, Value> = super::parse_json(&body)?;
    let op = match map.remove("operation") {
        Some(Value::String(op)) => op,
        _ => return Err(ApiError::unknown_operation(None, OPERATIONS)),
    };
    if op == "reveal_seecret" {
        // Recipients reveal without an account; the per-address limit guards it (an owner
        // revealing with a token is counted against the address too).
        if authed.is_some() {
            limit_address(state, &addr).await?;
        }
        let id = take_id(&mut map)?;
        let r: RevealRequest = fields(map)?;
        let out = state.engine.reveal(id, r, addr.viewer()).await?;
        return Ok(super::reveal_response(out));
    }
    if !OPERATIONS.contains(&op.as_str()) {
        return Err(ApiError::unknown_operation(Some(&op), OPERATIONS));
    }
    let authed = match authed {
        Some(a) => a,
        None => authenticate(state, headers).await?,
    };
    let resp = owner_operation(state, &authed.account, &op, map)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    Ok(with_rate_headers(&authed.decision, resp))
}

async fn owner_operation(
    state: &AppState,
    account: &seecret_core::store::AccountRecord,
    op: &str,
    mut map: Map<String, Value>,
) -> Result<Response, ApiError> {
    let engine = &state.engine;
    Ok(match op {
        "create_seecret" => Json(
            engine
                .create_secret(account, fields::<CreateSecret>(map)?)
                .await?,
        )
        .into_response(),
        "update_seecret" => {
            let id = take_id(&mut map)?;
            Json(
                engine
                    .update_secret(account, id, fields::<UpdateSecret>(map)?)
                    .await?,
            )
            .into_response()
        }
        "get_seecret" => {
            let id = take_id(&mut map)?;
            fields::<Empty>(map)?;
            Json(engine.get_secret(account, id).await?).into_response()
        }
        "list_seecrets" => Json(
            engine
                .list_secrets(account, fields::<ListQuery>(map)?)
                .await?,
        )
        .into_response(),
        "delete_seecret" => {
            let id = take_id(&mut map)?;
            fields::<Empty>(map)?;
            Json(engine.delete_secret(account, id).await?).into_response()
        }
        "get_account" => {
            fields::<Empty>(map)?;
            Json(engine.account_info(account).await?).into_response()
        }
        "update_account" => Json(
            engine
                .update_account(account, fields::<UpdateAccount>(map)?)
                .await?,
        )
        .into_response(),
        "rotate_webhook_secret" => {
            fields::<Empty>(map)?;
            Json(engine.rotate_webhook_secret(account).await?).into_response()
        }
        "redeliver_webhook" => {
            let r: Redeliver = fields(map)?;
            engine.redeliver_webhook(account, &r.event_id).await?;
            Json(serde_json::json!({"event_id": r.event_id, "state": "pending"})).into_response()
        }
        _ => return Err(ApiError::unknown_operation(Some(op), OPERATIONS)),
    })
}

/// An operation that takes nothing besides `id`: unknown fields are refused, not ignored.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}
