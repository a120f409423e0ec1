//! Footage analysis on real camera footage (`../shared/data/video`), with attacks injected
//! into the decoded pictures: the clean clip gives no events, and each attack is found
//! where it was made.

mod common;

use common::video;
use seuil_delivery::footage::{Analyzer, Event, Kind, Luma, Picture, Report, decode};

const CLIP: &str = "one-by-one-person-detection.mp4";

/// Analyses `data`, letting `attack` replace any picture (its time, its luma) by another.
fn analyze_with(data: &[u8], mut attack: impl FnMut(f64, &Luma<'_>) -> Option<Vec<u8>>) -> Report {
    let mut analyzer = Analyzer::default();
    let decoded = decode::decode_mp4(data, |p| match attack(p.t, &p.luma) {
        Some(replaced) => analyzer.push(&Picture {
            t: p.t,
            keyframe: p.keyframe,
            luma: Luma {
                width: p.luma.width,
                height: p.luma.height,
                stride: p.luma.width,
                data: &replaced,
            },
        }),
        None => analyzer.push(p),
    })
    .expect("the clip decodes");
    analyzer.finish(decoded.seconds)
}

/// The visible pixels of a picture, without row padding.
fn copy(luma: &Luma<'_>) -> Vec<u8> {
    (0..luma.height)
        .flat_map(|y| luma.row(y).to_vec())
        .collect()
}

fn found(report: &Report, kind: Kind) -> Vec<Event> {
    report
        .events
        .iter()
        .filter(|e| e.kind == kind)
        .copied()
        .collect()
}

/// Exactly one event, of `kind`, close to `[start, end)`, and nothing else.
fn assert_only(report: &Report, kind: Kind, start: f64, end: f64, slack: f64) {
    assert_eq!(
        report.events.len(),
        1,
        "expected one {kind:?} event near {start}-{end}, got {:?}",
        report.events
    );
    let e = found(report, kind);
    assert_eq!(e.len(), 1, "{:?}", report.events);
    let e = e[0];
    assert!(
        (e.start_s - start).abs() <= slack && (e.end_s - end).abs() <= slack,
        "{kind:?} found at {}-{}, made at {start}-{end}",
        e.start_s,
        e.end_s
    );
}

#[test]
fn the_clean_clip_gives_no_events() {
    let Some(data) = video(CLIP) else { return };
    let report = analyze_with(&data, |_, _| None);
    assert_eq!(report.frames, 1394);
    assert!((report.seconds - 139.4).abs() < 0.01, "{}", report.seconds);
    assert_eq!(report.events, vec![], "a clean clip");
}

/// The clip with the picture at `start` held until `end`.
fn frozen(data: &[u8], start: f64, end: f64) -> Report {
    let mut held: Option<Vec<u8>> = None;
    analyze_with(data, |t, luma| {
        if t < start - 1e-6 || t >= end - 1e-6 {
            return None;
        }
        Some(held.get_or_insert_with(|| copy(luma)).clone())
    })
}

#[test]
fn a_one_and_a_half_second_freeze_is_found() {
    let Some(data) = video(CLIP) else { return };
    // Frozen while the room is empty and still: only the noise floor tells.
    assert_only(&frozen(&data, 30.0, 31.5), Kind::Freeze, 30.0, 31.5, 0.15);
}

#[test]
fn a_freeze_during_movement_is_found() {
    let Some(data) = video(CLIP) else { return };
    assert_only(&frozen(&data, 18.3, 20.3), Kind::Freeze, 18.3, 20.3, 0.15);
}

#[test]
fn a_six_second_cover_is_found() {
    let Some(data) = video(CLIP) else { return };
    let (start, end) = (60.0, 66.0);
    let mut noise = 1u32;
    let report = analyze_with(&data, |t, luma| {
        if t < start - 1e-6 || t >= end - 1e-6 {
            return None;
        }
        // A hand over the lens: nearly black, with sensor noise.
        Some(
            (0..luma.width * luma.height)
                .map(|_| {
                    noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    10 + (noise >> 28) as u8
                })
                .collect(),
        )
    });
    assert_only(&report, Kind::Covered, start, end, 0.15);
}

#[test]
fn ten_seconds_of_replay_are_found() {
    let Some(data) = video(CLIP) else { return };
    // People walking in and out, 16-26 s, played again at 100-110 s over an empty room.
    let (source, start, len) = (16.0, 100.0, 10.0);
    let mut recorded: Vec<Vec<u8>> = Vec::new();
    let mut next = 0;
    let report = analyze_with(&data, |t, luma| {
        if t >= source - 1e-6 && t < source + len - 1e-6 {
            recorded.push(copy(luma));
        }
        if t >= start - 1e-6 && t < start + len - 1e-6 {
            next += 1;
            return recorded.get(next - 1).cloned();
        }
        None
    });
    let replays = found(&report, Kind::Replay);
    assert_eq!(report.events.len(), 1, "{:?}", report.events);
    assert_eq!(replays.len(), 1, "{:?}", report.events);
    let e = replays[0];
    // The replayed motion is 18-25 s of the source: 102-109 s here.
    assert!(
        e.start_s >= start - 0.15 && e.end_s <= start + len + 0.15,
        "replay found at {}-{}, made at {start}-{}",
        e.start_s,
        e.end_s,
        start + len
    );
    assert!(
        e.end_s - e.start_s >= 0.6 * len,
        "replay found at {}-{} covers too little of {start}-{}",
        e.start_s,
        e.end_s,
        start + len
    );
}

#[test]
fn a_camera_turned_away_is_found() {
    let Some(data) = video(CLIP) else { return };
    // From 80 s on, the view pans by an eighth of the width and tilts a little.
    let at = 80.0;
    let report = analyze_with(&data, |t, luma| {
        if t < at - 1e-6 {
            return None;
        }
        let (dx, dy) = (luma.width / 8, luma.height / 16);
        Some(
            (0..luma.height)
                .flat_map(|y| {
                    let row = luma.row((y + dy).min(luma.height - 1));
                    (0..luma.width).map(move |x| row[(x + dx).min(luma.width - 1)])
                })
                .collect(),
        )
    });
    let moved = found(&report, Kind::Moved);
    assert_eq!(moved.len(), 1, "{:?}", report.events);
    assert!(
        moved[0].start_s <= at + 0.15 && moved[0].end_s >= at - 0.15,
        "moved found at {}-{}, made at {at}",
        moved[0].start_s,
        moved[0].end_s
    );
    assert_eq!(report.events.len(), 1, "{:?}", report.events);
}

#[test]
fn signed_footage_decodes_with_its_signatures_skipped() {
    let (Some(plain), Some(signed)) = (
        video("onvif_test_h264.mp4"),
        video("onvif_test_signed_h264.mp4"),
    ) else {
        return;
    };
    let a = analyze_with(&plain, |_, _| None);
    let b = analyze_with(&signed, |_, _| None);
    assert!(
        a.frames >= 250 && b.frames >= 250,
        "{} {}",
        a.frames,
        b.frames
    );
    assert_eq!(a.events, b.events, "the signing SEI units change nothing");
}
