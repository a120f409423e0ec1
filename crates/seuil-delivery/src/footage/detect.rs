//! The four kinds of tampering, found from per-picture [`Features`].
//!
//! - `covered`: 1 s or more of a dark or featureless picture (a hand, tape, a cloth).
//! - `freeze`: 1 s or more of pictures that repeat exactly. A static room is not a freeze: a
//!   live sensor's pictures keep changing a little (its noise floor, measured per clip), and
//!   a repeated picture does not change at all. Key frames are left out of this measure:
//!   an encoder re-quantizes the whole picture at each one, frozen or not.
//! - `replay`: 2 s or more of moving pictures that repeat earlier footage of the same camera
//!   in the same order. Only moving footage can be told apart from a static scene, so that is
//!   what is matched, and a replay is reported from the first moving picture it reproduces
//!   to the last; a replayed empty room is left to the signed segment counter.
//! - `moved`: the still background after some change no longer matches the one before it:
//!   its structure is unrelated, or it matches clearly better shifted (the camera turned)
//!   than in place (a person standing in the room, a door left open).

use super::features::{FINE, FINE_H, FINE_W, Features, GRID, grid_distance};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Freeze,
    Covered,
    Replay,
    Moved,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Freeze => "freeze",
            Kind::Covered => "covered",
            Kind::Replay => "replay",
            Kind::Moved => "moved",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: Kind,
    pub start_s: f64,
    pub end_s: f64,
}

/// Shortest freeze and cover reported.
const MIN_STILL_S: f64 = 1.0;
/// Shortest replay reported.
const MIN_REPLAY_S: f64 = 2.0;
/// Darker than this mean luma (0-255) is covered.
const DARK: f32 = 24.0;
/// Less structure than this (standard deviation of the grid) is covered.
const FLAT: f32 = 5.0;
/// A picture is still if it changed less than this share of the clip's noise floor...
const STILL_SHARE_OF_NOISE: f32 = 0.25;
/// ...and never below this much (mean absolute difference, luma levels): codec rounding.
const STILL_FLOOR: f32 = 0.005;
/// Grid change (luma levels) from the previous picture above which a picture is moving.
const MOVING: f32 = 0.8;
/// Grids closer than this are the same picture (re-encoding noise stays well below).
const SAME_PICTURE: f32 = 0.6;
/// Replayed footage is at least this old.
const MIN_REPLAY_LAG_S: f64 = 2.0;
/// Moving pictures a replay must reproduce, so that a coincidence cannot make one.
const MIN_REPLAY_MOVING: usize = 6;
/// A background is still for this long at least.
const SETTLED_S: f64 = 2.0;
/// Grid change below which the scene is settled.
const SETTLED_CHANGE: f32 = 0.5;
/// Backgrounds this far apart (correlation of their structure) come from different views.
const MOVED_CORRELATION: f32 = 0.6;

/// Finds every event in a clip's pictures, in presentation order. `keyframe[i]` says whether
/// picture `i` was coded without reference to others.
pub fn detect(frames: &[Features], keyframe: &[bool]) -> Vec<Event> {
    if frames.len() < 2 {
        return Vec::new();
    }
    let dt = frame_interval(frames);
    let covered: Vec<bool> = frames
        .iter()
        .map(|f| f.mean < DARK || f.spread < FLAT)
        .collect();
    let mut events = runs(frames, &covered, dt, MIN_STILL_S, Kind::Covered, 0);

    let threshold = still_threshold(frames, keyframe);
    let still: Vec<bool> = (0..frames.len())
        .map(|i| i > 0 && !covered[i] && frames[i].change <= threshold)
        .collect();
    // Key frames inside a freeze neither extend nor break it.
    let neutral: Vec<bool> = (0..frames.len())
        .map(|i| keyframe.get(i).copied().unwrap_or(false) && !covered[i])
        .collect();
    events.extend(freezes(frames, &still, &neutral, dt));

    let excluded: Vec<bool> = (0..frames.len()).map(|i| covered[i] || still[i]).collect();
    let moving = motion(frames);
    events.extend(replays(frames, &moving, &excluded, dt));
    events.extend(moves(frames, &moving, &excluded, dt));
    events.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    events
}

/// The typical time between pictures (the median gap).
fn frame_interval(frames: &[Features]) -> f64 {
    let mut gaps: Vec<f64> = frames.windows(2).map(|w| w[1].t - w[0].t).collect();
    gaps.sort_by(f64::total_cmp);
    gaps.get(gaps.len() / 2).copied().unwrap_or(0.1).max(1e-3)
}

/// How little a picture must change to count as a repeat, from this clip's noise floor (a low
/// quantile of the change between pictures that are not key frames).
fn still_threshold(frames: &[Features], keyframe: &[bool]) -> f32 {
    let mut changes: Vec<f32> = frames
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| !keyframe.get(*i).copied().unwrap_or(false))
        .map(|(_, f)| f.change)
        .filter(|c| *c > STILL_FLOOR)
        .collect();
    if changes.is_empty() {
        return STILL_FLOOR;
    }
    changes.sort_by(f32::total_cmp);
    let floor = changes[changes.len() / 4];
    (floor * STILL_SHARE_OF_NOISE).max(STILL_FLOOR)
}

/// Runs of pictures where `flag` holds, at least `min_s` long, as events. A run covers from
/// its first picture to the end of its last, widened by `lead` pictures at the start.
fn runs(
    frames: &[Features],
    flag: &[bool],
    dt: f64,
    min_s: f64,
    kind: Kind,
    lead: usize,
) -> Vec<Event> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        if !flag[i] {
            i += 1;
            continue;
        }
        let first = i;
        while i < frames.len() && flag[i] {
            i += 1;
        }
        let start = frames[first.saturating_sub(lead)].t;
        let end = frames[i - 1].t + dt;
        if end - start >= min_s - dt / 2.0 {
            out.push(Event {
                kind,
                start_s: round(start),
                end_s: round(end),
            });
        }
    }
    out
}

fn freezes(frames: &[Features], still: &[bool], neutral: &[bool], dt: f64) -> Vec<Event> {
    // A key frame between two still pictures joins them.
    let joined: Vec<bool> = (0..frames.len())
        .map(|i| {
            still[i]
                || (neutral[i]
                    && i > 0
                    && still[i - 1]
                    && still.get(i + 1).copied().unwrap_or(false))
        })
        .collect();
    // The frozen picture itself is the one before the first repeat of it.
    runs(frames, &joined, dt, MIN_STILL_S, Kind::Freeze, 1)
}

/// Grid change from the previous picture, for each picture.
fn motion(frames: &[Features]) -> Vec<f32> {
    std::iter::once(0.0)
        .chain(
            frames
                .windows(2)
                .map(|w| grid_distance(&w[0].grid, &w[1].grid)),
        )
        .collect()
}

/// `moving[i]` is [`motion`] of picture `i`.
fn replays(frames: &[Features], moving: &[f32], excluded: &[bool], dt: f64) -> Vec<Event> {
    let min_lag = (MIN_REPLAY_LAG_S / dt).round() as usize;
    // For each moving picture, the lags at which an earlier picture (and its predecessor)
    // match it.
    let mut matches: Vec<(usize, usize)> = Vec::new();
    for i in 1..frames.len() {
        if excluded[i] || moving[i] < MOVING {
            continue;
        }
        for j in 1..i.saturating_sub(min_lag) {
            if grid_distance(&frames[i].grid, &frames[j].grid) < SAME_PICTURE
                && grid_distance(&frames[i - 1].grid, &frames[j - 1].grid) < SAME_PICTURE
            {
                matches.push((i - j, i));
            }
        }
    }
    // Group by lag. Within a lag, matches form one run while the pictures between them are
    // less than the shortest replay apart, or all match at that lag too (the still moments
    // between two bursts of movement of the same replayed footage).
    matches.sort_unstable();
    let gap = (MIN_REPLAY_S / dt).ceil() as usize;
    let matches_at = |lag: usize, i: usize| {
        i >= lag && grid_distance(&frames[i].grid, &frames[i - lag].grid) < SAME_PICTURE
    };
    let mut out: Vec<Event> = Vec::new();
    let mut k = 0;
    while k < matches.len() {
        let lag = matches[k].0;
        let (first, mut last, mut count) = (matches[k].1, matches[k].1, 1);
        k += 1;
        while k < matches.len()
            && matches[k].0 == lag
            && (matches[k].1 - last <= gap || (last + 1..matches[k].1).all(|i| matches_at(lag, i)))
        {
            last = matches[k].1;
            count += 1;
            k += 1;
        }
        // The run spans the moving pictures it reproduces. Still pictures around them match
        // at this lag too, but they match any other still moment of the room as well, so
        // they cannot tell where the replay began.
        let (start, end) = (first - 1, last);
        let (start_s, end_s) = (frames[start].t, frames[end].t + dt);
        if count >= MIN_REPLAY_MOVING && end_s - start_s >= MIN_REPLAY_S - dt / 2.0 {
            let event = Event {
                kind: Kind::Replay,
                start_s: round(start_s),
                end_s: round(end_s),
            };
            // Footage replayed at one lag also matches itself at others (a scene that
            // repeats): keep the longest of overlapping runs.
            match out
                .iter_mut()
                .find(|e| e.start_s < event.end_s && event.start_s < e.end_s)
            {
                Some(e) if e.end_s - e.start_s < event.end_s - event.start_s => *e = event,
                Some(_) => {}
                None => out.push(event),
            }
        }
    }
    out
}

/// The settled stretches of a clip (at least [`SETTLED_S`] of little change), as (first,
/// last) picture indexes.
fn settled(frames: &[Features], moving: &[f32], excluded: &[bool], dt: f64) -> Vec<(usize, usize)> {
    let need = (SETTLED_S / dt).round() as usize;
    let mut out = Vec::new();
    let mut i = 1;
    while i < frames.len() {
        if excluded[i] || moving[i] >= SETTLED_CHANGE {
            i += 1;
            continue;
        }
        let first = i;
        while i < frames.len() && !excluded[i] && moving[i] < SETTLED_CHANGE {
            i += 1;
        }
        if i - first >= need {
            out.push((first, i - 1));
        }
    }
    out
}

fn mean_grid(frames: &[Features]) -> [f32; GRID] {
    let mut out = [0f32; GRID];
    for f in frames {
        for (o, g) in out.iter_mut().zip(&f.grid) {
            *o += g;
        }
    }
    let n = frames.len().max(1) as f32;
    out.iter_mut().for_each(|o| *o /= n);
    out
}

/// Pearson correlation of two grids: 1 for the same structure, near 0 for unrelated ones.
fn correlation(a: &[f32; GRID], b: &[f32; GRID]) -> f32 {
    let ma = a.iter().sum::<f32>() / GRID as f32;
    let mb = b.iter().sum::<f32>() / GRID as f32;
    let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x - ma, y - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= f32::EPSILON || bb <= f32::EPSILON {
        return 1.0;
    }
    ab / (aa * bb).sqrt()
}

/// The mean of the fine grids of `frames`, as floats.
fn mean_fine(frames: &[Features]) -> Vec<f32> {
    let mut out = vec![0f32; FINE];
    for f in frames {
        for (o, &g) in out.iter_mut().zip(&f.fine) {
            *o += f32::from(g);
        }
    }
    let n = frames.len().max(1) as f32;
    out.iter_mut().for_each(|o| *o /= n);
    out
}

/// Cells of the fine grid a view may have turned by, each way.
const MAX_SHIFT_X: isize = 6;
const MAX_SHIFT_Y: isize = 4;

/// Mean absolute difference of two fine grids with `b` shifted by `(dx, dy)` cells, over
/// their overlap, each side's own mean removed.
fn shifted_error(a: &[f32], b: &[f32], dx: isize, dy: isize) -> f32 {
    let (w, h) = (FINE_W as isize, FINE_H as isize);
    let cells = || {
        (0..h)
            .flat_map(move |y| (0..w).map(move |x| (x, y)))
            .filter(move |&(x, y)| (0..w).contains(&(x + dx)) && (0..h).contains(&(y + dy)))
    };
    let at = |g: &[f32], x: isize, y: isize| g[(y * w + x) as usize];
    let n = cells().count().max(1) as f32;
    let ma = cells().map(|(x, y)| at(a, x, y)).sum::<f32>() / n;
    let mb = cells().map(|(x, y)| at(b, x + dx, y + dy)).sum::<f32>() / n;
    cells()
        .map(|(x, y)| ((at(a, x, y) - ma) - (at(b, x + dx, y + dy) - mb)).abs())
        .sum::<f32>()
        / n
}

/// Whether the view of `after` is `before`'s seen from a camera that turned: it matches
/// clearly better shifted than in place.
fn turned(before: &[f32], after: &[f32]) -> bool {
    let in_place = shifted_error(before, after, 0, 0);
    let mut best = in_place;
    for dy in -MAX_SHIFT_Y..=MAX_SHIFT_Y {
        for dx in -MAX_SHIFT_X..=MAX_SHIFT_X {
            if (dx, dy) != (0, 0) {
                best = best.min(shifted_error(before, after, dx, dy));
            }
        }
    }
    in_place > TURNED_RATIO * best && in_place - best > TURNED_MARGIN
}

/// How much better a shifted view must match than the view in place...
const TURNED_RATIO: f32 = 1.6;
/// ...and by how many luma levels at least.
const TURNED_MARGIN: f32 = 2.0;

fn moves(frames: &[Features], moving: &[f32], excluded: &[bool], dt: f64) -> Vec<Event> {
    let stretches = settled(frames, moving, excluded, dt);
    let mut out = Vec::new();
    for pair in stretches.windows(2) {
        let ((a0, a1), (b0, b1)) = (pair[0], pair[1]);
        let (before, after) = (&frames[a0..=a1], &frames[b0..=b1]);
        let unrelated = correlation(&mean_grid(before), &mean_grid(after)) < MOVED_CORRELATION;
        if unrelated || turned(&mean_fine(before), &mean_fine(after)) {
            out.push(Event {
                kind: Kind::Moved,
                start_s: round(frames[a1].t + dt),
                end_s: round(frames[b0].t),
            });
        }
    }
    out
}

/// Times to the millisecond: finer is noise.
fn round(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}
