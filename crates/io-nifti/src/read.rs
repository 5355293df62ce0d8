//! Reading: open, detect gzip by its magic bytes, parse and check the header, check that the
//! data can exist, then decode the voxels chunk by chunk straight into the output array (one
//! allocation of the final size).

use crate::error::NiftiError;
use crate::header::{self, Header, NIFTI1_SIZE, NIFTI2_SIZE};
use flate2::bufread::MultiGzDecoder;
use ndarray::{Array4, ShapeBuilder};
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufReader, Cursor, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use voxflow_core::{DType, Kind, LabelArray, Volume, Voxels};

/// Bytes decoded per step: big enough to amortise calls, small enough to stay in cache.
const CHUNK: usize = 1 << 18;
/// Deflate cannot expand data more than 1032:1, so a gzip file of `n` bytes holds at most
/// `1032 n` bytes: a header claiming more is rejected before anything is allocated.
const MAX_DEFLATE_RATIO: u64 = 1032;
/// The gzip extra subfield voxflow's writer puts in each member: its total length, so the
/// members can be found without decompressing and inflated in parallel.
pub(crate) const INDEX_SUBFIELD: [u8; 2] = *b"VF";
/// Bytes after the voxel data read (and discarded) to reach the end of a gzip stream.
const MAX_TRAILING: usize = 1 << 20;

/// Reads a `.nii` or `.nii.gz` file (NIfTI-1 or -2, either byte order; gzip is detected from
/// the content) as an image (f32, with `scl_slope`/`scl_inter` applied in f64) or a label map
/// (integer type kept, never scaled; a float-stored file must hold only integers and is
/// converted to the smallest integer type that holds them).
pub fn read(path: impl AsRef<Path>, kind: Kind) -> Result<Volume, NiftiError> {
    read_with_header(path, kind).map(|(_, v)| v)
}

/// [`read`], also returning the parsed header.
pub fn read_with_header(path: impl AsRef<Path>, kind: Kind) -> Result<(Header, Volume), NiftiError> {
    let path = path.as_ref();
    if kind == Kind::Draw {
        return Err(NiftiError::BadKind { path: path.to_owned(), kind });
    }
    let (header, mut src) = open(path)?;
    let n = usize::try_from(header.voxel_count()).map_err(|_| too_large(path, &header, u64::MAX))?;
    let shape = header.shape4();
    let voxels = match kind {
        Kind::Label => Voxels::Label(read_labels(&mut src, &header, n, shape)?),
        _ => Voxels::Image(read_image(&mut src, &header, n, shape)?),
    };
    src.finish()?;
    let volume = Volume { voxels, affine: header.affine, stored_dtype: header.datatype };
    Ok((header, volume))
}

/// Reads and checks the header only. For an uncompressed file this also checks that the file
/// is long enough for the data; for a gzip file, that the data can fit in it at all.
pub fn read_header(path: impl AsRef<Path>) -> Result<Header, NiftiError> {
    open(path.as_ref()).map(|(h, _)| h)
}

fn too_large(path: &Path, header: &Header, available: u64) -> NiftiError {
    NiftiError::DataTooLarge {
        path: path.to_owned(),
        needed: header.data_bytes().saturating_add(header.vox_offset),
        available,
    }
}

/// The open file, positioned at the first voxel.
pub(crate) struct Source {
    reader: Reader,
    path: PathBuf,
    gzip: bool,
    /// For a file written by voxflow (indexed gzip members): the members holding the voxel
    /// data, to inflate in parallel. `None` for any other file (streamed).
    index: Option<DataMembers>,
    /// Set once the data was read from `index`, so the stream is not read again.
    parallel_done: bool,
}

enum Reader {
    Plain(BufReader<File>),
    Gzip(Box<MultiGzDecoder<BufReader<File>>>),
    GzipInMemory(Box<MultiGzDecoder<Cursor<Arc<[u8]>>>>),
}

/// Gzip members of the voxel data: the whole compressed file and, per member, its byte
/// range and uncompressed size.
struct DataMembers {
    bytes: Arc<[u8]>,
    members: Vec<Member>,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    start: usize,
    len: usize,
    size: usize,
}

/// Walks a multi-member gzip file whose every member carries voxflow's length subfield.
/// `None` as soon as anything is not exactly as voxflow writes it.
fn walk_members(bytes: &[u8]) -> Option<Vec<Member>> {
    let mut members = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let head = bytes.get(pos..pos + 24)?;
        let indexed = head[0..3] == [0x1f, 0x8b, 8]
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

impl Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.reader {
            Reader::Plain(r) => r.read(buf),
            Reader::Gzip(r) => r.read(buf),
            Reader::GzipInMemory(r) => r.read(buf),
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

    /// For gzip: reads on to the end of the stream (bounded), so the decoder checks the
    /// CRC-32 and length of every member and corruption is reported rather than ignored.
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

fn open(path: &Path) -> Result<(Header, Source), NiftiError> {
    let io = |source| NiftiError::Io { path: path.to_owned(), source };
    let file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    if file_len == 0 {
        return Err(NiftiError::Empty { path: path.to_owned() });
    }
    let mut buffered = BufReader::with_capacity(1 << 16, file);
    let gzip = {
        use std::io::BufRead;
        let head = buffered.fill_buf().map_err(io)?;
        head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b
    };
    let indexed = {
        use std::io::BufRead;
        let head = buffered.fill_buf().map_err(io)?;
        gzip && head.len() >= 24 && head[3] & 4 != 0 && head[12..14] == INDEX_SUBFIELD
    };
    let mut members = None;
    let reader = if indexed {
        // Written by voxflow: hold the compressed file (its real size) to inflate in parallel.
        let mut all = Vec::with_capacity(usize::try_from(file_len).unwrap_or(0));
        buffered.read_to_end(&mut all).map_err(io)?;
        let bytes: Arc<[u8]> = all.into();
        members = walk_members(&bytes).map(|m| (Arc::clone(&bytes), m));
        Reader::GzipInMemory(Box::new(MultiGzDecoder::new(Cursor::new(bytes))))
    } else if gzip {
        Reader::Gzip(Box::new(MultiGzDecoder::new(buffered)))
    } else {
        Reader::Plain(buffered)
    };
    let mut src = Source { reader, path: path.to_owned(), gzip, index: None, parallel_done: false };

    let mut bytes = [0u8; NIFTI2_SIZE];
    src.fill(&mut bytes[..4], "header", 0, NIFTI1_SIZE as u64)?;
    let (version, big_endian) = header::detect([bytes[0], bytes[1], bytes[2], bytes[3]], path)?;
    let size = if version == 1 { NIFTI1_SIZE } else { NIFTI2_SIZE };
    src.fill(&mut bytes[4..size], "header", 4, size as u64)?;
    let header = header::parse(&bytes[..size], version, big_endian, gzip, path)?;

    // Can the data exist? Checked before anything is allocated from the header's numbers.
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

/// Decodes `n` elements of type `T` from `src`, mapping each through `f` into a vector
/// allocated once with its final size.
fn decode<T: Elem + Send + Sync, O: Copy + Default + Send>(
    src: &mut Source,
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
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; CHUNK.min(n * T::SIZE)];
    let mut done = 0u64;
    let mut left = n;
    while left > 0 {
        let k = left.min(CHUNK / T::SIZE);
        let bytes = &mut buf[..k * T::SIZE];
        src.fill(bytes, "voxel data", done, total)?;
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
fn decode_parallel<T: Elem + Send + Sync, O: Copy + Default + Send>(
    index: &DataMembers,
    n: usize,
    big_endian: bool,
    f: &(impl Fn(T) -> O + Sync),
) -> std::io::Result<Vec<O>> {
    let mut out = vec![O::default(); n];
    let mut tasks = Vec::with_capacity(index.members.len());
    let mut rest = out.as_mut_slice();
    for m in &index.members {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(m.size / T::SIZE);
        tasks.push((*m, part));
        rest = tail;
    }
    // Each member is inflated through a small reused buffer that stays in cache.
    tasks.into_par_iter().try_for_each_init(
        || vec![0u8; CHUNK],
        |buf, (m, part)| {
            let mut dec = flate2::read::GzDecoder::new(&index.bytes[m.start..m.start + m.len]);
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
    )?;
    Ok(out)
}

fn array4<T>(shape: [usize; 4], data: Vec<T>) -> Array4<T> {
    let [x, y, z, t] = shape;
    Array4::from_shape_vec((x, y, z, t).f(), data).expect("the header's shape holds exactly the voxels read")
}

fn read_image(src: &mut Source, h: &Header, n: usize, shape: [usize; 4]) -> Result<Array4<f32>, NiftiError> {
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
    Ok(array4(shape, data))
}

fn read_labels(src: &mut Source, h: &Header, n: usize, shape: [usize; 4]) -> Result<LabelArray, NiftiError> {
    let be = h.big_endian;
    Ok(match h.datatype {
        DType::U8 => LabelArray::U8(array4(shape, decode::<u8, u8>(src, n, be, |v| v)?)),
        DType::I8 => LabelArray::I8(array4(shape, decode::<i8, i8>(src, n, be, |v| v)?)),
        DType::U16 => LabelArray::U16(array4(shape, decode::<u16, u16>(src, n, be, |v| v)?)),
        DType::I16 => LabelArray::I16(array4(shape, decode::<i16, i16>(src, n, be, |v| v)?)),
        DType::U32 => LabelArray::U32(array4(shape, decode::<u32, u32>(src, n, be, |v| v)?)),
        DType::I32 => LabelArray::I32(array4(shape, decode::<i32, i32>(src, n, be, |v| v)?)),
        DType::I64 => LabelArray::I64(array4(shape, decode::<i64, i64>(src, n, be, |v| v)?)),
        DType::U64 => LabelArray::U64(array4(shape, decode::<u64, u64>(src, n, be, |v| v)?)),
        DType::F32 => float_labels(decode::<f32, f64>(src, n, be, f64::from)?, shape, DType::F32, &src.path)?,
        DType::F64 => float_labels(decode::<f64, f64>(src, n, be, |v| v)?, shape, DType::F64, &src.path)?,
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
            LabelArray::$variant(array4(shape, data.into_iter().map(|v| v as $t).collect()))
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
