//! `/channels/telegram/{channel_id}/webhook`: the updates Telegram POSTs to the
//! URL given to `setWebhook`. An update is answered 200 only once its message
//! is committed; any other answer makes Telegram deliver it again, which is
//! safe because messages are deduplicated on `<chat id>:<message id>`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use ombud_channels::telegram::{self, SECRET_HEADER};
use ombud_core::ChannelKind;
use serde_json::json;

use crate::whatsapp::{channel, read_body};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/channels/telegram/{channel_id}/webhook", post(receive))
}

async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = read_body(body)?;
    let channel = channel(&state, &id, ChannelKind::Telegram).await?;
    let cfg = channel
        .telegram()
        .ok_or_else(|| ApiError::not_found("channel"))?;
    let given = headers.get(SECRET_HEADER).and_then(|v| v.to_str().ok());
    telegram::verify_secret(cfg.secret_token.expose(), given).map_err(|reason| {
        ApiError::new(StatusCode::UNAUTHORIZED, "secret_token_invalid", reason)
            .field("X-Telegram-Bot-Api-Secret-Token", reason)
    })?;
    let update = telegram::parse_update(&body).map_err(|e| {
        let reason = format!("the body is not a Telegram update: {e}");
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_payload", reason.clone())
            .field("body", reason)
    })?;
    let outcome = state.engine.ingest(&channel, update.batch).await?;
    let mut answer = json!({
        "received": outcome.stored.len(),
        "duplicates": outcome.duplicates,
    });
    // Telegram makes the method call a webhook's response names: this one
    // stops the spinner on the button the citizen tapped.
    if let Some(id) = update.callback_query_id {
        answer["method"] = json!("answerCallbackQuery");
        answer["callback_query_id"] = json!(id);
    }
    Ok(Json(answer))
}
