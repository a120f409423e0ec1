//! A clip cut into segments as a camera sends them: from one key frame to the next (about a
//! second), each in Annex B form with the parameter sets first, so each decodes on its own.

use super::mp4::{self, Mp4Error};

/// One segment of a clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClipSegment {
    /// From the clip's first picture, in milliseconds.
    pub start_ms: i64,
    pub duration_ms: u32,
    /// Coded pictures in it (its samples).
    pub pictures: usize,
    /// Annex B H.264: start codes, SPS, PPS, then the segment's pictures in decode order.
    pub h264: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub width: u16,
    pub height: u16,
    pub segments: Vec<ClipSegment>,
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// NAL unit type of supplemental enhancement information (left out, as in decoding).
const NAL_SEI: u8 = 6;

/// Appends the track's parameter sets (SPS, then PPS) in Annex B form: what a decoder needs
/// before the first picture.
pub fn append_parameter_sets(track: &mp4::VideoTrack, out: &mut Vec<u8>) {
    for set in track.sps.iter().chain(&track.pps) {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(set);
    }
}

/// Appends a sample's NAL units (length-prefixed, as MP4 stores them) in Annex B form,
/// without SEI units.
pub fn append_annexb(sample: &[u8], length_size: u8, out: &mut Vec<u8>) -> Result<(), Mp4Error> {
    for nal in mp4::nal_units(sample, length_size) {
        let nal = nal?;
        if nal.first().is_some_and(|h| h & 0x1f == NAL_SEI) {
            continue;
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
    Ok(())
}

/// Cuts an MP4 clip held in memory into key-frame-to-key-frame segments.
pub fn cut(data: &[u8]) -> Result<Cut, Mp4Error> {
    let track = mp4::video_track(data)?;
    let ms = |t: i64| t * 1000 / i64::from(track.timescale);
    let first_pts = track.samples.iter().map(|s| s.pts).min().unwrap_or(0);
    let mut groups: Vec<Vec<&mp4::Sample>> = Vec::new();
    for sample in &track.samples {
        match groups.last_mut() {
            Some(group) if !sample.sync => group.push(sample),
            _ => groups.push(vec![sample]),
        }
    }
    let starts: Vec<i64> = groups
        .iter()
        .map(|g| ms(g.iter().map(|s| s.pts).min().unwrap_or(0) - first_pts))
        .collect();
    let frame_ms = track
        .samples
        .windows(2)
        .map(|w| ms((w[1].pts - w[0].pts).abs()))
        .filter(|&d| d > 0)
        .min()
        .unwrap_or(40);
    let mut segments = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let mut h264 = Vec::new();
        append_parameter_sets(&track, &mut h264);
        for sample in group {
            // Offsets and sizes were checked against the file by the demuxer.
            let start = sample.offset as usize;
            append_annexb(
                &data[start..start + sample.size as usize],
                track.nal_length_size,
                &mut h264,
            )?;
        }
        let end = starts
            .get(i + 1)
            .copied()
            .unwrap_or(starts[i] + frame_ms * group.len() as i64);
        segments.push(ClipSegment {
            start_ms: starts[i],
            duration_ms: u32::try_from((end - starts[i]).max(0)).unwrap_or(u32::MAX),
            pictures: group.len(),
            h264,
        });
    }
    Ok(Cut {
        width: track.width,
        height: track.height,
        segments,
    })
}
