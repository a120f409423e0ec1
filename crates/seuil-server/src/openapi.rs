//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::table`]) so it
//! covers every route by construction. Schemas are written here by hand; a unit test checks
//! that every schema a route names exists, and request schemas carry an `example` that the
//! integration tests mutate into bad input.

use crate::auth::Access;
use crate::routes::{Body, Reply, RouteSpec, table};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

pub fn document_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string_pretty(&document(&table())).unwrap_or_default())
        .clone()
}

pub fn document(routes: &[RouteSpec]) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let item = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        if let Some(obj) = item.as_object_mut() {
            obj.insert(r.method.as_str().to_lowercase(), operation(r));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Seuil API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Privacy-first retail platform. Every route lists who may call it in \
                `x-seuil-access` (public, signed-in, customer, courier, operator, device). \
                Errors are application/problem+json. Portal routes (tag `portal`) serve HTML.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": problem_responses(),
            "securitySchemes": {
                "cookie": { "type": "apiKey", "in": "cookie", "name": "seuil_session" },
                "bearer": { "type": "http", "scheme": "bearer", "description": "a token from POST /api/tokens" },
                "device": {
                    "type": "apiKey", "in": "header", "name": "Seuil-Signature",
                    "description": "Ed25519 signature, base64, over `METHOD\\npath[?query]\\ntimestamp\\nhex(sha256(body))`, \
                        with `Seuil-Device: <id>` and `Seuil-Timestamp: <unix ms>` (±5 minutes)",
                },
            },
        },
    })
}

fn operation(r: &RouteSpec) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(r.operation_id));
    op.insert("summary".into(), json!(r.summary));
    op.insert("tags".into(), json!([r.tag]));
    op.insert("x-seuil-access".into(), json!(r.access.as_str()));
    let security = match r.access {
        Access::Public => json!([]),
        Access::Device => json!([{ "device": [] }]),
        _ => json!([{ "cookie": [] }, { "bearer": [] }]),
    };
    op.insert("security".into(), security);
    let mut params: Vec<Value> = r
        .path_params()
        .into_iter()
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    params.extend(r.query.iter().map(|(name, ty, desc, required)| {
        json!({ "name": name, "in": "query", "required": required, "description": desc, "schema": { "type": ty, "minimum": 0 } })
    }));
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some(body) = r.body {
        let (ctype, schema) = match body {
            Body::Json(s) => (
                "application/json",
                json!({ "$ref": format!("#/components/schemas/{s}") }),
            ),
            Body::Form(s) => (
                "application/x-www-form-urlencoded",
                json!({ "$ref": format!("#/components/schemas/{s}") }),
            ),
            Body::Binary(what) => (
                "application/octet-stream",
                json!({ "type": "string", "format": "binary", "description": what }),
            ),
        };
        op.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { ctype: { "schema": schema } } }),
        );
    }
    let mut responses = Map::new();
    let (code, ok) = match r.reply {
        Reply::Json(code, schema) => (
            code,
            json!({ "description": "success", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } }),
        ),
        Reply::Empty => (204, json!({ "description": "done" })),
        Reply::Html => (
            200,
            json!({ "description": "an HTML page", "content": { "text/html": { "schema": { "type": "string" } } } }),
        ),
        Reply::Redirect => (
            303,
            json!({ "description": "redirect to the next page", "headers": { "Location": { "schema": { "type": "string" } } } }),
        ),
        Reply::Tar => (
            200,
            json!({ "description": "a tar archive (Content-Disposition: attachment)", "content": { "application/x-tar": { "schema": { "type": "string", "format": "binary" } } } }),
        ),
        Reply::EventStream => (
            200,
            json!({ "description": "Server-Sent Events: `event: <type>`, `data: {id, type, created_at, data}`", "content": { "text/event-stream": { "schema": { "type": "string" } } } }),
        ),
        Reply::Media(ctype) => (
            200,
            json!({ "description": "media", "content": { ctype: { "schema": { "type": "string", "format": "binary" } } } }),
        ),
        Reply::Text => (
            200,
            json!({ "description": "Prometheus text format", "content": { "text/plain": { "schema": { "type": "string" } } } }),
        ),
    };
    responses.insert(code.to_string(), ok);
    let mut errors: Vec<&str> = vec!["400"];
    if r.access != Access::Public {
        errors.push("401");
    }
    if matches!(
        r.access,
        Access::Customer | Access::Courier | Access::Operator
    ) || r.method != axum::http::Method::GET
    {
        errors.push("403");
    }
    if !r.path_params().is_empty() || r.path.starts_with("/api/audit/proof") {
        errors.push("404");
    }
    if r.body.is_some() {
        errors.extend(["413", "415", "422"]);
    }
    if r.operation_id == "signIn" || r.operation_id == "portalSignIn" {
        errors.push("429");
    }
    errors.push("500");
    for e in errors {
        responses.insert(
            e.into(),
            json!({ "$ref": format!("#/components/responses/Problem{e}") }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

fn problem_responses() -> Value {
    let mut out = Map::new();
    for (code, what) in [
        ("400", "malformed request"),
        ("401", "no valid session, token or device signature"),
        (
            "403",
            "wrong role, missing consent, or a cross-site request",
        ),
        ("404", "not found (also for other people's objects)"),
        ("413", "body too large"),
        ("415", "wrong content type"),
        (
            "422",
            "a field is missing, unknown, of the wrong type or invalid",
        ),
        ("429", "too many failed attempts; see Retry-After"),
        ("500", "server fault (including integrity errors)"),
    ] {
        out.insert(
            format!("Problem{code}"),
            json!({ "description": what, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }),
        );
    }
    Value::Object(out)
}

/// What a camera hears back for a segment (built apart: the macro's recursion limit).
fn segment_receipt() -> Value {
    let flag = json!({
        "type": "object",
        "required": ["flag"],
        "properties": {
            "flag": { "type": "string", "enum": ["gap", "reordered", "duplicate", "equivocation", "chain_broken", "too_old"] },
            "missing": { "type": "integer", "description": "for a gap: segments that did not arrive" }
        }
    });
    obj(
        &["counter", "kept", "flags", "newest_end"],
        json!({
            "counter": { "type": "integer", "minimum": 0 },
            "kept": { "type": "boolean", "description": "false for a retransmission, a second version of a counter, or one too old" },
            "flags": { "type": "array", "items": flag },
            "newest_end": { "type": "integer", "description": "end of the stream's newest footage, Unix milliseconds" }
        }),
    )
}

fn obj(required: &[&str], props: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": props })
}

fn request(required: &[&str], props: Value, example: Value) -> Value {
    json!({ "type": "object", "additionalProperties": false, "required": required, "properties": props, "example": example })
}

fn array_of(schema: &str) -> Value {
    json!({ "type": "array", "items": { "$ref": format!("#/components/schemas/{schema}") } })
}

const S: &str = "string";

/// The delivery routes' schemas (apart: the macro's recursion limit).
fn delivery_schemas() -> Map<String, Value> {
    let str_ = json!({ "type": S });
    let int = json!({ "type": "integer" });
    let ms = json!({ "type": "integer", "description": "Unix time in milliseconds" });
    let bool_ = json!({ "type": "boolean" });
    let places = json!({ "type": "array", "minItems": 1, "items": { "enum": ["door", "garage", "fridge"] } });
    let out = json!({
        "HomeRequest": request(&["lock_device", "camera_device"],
            json!({ "lock_device": str_, "camera_device": str_, "relock_within_s": { "type": "integer", "minimum": 30, "maximum": 3600 } }),
            json!({ "lock_device": "dev_lock", "camera_device": "dev_camera", "relock_within_s": 300 })),
        "ApprovalForm": request(&["approved"], json!({ "approved": { "enum": ["true", "false"] } }), json!({ "approved": "true" })),
        "PinForm": request(&["pinned"], json!({ "pinned": { "enum": ["true", "false"] } }), json!({ "pinned": "true" })),
        "DisputeForm": request(&["confirm"], json!({ "confirm": { "const": "DISPUTE" } }), json!({ "confirm": "DISPUTE" })),
        "WithdrawForm": request(&["confirm"], json!({ "confirm": { "const": "WITHDRAW" } }), json!({ "confirm": "WITHDRAW" })),
        "RevokeForm": request(&["confirm"], json!({ "confirm": { "const": "REVOKE" } }), json!({ "confirm": "REVOKE" })),
        "PairForm": request(&["lock_device", "camera_device"], json!({ "lock_device": str_, "camera_device": str_ }),
            json!({ "lock_device": "dev_lock", "camera_device": "dev_camera" })),
        "AssignRequest": request(&["courier_email"], json!({ "courier_email": { "type": S, "format": "email" } }),
            json!({ "courier_email": "cole@example.com" })),
        "PinRequest": request(&["pinned"], json!({ "pinned": bool_ }), json!({ "pinned": true })),
        "ApprovalRequest": request(&["approved"], json!({ "approved": bool_ }), json!({ "approved": true })),
        "DeliveryRequest": request(&["customer_email", "order", "window_start", "window_end", "places"],
            json!({ "customer_email": { "type": S, "format": "email" }, "courier_email": { "type": S, "format": "email" },
                    "order": str_, "window_start": ms, "window_end": ms, "places": places }),
            json!({ "customer_email": "ada@example.com", "courier_email": "cole@example.com", "order": "2 bags of groceries",
                    "window_start": 1_800_000_000_000i64, "window_end": 1_800_003_600_000i64, "places": ["door"] })),
        "GrantRequest": request(&["courier_key"],
            json!({ "courier_key": { "type": S, "contentEncoding": "base64", "description": "the courier app's 32-byte Ed25519 key for this delivery" } }),
            json!({ "courier_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" })),
        "LockSyncRequest": request(&["events"],
            json!({ "events": { "type": "array", "maxItems": 256, "items": { "type": "object", "required": ["event", "grant_id", "at"],
                "properties": { "event": { "enum": ["unlocked", "opened", "relocked"] }, "grant_id": hex32(), "at": ms } } },
                "epoch_floor": { "type": ["integer", "null"], "minimum": 0, "maximum": 4294967295u64, "description": "the epoch floor the lock holds now: revocations up to it have reached it" } }),
            json!({ "events": [] })),
        "Home": obj(&["lock_device", "lock_id", "camera_device", "camera_id", "relock_within_s", "epoch", "standing_approval"], json!({
            "lock_device": str_, "lock_id": str_, "camera_device": str_, "camera_id": str_, "relock_within_s": int, "epoch": int,
            "standing_approval": bool_, "standing_since": { "type": ["integer", "null"] },
            "lock_epoch_floor": { "type": "integer", "description": "the epoch floor the lock last reported" },
            "revocation_pending": { "type": "boolean", "description": "a revocation has not reached the lock yet: revoked grants still open it until its next sync" },
        })),
        "Delivery": obj(&["id", "order", "window", "places", "approval", "visit", "alarms", "tamper", "clip"], json!({
            "id": str_, "order": str_, "window": { "type": "object", "properties": { "start": ms, "end": ms } }, "places": places,
            "approval": { "enum": ["none", "this_order", "standing", "declined"] },
            "approval_in_force": { "enum": ["none", "this_order", "standing", "declined", null], "description": "this order's approval, or the home's standing one (a decline overrides it)" },
            "courier_assigned": bool_,
            "grant": { "type": ["object", "null"], "properties": {
                "issued_at": ms, "not_after": ms, "lock_accepts_until": ms, "revoked_at": { "type": ["integer", "null"] },
                "state": { "enum": ["live", "used", "revocation_pending", "revoked", "expired"], "description": "revocation_pending: revoked, but the lock has not synced since, so the grant still opens it" } } },
            "visit": { "type": "object", "description": "step (scheduled, arrived, unlocked, inside, relocked, done, aborted) and its times" },
            "alarms": { "type": "array", "items": { "type": "object", "description": "`alarm`: camera_silent, lock_silent, not_relocked, unlock_outside_visit or tampering; `at`" } },
            "tamper": { "type": "array", "items": { "type": "object", "properties": { "kind": str_, "start_s": { "type": "number" }, "end_s": { "type": "number" } } } },
            "clip": { "type": "object" },
        })),
        "DeliveryList": obj(&["deliveries"], json!({ "deliveries": array_of("Delivery") })),
        "DeliveryCreated": obj(&["id", "step"], json!({ "id": str_, "step": str_ })),
        "CourierDelivery": obj(&["id", "order", "window", "places", "step", "grant_issued"], json!({
            "id": str_, "order": str_, "window": { "type": "object" }, "places": places, "step": str_, "grant_issued": bool_,
        })),
        "CourierDeliveryList": obj(&["deliveries"], json!({ "deliveries": array_of("CourierDelivery") })),
        "GrantReply": obj(&["grant", "grant_id", "lock_id", "not_after"], json!({
            "grant": { "type": S, "contentEncoding": "base64", "description": "seuil-proto `Grant`, at most 200 bytes" },
            "grant_id": str_, "lock_id": str_, "not_after": ms,
        })),
        "LiveView": obj(&["live", "label"], json!({
            "camera_device": str_, "live": bool_, "label": { "type": S, "description": "LIVE, or STALE since hh:mm:ss (UTC)" },
            "newest_end": ms, "age_ms": int, "stale_since": { "type": ["integer", "null"] },
        })),
    });
    match out {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn hex32() -> Value {
    json!({ "type": S, "pattern": "^[0-9a-f]{32}$" })
}

fn schemas() -> Value {
    let mut all = match core_schemas() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    all.extend(delivery_schemas());
    Value::Object(all)
}

fn core_schemas() -> Value {
    let str_ = json!({ "type": S });
    let int = json!({ "type": "integer" });
    let ms = json!({ "type": "integer", "description": "Unix time in milliseconds" });
    let hex = json!({ "type": S, "pattern": "^[0-9a-f]*$" });
    json!({
        "Problem": obj(&["type", "title", "status", "detail"], json!({
            "type": str_, "title": str_, "status": int, "detail": str_,
        })),
        // ---- requests ----
        "SignUpRequest": request(&["email", "password", "display_name"],
            json!({ "email": { "type": S, "format": "email" }, "password": { "type": S, "minLength": 8 }, "display_name": str_ }),
            json!({ "email": "ada@example.com", "password": "correct horse battery", "display_name": "Ada" })),
        "SignInRequest": request(&["email", "password"],
            json!({ "email": { "type": S, "format": "email" }, "password": str_ }),
            json!({ "email": "ada@example.com", "password": "correct horse battery" })),
        "EraseRequest": request(&["confirm", "password"], json!({ "confirm": { "const": "DELETE" }, "password": str_ }),
            json!({ "confirm": "DELETE", "password": "correct horse battery" })),
        "TokenRequest": request(&["password"], json!({ "password": str_ }), json!({ "password": "correct horse battery" })),
        "PasswordChange": request(&["current_password", "new_password"],
            json!({ "current_password": str_, "new_password": { "type": S, "minLength": 8, "maxLength": 1024, "description": "not one of the 10,000 most common passwords" } }),
            json!({ "current_password": "correct horse battery", "new_password": "a different horse battery" })),
        "PasswordForm": request(&["current_password", "new_password"], json!({ "current_password": str_, "new_password": str_ }),
            json!({ "current_password": "correct horse battery", "new_password": "a different horse battery" })),
        "ConsentDecision": request(&["granted"], json!({ "granted": { "type": "boolean" } }), json!({ "granted": true })),
        "WebhookRequest": request(&["url"], json!({ "url": { "type": S, "format": "uri" } }), json!({ "url": "https://hooks.example.com/seuil" })),
        "DeviceRequest": request(&["name", "type", "public_key"],
            json!({ "name": str_, "type": { "enum": ["lock", "camera", "scanner"] }, "public_key": { "type": S, "contentEncoding": "base64", "description": "32-byte Ed25519 public key" } }),
            json!({ "name": "Front door", "type": "lock", "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=" })),
        "SignUpForm": request(&["email", "password", "display_name"],
            json!({ "email": str_, "password": str_, "display_name": str_ }),
            json!({ "email": "ada@example.com", "password": "correct horse battery", "display_name": "Ada" })),
        "SignInForm": request(&["email", "password"], json!({ "email": str_, "password": str_ }),
            json!({ "email": "ada@example.com", "password": "correct horse battery" })),
        "ConsentForm": request(&["granted"], json!({ "granted": { "enum": ["true", "false"] } }), json!({ "granted": "true" })),
        "DeleteForm": request(&["confirm"], json!({ "confirm": { "const": "DELETE" } }), json!({ "confirm": "DELETE" })),
        "AccountDeleteForm": request(&["confirm", "password"], json!({ "confirm": { "const": "DELETE" }, "password": str_ }),
            json!({ "confirm": "DELETE", "password": "correct horse battery" })),
        "SignOutForm": request(&[], json!({}), json!({})),
        // ---- responses ----
        "SessionInfo": obj(&["subject", "role", "expires_at"], json!({
            "subject": str_, "role": { "enum": ["customer", "courier", "operator"] }, "expires_at": ms,
        })),
        "SessionList": obj(&["sessions"], json!({ "sessions": { "type": "array", "items": { "type": "object",
            "required": ["id", "via", "created_at", "current"],
            "properties": { "id": hex, "via": { "enum": ["cookie", "bearer"] }, "created_at": ms,
                "lapses_at": { "type": ["integer", "null"], "description": "when it ends unless used" },
                "expires_at": { "type": ["integer", "null"] }, "current": { "type": "boolean" } } } } })),
        "Token": obj(&["token", "token_type", "expires_at"], json!({ "token": str_, "token_type": { "const": "Bearer" }, "expires_at": ms })),
        "Me": obj(&["subject", "role", "email", "display_name"], json!({
            "subject": str_, "role": { "enum": ["customer", "courier", "operator"] }, "email": str_, "display_name": str_,
        })),
        "ErasureCertificate": obj(&["subject", "shredded_at", "checkpoint_size", "checkpoint_root", "log_public_key", "signature", "valid"], json!({
            "subject": str_, "shredded_at": ms, "checkpoint_size": int, "checkpoint_root": hex,
            "log_public_key": hex, "signature": hex, "valid": { "type": "boolean" },
        })),
        "Consent": obj(&["purpose", "description", "basis", "granted"], json!({
            "purpose": str_, "description": str_, "basis": str_, "granted": { "type": "boolean" },
            "decided_at": { "type": ["integer", "null"] }, "notice_version": { "type": ["string", "null"] },
            "current_notice_version": str_,
        })),
        "ConsentList": obj(&["consents"], json!({ "consents": array_of("Consent") })),
        "AccessEvent": obj(&["index", "at", "leaf_hash", "sealed"], json!({
            "index": int, "at": ms,
            "actor": { "type": ["object", "null"], "properties": { "type": { "enum": ["subject", "operator", "device", "system"] }, "id": str_ } },
            "action": { "type": ["string", "null"] }, "purpose": { "type": ["string", "null"] },
            "kind": { "type": ["string", "null"] }, "id": { "type": ["string", "null"] },
            "outcome": { "enum": ["ok", "denied", "integrity_error", null] },
            "leaf_hash": hex, "sealed": hex,
        })),
        "AccessLog": obj(&["subject", "events", "older"], json!({ "subject": str_, "events": array_of("AccessEvent"), "older": { "type": ["integer", "null"], "description": "pass as `before` for the page of older events; null when there are none" } })),
        "VerifyResult": obj(&["verified", "events", "checkpoint_size", "checkpoint_root", "checkpoint_signature_valid", "failures"], json!({
            "verified": { "type": "boolean" }, "events": int, "checkpoint_size": int, "checkpoint_root": hex,
            "checkpoint_signature_valid": { "type": "boolean" }, "log_public_key": hex,
            "failures": { "type": "array", "items": str_ },
        })),
        "Checkpoint": obj(&["size", "root", "at", "signature", "log_public_key"], json!({
            "size": int, "root": hex, "at": ms, "signature": hex, "log_public_key": hex,
        })),
        "InclusionProof": obj(&["index", "size", "leaf_hash", "proof"], json!({
            "index": int, "size": int, "leaf_hash": hex, "proof": { "type": "array", "items": hex },
        })),
        "ConsistencyProof": obj(&["old", "new", "proof"], json!({
            "old": int, "new": int, "proof": { "type": "array", "items": hex },
        })),
        "AuditVerifyReport": obj(&["leaves", "checkpoints_checked", "root"], json!({
            "leaves": int, "checkpoints_checked": int, "root": hex,
        })),
        "WebhookCreated": obj(&["id", "url", "secret", "created_at"], json!({
            "id": str_, "url": str_, "created_at": ms,
            "secret": { "type": S, "description": "shown once: HMAC key for Seuil-Signature" },
        })),
        "Webhook": obj(&["id", "url", "created_at"], json!({ "id": str_, "url": str_, "created_at": ms })),
        "WebhookList": obj(&["webhooks"], json!({ "webhooks": array_of("Webhook") })),
        "Device": obj(&["id", "name", "type", "public_key", "created_at"], json!({
            "id": str_, "name": str_, "type": { "enum": ["lock", "camera", "scanner"] }, "public_key": str_, "created_at": ms,
        })),
        "DeviceList": obj(&["devices"], json!({ "devices": array_of("Device") })),
        "Heartbeat": obj(&["device", "owner_notified"], json!({ "device": str_, "owner_notified": { "type": "boolean" } })),
        "SegmentReceipt": segment_receipt(),
        "LockSyncReply": obj(&["sync", "acknowledged", "issuer_key_id", "issuer_public_key", "camera_public_key", "lock_id"], json!({
            "sync": { "type": S, "contentEncoding": "base64", "description": "seuil-proto `LockSync`: signed time and epoch floor" },
            "acknowledged": int, "issuer_key_id": hex, "issuer_public_key": str_, "camera_public_key": str_, "lock_id": hex,
        })),
        "Health": obj(&["status"], json!({ "status": { "const": "ok" } })),
        "OpenApi": { "type": "object", "description": "this document" },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap_or_default().to_owned());
                    }
                    refs(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_request_has_an_example() {
        let doc = document(&table());
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let ptr = r.trim_start_matches('#');
            assert!(doc.pointer(ptr).is_some(), "dangling reference {r}");
        }
        for spec in table() {
            if let Some(Body::Json(s) | Body::Form(s)) = spec.body {
                assert!(
                    doc.pointer(&format!("/components/schemas/{s}/example"))
                        .is_some(),
                    "{s} has no example"
                );
            }
            let method = spec.method.as_str().to_lowercase();
            let op = doc["paths"][spec.path][&method].clone();
            assert!(op.is_object(), "{} {} missing", spec.method, spec.path);
        }
    }
}
