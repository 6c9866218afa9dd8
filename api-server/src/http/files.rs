//! Files over HTTP: multipart uploads streamed into the engine, reveals streamed back out. The
//! server never holds a whole file: parts go through chunk by chunk.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use seecret_core::api::CreateSecret;
use seecret_core::api::SecretInfo;
use seecret_core::engine::{FileDownload, FileSource, Reveal};
use seecret_core::store::AccountRecord;
use serde_json::{Map, Value};

use super::{ApiError, AppState};

/// Metadata fields are small; a bigger one is a mistake (or an attack on memory).
const MAX_FIELD: usize = 64 * 1024;
/// Metadata fields before the file, and their total size: bounds what one upload holds in
/// memory before the file part, however many small fields it sends.
const MAX_FIELDS: usize = 32;
const MAX_METADATA: usize = 128 * 1024;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// Creates a file secret from `multipart/form-data`: metadata fields first (`expiration`,
/// `views`, `passphrase`, `label`, `webhook_url`, `allowed_countries`, `file_name`, `bound_to` as
/// a JSON object, and for client-sealed uploads `id` and `size`), then the file as part `file`
/// (plaintext, sealed here)
/// or `ciphertext` (a sealed stream). `operation` is accepted and must be `create_seecret`.
pub async fn create_from_multipart(
    state: &AppState,
    account: &AccountRecord,
    req: Request,
) -> Result<SecretInfo, ApiError> {
    // The caller has authenticated the account on an upload route: only now may the request
    // take as long as a large file needs.
    if let Some(deadline) = req.extensions().get::<super::Deadline>() {
        deadline.extend_for_upload();
    }
    let mut metadata = 0usize;
    let mut multipart = Multipart::from_request(req, state)
        .await
        .map_err(|e| bad(format!("invalid multipart body: {e}")))?;
    let mut fields = Map::new();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" | "ciphertext" => {
                let req = create_request(fields)?;
                let file_name = field.file_name().unwrap_or("file").to_string();
                let media_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let stream = (&mut field).map(|r| r.map_err(|e| e.to_string()));
                let source = if name == "file" {
                    FileSource::Plain {
                        name: file_name,
                        media_type,
                        stream,
                    }
                } else {
                    FileSource::Sealed { stream }
                };
                let info = state.engine.create_file(account, req, source).await?;
                return Ok(info);
            }
            _ => {
                if fields.len() >= MAX_FIELDS {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        format!("more than {MAX_FIELDS} metadata fields"),
                    ));
                }
                let mut value = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| bad(format!("invalid multipart body: {e}")))?
                {
                    value.extend_from_slice(&chunk);
                    metadata += chunk.len();
                    if metadata > MAX_METADATA {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            format!("metadata fields are larger than {MAX_METADATA} bytes in all"),
                        ));
                    }
                    if value.len() > MAX_FIELD {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            format!("field {name:?} is larger than {MAX_FIELD} bytes"),
                        ));
                    }
                }
                let value = String::from_utf8(value)
                    .map_err(|_| bad(format!("field {name:?} is not UTF-8")))?;
                fields.insert(name, Value::String(value));
            }
        }
    }
    Err(bad(
        "no file: send the file as a multipart part named \"file\" (or \"ciphertext\"), after the other fields",
    ))
}

fn create_request(mut fields: Map<String, Value>) -> Result<CreateSecret, ApiError> {
    if let Some(op) = fields.remove("operation")
        && op != "create_seecret"
    {
        return Err(bad(
            "file uploads only create secrets: operation must be create_seecret",
        ));
    }
    if let Some(Value::String(c)) = fields.remove("allowed_countries") {
        let list: Vec<Value> = c
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
            .collect();
        fields.insert("allowed_countries".into(), Value::Array(list));
    }
    // A form field is text: `bound_to` comes as its JSON object.
    if let Some(Value::String(b)) = fields.remove("bound_to") {
        let object: Value = serde_json::from_str(&b).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("bound_to must be a JSON object, as in a JSON create: {e}"),
            )
        })?;
        fields.insert("bound_to".into(), object);
    }
    serde_json::from_value(Value::Object(fields)).map_err(|e| ApiError::bad_json(&e))
}

/// The answer to a reveal: JSON for text, a byte stream for files.
pub fn reveal_response(reveal: Reveal) -> Response {
    match reveal {
        Reveal::Text(t) => Json(t).into_response(),
        Reveal::File(f) => file_response(f),
    }
}

fn file_response(f: FileDownload) -> Response {
    let id = f.id;
    // An error mid-stream aborts the connection, so a damaged file is never taken for a
    // complete one (Content-Length does not match).
    let body = Body::from_stream(f.stream.map(move |r| {
        r.map_err(|e| {
            tracing::warn!(%id, error = %e, "file download aborted");
            std::io::Error::other(e.code())
        })
    }));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(f.len));
    h.insert("x-seecret-kind", HeaderValue::from_static("file"));
    h.insert(
        "x-seecret-views-remaining",
        HeaderValue::from(f.views_remaining),
    );
    match &f.meta {
        None => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
        }
        Some(meta) => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&meta.media_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            );
            let encoded: String =
                url::form_urlencoded::byte_serialize(meta.name.as_bytes()).collect();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename*=UTF-8''{}",
                encoded.replace('+', "%20")
            )) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
        }
    }
    resp
}
