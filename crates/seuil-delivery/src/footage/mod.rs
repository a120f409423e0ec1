//! Footage analysis: decode a camera's H.264 and find where it was tampered with.
//!
//! [`analyze_mp4`] decodes a clip ([`decode`]), measures each picture ([`features`]) and
//! finds freezes, covers, replays and a moved camera in the measures ([`detect`]). Analysis
//! only reads footage to protect the customer who owns it; nothing here keeps, learns from or
//! sends what it sees.

pub mod decode;
pub mod detect;
pub mod features;
pub mod mp4;
pub mod segments;
pub mod still;
pub mod synthetic;

pub use decode::{DecodeError, Luma, Picture};
pub use detect::{Event, Kind};

/// What a clip's analysis found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Report {
    pub events: Vec<Event>,
    pub frames: usize,
    pub seconds: f64,
}

/// Collects measures picture by picture, then finds the events in them.
#[derive(Default)]
pub struct Analyzer {
    extractor: features::Extractor,
    frames: Vec<features::Features>,
    keyframes: Vec<bool>,
}

impl Analyzer {
    pub fn push(&mut self, picture: &Picture<'_>) {
        self.frames
            .push(self.extractor.next(picture.t, &picture.luma));
        self.keyframes.push(picture.keyframe);
    }

    /// Decodes one camera segment (Annex B, starting with its parameter sets) whose pictures
    /// span `start_s..start_s + duration_s` of the footage so far, and takes them in. This is
    /// how a visit is watched as it happens.
    pub fn push_segment(
        &mut self,
        h264: &[u8],
        start_s: f64,
        duration_s: f64,
    ) -> Result<(), DecodeError> {
        let pictures = count_pictures(h264).max(1);
        let fps = pictures as f64 / duration_s.max(0.001);
        decode::decode_annexb(h264, fps, |p| {
            self.push(&Picture {
                t: start_s + p.t,
                keyframe: p.keyframe,
                luma: Luma { ..p.luma },
            });
        })?;
        Ok(())
    }

    /// What the pictures so far show.
    pub fn events(&self) -> Vec<Event> {
        detect::detect(&self.frames, &self.keyframes)
    }

    pub fn finish(self, seconds: f64) -> Report {
        Report {
            events: detect::detect(&self.frames, &self.keyframes),
            frames: self.frames.len(),
            seconds: (seconds * 100.0).round() / 100.0,
        }
    }
}

/// Decodes and analyses a whole MP4 clip held in memory.
pub fn analyze_mp4(data: &[u8]) -> Result<Report, DecodeError> {
    let mut analyzer = Analyzer::default();
    let decoded = decode::decode_mp4(data, |p| analyzer.push(p))?;
    Ok(analyzer.finish(decoded.seconds))
}

/// Decodes and analyses a raw H.264 stream (Annex B) timed at `fps` pictures a second.
pub fn analyze_h264(data: &[u8], fps: f64) -> Result<Report, DecodeError> {
    let mut analyzer = Analyzer::default();
    let decoded = decode::decode_annexb(data, fps, |p| analyzer.push(p))?;
    Ok(analyzer.finish(decoded.seconds))
}

/// Whether `data` looks like a raw H.264 stream (it starts with a start code).
/// The coded pictures in a raw H.264 stream: slices that start at macroblock 0.
pub fn count_pictures(data: &[u8]) -> usize {
    openh264::nal_units(data)
        .filter(|nal| {
            let header = nal.iter().position(|&b| b == 1).map_or(0, |i| i + 1);
            matches!(nal.get(header).map(|k| k & 0x1f), Some(1 | 5))
                && nal.get(header + 1).is_some_and(|b| b & 0x80 != 0)
        })
        .count()
}

pub fn is_annexb(data: &[u8]) -> bool {
    data.starts_with(&[0, 0, 0, 1]) || data.starts_with(&[0, 0, 1])
}
