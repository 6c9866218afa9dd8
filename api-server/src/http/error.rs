//! The one place engine errors become HTTP answers: `{"error": {"code", "message"}}` with the
//! status of DESIGN §4.1. Server-side failures answer a generic message and log the cause.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seecret_core::Error;
use seecret_core::api::{ErrorBody, ErrorDetail};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    // Boxed: handlers return Result<_, ApiError> everywhere, and a small Err keeps them cheap.
    detail: Box<ErrorDetail>,
    retry_after: Option<u64>,
    rate_limit: Option<u32>,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: Box::new(ErrorDetail {
                code: code.into(),
                message: message.into(),
                field: None,
                valid_operations: None,
                bound_to: None,
            }),
            retry_after: None,
            rate_limit: None,
        }
    }

    /// Adds the account's limit to a 429 (`X-RateLimit-Limit`, `X-RateLimit-Remaining: 0`).
    pub fn with_rate_limit(mut self, limit: u32) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Adds `Retry-After` (seconds), e.g. to a 503 when the server is busy.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 400 for an `operation` that does not exist, listing those that do.
    pub fn unknown_operation(given: Option<&str>, valid: &[&str]) -> Self {
        let message = match given {
            Some(op) => format!(
                "unknown operation {:?}; valid operations: {}",
                op.chars().take(64).collect::<String>(),
                valid.join(", ")
            ),
            None => format!(
                "missing \"operation\"; valid operations: {}",
                valid.join(", ")
            ),
        };
        let mut e = Self::new(StatusCode::BAD_REQUEST, "unknown_operation", message);
        e.detail.valid_operations = Some(valid.iter().map(|s| s.to_string()).collect());
        e
    }

    /// 400 for a body that is not the JSON we expect. serde's message says where and what.
    pub fn bad_json(err: &serde_json::Error) -> Self {
        let code = if err.is_syntax() || err.is_eof() {
            "invalid_json"
        } else {
            "invalid_request"
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("invalid request body: {err}"),
        )
    }

    /// 429 with the seconds to wait.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("rate limit exceeded, retry in {retry_after_secs} s"),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::InvalidInput { .. } | Error::InvalidKey | Error::Rejected { .. } => {
                StatusCode::BAD_REQUEST
            }
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::PassphraseRequired
            | Error::PassphraseInvalid
            | Error::Forbidden { .. }
            | Error::SignInRequired { .. }
            | Error::NotTheRecipient { .. } => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::IdTaken | Error::AlreadyAnswered => StatusCode::CONFLICT,
            Error::RequestGone(_) => StatusCode::GONE,
            Error::Gone(_) => StatusCode::GONE,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::RateLimited { retry_after } => {
                return Self::rate_limited(retry_after.as_secs_f64().ceil().max(1.0) as u64);
            }
            Error::ContentChanged => StatusCode::CONFLICT,
            Error::Busy { retry_after } => {
                let mut busy = Self::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string());
                busy.retry_after = Some(retry_after.as_secs_f64().ceil().max(1.0) as u64);
                return busy;
            }
            Error::Storage(_) | Error::Internal(_) => {
                // The cause may name tables or files; it goes to the log, not the client.
                tracing::error!(error = %e, "request failed");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                );
            }
        };
        let mut out = Self::new(status, e.code(), e.to_string());
        match e {
            Error::InvalidInput {
                field: Some(field), ..
            } => out.detail.field = Some(field.to_string()),
            // The reveal page says whom the secret is for and offers that platform's sign-in.
            Error::SignInRequired { bound_to, .. } | Error::NotTheRecipient { bound_to } => {
                out.detail.bound_to = Some(*bound_to);
            }
            _ => {}
        }
        out
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: *self.detail,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(limit) = self.rate_limit {
            let h = resp.headers_mut();
            h.insert("x-ratelimit-limit", HeaderValue::from(limit));
            h.insert("x-ratelimit-remaining", HeaderValue::from(0));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"seecret\""),
            );
        }
        resp
    }
}
