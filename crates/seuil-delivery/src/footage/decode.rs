//! Real H.264 decoding (OpenH264, built from its bundled source) of an MP4's video track.
//!
//! Each sample's NAL units are handed to the decoder in Annex B form. SEI units are left out:
//! signed footage carries its signatures there (ONVIF media signing), and they are not
//! picture data. Pictures come out in presentation order; each gets the next presentation
//! time of the track, so B-frames are timed right.

use super::mp4::{self, Mp4Error, VideoTrack};
use super::segments;
use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Mp4(#[from] Mp4Error),
    #[error("the H.264 decoder failed: {0}")]
    Decoder(String),
}

/// One decoded picture, in presentation order.
pub struct Picture<'a> {
    /// Seconds from the first picture.
    pub t: f64,
    /// Coded without reference to other pictures (a sync sample).
    pub keyframe: bool,
    pub luma: Luma<'a>,
}

/// The luma plane of one decoded picture.
pub struct Luma<'a> {
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    pub data: &'a [u8],
}

impl Luma<'_> {
    pub fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }
}

/// What decoding found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decoded {
    pub frames: usize,
    /// From the first picture's presentation time to the end of the last one.
    pub seconds: f64,
}

/// Decodes every picture of the MP4 file `data` and hands each to `on_picture`.
pub fn decode_mp4(
    data: &[u8],
    mut on_picture: impl FnMut(&Picture<'_>),
) -> Result<Decoded, DecodeError> {
    let track = mp4::video_track(data)?;
    let (times, keyframes) = presentation_order(&track);
    let frame = frame_seconds(&times);
    // More pictures than samples would be timed one frame after the last sample.
    let time = |i: usize| {
        times
            .get(i)
            .copied()
            .unwrap_or_else(|| times.last().copied().unwrap_or(0.0) + frame)
    };
    let mut emit = |i: usize, luma: Luma<'_>| {
        on_picture(&Picture {
            t: time(i),
            keyframe: keyframes.get(i).copied().unwrap_or(false),
            luma,
        });
    };
    let mut pictures = Pictures::new()?;
    let mut unit = Vec::new();
    for (i, sample) in track.samples.iter().enumerate() {
        unit.clear();
        if i == 0 {
            segments::append_parameter_sets(&track, &mut unit);
        }
        // Offsets and sizes were checked against the file by the demuxer.
        let start = sample.offset as usize;
        let bytes = &data[start..start + sample.size as usize];
        segments::append_annexb(bytes, track.nal_length_size, &mut unit)?;
        pictures.feed(&unit, &mut emit);
    }
    let frames = pictures.finish(&mut emit)?;
    let seconds = match frames.checked_sub(1) {
        Some(last) if !times.is_empty() => time(last) + frame,
        _ => 0.0,
    };
    Ok(Decoded { frames, seconds })
}

/// OpenH264 fed unit after unit, handing out each picture that comes out with its index.
struct Pictures {
    decoder: Decoder,
    count: usize,
}

impl Pictures {
    fn new() -> Result<Self, DecodeError> {
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| DecodeError::Decoder(e.to_string()))?;
        Ok(Pictures { decoder, count: 0 })
    }

    fn feed(&mut self, unit: &[u8], emit: &mut impl FnMut(usize, Luma<'_>)) {
        match self.decoder.decode(unit) {
            Ok(Some(picture)) => {
                emit(self.count, luma(&picture));
                self.count += 1;
            }
            Ok(None) => {}
            // A damaged picture is skipped; the ones after it still decode.
            Err(e) => tracing::debug!(picture = self.count, error = %e, "a unit did not decode"),
        }
    }

    /// Hands out the pictures the decoder still holds; returns how many came out in all.
    fn finish(mut self, emit: &mut impl FnMut(usize, Luma<'_>)) -> Result<usize, DecodeError> {
        let rest = self
            .decoder
            .flush_remaining()
            .map_err(|e| DecodeError::Decoder(e.to_string()))?;
        for picture in &rest {
            emit(self.count, luma(picture));
            self.count += 1;
        }
        Ok(self.count)
    }
}

/// Picture `i` of a stream timed at `fps`, a key frame if `idr[i]`.
fn at_rate<'a>(i: usize, fps: f64, idr: &[bool], luma: Luma<'a>) -> Picture<'a> {
    Picture {
        t: i as f64 / fps,
        keyframe: idr.get(i).copied().unwrap_or(false),
        luma,
    }
}

fn luma<'a>(picture: &'a DecodedYUV<'_>) -> Luma<'a> {
    let (width, height) = picture.dimensions();
    let (stride, _, _) = picture.strides();
    Luma {
        width,
        height,
        stride,
        data: picture.y(),
    }
}

/// The samples' presentation times in seconds from the first, and whether each is a key
/// frame, in presentation order.
fn presentation_order(track: &VideoTrack) -> (Vec<f64>, Vec<bool>) {
    let mut order: Vec<(i64, bool)> = track.samples.iter().map(|s| (s.pts, s.sync)).collect();
    order.sort_unstable_by_key(|&(pts, _)| pts);
    let first = order.first().map_or(0, |&(pts, _)| pts);
    let scale = f64::from(track.timescale);
    order
        .iter()
        .map(|&(pts, sync)| ((pts - first) as f64 / scale, sync))
        .unzip()
}

/// The typical time between pictures (the median gap), for the duration of the last one.
fn frame_seconds(times: &[f64]) -> f64 {
    let mut gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return 0.0;
    }
    gaps.sort_by(f64::total_cmp);
    gaps[gaps.len() / 2]
}

/// Decodes a raw H.264 stream (Annex B, as `seuil sim camera --save` writes), which carries
/// no timing: pictures are timed at `fps`. SEI units are skipped as for MP4.
pub fn decode_annexb(
    data: &[u8],
    fps: f64,
    mut on_picture: impl FnMut(&Picture<'_>),
) -> Result<Decoded, DecodeError> {
    if !(fps.is_finite() && fps > 0.0) {
        return Err(DecodeError::Decoder(format!(
            "a frame rate of {fps} pictures a second is not one"
        )));
    }
    // Whether each coded picture, in decode order, is a key frame (an IDR). Pictures are
    // taken to come out in that order, which holds for streams without B-frames.
    let mut idr: Vec<bool> = Vec::new();
    let mut pictures = Pictures::new()?;
    for nal in openh264::nal_units(data) {
        let header = nal.iter().position(|&b| b == 1).map_or(0, |i| i + 1);
        let Some(&kind) = nal.get(header) else {
            continue;
        };
        match kind & 0x1f {
            6 => continue,
            // A slice whose first macroblock is 0 (`ue(v)` 0 is a single 1 bit) starts a picture.
            t @ (1 | 5) if nal.get(header + 1).is_some_and(|b| b & 0x80 != 0) => idr.push(t == 5),
            _ => {}
        }
        pictures.feed(nal, &mut |i, luma| on_picture(&at_rate(i, fps, &idr, luma)));
    }
    let emitted = pictures.finish(&mut |i, luma| on_picture(&at_rate(i, fps, &idr, luma)))?;
    Ok(Decoded {
        frames: emitted,
        seconds: emitted as f64 / fps,
    })
}
