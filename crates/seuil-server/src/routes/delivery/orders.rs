//! Deliveries: the operator books them, the customer sees and approves them.

use super::{ApprovalRequest, customer_json, customer_view, subject};
use crate::auth::Caller;
use crate::auth::accounts::{self, Role};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiResult, Problem};
use crate::state::{AppState, Shared};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use seuil_delivery::deliveries::{self, NewDelivery, Place};
use seuil_vault::Actor;

pub async fn my_deliveries(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    let all = deliveries::for_customer(&state.vault, &caller.subject).await?;
    let home = seuil_delivery::home::load(&state.vault, &subject(&caller), &caller.subject).await?;
    let home = home.as_ref().map(|(h, _)| h);
    let now = state.vault.now();
    Ok(Json(
        json!({ "deliveries": all.iter().map(|d| customer_view(d, home, now)).collect::<Vec<_>>() }),
    ))
}

pub async fn my_delivery(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (d, _) = deliveries::load(&state.vault, &subject(&caller), &id).await?;
    Ok(Json(customer_json(&state, &caller, &d).await?))
}

pub async fn approve(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ApprovalRequest>,
) -> ApiResult<Json<Value>> {
    let d = deliveries::approve(&state.vault, &caller.subject, &id, req.approved).await?;
    super::track(&state, &d).await;
    Ok(Json(customer_json(&state, &caller, &d).await?))
}

// ---- the operator ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequest {
    pub customer_email: String,
    pub courier_email: Option<String>,
    pub order: String,
    pub window_start: i64,
    pub window_end: i64,
    pub places: Vec<Place>,
}

async fn account_with_role(
    state: &AppState,
    email: &str,
    role: Role,
    field: &str,
) -> ApiResult<String> {
    let normalized = accounts::normalize_email(email)?;
    match accounts::find_by_email(state, &normalized).await? {
        Some(found) if found.role == role => Ok(found.subject),
        _ => Err(Problem::unprocessable(format!(
            "`{field}` names no {} account",
            role.as_str()
        ))),
    }
}

pub async fn create_delivery(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(req): ApiJson<DeliveryRequest>,
) -> ApiResult<Response> {
    let customer = account_with_role(
        &state,
        &req.customer_email,
        Role::Customer,
        "customer_email",
    )
    .await?;
    let courier = match &req.courier_email {
        Some(email) => {
            Some(account_with_role(&state, email, Role::Courier, "courier_email").await?)
        }
        None => None,
    };
    let d = deliveries::create(
        &state.vault,
        &state.config.delivery,
        &Actor::Operator(caller.subject.clone()),
        NewDelivery {
            customer: customer.clone(),
            order: req.order,
            window: (req.window_start, req.window_end),
            places: req.places,
            courier,
        },
    )
    .await?;
    let data = json!({ "delivery": d.id, "order": d.order, "window": d.window });
    crate::notify::notify(&state, &customer, "delivery.scheduled", data).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": d.id, "step": d.visit.step })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub courier_email: String,
}

pub async fn assign_courier(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<AssignRequest>,
) -> ApiResult<Json<Value>> {
    let courier =
        account_with_role(&state, &req.courier_email, Role::Courier, "courier_email").await?;
    let d = deliveries::assign(&state.vault, &caller.subject, &id, &courier).await?;
    super::track(&state, &d).await;
    Ok(Json(json!({ "id": d.id, "step": d.visit.step })))
}

/// The operator calls a visit off (the courier's own abort is in [`super::courier`]).
pub async fn abort_delivery(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::Operator(caller.subject.clone());
    let d = deliveries::abort(&state.vault, &actor, &id).await?;
    super::called_off(&state, &d, "operator").await?;
    Ok(Json(json!({ "id": d.id, "step": d.visit.step })))
}
