//! Live events for the signed-in subject, as Server-Sent Events.

use crate::auth::Caller;
use crate::state::Shared;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub async fn stream(
    State(state): State<Shared>,
    caller: Caller,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.hub.subscribe(&caller.subject);
    let first =
        futures_util::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(live) => Event::default()
                .event(live.event_type.as_str())
                .data(live.json.as_str()),
            // A slow reader missed some events; say how many so it can resynchronise.
            Err(RecvError::Lagged(n)) => Event::default()
                .event("lagged")
                .data(format!("{{\"missed\":{n}}}")),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    Sse::new(futures_util::StreamExt::chain(first, rest)).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}
