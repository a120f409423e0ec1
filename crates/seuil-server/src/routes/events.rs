//! Live events for the signed-in subject, as Server-Sent Events.

use crate::auth::Caller;
use crate::state::Shared;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often an open stream checks that its session is still there: a sign-out on another
/// instance, a revocation or an idle timeout ends it within this.
const SESSION_CHECK: Duration = Duration::from_secs(15);

pub async fn stream(
    State(state): State<Shared>,
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let sub = state.hub.subscribe(&caller.subject, &caller.session_id);
    let first =
        futures_util::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.reset();
    let feed = (sub, check, state, headers);
    let rest =
        futures_util::stream::unfold(feed, |(mut sub, mut check, state, headers)| async move {
            let event = loop {
                tokio::select! {
                    got = sub.events.recv() => break match got {
                        Ok(live) => Event::default()
                            .event(live.event_type.as_str())
                            .data(live.json.as_str()),
                        // A slow reader missed some events; say how many so it can resynchronise.
                        Err(RecvError::Lagged(n)) => Event::default()
                            .event("lagged")
                            .data(format!("{{\"missed\":{n}}}")),
                        Err(RecvError::Closed) => return None,
                    },
                    // Signed out or revoked here (a dropped sender means the same).
                    _ = sub.ended.changed() => return None,
                    _ = check.tick() => {
                        match crate::auth::sessions::resolve(&state, &headers).await {
                            Ok(Some(_)) => continue,
                            _ => return None,
                        }
                    }
                }
            };
            Some((Ok(event), (sub, check, state, headers)))
        });
    Sse::new(futures_util::StreamExt::chain(first, rest)).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}
