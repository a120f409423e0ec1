//! Real H.264 decoding (OpenH264, built from its bundled source) of an MP4's video track.
//!
//! Each sample's NAL units are handed to the decoder in Annex B form. SEI units are left out:
//! signed footage carries its signatures there (ONVIF media signing), and they are not
//! picture data. Pictures come out in presentation order; each gets the next presentation
//! time of the track, so B-frames are timed right.

use super::mp4::{self, Mp4Error, VideoTrack};
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

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Decodes every picture of the MP4 file `data` and hands each to `on_picture`.
pub fn decode_mp4(
    data: &[u8],
    mut on_picture: impl FnMut(&Picture<'_>),
) -> Result<Decoded, DecodeError> {
    let track = mp4::video_track(data)?;
    let (times, keyframes) = presentation_order(&track);
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| DecodeError::Decoder(e.to_string()))?;
    let mut emitted = 0usize;
    let mut emit = |picture: &DecodedYUV<'_>, emitted: &mut usize| {
        let (width, height) = picture.dimensions();
        let (stride, _, _) = picture.strides();
        let t = times.get(*emitted).copied().unwrap_or_else(|| {
            // More pictures than samples: time them one frame after the last.
            times.last().copied().unwrap_or(0.0) + frame_seconds(&times)
        });
        on_picture(&Picture {
            t,
            keyframe: keyframes.get(*emitted).copied().unwrap_or(false),
            luma: Luma {
                width,
                height,
                stride,
                data: picture.y(),
            },
        });
        *emitted += 1;
    };

    let mut unit = Vec::new();
    for (i, sample) in track.samples.iter().enumerate() {
        unit.clear();
        if i == 0 {
            for set in track.sps.iter().chain(&track.pps) {
                unit.extend_from_slice(&START_CODE);
                unit.extend_from_slice(set);
            }
        }
        // Offsets and sizes were checked against the file by the demuxer.
        let start = sample.offset as usize;
        let bytes = &data[start..start + sample.size as usize];
        super::segments::append_annexb(bytes, track.nal_length_size, &mut unit)?;
        match decoder.decode(&unit) {
            Ok(Some(picture)) => emit(&picture, &mut emitted),
            Ok(None) => {}
            // A damaged picture is skipped; the ones after it still decode.
            Err(e) => tracing::debug!(sample = i, error = %e, "a picture did not decode"),
        }
    }
    let rest = decoder
        .flush_remaining()
        .map_err(|e| DecodeError::Decoder(e.to_string()))?;
    for picture in &rest {
        emit(picture, &mut emitted);
    }
    let seconds = match (times.first(), times.get(emitted.saturating_sub(1))) {
        (Some(first), Some(last)) if emitted > 0 => last - first + frame_seconds(&times),
        _ => 0.0,
    };
    Ok(Decoded {
        frames: emitted,
        seconds,
    })
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
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| DecodeError::Decoder(e.to_string()))?;
    // Whether each coded picture, in decode order, is a key frame (an IDR). Pictures are
    // taken to come out in that order, which holds for streams without B-frames.
    let mut idr: Vec<bool> = Vec::new();
    let mut emitted = 0usize;
    let mut emit = |picture: &DecodedYUV<'_>, idr: &[bool], emitted: &mut usize| {
        let (width, height) = picture.dimensions();
        let (stride, _, _) = picture.strides();
        on_picture(&Picture {
            t: *emitted as f64 / fps,
            keyframe: idr.get(*emitted).copied().unwrap_or(false),
            luma: Luma {
                width,
                height,
                stride,
                data: picture.y(),
            },
        });
        *emitted += 1;
    };
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
        match decoder.decode(nal) {
            Ok(Some(picture)) => emit(&picture, &idr, &mut emitted),
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "a NAL unit did not decode"),
        }
    }
    let rest = decoder
        .flush_remaining()
        .map_err(|e| DecodeError::Decoder(e.to_string()))?;
    for picture in &rest {
        emit(picture, &idr, &mut emitted);
    }
    Ok(Decoded {
        frames: emitted,
        seconds: emitted as f64 / fps,
    })
}
