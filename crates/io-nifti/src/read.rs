//! Reading: check that the path is a regular file (or take bytes already in memory), detect
//! gzip by its magic bytes, parse and check the header, check that the data can exist and is
//! within the voxel limit, then decode the voxels chunk by chunk into the output array. The
//! array of an uncompressed file is allocated once (the file holds the data); the array of a
//! gzip stream starts at a bounded size and grows only as decoded data arrives, because the
//! header's size is only a claim until the data is there.

use crate::error::{BYTES, NiftiError};
use crate::header::{self, Header, NIFTI1_SIZE, NIFTI2_SIZE};
use crate::write::MEMBER_BYTES;
use flate2::bufread::MultiGzDecoder;
use ndarray::{Array4, ShapeBuilder};
use rayon::prelude::*;
use std::fs::{File, FileType};
use std::io::{BufRead, BufReader, Cursor, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use voxflow_core::{DType, Kind, LabelArray, Volume, Voxels};

/// The most voxels [`read`] and [`read_with_header`] accept: 2^31, i.e. 8 GiB as an f32
/// image. The largest volumes voxflow is meant for (a 512^3 CT is 2^27 voxels, a long 4D fMRI
/// run of 128 x 128 x 80 x 1000 is 1.3 x 2^30) fit; a header claiming more is refused before
/// anything is allocated. Use [`read_with_limit`] or [`read_bytes`] for another limit.
pub const MAX_VOXELS: u64 = 1 << 31;

/// Bytes decoded per step: big enough to amortise calls, small enough to stay in cache.
const CHUNK: usize = 1 << 18;
/// Deflate cannot expand data more than 1032:1, so a gzip file of `n` bytes holds at most
/// `1032 n` bytes: a header claiming more is rejected before anything is allocated.
const MAX_DEFLATE_RATIO: u64 = 1032;
/// Bytes of output reserved for gzip data before any of it is decoded. Beyond this the array
/// grows with the data: it never holds more than twice what has been decoded (or this).
const GZIP_RESERVE: usize = 64 << 20;
/// The gzip extra subfield voxflow's writer puts in each member: its total length, so the
/// members can be found without decompressing and inflated in parallel.
pub(crate) const INDEX_SUBFIELD: [u8; 2] = *b"VF";
/// Bytes after the voxel data read (and discarded) to reach the end of a gzip stream.
const MAX_TRAILING: usize = 1 << 20;
/// The first bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a `.nii` or `.nii.gz` file (NIfTI-1 or -2, either byte order; gzip is detected from
/// the content) as an image (f32, with `scl_slope`/`scl_inter` applied in f64) or a label map
/// (integer type kept, never scaled; a float-stored file must hold only integers and is
/// converted to the smallest integer type that holds them). At most [`MAX_VOXELS`] voxels;
/// `path` must be a regular file (after following symlinks), so a FIFO or a device is refused
/// rather than waited on.
pub fn read(path: impl AsRef<Path>, kind: Kind) -> Result<Volume, NiftiError> {
    read_with_limit(path, kind, MAX_VOXELS).map(|(_, v)| v)
}

/// [`read`], also returning the parsed header.
pub fn read_with_header(path: impl AsRef<Path>, kind: Kind) -> Result<(Header, Volume), NiftiError> {
    read_with_limit(path, kind, MAX_VOXELS)
}

/// [`read_with_header`] with another voxel limit than [`MAX_VOXELS`]: a header claiming more
/// than `max_voxels` voxels is refused ([`NiftiError::TooManyVoxels`]) before anything is
/// allocated.
pub fn read_with_limit(
    path: impl AsRef<Path>,
    kind: Kind,
    max_voxels: u64,
) -> Result<(Header, Volume), NiftiError> {
    let path = path.as_ref();
    check_kind(path, kind)?;
    let (header, src) = open_file(path, max_voxels)?;
    decode_volume(header, src, kind)
}

/// Reads a whole `.nii` or `.nii.gz` file already in memory, as [`read_with_limit`] reads a
/// path (errors name the file `<bytes>`). Touches no file.
pub fn read_bytes(bytes: &[u8], kind: Kind, max_voxels: u64) -> Result<(Header, Volume), NiftiError> {
    let path = Path::new(BYTES);
    check_kind(path, kind)?;
    let input =
        Input { reader: Box::new(bytes), len: bytes.len() as u64, whole: Some(Bytes::Borrowed(bytes)) };
    let (header, src) = start(input, path, max_voxels)?;
    decode_volume(header, src, kind)
}

/// Reads and checks the header only. For an uncompressed file this also checks that the file
/// is long enough for the data; for a gzip file, that the data can fit in it at all. No voxel
/// limit applies (nothing is allocated from the header's numbers).
pub fn read_header(path: impl AsRef<Path>) -> Result<Header, NiftiError> {
    open_file(path.as_ref(), u64::MAX).map(|(h, _)| h)
}

fn check_kind(path: &Path, kind: Kind) -> Result<(), NiftiError> {
    if kind == Kind::Draw {
        return Err(NiftiError::BadKind { path: path.to_owned(), kind });
    }
    Ok(())
}

/// Decodes the voxels of an opened source as `kind` and checks the end of the stream.
fn decode_volume(header: Header, mut src: Source<'_>, kind: Kind) -> Result<(Header, Volume), NiftiError> {
    let n = usize::try_from(header.voxel_count()).map_err(|_| too_large(&src.path, &header, u64::MAX))?;
    let shape = header.shape4();
    let voxels = match kind {
        Kind::Label => Voxels::Label(read_labels(&mut src, &header, n, shape)?),
        _ => Voxels::Image(read_image(&mut src, &header, n, shape)?),
    };
    src.finish()?;
    let volume = Volume { voxels, affine: header.affine, stored_dtype: header.datatype };
    Ok((header, volume))
}

fn too_large(path: &Path, header: &Header, available: u64) -> NiftiError {
    NiftiError::DataTooLarge {
        path: path.to_owned(),
        needed: header.data_bytes().saturating_add(header.vox_offset),
        available,
    }
}

/// Compressed bytes held whole in memory: read from a file (and shared with the decoder) or
/// borrowed from the caller of [`read_bytes`].
#[derive(Clone)]
enum Bytes<'a> {
    Shared(Arc<[u8]>),
    Borrowed(&'a [u8]),
}

impl AsRef<[u8]> for Bytes<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Shared(b) => b,
            Bytes::Borrowed(b) => b,
        }
    }
}

/// What is read: a buffered stream at its first byte, its length, and, when it is all in
/// memory, the whole content (so voxflow's indexed gzip members can be found).
struct Input<'a> {
    reader: Box<dyn BufRead + 'a>,
    len: u64,
    whole: Option<Bytes<'a>>,
}

/// The open file, positioned at the first voxel.
pub(crate) struct Source<'a> {
    reader: Reader<'a>,
    path: PathBuf,
    gzip: bool,
    /// For a file written by voxflow (indexed gzip members): the members holding the voxel
    /// data, to inflate in parallel. `None` for any other file (streamed).
    index: Option<DataMembers<'a>>,
    /// Set once the data was read from `index`, so the stream is not read again.
    parallel_done: bool,
}

enum Reader<'a> {
    Plain(Box<dyn BufRead + 'a>),
    Gzip(Box<MultiGzDecoder<Box<dyn BufRead + 'a>>>),
}

/// Gzip members of the voxel data: the whole compressed file and, per member, its byte
/// range and uncompressed size.
struct DataMembers<'a> {
    bytes: Bytes<'a>,
    members: Vec<Member>,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    start: usize,
    len: usize,
    size: usize,
}

/// Walks a multi-member gzip file whose every member carries voxflow's length subfield.
/// `None` as soon as anything is not exactly as voxflow writes it, including a member
/// claiming more than the writer puts in one (so the index never sizes a large allocation).
fn walk_members(bytes: &[u8]) -> Option<Vec<Member>> {
    let mut members = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let head = bytes.get(pos..pos.checked_add(24)?)?;
        let indexed = head[0..2] == GZIP_MAGIC
            && head[2] == 8
            && head[3] & 4 != 0
            && u16::from_le_bytes([head[10], head[11]]) >= 12
            && head[12..14] == INDEX_SUBFIELD
            && u16::from_le_bytes([head[14], head[15]]) == 8;
        if !indexed {
            return None;
        }
        let len = usize::try_from(u64::from_le_bytes(head[16..24].try_into().ok()?)).ok()?;
        let end = pos.checked_add(len).filter(|&e| len >= 32 && e <= bytes.len())?;
        let size = u32::from_le_bytes(bytes[end - 4..end].try_into().ok()?) as usize;
        if size > MEMBER_BYTES {
            return None;
        }
        members.push(Member { start: pos, len, size });
        pos = end;
    }
    Some(members)
}

/// The members after the first `offset` uncompressed bytes, if they start exactly there,
/// hold exactly `data_bytes`, and each holds whole elements.
fn data_members(all: &[Member], offset: u64, data_bytes: u64, elem: usize) -> Option<Vec<Member>> {
    let mut seen = 0u64;
    let mut first = None;
    for (i, m) in all.iter().enumerate() {
        if seen == offset {
            first = Some(i);
            break;
        }
        seen += m.size as u64;
    }
    let rest = &all[first?..];
    let total: u64 = rest.iter().map(|m| m.size as u64).sum();
    (total == data_bytes && rest.iter().all(|m| m.size % elem == 0)).then(|| rest.to_vec())
}

impl Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.reader {
            Reader::Plain(r) => r.read(buf),
            Reader::Gzip(r) => r.read(buf),
        }
    }

    /// Fills `buf` completely or fails with a typed error (`what` names the part being read;
    /// `before` is how many bytes of that part were read earlier, for the message).
    fn fill(
        &mut self,
        buf: &mut [u8],
        what: &'static str,
        before: u64,
        total: u64,
    ) -> Result<(), NiftiError> {
        let mut done = 0;
        while done < buf.len() {
            match self.read(&mut buf[done..]) {
                Ok(0) => {
                    return Err(NiftiError::Truncated {
                        path: self.path.clone(),
                        what,
                        expected: total,
                        found: before + done as u64,
                    });
                }
                Ok(k) => done += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, what, total, before + done as u64)),
            }
        }
        Ok(())
    }

    fn io_error(&self, e: std::io::Error, what: &'static str, expected: u64, found: u64) -> NiftiError {
        let path = self.path.clone();
        if e.kind() == ErrorKind::UnexpectedEof {
            NiftiError::Truncated { path, what, expected, found }
        } else if self.gzip && matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::InvalidData) {
            NiftiError::Gzip { path, source: e }
        } else {
            NiftiError::Io { path, source: e }
        }
    }

    /// For gzip: reads on to the end of the stream (at most [`MAX_TRAILING`] bytes past the
    /// data, so a stream longer than its header says is never decoded unboundedly), so the
    /// decoder checks the CRC-32 and length of every member and corruption is reported rather
    /// than ignored. Data past that bound is ignored, as nibabel ignores it.
    fn finish(&mut self) -> Result<(), NiftiError> {
        if !self.gzip || self.parallel_done {
            return Ok(());
        }
        let mut buf = [0u8; 4096];
        let mut trailing = 0usize;
        while trailing < MAX_TRAILING {
            match self.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(k) => trailing += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(NiftiError::Gzip { path: self.path.clone(), source: e }),
            }
        }
        Ok(())
    }

    /// Skips `n` bytes (extensions between the header and the data).
    fn skip(&mut self, n: u64, total: u64) -> Result<(), NiftiError> {
        let mut buf = [0u8; 4096];
        let mut left = n;
        while left > 0 {
            let k = left.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..k], "header extensions", total - left, total)?;
            left -= k as u64;
        }
        Ok(())
    }
}

/// Refuses anything but a regular file: a FIFO would block (or never end), a directory or a
/// device is not a NIfTI file.
fn check_regular(path: &Path, file_type: FileType) -> Result<(), NiftiError> {
    if file_type.is_file() {
        return Ok(());
    }
    let what = if file_type.is_dir() { "a directory" } else { special_file(file_type) };
    Err(NiftiError::NotAFile { path: path.to_owned(), what })
}

#[cfg(unix)]
fn special_file(file_type: FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_char_device() {
        "a character device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_file(_: FileType) -> &'static str {
    "a special file"
}

fn open_file(path: &Path, max_voxels: u64) -> Result<(Header, Source<'static>), NiftiError> {
    let io = |source| NiftiError::Io { path: path.to_owned(), source };
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    check_regular(path, std::fs::metadata(path).map_err(io)?.file_type())?;
    let file = File::open(path).map_err(io)?;
    // And again on what was opened, in case the path was replaced in between.
    let meta = file.metadata().map_err(io)?;
    check_regular(path, meta.file_type())?;
    let len = meta.len();
    let mut buffered = BufReader::with_capacity(1 << 16, file);
    let head = buffered.fill_buf().map_err(io)?;
    let indexed =
        head.len() >= 24 && head[0..2] == GZIP_MAGIC && head[3] & 4 != 0 && head[12..14] == INDEX_SUBFIELD;
    let input = if indexed {
        // Written by voxflow: hold the compressed file (its real size) to inflate in parallel.
        let mut all = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        buffered.read_to_end(&mut all).map_err(io)?;
        let bytes: Arc<[u8]> = all.into();
        let len = bytes.len() as u64;
        Input {
            reader: Box::new(Cursor::new(Bytes::Shared(Arc::clone(&bytes)))),
            len,
            whole: Some(Bytes::Shared(bytes)),
        }
    } else {
        Input { reader: Box::new(buffered), len, whole: None }
    };
    start(input, path, max_voxels)
}

/// Detects gzip, parses and checks the header, checks that the data can exist and is within
/// `max_voxels`, and skips to the first voxel.
fn start<'a>(mut input: Input<'a>, path: &Path, max_voxels: u64) -> Result<(Header, Source<'a>), NiftiError> {
    if input.len == 0 {
        return Err(NiftiError::Empty { path: path.to_owned() });
    }
    let gzip = input
        .reader
        .fill_buf()
        .map_err(|source| NiftiError::Io { path: path.to_owned(), source })?
        .starts_with(&GZIP_MAGIC);
    let members = match input.whole {
        Some(whole) if gzip => walk_members(whole.as_ref()).map(|m| (whole, m)),
        _ => None,
    };
    let reader = if gzip {
        Reader::Gzip(Box::new(MultiGzDecoder::new(input.reader)))
    } else {
        Reader::Plain(input.reader)
    };
    let mut src = Source { reader, path: path.to_owned(), gzip, index: None, parallel_done: false };

    let mut bytes = [0u8; NIFTI2_SIZE];
    src.fill(&mut bytes[..4], "header", 0, NIFTI1_SIZE as u64)?;
    let (version, big_endian) = header::detect([bytes[0], bytes[1], bytes[2], bytes[3]], path)?;
    let size = if version == 1 { NIFTI1_SIZE } else { NIFTI2_SIZE };
    src.fill(&mut bytes[4..size], "header", 4, size as u64)?;
    let header = header::parse(&bytes[..size], version, big_endian, gzip, path)?;

    // Can the data exist? Checked before anything is allocated from the header's numbers.
    let file_len = input.len;
    let end =
        header.vox_offset.checked_add(header.data_bytes()).ok_or_else(|| too_large(path, &header, 0))?;
    if gzip {
        let available = file_len.saturating_mul(MAX_DEFLATE_RATIO);
        if end > available {
            return Err(too_large(path, &header, available));
        }
    } else {
        if header.vox_offset > file_len {
            return Err(NiftiError::BadVoxOffset {
                path: path.to_owned(),
                vox_offset: header.vox_offset as f64,
                message: format!("past the end of the {file_len}-byte file"),
            });
        }
        if end > file_len {
            return Err(NiftiError::Truncated {
                path: path.to_owned(),
                what: "voxel data",
                expected: header.data_bytes(),
                found: file_len - header.vox_offset,
            });
        }
    }
    let voxels = header.voxel_count();
    if voxels > max_voxels {
        return Err(NiftiError::TooManyVoxels { path: path.to_owned(), voxels, limit: max_voxels });
    }
    let extensions = header.vox_offset - size as u64;
    src.skip(extensions, extensions)?;
    src.index = members.and_then(|(bytes, all)| {
        let members = data_members(&all, header.vox_offset, header.data_bytes(), header.datatype.size())?;
        Some(DataMembers { bytes, members })
    });
    Ok((header, src))
}

/// A stored element type: decoded from bytes in either order.
trait Elem: Copy {
    const SIZE: usize;
    fn from_le(b: &[u8]) -> Self;
    fn from_be(b: &[u8]) -> Self;
    fn to_f64(self) -> f64;
}

macro_rules! elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            #[inline]
            fn from_be(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_be_bytes(a)
            }
            #[inline]
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
elem!(u8, i8, u16, i16, u32, i32, i64, u64, f32, f64);

/// Makes room in `out` for `k` more elements, `n` being the final length: the capacity
/// doubles but never exceeds `n`, so the finished vector has no slack.
fn grow<O>(out: &mut Vec<O>, k: usize, n: usize) {
    if out.capacity() - out.len() < k {
        let need = out.len() + k;
        let target = out.capacity().saturating_mul(2).clamp(need, n.max(need));
        out.reserve_exact(target - out.len());
    }
}

/// Decodes `n` elements of type `T` from `src`, mapping each through `f`. Uncompressed data
/// is known to be in the file, so the output is allocated once with its final size; gzip
/// data is only claimed by the header, so the output starts at [`GZIP_RESERVE`] bytes and
/// grows as the data is decoded (a stream that ends early fails having allocated about what
/// it held).
fn decode<T: Elem + Send + Sync, O: Copy + Default + Send>(
    src: &mut Source<'_>,
    n: usize,
    big_endian: bool,
    f: impl Fn(T) -> O + Sync,
) -> Result<Vec<O>, NiftiError> {
    if let Some(index) = src.index.take() {
        src.parallel_done = true;
        return decode_parallel(&index, n, big_endian, &f)
            .map_err(|source| NiftiError::Gzip { path: src.path.clone(), source });
    }
    let total = (n * T::SIZE) as u64;
    let reserve = if src.gzip { n.min(GZIP_RESERVE / size_of::<O>().max(1)) } else { n };
    let mut out = Vec::with_capacity(reserve);
    let mut buf = vec![0u8; CHUNK.min(n * T::SIZE)];
    let mut done = 0u64;
    let mut left = n;
    while left > 0 {
        let k = left.min(CHUNK / T::SIZE);
        let bytes = &mut buf[..k * T::SIZE];
        src.fill(bytes, "voxel data", done, total)?;
        grow(&mut out, k, n);
        if big_endian {
            out.extend(bytes.chunks_exact(T::SIZE).map(|c| f(T::from_be(c))));
        } else {
            out.extend(bytes.chunks_exact(T::SIZE).map(|c| f(T::from_le(c))));
        }
        done += bytes.len() as u64;
        left -= k;
    }
    Ok(out)
}

/// Inflates the data members in parallel, each straight into its own part of the output.
/// The members' sizes come from their trailers, which are claims too, so the members are
/// taken in waves: the first holds about [`GZIP_RESERVE`] bytes of output, each next one as
/// much as has been decoded so far, so the output never reaches twice what was verified.
fn decode_parallel<T: Elem + Send + Sync, O: Copy + Default + Send>(
    index: &DataMembers<'_>,
    n: usize,
    big_endian: bool,
    f: &(impl Fn(T) -> O + Sync),
) -> std::io::Result<Vec<O>> {
    let first_wave = (GZIP_RESERVE / size_of::<O>().max(1)).max(1);
    let mut out: Vec<O> = Vec::new();
    let mut members = index.members.as_slice();
    while !members.is_empty() {
        let target = first_wave.max(out.len());
        let (mut take, mut elems) = (0, 0);
        while take < members.len() && elems < target {
            elems += members[take].size / T::SIZE;
            take += 1;
        }
        let (wave, rest) = members.split_at(take);
        let start = out.len();
        if start == 0 {
            out = vec![O::default(); elems];
        } else {
            out.reserve_exact(elems);
            out.resize(start + elems, O::default());
        }
        inflate_members(index.bytes.as_ref(), wave, &mut out[start..], big_endian, f)?;
        members = rest;
    }
    if out.len() != n {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            "gzip members do not hold the header's voxels",
        ));
    }
    Ok(out)
}

/// Inflates `members` of `bytes` in parallel into `out`, which holds exactly their data.
fn inflate_members<T: Elem + Send + Sync, O: Copy + Default + Send>(
    bytes: &[u8],
    members: &[Member],
    out: &mut [O],
    big_endian: bool,
    f: &(impl Fn(T) -> O + Sync),
) -> std::io::Result<()> {
    let mut tasks = Vec::with_capacity(members.len());
    let mut rest = out;
    for m in members {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(m.size / T::SIZE);
        tasks.push((*m, part));
        rest = tail;
    }
    // Each member is inflated through a small reused buffer that stays in cache.
    tasks.into_par_iter().try_for_each_init(
        || vec![0u8; CHUNK],
        |buf, (m, part)| {
            let mut dec = flate2::read::GzDecoder::new(&bytes[m.start..m.start + m.len]);
            for out_chunk in part.chunks_mut(CHUNK / T::SIZE) {
                let raw = &mut buf[..out_chunk.len() * T::SIZE];
                dec.read_exact(raw)?;
                let chunks = raw.chunks_exact(T::SIZE);
                if big_endian {
                    out_chunk.iter_mut().zip(chunks).for_each(|(o, c)| *o = f(T::from_be(c)));
                } else {
                    out_chunk.iter_mut().zip(chunks).for_each(|(o, c)| *o = f(T::from_le(c)));
                }
            }
            // The member must end here; reading on checks its CRC-32 and size.
            if dec.read(&mut buf[..1])? != 0 {
                return Err(std::io::Error::new(
                    ErrorKind::InvalidData,
                    "gzip member longer than its trailer says",
                ));
            }
            Ok(())
        },
    )
}

fn array4<T>(shape: [usize; 4], data: Vec<T>, path: &Path) -> Result<Array4<T>, NiftiError> {
    let [x, y, z, t] = shape;
    Array4::from_shape_vec((x, y, z, t).f(), data).map_err(|e| NiftiError::BadDim {
        path: path.to_owned(),
        dim: shape.iter().map(|&d| d as i64).collect(),
        message: format!("the voxels read do not fill the shape: {e}"),
    })
}

fn read_image(
    src: &mut Source<'_>,
    h: &Header,
    n: usize,
    shape: [usize; 4],
) -> Result<Array4<f32>, NiftiError> {
    let scaling = h.scaling().filter(|&(s, i)| !(s == 1.0 && i == 0.0));
    if let Some((_, inter)) = scaling
        && !inter.is_finite()
    {
        return Err(NiftiError::BadField {
            path: src.path.clone(),
            field: "scl_inter",
            message: format!("valid scl_slope with a non-finite scl_inter {inter}"),
        });
    }
    let be = h.big_endian;
    macro_rules! go {
        ($t:ty) => {
            match scaling {
                Some((s, i)) => decode::<$t, f32>(src, n, be, |v| (v.to_f64() * s + i) as f32),
                None => decode::<$t, f32>(src, n, be, |v| v.to_f64() as f32),
            }
        };
    }
    let data = match h.datatype {
        DType::U8 => go!(u8),
        DType::I8 => go!(i8),
        DType::U16 => go!(u16),
        DType::I16 => go!(i16),
        DType::U32 => go!(u32),
        DType::I32 => go!(i32),
        DType::I64 => go!(i64),
        DType::U64 => go!(u64),
        DType::F32 if scaling.is_none() => decode::<f32, f32>(src, n, be, |v| v),
        DType::F32 => go!(f32),
        DType::F64 => go!(f64),
    }?;
    array4(shape, data, &src.path)
}

fn read_labels(
    src: &mut Source<'_>,
    h: &Header,
    n: usize,
    shape: [usize; 4],
) -> Result<LabelArray, NiftiError> {
    let be = h.big_endian;
    let path = src.path.clone();
    macro_rules! int {
        ($t:ty, $variant:ident) => {
            LabelArray::$variant(array4(shape, decode::<$t, $t>(src, n, be, |v| v)?, &path)?)
        };
    }
    Ok(match h.datatype {
        DType::U8 => int!(u8, U8),
        DType::I8 => int!(i8, I8),
        DType::U16 => int!(u16, U16),
        DType::I16 => int!(i16, I16),
        DType::U32 => int!(u32, U32),
        DType::I32 => int!(i32, I32),
        DType::I64 => int!(i64, I64),
        DType::U64 => int!(u64, U64),
        DType::F32 => float_labels(decode::<f32, f64>(src, n, be, f64::from)?, shape, DType::F32, &path)?,
        DType::F64 => float_labels(decode::<f64, f64>(src, n, be, |v| v)?, shape, DType::F64, &path)?,
    })
}

/// A float-stored label map: every value must be an integer; the result has the smallest
/// integer type holding them all (unsigned first when nothing is negative).
fn float_labels(
    data: Vec<f64>,
    shape: [usize; 4],
    dtype: DType,
    path: &Path,
) -> Result<LabelArray, NiftiError> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let mut min = 0.0f64;
    let mut max = 0.0f64;
    for &v in &data {
        if v.fract() != 0.0 || !v.is_finite() || !(-TWO_63..2.0 * TWO_63).contains(&v) {
            return Err(NiftiError::NotIntegral { path: path.to_owned(), value: v, dtype });
        }
        min = min.min(v);
        max = max.max(v);
    }
    macro_rules! to {
        ($t:ty, $variant:ident) => {
            LabelArray::$variant(array4(shape, data.into_iter().map(|v| v as $t).collect(), path)?)
        };
    }
    Ok(if min >= 0.0 {
        if max <= f64::from(u8::MAX) {
            to!(u8, U8)
        } else if max <= f64::from(u16::MAX) {
            to!(u16, U16)
        } else if max <= f64::from(u32::MAX) {
            to!(u32, U32)
        } else {
            to!(u64, U64)
        }
    } else if max >= TWO_63 {
        return Err(NiftiError::NotIntegral { path: path.to_owned(), value: max, dtype });
    } else if min >= f64::from(i8::MIN) && max <= f64::from(i8::MAX) {
        to!(i8, I8)
    } else if min >= f64::from(i16::MIN) && max <= f64::from(i16::MAX) {
        to!(i16, I16)
    } else if min >= f64::from(i32::MIN) && max <= f64::from(i32::MAX) {
        to!(i32, I32)
    } else {
        to!(i64, I64)
    })
}
