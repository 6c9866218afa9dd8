//! `/v1/openapi.json`, made exact: the derived document gets every constraint the server
//! enforces (some depend on this server's settings, such as the view and expiration limits) and
//! every status each route can answer, so a client generated from it, or a fuzzer such as
//! schemathesis, finds no request the schema allows and the server refuses.

use axum::Json;
use axum::extract::State;
use seecret_core::engine::EngineConfig;
use seecret_core::model::Provider;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;

/// `GET /v1/openapi.json`.
pub async fn serve(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    document(state.engine.config())
        .map(Json)
        .map_err(|e| seecret_core::Error::Internal(format!("openapi document: {e}")).into())
}

/// Canonical base64url of 32 bytes without padding: the key, the proof and the verifier. The
/// last character carries 2 bits of padding, which must be zero.
const B64URL_32: &str = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$";

/// A client-chosen id: a UUIDv7 in its hyphenated form.
const UUID_V7: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$";

/// A Seecret v1 envelope in canonical standard base64: its first byte is 0x01 and it holds at
/// least 30 bytes (version, 12-byte nonce, 16-byte tag, one byte of content).
const ENVELOPE: &str = "^A[Q-Za-f][A-Za-z0-9+/]{2}(?:[A-Za-z0-9+/]{4}){9,}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

/// No control characters (C0, DEL, C1) and none of the Basic Multilingual Plane's format
/// characters (bidi overrides, zero-width characters…), as `core::text::is_hidden_char` refuses
/// in labels and file names.
const NO_CONTROLS: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891\\u08e2\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]*$";

/// An http(s) URL the server parses: scheme, a host name whose last label starts with a
/// letter (an all-digit one would be read as an IPv4 address), an optional port, a path.
const WEBHOOK_URL: &str = "^(?:https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?::[0-9]{1,4})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?)?$";

/// The document, for this server's settings.
pub fn document(cfg: &EngineConfig) -> Result<Value, serde_json::Error> {
    use utoipa::OpenApi;
    let mut doc = serde_json::to_value(super::rest::ApiDoc::openapi())?;
    constrain_schemas(&mut doc, cfg);
    rpc_body(&mut doc);
    statuses(&mut doc);
    // An empty body reads as `{}`: bodiless updates, reveals and rotations work. Only a create,
    // a status call (it needs `proof`) and `/api.php` (it needs `operation`) require one.
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                let creates = ((path == "/v1/secrets" || path == "/v1/requests")
                    && method == "post")
                    || path.ends_with("/answer")
                    || path == "/api.php"
                    || path.ends_with("/status");
                if !creates && let Some(body) = op.get_mut("requestBody") {
                    body["required"] = json!(false);
                }
            }
        }
    }
    // A file secret answers its bytes.
    if let Some(content) =
        doc.pointer_mut("/paths/~1v1~1secrets~1{id}~1reveal/post/responses/200/content")
        && let Some(content) = content.as_object_mut()
    {
        content.insert(
            "application/octet-stream".into(),
            json!({"schema": {"type": "string", "format": "binary"}}),
        );
    }
    Ok(doc)
}

fn schema_mut<'a>(doc: &'a mut Value, name: &str) -> Option<&'a mut Map<String, Value>> {
    doc.pointer_mut(&format!("/components/schemas/{name}"))
        .and_then(Value::as_object_mut)
}

/// Replaces (or adds) one property of a component schema, keeping its description.
fn set_prop(doc: &mut Value, schema: &str, prop: &str, mut value: Value) {
    let Some(s) = schema_mut(doc, schema) else {
        return;
    };
    let props = s
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(props) = props else {
        return;
    };
    if let (Some(old), Some(new)) = (
        props.get(prop).and_then(|p| p.get("description")).cloned(),
        value.as_object_mut(),
    ) {
        new.entry("description").or_insert(old);
    }
    props.insert(prop.to_string(), value);
}

/// A nullable variant: every optional field accepts `null` (serde reads it as absent).
fn nullable(mut v: Value) -> Value {
    if let Some(t) = v.get("type").cloned() {
        v["type"] = match t {
            Value::Array(mut a) => {
                a.push(json!("null"));
                Value::Array(a)
            }
            one => json!([one, "null"]),
        };
    }
    v
}

fn constrain_schemas(doc: &mut Value, cfg: &EngineConfig) {
    let expiration = json!({"type": "string",
        "pattern": expiration_pattern(cfg.min_expiration.duration().as_secs(),
            cfg.max_expiration.duration().as_secs()),
        "example": "24h"});
    let views = json!({"type": "integer", "minimum": 1, "maximum": cfg.max_views});
    let countries = if cfg.geo_available {
        json!({"type": "array", "maxItems": 250,
            "items": {"type": "string", "pattern": "^(?![Xx][Xx]$)[A-Za-z]{2}$"}})
    } else {
        // Without a country source a restriction cannot be enforced, so it is refused.
        json!({"type": "array", "maxItems": 0, "items": {"type": "string"},
            "description": "Not available on this server (no country source configured)."})
    };
    let label = json!({"type": "string", "maxLength": 200, "pattern": NO_CONTROLS});
    let passphrase = json!({"type": "string", "maxLength": 1024});
    let webhook = json!({"type": "string", "maxLength": 2048, "pattern": WEBHOOK_URL});
    let content = json!({"type": "string", "minLength": 1, "maxLength": cfg.max_text_bytes});
    let b64 = json!({"type": "string", "pattern": B64URL_32, "minLength": 43, "maxLength": 43});

    set_prop(doc, "CreateSecret", "bound_to", bound_to(cfg));
    for (prop, value) in [
        ("content", content.clone()),
        ("ciphertext", json!({"type": "string", "pattern": ENVELOPE})),
        (
            "id",
            json!({"type": "string", "format": "uuid", "pattern": UUID_V7}),
        ),
        ("verifier", b64.clone()),
        ("expiration", expiration.clone()),
        ("views", views.clone()),
        ("passphrase", passphrase.clone()),
        ("label", label.clone()),
        ("allowed_countries", countries.clone()),
        ("webhook_url", webhook.clone()),
        (
            "file_name",
            json!({"type": "string", "maxLength": 255, "pattern": NO_CONTROLS}),
        ),
        (
            "size",
            json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        ),
    ] {
        set_prop(doc, "CreateSecret", prop, nullable(value));
    }
    if let Some(s) = schema_mut(doc, "CreateSecret") {
        // Exactly one way to give the content: plaintext, or a client-sealed envelope for the
        // id it was sealed for.
        s.insert(
            "oneOf".into(),
            json!([
                {"required": ["content"],
                    "properties": {"content": {"type": "string"}, "ciphertext": false,
                        "id": false, "verifier": false}},
                // The verifier of the key the client kept (DESIGN §7.1) is required with it.
                {"required": ["ciphertext", "id", "verifier"],
                    "properties": {"content": false, "ciphertext": {"type": "string"},
                        "id": {"type": "string"}, "verifier": {"type": "string"}}}
            ]),
        );
    }
    let content_update = json!({"type": "string", "minLength": 1, "maxLength": cfg.max_text_bytes});
    for (prop, value) in [
        ("content", content_update),
        ("ciphertext", json!({"type": "string", "pattern": ENVELOPE})),
        ("verifier", b64.clone()),
        ("expiration", expiration.clone()),
        ("views", views.clone()),
        ("passphrase", passphrase.clone()),
        ("label", label.clone()),
        ("allowed_countries", countries),
        ("webhook_url", webhook.clone()),
    ] {
        set_prop(doc, "UpdateSecret", prop, nullable(value));
    }
    if let Some(s) = schema_mut(doc, "UpdateSecret") {
        // New content comes as plaintext or as an envelope, not both.
        s.insert(
            "anyOf".into(),
            json!([
                {"properties": {"content": false, "ciphertext": false, "verifier": false}},
                {"required": ["content"], "properties": {"content": {"type": "string"},
                    "ciphertext": false, "verifier": false}},
                {"required": ["ciphertext", "verifier"],
                    "properties": {"content": false, "ciphertext": {"type": "string"},
                        "verifier": {"type": "string"}}}
            ]),
        );
    }
    for (prop, value) in [
        ("key", b64.clone()),
        ("proof", b64.clone()),
        ("passphrase", passphrase),
        ("ticket", b64.clone()),
    ] {
        set_prop(doc, "RevealRequest", prop, nullable(value));
    }
    // Requests for a secret (DESIGN §7.2).
    set_prop(doc, "CreateRequest", "public_key", b64.clone());
    set_prop(doc, "CreateRequest", "verifier", b64.clone());
    for (prop, value) in [
        (
            "note",
            json!({"type": "string", "maxLength": 500, "pattern": NO_CONTROLS}),
        ),
        ("label", label.clone()),
        ("expiration", expiration.clone()),
        ("answer_expiration", expiration.clone()),
        ("answer_views", views.clone()),
        ("webhook_url", webhook.clone()),
        ("allow_files", json!({"type": "boolean"})),
    ] {
        set_prop(doc, "CreateRequest", prop, nullable(value));
    }
    set_prop(
        doc,
        "AnswerRequest",
        "ciphertext",
        json!({"type": "string", "pattern": ENVELOPE}),
    );
    set_prop(doc, "AnswerRequest", "ephemeral_public_key", b64.clone());
    set_prop(doc, "StatusRequest", "ticket", nullable(b64.clone()));
    set_prop(doc, "StatusRequest", "proof", b64);
    set_prop(doc, "UpdateAccount", "webhook_url", nullable(webhook));
    set_prop(
        doc,
        "ListQuery",
        "limit",
        nullable(json!({"type": "integer", "minimum": 1, "maximum": 100})),
    );
    set_prop(
        doc,
        "ListQuery",
        "cursor",
        json!({"anyOf": [cursor(), {"type": "null"}]}),
    );
    // Request bodies refuse unknown fields.
    for name in [
        "CreateSecret",
        "UpdateSecret",
        "RevealRequest",
        "StatusRequest",
        "UpdateAccount",
        "Redeliver",
        "CreateRequest",
        "AnswerRequest",
    ] {
        if let Some(s) = schema_mut(doc, name) {
            s.insert("additionalProperties".into(), json!(false));
        }
    }
    // The list query's parameters carry the same constraints, and are optional query
    // parameters (the derive would call them required path parameters).
    for list in [
        "/paths/~1v1~1secrets/get/parameters",
        "/paths/~1v1~1requests/get/parameters",
    ] {
        let Some(Value::Array(params)) = doc.pointer_mut(list) else {
            continue;
        };
        for p in params.iter_mut() {
            p["in"] = json!("query");
            p["required"] = json!(false);
            if p.get("name") == Some(&json!("status")) {
                p["schema"] = json!({"$ref": "#/components/schemas/Status"});
            }
            match p.get("name").and_then(Value::as_str) {
                Some("limit") => {
                    p["schema"] = json!({"type": "integer", "minimum": 1, "maximum": 100});
                }
                Some("cursor") => p["schema"] = cursor(),
                _ => {}
            }
        }
    }
    // Ids in paths are UUIDs; anything else is an unknown id (404).
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                if let Some(Value::Array(params)) = op.get_mut("parameters") {
                    for p in params.iter_mut() {
                        if p.get("in") == Some(&json!("path"))
                            && p.get("name") == Some(&json!("id"))
                        {
                            p["schema"] = json!({"type": "string", "format": "uuid"});
                        }
                    }
                }
            }
        }
    }
}

/// A create's `bound_to`: an identity of each platform this server signs people in with (the
/// engine's `check_identity`), or null. With no sign-in configured only null is accepted: a
/// binding nobody could satisfy is refused at creation.
fn bound_to(cfg: &EngineConfig) -> Value {
    let name = json!({"type": ["string", "null"], "maxLength": 100, "pattern": NO_CONTROLS});
    let mut variants = Vec::new();
    if cfg.sign_in_providers.contains(&Provider::Slack) {
        variants.push(json!({"type": "object", "additionalProperties": false,
            "required": ["provider", "team", "user"],
            "properties": {
                "provider": {"type": "string", "enum": ["slack"]},
                "team": {"type": "string", "pattern": "^T[A-Z0-9]{2,31}$"},
                "user": {"type": "string", "pattern": "^[UW][A-Z0-9]{2,31}$"},
                "name": name}}));
    }
    if cfg.sign_in_providers.contains(&Provider::Discord) {
        variants.push(json!({"type": "object", "additionalProperties": false,
            "required": ["provider", "user"],
            "properties": {
                "provider": {"type": "string", "enum": ["discord"]},
                "team": {"type": "null"},
                "user": {"type": "string", "pattern": "^[1-9][0-9]{16,18}$"},
                "name": name}}));
    }
    variants.push(json!({"type": "null"}));
    let mut v = json!({"oneOf": variants});
    if cfg.sign_in_providers.is_empty() {
        v["description"] = json!("Not available on this server (no sign-in configured).");
    }
    v
}

/// A list cursor: a `next_cursor` the server gave, or empty for the first page.
fn cursor() -> Value {
    json!({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 0}]})
}

/// `/api.php` takes one object per operation: `operation` names it, the other fields are the
/// matching `/v1` body (plus `id` where one secret is meant).
fn rpc_body(doc: &mut Value) {
    let schemas = doc
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let id = json!({"type": "string", "format": "uuid"});
    // Bodies no `/v1` route references are not among the components.
    let fallback = |name: &str| match name {
        "Redeliver" => json!({"properties": {"event_id": {"type": "string"}},
            "required": ["event_id"]}),
        "RequestListQuery" => json!({"properties": {
            "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
            "cursor": {"anyOf": [cursor(), {"type": "null"}]}}}),
        "ListQuery" => json!({"properties": {
            "status": {"oneOf": [{"$ref": "#/components/schemas/Status"}, {"type": "null"}]},
            "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
            "cursor": {"anyOf": [cursor(), {"type": "null"}]}}}),
        _ => json!({}),
    };
    let variant = |op: &str, body: Option<&str>, with_id: bool| -> Value {
        let base = body
            .map(|b| schemas.get(b).cloned().unwrap_or_else(|| fallback(b)))
            .unwrap_or_else(|| json!({}));
        let mut props = base
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut required: Vec<Value> = base
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        props.insert("operation".into(), json!({"type": "string", "enum": [op]}));
        required.push(json!("operation"));
        if with_id {
            props.insert("id".into(), id.clone());
            required.push(json!("id"));
        }
        let mut v = json!({"type": "object", "title": op, "properties": props,
            "required": required, "additionalProperties": false});
        for k in ["oneOf", "anyOf"] {
            if let Some(extra) = base.get(k) {
                v[k] = extra.clone();
            }
        }
        v
    };
    let variants: Vec<Value> = super::rpc::operation_specs()
        .iter()
        .map(|op| variant(op.name, op.body, op.with_id))
        .collect();
    if let Some(body) =
        doc.pointer_mut("/paths/~1api.php/post/requestBody/content/application~1json")
    {
        body["schema"] = json!({"oneOf": variants});
    }
}

/// Statuses every route can answer besides its own: the in-flight cap (503), the request
/// deadline (408), rate limits (429); with a token, a missing or unknown one (401); with a
/// body, malformed JSON (400) and an oversized body (413).
fn statuses(doc: &mut Value) {
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}});
    let retry =
        json!({"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}});
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let secured = op.contains_key("security");
            let body = op.contains_key("requestBody");
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            let Some(responses) = responses else {
                continue;
            };
            let mut add = |status: &str, description: &str, headers: Option<&Value>| {
                let r = responses
                    .entry(status.to_string())
                    .or_insert_with(|| json!({"description": description}));
                if let Some(r) = r.as_object_mut() {
                    r.entry("content").or_insert_with(|| error.clone());
                    if let Some(h) = headers {
                        r.entry("headers").or_insert_with(|| h.clone());
                    }
                }
            };
            add("408", "The request took too long", None);
            add("429", "Rate limited", Some(&retry));
            add("503", "The server is busy", Some(&retry));
            if secured {
                add("401", "Missing or unknown API token", None);
            }
            if body {
                add("400", "The body is not the JSON this operation takes", None);
                add("413", "The body is too large", None);
            }
        }
    }
}

/// A regular expression for the expirations within `[min, max]` seconds, in each unit.
pub fn expiration_pattern(min: u64, max: u64) -> String {
    let mut alts = Vec::new();
    for (unit, secs) in [
        ("s", 1u64),
        ("m", 60),
        ("h", 3600),
        ("d", 86_400),
        ("w", 604_800),
    ] {
        let lo = min.div_ceil(secs).max(1);
        let hi = max / secs;
        if lo <= hi {
            alts.push(format!("(?:{}){unit}", number_range(lo, hi)));
        }
    }
    format!("^(?:{})$", alts.join("|"))
}

/// A regular expression matching the decimal numbers in `[lo, hi]` (no leading zeros).
fn number_range(lo: u64, hi: u64) -> String {
    let mut parts = Vec::new();
    let mut start = lo;
    while start <= hi {
        // The largest aligned block of 10^k numbers starting here and inside the range.
        let mut p = 1u64;
        while start.is_multiple_of(p * 10) && start + p * 10 - 1 <= hi && start > 0 {
            p *= 10;
        }
        let mut end = start + p - 1;
        while !(end + 1).is_multiple_of(p * 10) && end + p <= hi {
            end += p;
        }
        let (s, e) = (start.to_string(), end.to_string());
        let k = p.trailing_zeros_base10();
        let fixed = s.len() - k - 1;
        let (a, b) = (&s[fixed..=fixed], &e[fixed..=fixed]);
        let digit = if a == b {
            a.to_string()
        } else {
            format!("[{a}-{b}]")
        };
        let tail = match k {
            0 => String::new(),
            1 => "[0-9]".into(),
            k => format!("[0-9]{{{k}}}"),
        };
        parts.push(format!("{}{digit}{tail}", &s[..fixed]));
        start = end + 1;
    }
    parts.join("|")
}

trait Base10 {
    fn trailing_zeros_base10(self) -> usize;
}

impl Base10 for u64 {
    fn trailing_zeros_base10(self) -> usize {
        let mut n = self;
        let mut k = 0;
        while n >= 10 && n.is_multiple_of(10) {
            n /= 10;
            k += 1;
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(re: &str, n: u64) -> bool {
        // A tiny matcher is enough here: try each alternative as digit classes.
        re.split('|').any(|alt| {
            let s = n.to_string();
            let mut chars = s.chars();
            let mut rest = alt;
            while !rest.is_empty() {
                let Some(c) = chars.next() else { return false };
                if let Some(r) = rest.strip_prefix('[') {
                    let end = r.find(']').unwrap();
                    let class = &r[..end];
                    let (lo, hi) = (class.as_bytes()[0], class.as_bytes()[2]);
                    if !(lo..=hi).contains(&(c as u8)) {
                        return false;
                    }
                    rest = &r[end + 1..];
                    if let Some(r2) = rest.strip_prefix('{') {
                        let close = r2.find('}').unwrap();
                        let times: usize = r2[..close].parse().unwrap();
                        for _ in 1..times {
                            match chars.next() {
                                Some(d) if d.is_ascii_digit() => {}
                                _ => return false,
                            }
                        }
                        rest = &r2[close + 1..];
                    }
                } else {
                    if !rest.starts_with(c) {
                        return false;
                    }
                    rest = &rest[c.len_utf8()..];
                }
            }
            chars.next().is_none()
        })
    }

    #[test]
    fn number_ranges_match_exactly_their_numbers() {
        for (lo, hi) in [
            (1, 9),
            (1, 100),
            (3, 720),
            (60, 2_592_000),
            (17, 43_200),
            (1, 4),
        ] {
            let re = number_range(lo, hi);
            for n in 0..=(hi + 20).min(3_000_000) {
                if n > 5000 && n % 997 != 0 && n != hi && n != hi + 1 {
                    continue;
                }
                assert_eq!(
                    matches(&re, n),
                    (lo..=hi).contains(&n),
                    "{lo}..{hi} {n}: {re}"
                );
            }
        }
    }

    #[test]
    fn the_default_expirations_pattern() {
        let p = expiration_pattern(60, 30 * 86_400);
        assert!(p.starts_with("^(?:(?:"), "{p}");
        assert!(p.contains(")w"));
    }
}
