//! The HTTP routes of the ECS API and their handlers (`<verb>_<resource>`).
//!
//! `GET|PUT|DELETE /`, `GET /profile`, `GET|DELETE /slot`, `GET|PUT|DELETE /slot/<profile>`,
//! `GET /healthcheck` and `GET /healthcheck/slot/<profile>` (the last two without auth).

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wire::ecs::{LoadRequest, ProfileSummary, validate_profile_name};

use crate::error::ok;
use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// How long a request body may take to arrive (headers have their own timeout in the
/// accept loop; no handler waits on anything else, so GETs need no timer of their own).
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole ECS API over `state`, with auth and body limits.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(get_default).put(put_default).delete(delete_default),
        )
        .route("/profile", get(get_profile))
        .route("/slot", get(list_slots).delete(delete_slots))
        .route("/slot/", get(list_slots).delete(delete_slots))
        .route(
            "/slot/{*profile}",
            get(get_slot).put(put_slot).delete(delete_slot),
        )
        .route("/healthcheck", get(get_healthcheck))
        .route("/healthcheck/slot/{*profile}", get(get_slot_health))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_token,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every answer, refusals included: credentials are never cached, and nothing
/// is sniffed, rendered or framed by a browser that is pointed here.
async fn security_headers(mut resp: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn serve_creds(state: &AppState, creds: Option<&wire::ecs::Credentials>) -> Response {
    let now = state.now();
    match creds {
        None => ApiError::Unavailable.into_response(),
        Some(c) if !c.is_servable(now) => ApiError::Expired.into_response(),
        Some(c) => Json(c.to_served(now)).into_response(),
    }
}

async fn get_default(State(state): State<AppState>) -> Response {
    let slots = state.read();
    serve_creds(&state, slots.default.as_ref().map(|(_, c)| c))
}

/// Reads at most [`MAX_BODY_BYTES`] within [`BODY_TIMEOUT`] and parses a load request.
async fn parse_load(body: Body) -> Result<LoadRequest, ApiError> {
    let body: Bytes =
        tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY_BYTES))
            .await
            .map_err(|_| ApiError::BodyTimeout)?
            .map_err(|e| {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                if too_large {
                    ApiError::TooLarge(MAX_BODY_BYTES)
                } else {
                    ApiError::BadBody
                }
            })?;
    serde_json::from_slice(&body).map_err(|e| ApiError::BadJson(e.to_string()))
}

async fn put_default(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let (profile, creds) = parse_load(body).await?.validate(state.now())?;
    tracing::info!(profile = %profile, access_key_id = %creds.access_key_id, "loaded default credentials");
    state.write().default = Some((profile, creds));
    Ok(ok())
}

async fn delete_default(State(state): State<AppState>) -> Result<Response, ApiError> {
    match state.write().default.take() {
        Some((profile, _)) => {
            tracing::info!(profile = %profile, "unloaded default credentials");
            Ok(ok())
        }
        None => Err(ApiError::Unavailable),
    }
}

async fn get_profile(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = state.now();
    let slots = state.read();
    match &slots.default {
        Some((p, c)) if c.is_servable(now) => {
            Ok(Json(ProfileSummary::new(p, c, now)).into_response())
        }
        Some(_) => Err(ApiError::Expired),
        None => Err(ApiError::Unavailable),
    }
}

async fn list_slots(State(state): State<AppState>) -> Response {
    let now = state.now();
    let slots = state.read();
    let list: Vec<ProfileSummary> = slots
        .slots
        .iter()
        .filter(|(_, c)| c.is_servable(now))
        .map(|(p, c)| ProfileSummary::new(p, c, now))
        .collect();
    Json(list).into_response()
}

async fn delete_slots(State(state): State<AppState>) -> Response {
    let n = std::mem::take(&mut state.write().slots).len();
    tracing::info!(slots = n, "unloaded all slotted credentials");
    ok()
}

async fn get_slot(State(state): State<AppState>, Path(profile): Path<String>) -> Response {
    let slots = state.read();
    match slots.slots.get(&profile) {
        Some(c) => serve_creds(&state, Some(c)),
        None => ApiError::NoSuchSlot(profile).into_response(),
    }
}

async fn put_slot(
    State(state): State<AppState>,
    Path(profile): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    validate_profile_name(&profile)?;
    let mut req = parse_load(body).await?;
    if req.profile_name.is_empty() {
        req.profile_name.clone_from(&profile);
    } else if req.profile_name != profile {
        return Err(wire::ecs::LoadError::ProfileMismatch {
            path: profile,
            body: req.profile_name,
        }
        .into());
    }
    let (profile, creds) = req.validate(state.now())?;
    tracing::info!(profile = %profile, access_key_id = %creds.access_key_id, "loaded slotted credentials");
    state.write().slots.insert(profile, creds);
    Ok(ok())
}

async fn delete_slot(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Response, ApiError> {
    match state.write().slots.remove(&profile) {
        Some(_) => {
            tracing::info!(profile = %profile, "unloaded slotted credentials");
            Ok(ok())
        }
        None => Err(ApiError::NoSuchSlot(profile)),
    }
}

async fn get_healthcheck(State(state): State<AppState>) -> Result<Response, ApiError> {
    if state.cert_expired() {
        return Err(ApiError::CertificateExpired);
    }
    Ok(ok())
}

async fn get_slot_health(
    State(state): State<AppState>,
    Path(profile): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.now();
    match state.read().slots.get(&profile) {
        Some(c) if c.is_servable(now) => Ok(ok()),
        Some(_) => Err(ApiError::Expired),
        None => Err(ApiError::NoSuchSlot(profile)),
    }
}

async fn fallback(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().chars().take(200).collect())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
