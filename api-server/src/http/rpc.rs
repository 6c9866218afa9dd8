//! `POST /api.php` (and `/api`): the product page's operation-style API. One JSON object in, one
//! flat JSON object out; `operation` picks what to do.
//!
//! The operations are one tagged enum, [`Operation`]: the body is parsed once into it, and one
//! `match` runs it. The list of valid operations (for error answers and the OpenAPI document)
//! comes from the same declaration.

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use seecret_core::api::{
    CreateRequest, CreateSecret, ListQuery, Redeliver, RequestListQuery, RevealRequest,
    UpdateAccount, UpdateSecret,
};
use seecret_core::model::SecretId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{
    ApiError, AppState, ClientAddr, authenticate, limit_address, read_body, with_rate_headers,
};

/// What an operation's body holds besides `operation`, for the OpenAPI document.
#[derive(Clone, Copy, Debug)]
pub struct OperationSpec {
    /// The `operation` value.
    pub name: &'static str,
    /// The schema of the other fields (the matching `/v1` body), if it takes any.
    pub body: Option<&'static str>,
    /// Whether it names one secret by `id`.
    pub with_id: bool,
}

/// Declares the operations once: the enum the body is parsed into, and the list of names.
macro_rules! operations {
    ($($(#[$doc:meta])* $name:literal => $variant:ident($payload:ty),)*) => {
        /// One request to `/api.php`, tagged by its `operation` field. Problems in the other
        /// fields are kept in the payload and answered once the caller is known (an owner
        /// operation authenticates first, as on `/v1`).
        #[derive(Deserialize)]
        #[serde(tag = "operation")]
        enum Operation {
            $($(#[$doc])* #[serde(rename = $name)] $variant($payload),)*
        }

        /// Every operation, in the order the docs list them.
        pub const OPERATIONS: &[&str] = &[$($name),*];

        /// Every operation with the shape of its body.
        pub fn operation_specs() -> Vec<OperationSpec> {
            vec![$(OperationSpec {
                name: $name,
                body: <$payload as Payload>::body(),
                with_id: <$payload as Payload>::WITH_ID,
            }),*]
        }
    };
}

operations! {
    /// `POST /v1/secrets`.
    "create_seecret" => CreateSeecret(Fields<CreateSecret>),
    /// `PATCH /v1/secrets/{id}`.
    "update_seecret" => UpdateSeecret(Targeted<UpdateSecret>),
    /// `GET /v1/secrets/{id}`.
    "get_seecret" => GetSeecret(Targeted<Empty>),
    /// `GET /v1/secrets`.
    "list_seecrets" => ListSeecrets(Fields<ListQuery>),
    /// `DELETE /v1/secrets/{id}`.
    "delete_seecret" => DeleteSeecret(Targeted<Empty>),
    /// `GET /v1/account`.
    "get_account" => GetAccount(Fields<Empty>),
    /// `PATCH /v1/account`.
    "update_account" => UpdateAccount(Fields<UpdateAccount>),
    /// `POST /v1/account/webhook-secret`.
    "rotate_webhook_secret" => RotateWebhookSecret(Fields<Empty>),
    /// `POST /v1/webhook-events/{id}/redeliver`.
    "redeliver_webhook" => RedeliverWebhook(Fields<Redeliver>),
    /// `POST /v1/requests`.
    "create_request" => CreateReq(Fields<CreateRequest>),
    /// `GET /v1/requests/{id}`.
    "get_request" => GetReq(Targeted<Empty>),
    /// `GET /v1/requests`.
    "list_requests" => ListReqs(Fields<RequestListQuery>),
    /// `DELETE /v1/requests/{id}`.
    "delete_request" => DeleteReq(Targeted<Empty>),
    /// `POST /v1/secrets/{id}/reveal`: the one operation without a token.
    "reveal_seecret" => RevealSeecret(Targeted<RevealRequest>),
}

/// The shape of an operation's payload, for [`OperationSpec`].
trait Payload {
    const WITH_ID: bool;
    fn body() -> Option<&'static str>;
}

/// The schema name of a body type: its own name (`CreateSecret`), none for [`Empty`].
fn schema_name<T>() -> Option<&'static str> {
    let name = std::any::type_name::<T>().rsplit("::").next()?;
    (name != "Empty").then_some(name)
}

/// The fields besides `operation`, as the matching `/v1` body; an error if they are not.
struct Fields<T>(Result<T, ApiError>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Fields<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let rest = Value::deserialize(d)?;
        Ok(Self(
            serde_json::from_value(rest).map_err(|e| ApiError::bad_json(&e)),
        ))
    }
}

impl<T> Payload for Fields<T> {
    const WITH_ID: bool = false;
    fn body() -> Option<&'static str> {
        schema_name::<T>()
    }
}

/// `id` and the other fields, for an operation on one secret; `id` is checked first.
struct Targeted<T> {
    id: Result<SecretId, ApiError>,
    fields: Result<T, ApiError>,
}

impl<T> Targeted<T> {
    fn parts(self) -> Result<(SecretId, T), ApiError> {
        let id = self.id?;
        Ok((id, self.fields?))
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Targeted<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut rest = Map::deserialize(d)?;
        let id = take_id(&mut rest);
        let fields =
            serde_json::from_value(Value::Object(rest)).map_err(|e| ApiError::bad_json(&e));
        Ok(Self { id, fields })
    }
}

impl<T> Payload for Targeted<T> {
    const WITH_ID: bool = true;
    fn body() -> Option<&'static str> {
        schema_name::<T>()
    }
}

/// An operation that takes nothing besides `id`: unknown fields are refused, not ignored.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

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

/// The product page's endpoint: a JSON object whose `operation` is one of create_seecret,
/// update_seecret, get_seecret, list_seecrets, delete_seecret, get_account, create_request,
/// get_request, list_requests, delete_request (Bearer token) or reveal_seecret (no token). The other fields are those of the matching `/v1` operation, plus
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
    let map: Map<String, Value> = super::parse_json(&body)?;
    let given = map
        .get("operation")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // The payloads accept any fields (their errors wait inside), so only a missing, mistyped or
    // unknown `operation` fails here.
    let op = Operation::deserialize(Value::Object(map))
        .map_err(|_| ApiError::unknown_operation(given.as_deref(), OPERATIONS))?;
    if let Operation::RevealSeecret(target) = op {
        // Recipients reveal without an account; the per-address limit guards it (an owner
        // revealing with a token is counted against the address too).
        if authed.is_some() {
            limit_address(state, &addr).await?;
        }
        let (id, r) = target.parts()?;
        let out = state.engine.reveal(id, r, addr.viewer()).await?;
        return Ok(super::reveal_response(out));
    }
    let authed = match authed {
        Some(a) => a,
        None => authenticate(state, headers).await?,
    };
    let resp = owner_operation(state, &authed.account, op)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    Ok(with_rate_headers(&authed.decision, resp))
}

async fn owner_operation(
    state: &AppState,
    account: &seecret_core::store::AccountRecord,
    op: Operation,
) -> Result<Response, ApiError> {
    let engine = &state.engine;
    Ok(match op {
        Operation::CreateSeecret(f) => {
            Json(engine.create_secret(account, f.0?).await?).into_response()
        }
        Operation::UpdateSeecret(t) => {
            let (id, update) = t.parts()?;
            Json(engine.update_secret(account, id, update).await?).into_response()
        }
        Operation::GetSeecret(t) => {
            let (id, Empty {}) = t.parts()?;
            Json(engine.get_secret(account, id).await?).into_response()
        }
        Operation::ListSeecrets(f) => {
            Json(engine.list_secrets(account, f.0?).await?).into_response()
        }
        Operation::DeleteSeecret(t) => {
            let (id, Empty {}) = t.parts()?;
            Json(engine.delete_secret(account, id).await?).into_response()
        }
        Operation::GetAccount(f) => {
            let Empty {} = f.0?;
            Json(engine.account_info(account).await?).into_response()
        }
        Operation::UpdateAccount(f) => {
            Json(engine.update_account(account, f.0?).await?).into_response()
        }
        Operation::RotateWebhookSecret(f) => {
            let Empty {} = f.0?;
            Json(engine.rotate_webhook_secret(account).await?).into_response()
        }
        Operation::RedeliverWebhook(f) => {
            let r = f.0?;
            engine.redeliver_webhook(account, &r.event_id).await?;
            Json(serde_json::json!({"event_id": r.event_id, "state": "pending"})).into_response()
        }
        Operation::CreateReq(f) => {
            Json(engine.create_request(account, f.0?).await?).into_response()
        }
        Operation::GetReq(t) => {
            let (id, Empty {}) = t.parts()?;
            Json(engine.get_request(account, id).await?).into_response()
        }
        Operation::ListReqs(f) => Json(engine.list_requests(account, f.0?).await?).into_response(),
        Operation::DeleteReq(t) => {
            let (id, Empty {}) = t.parts()?;
            Json(engine.delete_request(account, id).await?).into_response()
        }
        Operation::RevealSeecret(_) => {
            // `dispatch` answers it before any account is needed.
            tracing::error!("reveal_seecret reached the owner operations");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal server error",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operations_and_their_bodies_come_from_the_enum() {
        let specs = operation_specs();
        assert_eq!(specs.iter().map(|s| s.name).collect::<Vec<_>>(), OPERATIONS);
        let create = &specs[0];
        assert_eq!(
            (create.name, create.body, create.with_id),
            ("create_seecret", Some("CreateSecret"), false)
        );
        let get = specs.iter().find(|s| s.name == "get_seecret").unwrap();
        assert_eq!((get.body, get.with_id), (None, true));
        let reveal = specs.last().unwrap();
        assert_eq!(
            (reveal.name, reveal.body, reveal.with_id),
            ("reveal_seecret", Some("RevealRequest"), true)
        );
    }

    #[test]
    fn field_errors_wait_in_the_payload_and_only_the_tag_fails_the_parse() {
        let parse = |v: Value| Operation::deserialize(v).is_ok();
        assert!(parse(
            serde_json::json!({"operation": "get_seecret", "id": 5, "x": 1})
        ));
        assert!(parse(
            serde_json::json!({"operation": "create_seecret", "views": "many"})
        ));
        assert!(!parse(serde_json::json!({"operation": "frobnicate"})));
        assert!(!parse(serde_json::json!({"operation": 5})));
        assert!(!parse(serde_json::json!({"content": "x"})));
        let Ok(Operation::GetSeecret(t)) =
            Operation::deserialize(serde_json::json!({"operation": "get_seecret", "x": 1}))
        else {
            panic!("not get_seecret")
        };
        // `id` is checked before the other fields.
        let err = t.parts().err().unwrap().into_response();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
}
