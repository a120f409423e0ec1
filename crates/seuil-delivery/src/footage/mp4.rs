//! The H.264 video track of an MP4 (ISO BMFF) file: its parameter sets and its samples.
//!
//! Only what footage analysis needs is read: the first `avc1` video track's `avcC`
//! configuration and its sample tables (sizes, chunk offsets, timing, sync samples). The file
//! comes from outside, so every size and offset is checked; a bad file is an error that says
//! which box is wrong, never a panic.

use std::ops::Range;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Mp4Error {
    #[error("not an MP4 file: {0}")]
    Malformed(String),
    #[error("the MP4 file has no H.264 (avc1) video track")]
    NoVideo,
    #[error("fragmented MP4 files are not supported (found a 'moof' box); remux to a plain MP4")]
    Fragmented,
}

fn bad(what: impl Into<String>) -> Mp4Error {
    Mp4Error::Malformed(what.into())
}

/// One coded picture in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Where its length-prefixed NAL units are in the file.
    pub offset: u64,
    pub size: u32,
    /// Presentation time in track timescale units.
    pub pts: i64,
    pub sync: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoTrack {
    pub width: u16,
    pub height: u16,
    /// Units per second of the sample times.
    pub timescale: u32,
    /// Bytes of the length before each NAL unit in a sample (1, 2 or 4).
    pub nal_length_size: u8,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
    /// In decode order.
    pub samples: Vec<Sample>,
}

/// A box: its type and where its payload is within the buffer.
struct BoxRef {
    kind: [u8; 4],
    body: Range<usize>,
}

/// The boxes inside `range` of `data`, in order.
fn boxes(data: &[u8], range: Range<usize>) -> Result<Vec<BoxRef>, Mp4Error> {
    let mut out = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let header = data
            .get(at..at + 8)
            .filter(|_| at + 8 <= range.end)
            .ok_or_else(|| bad(format!("truncated box header at byte {at}")))?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let (header_len, size) = match size32 {
            0 => (8, (range.end - at) as u64),
            1 => {
                let large = data
                    .get(at + 8..at + 16)
                    .ok_or_else(|| bad("truncated 64-bit box size"))?;
                (16, u64::from_be_bytes(large.try_into().unwrap_or([0; 8])))
            }
            n => (8, u64::from(n)),
        };
        let end = (at as u64)
            .checked_add(size)
            .filter(|&end| size >= header_len && end <= range.end as u64)
            .ok_or_else(|| {
                bad(format!(
                    "box '{}' at byte {at} claims {size} bytes, past its parent",
                    String::from_utf8_lossy(&kind)
                ))
            })? as usize;
        out.push(BoxRef {
            kind,
            body: at + header_len as usize..end,
        });
        at = end;
    }
    Ok(out)
}

fn child<'a>(children: &'a [BoxRef], kind: &[u8; 4]) -> Option<&'a BoxRef> {
    children.iter().find(|b| &b.kind == kind)
}

fn need<'a>(children: &'a [BoxRef], kind: &[u8; 4], parent: &str) -> Result<&'a BoxRef, Mp4Error> {
    child(children, kind).ok_or_else(|| {
        bad(format!(
            "'{parent}' has no '{}' box",
            String::from_utf8_lossy(kind)
        ))
    })
}

/// Reads big-endian fields of one box's payload, with bounds checks.
struct Fields<'a> {
    data: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8], b: &BoxRef, what: &'static str) -> Self {
        Fields {
            data: &data[b.body.clone()],
            at: 0,
            what,
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Mp4Error> {
        let bytes = self
            .at
            .checked_add(n)
            .and_then(|end| self.data.get(self.at..end))
            .ok_or_else(|| bad(format!("'{}' box is truncated", self.what)))?;
        self.at += n;
        Ok(bytes)
    }
    fn skip(&mut self, n: usize) -> Result<(), Mp4Error> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Result<u8, Mp4Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Mp4Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Mp4Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Mp4Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    /// A table's entry count, checked against the bytes left so a huge count cannot make
    /// us allocate before failing.
    fn count(&mut self, entry_len: usize) -> Result<usize, Mp4Error> {
        let n = self.u32()? as usize;
        if n.saturating_mul(entry_len) > self.data.len().saturating_sub(self.at) {
            return Err(bad(format!(
                "'{}' box claims {n} entries, more than it holds",
                self.what
            )));
        }
        Ok(n)
    }
}

/// Finds the first H.264 video track of an MP4 file held in memory.
pub fn video_track(data: &[u8]) -> Result<VideoTrack, Mp4Error> {
    let top = boxes(data, 0..data.len())?;
    if child(&top, b"moof").is_some() {
        return Err(Mp4Error::Fragmented);
    }
    let moov = need(&top, b"moov", "file")?;
    for trak in boxes(data, moov.body.clone())?
        .iter()
        .filter(|b| &b.kind == b"trak")
    {
        if let Some(track) = avc_track(data, trak)? {
            return Ok(track);
        }
    }
    Err(Mp4Error::NoVideo)
}

fn avc_track(data: &[u8], trak: &BoxRef) -> Result<Option<VideoTrack>, Mp4Error> {
    let trak = boxes(data, trak.body.clone())?;
    let mdia = boxes(data, need(&trak, b"mdia", "trak")?.body.clone())?;
    let mut hdlr = Fields::new(data, need(&mdia, b"hdlr", "mdia")?, "hdlr");
    hdlr.skip(8)?;
    if hdlr.take(4)? != b"vide" {
        return Ok(None);
    }
    let mut mdhd = Fields::new(data, need(&mdia, b"mdhd", "mdia")?, "mdhd");
    let version = mdhd.u8()?;
    mdhd.skip(3)?;
    mdhd.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = mdhd.u32()?;
    if timescale == 0 {
        return Err(bad("'mdhd' has a timescale of 0"));
    }
    let minf = boxes(data, need(&mdia, b"minf", "mdia")?.body.clone())?;
    let stbl = boxes(data, need(&minf, b"stbl", "minf")?.body.clone())?;

    // Sample descriptions: version, flags and an entry count, then the entries as boxes.
    let stsd = need(&stbl, b"stsd", "stbl")?;
    if stsd.body.len() < 8 {
        return Err(bad("'stsd' box is truncated"));
    }
    let entries = boxes(data, stsd.body.start + 8..stsd.body.end)?;
    let Some(avc1) = entries.iter().find(|b| &b.kind == b"avc1") else {
        return Ok(None);
    };
    // A visual sample entry: 78 bytes of fixed fields, then its own boxes (avcC among them).
    let mut entry = Fields::new(data, avc1, "avc1");
    entry.skip(24)?;
    let width = entry.u16()?;
    let height = entry.u16()?;
    let inner = avc1.body.start + 78;
    if inner > avc1.body.end {
        return Err(bad("'avc1' sample entry is truncated"));
    }
    let avc1_children = boxes(data, inner..avc1.body.end)?;
    let (nal_length_size, sps, pps) = avc_config(data, need(&avc1_children, b"avcC", "avc1")?)?;

    let samples = sample_table(data, &stbl)?;
    Ok(Some(VideoTrack {
        width,
        height,
        timescale,
        nal_length_size,
        sps,
        pps,
        samples,
    }))
}

type ParameterSets = (u8, Vec<Vec<u8>>, Vec<Vec<u8>>);

fn avc_config(data: &[u8], avcc: &BoxRef) -> Result<ParameterSets, Mp4Error> {
    let mut f = Fields::new(data, avcc, "avcC");
    if f.u8()? != 1 {
        return Err(bad("'avcC' has an unknown configuration version"));
    }
    f.skip(3)?;
    let nal_length_size = (f.u8()? & 0b11) + 1;
    if nal_length_size == 3 {
        return Err(bad(
            "'avcC' declares 3-byte NAL lengths, which H.264 does not allow",
        ));
    }
    let sps_count = usize::from(f.u8()? & 0x1f);
    let sps = parameter_sets(&mut f, sps_count)?;
    let pps_count = usize::from(f.u8()?);
    let pps = parameter_sets(&mut f, pps_count)?;
    if sps.is_empty() || pps.is_empty() {
        return Err(bad("'avcC' holds no sequence or picture parameter set"));
    }
    Ok((nal_length_size, sps, pps))
}

fn parameter_sets(f: &mut Fields<'_>, count: usize) -> Result<Vec<Vec<u8>>, Mp4Error> {
    (0..count)
        .map(|_| {
            let len = f.u16()? as usize;
            Ok(f.take(len)?.to_vec())
        })
        .collect()
}

fn sample_table(data: &[u8], stbl: &[BoxRef]) -> Result<Vec<Sample>, Mp4Error> {
    let mut stsz = Fields::new(data, need(stbl, b"stsz", "stbl")?, "stsz");
    stsz.skip(4)?;
    let fixed = stsz.u32()?;
    let count = if fixed == 0 {
        stsz.count(4)?
    } else {
        stsz.u32()? as usize
    };
    let sizes: Vec<u32> = if fixed == 0 {
        (0..count).map(|_| stsz.u32()).collect::<Result<_, _>>()?
    } else {
        if count > data.len() {
            return Err(bad("'stsz' claims more samples than the file could hold"));
        }
        vec![fixed; count]
    };

    let chunk_offsets: Vec<u64> = if let Some(stco) = child(stbl, b"stco") {
        let mut f = Fields::new(data, stco, "stco");
        f.skip(4)?;
        let n = f.count(4)?;
        (0..n)
            .map(|_| f.u32().map(u64::from))
            .collect::<Result<_, _>>()?
    } else {
        let mut f = Fields::new(data, need(stbl, b"co64", "stbl")?, "co64");
        f.skip(4)?;
        let n = f.count(8)?;
        (0..n).map(|_| f.u64()).collect::<Result<_, _>>()?
    };

    // Sample-to-chunk: runs of chunks with the same number of samples each.
    let mut stsc = Fields::new(data, need(stbl, b"stsc", "stbl")?, "stsc");
    stsc.skip(4)?;
    let runs = stsc.count(12)?;
    let mut stsc_entries = Vec::with_capacity(runs);
    for _ in 0..runs {
        let first_chunk = stsc.u32()?;
        let per_chunk = stsc.u32()?;
        stsc.skip(4)?;
        if first_chunk == 0 {
            return Err(bad("'stsc' numbers chunks from 0; they start at 1"));
        }
        stsc_entries.push((first_chunk as usize - 1, per_chunk as usize));
    }
    let mut offsets = Vec::with_capacity(count);
    for (i, &(first, per_chunk)) in stsc_entries.iter().enumerate() {
        let last = stsc_entries
            .get(i + 1)
            .map_or(chunk_offsets.len(), |next| next.0);
        let chunks = chunk_offsets.get(first..last.min(chunk_offsets.len()));
        for &chunk_offset in chunks.unwrap_or_default() {
            let mut at = chunk_offset;
            for _ in 0..per_chunk {
                let Some(&size) = sizes.get(offsets.len()) else {
                    break;
                };
                offsets.push(at);
                at = at.saturating_add(u64::from(size));
            }
        }
    }
    if offsets.len() != count {
        return Err(bad(format!(
            "the chunk tables place {} samples, the size table has {count}",
            offsets.len()
        )));
    }

    // Decode times from durations; presentation times add the composition offsets.
    let mut stts = Fields::new(data, need(stbl, b"stts", "stbl")?, "stts");
    stts.skip(4)?;
    let runs = stts.count(8)?;
    let mut dts = Vec::with_capacity(count);
    let mut t: i64 = 0;
    for _ in 0..runs {
        let n = stts.u32()?;
        let delta = i64::from(stts.u32()?);
        for _ in 0..n {
            if dts.len() == count {
                break;
            }
            dts.push(t);
            t = t.saturating_add(delta);
        }
    }
    if dts.len() != count {
        return Err(bad("'stts' times fewer samples than the size table holds"));
    }
    let mut pts = dts.clone();
    if let Some(ctts) = child(stbl, b"ctts") {
        let mut f = Fields::new(data, ctts, "ctts");
        let version = f.u8()?;
        f.skip(3)?;
        let runs = f.count(8)?;
        let mut i: usize = 0;
        for _ in 0..runs {
            let n = f.u32()?;
            let raw = f.u32()?;
            // Version 1 offsets are signed; version 0 ones are too in practice.
            let offset = if version == 0 && raw > i32::MAX as u32 {
                i64::from(raw)
            } else {
                i64::from(raw as i32)
            };
            // A run counts samples, and there are no more than the size table holds: a
            // crafted count of 2^32 must not turn into 2^32 turns of a loop.
            let end = i.saturating_add(n as usize).min(pts.len());
            for p in &mut pts[i.min(end)..end] {
                *p = p.saturating_add(offset);
            }
            i = end;
        }
    }
    let sync: Option<Vec<u32>> = match child(stbl, b"stss") {
        Some(stss) => {
            let mut f = Fields::new(data, stss, "stss");
            f.skip(4)?;
            let n = f.count(4)?;
            Some((0..n).map(|_| f.u32()).collect::<Result<_, _>>()?)
        }
        None => None,
    };

    let samples = (0..count)
        .map(|i| {
            let end = offsets[i].checked_add(u64::from(sizes[i]));
            if end.is_none_or(|end| end > data.len() as u64) {
                return Err(bad(format!("sample {i} lies past the end of the file")));
            }
            Ok(Sample {
                offset: offsets[i],
                size: sizes[i],
                pts: pts[i],
                sync: sync
                    .as_ref()
                    .is_none_or(|s| s.binary_search(&(i as u32 + 1)).is_ok()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(samples)
}

/// The NAL units of one sample (length-prefixed), without their lengths.
pub fn nal_units<'a>(
    sample: &'a [u8],
    length_size: u8,
) -> impl Iterator<Item = Result<&'a [u8], Mp4Error>> + 'a {
    let n = usize::from(length_size);
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= sample.len() {
            return None;
        }
        let Some(len_bytes) = sample.get(at..at + n) else {
            at = sample.len();
            return Some(Err(bad("a NAL unit length is cut off")));
        };
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let start = at + n;
        let Some(unit) = start
            .checked_add(len)
            .and_then(|end| sample.get(start..end))
        else {
            at = sample.len();
            return Some(Err(bad("a NAL unit runs past its sample")));
        };
        at = start + len;
        Some(Ok(unit))
    })
}
