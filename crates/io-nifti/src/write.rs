//! Writing: a NIfTI-1 single file (`n+1`, little endian, vox_offset 352), plain or gzip.
//!
//! * The affine goes into the sform (code 2, "aligned", nibabel's default) and, decomposed as
//!   nibabel's `set_qform` does, into the qform (code 2 too). When the affine has shears the
//!   qform cannot represent, `qform_code` is 0 so no reader takes the stripped version.
//! * pixdim[1..=3] are the affine's column norms, `pixdim[0]` the qfac; `xyzt_units` mm + s.
//! * Label maps keep their integer type. Images are written as [`WriteOptions::image_dtype`]:
//!   f32 (default) or f64 losslessly; an integer type stores the values exactly
//!   (`scl_slope` 1, `scl_inter` 0) when they are all integers in range, otherwise with a
//!   linear scaling mapping [min, max] onto the type's full range (values rounded).
//! * gzip: the data is cut into fixed 4 MiB pieces compressed in parallel (rayon) as
//!   independent gzip members, concatenated: a valid multi-member gzip file (nibabel, zlib's
//!   `gzread` and `gzip -d` read it), byte-identical for any thread count. Each member has a
//!   `VF` extra field with its length, so [`crate::read()`] can inflate them in parallel.
//! * [`write()`] is atomic: it writes a temporary file in the target directory and renames it.

use crate::affine::affine_to_qform;
use crate::error::{NiftiError, STREAM};
use crate::header::datatype_code;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use ndarray::Array4;
use rayon::prelude::*;
use std::borrow::Cow;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use voxflow_core::{Affine, DType, LabelArray, Volume, Voxels};

/// How to write a volume.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// gzip level 0..=9 for `.nii.gz` (default 1, like nibabel).
    pub gzip_level: u32,
    /// The stored type of an image (label maps always keep theirs). Default f32.
    pub image_dtype: DType,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { gzip_level: 1, image_dtype: DType::F32 }
    }
}

/// Uncompressed bytes per gzip member.
pub(crate) const MEMBER_BYTES: usize = 4 << 20;
/// Bytes converted per write call for uncompressed output.
const PLAIN_CHUNK: usize = 1 << 20;

/// Writes `volume` to `path`: `.nii` or `.nii.gz` by the name's extension. Atomic: the data
/// goes to a temporary file in the same directory, renamed over `path` only when complete.
pub fn write(path: impl AsRef<Path>, volume: &Volume, options: &WriteOptions) -> Result<(), NiftiError> {
    let path = path.as_ref();
    // Lower-cased first, so the comparison is case-insensitive.
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let gzip = if name.ends_with(".nii.gz") {
        true
    } else if std::path::Path::new(&name).extension().is_some_and(|e| e == "nii") {
        false
    } else {
        return Err(NiftiError::BadExtension { path: path.to_owned() });
    };
    let io = |source| NiftiError::Io { path: path.to_owned(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    let prefix = temp_prefix();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    {
        let mut sink = BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        write_impl(&mut sink, volume, options, gzip, path)?;
        sink.flush().map_err(io)?;
    }
    // Durable before it is visible: the data reaches the disk before the rename, and the
    // rename (the directory entry) after it, so after a crash the file under its final name is
    // either complete or absent, never empty. A failure anywhere drops `tmp`, which deletes it.
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    sync_dir(dir).map_err(io)?;
    Ok(())
}

/// The start of this process's temporary file names, `.voxflow-{pid}@{host}@` (then random
/// characters and `.tmp`): several processes, on several machines, may write into one folder
/// (a cluster job array on a shared filesystem), and a file left by a killed write can then be
/// told from one still being written: see [`temp_owner`].
#[must_use]
pub fn temp_prefix() -> String {
    format!(".voxflow-{}@{}@", std::process::id(), host_name())
}

/// The process (pid, host) whose temporary file this is, for a name made with
/// [`temp_prefix`]; `None` for any other name.
#[must_use]
pub fn temp_owner(file_name: &str) -> Option<(u32, &str)> {
    let rest = file_name.strip_prefix(".voxflow-")?.strip_suffix(".tmp")?;
    let mut parts = rest.splitn(3, '@');
    let pid = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    parts.next()?;
    Some((pid, host))
}

/// This machine's host name (the kernel's; `localhost` when it cannot be read).
#[must_use]
pub fn host_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().replace(['@', '/'], "_"))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
}

/// Flushes a directory's entries (a rename or a new file in it) to the disk.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `volume` as a NIfTI-1 stream to `sink` (gzip-compressed when `gzip`). Errors name
/// the path `<stream>`.
pub fn write_to(
    sink: impl Write,
    volume: &Volume,
    options: &WriteOptions,
    gzip: bool,
) -> Result<(), NiftiError> {
    let mut sink = sink;
    let path = Path::new(STREAM);
    write_impl(&mut sink, volume, options, gzip, path)?;
    sink.flush().map_err(|source| NiftiError::Io { path: path.to_owned(), source })
}

fn write_impl(
    sink: &mut dyn Write,
    volume: &Volume,
    options: &WriteOptions,
    gzip: bool,
    path: &Path,
) -> Result<(), NiftiError> {
    let unwritable = |message: String| NiftiError::Unwritable { path: path.to_owned(), message };
    if options.gzip_level > 9 {
        return Err(unwritable(format!("gzip_level {} is outside 0..=9", options.gzip_level)));
    }
    let shape = volume.shape4();
    if let Some(d) = shape.iter().find(|&&d| d == 0 || d > i16::MAX as usize) {
        return Err(unwritable(format!(
            "shape {shape:?}: size {d} does not fit a NIfTI-1 dim (1..=32767); NIfTI-2 writing is not supported"
        )));
    }
    let mut out = Out { sink, gzip, level: options.gzip_level, path };
    match &volume.voxels {
        Voxels::Label(labels) => {
            let header = header_bytes(shape, labels.dtype(), &volume.affine, 1.0, 0.0);
            write_labels(&mut out, &header, labels)
        }
        Voxels::Image(data) => write_image(&mut out, data, &volume.affine, options.image_dtype),
    }
}

fn write_labels(out: &mut Out<'_, '_>, header: &[u8], labels: &LabelArray) -> Result<(), NiftiError> {
    macro_rules! go {
        ($a:expr) => {
            out.data(header, &fortran(&$a), |v| v.to_le_bytes())
        };
    }
    match labels {
        LabelArray::U8(a) => go!(a),
        LabelArray::I8(a) => go!(a),
        LabelArray::U16(a) => go!(a),
        LabelArray::I16(a) => go!(a),
        LabelArray::U32(a) => go!(a),
        LabelArray::I32(a) => go!(a),
        LabelArray::I64(a) => go!(a),
        LabelArray::U64(a) => go!(a),
    }
}

fn write_image(
    out: &mut Out<'_, '_>,
    data: &Array4<f32>,
    affine: &Affine,
    dtype: DType,
) -> Result<(), NiftiError> {
    let shape = {
        let s = data.shape();
        [s[0], s[1], s[2], s[3]]
    };
    let values = fortran(data);
    match dtype {
        DType::F32 => out.data(&header_bytes(shape, dtype, affine, 1.0, 0.0), &values, f32::to_le_bytes),
        DType::F64 => {
            out.data(&header_bytes(shape, dtype, affine, 1.0, 0.0), &values, |v| f64::from(v).to_le_bytes())
        }
        _ => {
            let (lo, hi) = int_range(dtype);
            let (slope, inter) = int_scaling(&values, lo, hi)
                .map_err(|message| NiftiError::Unwritable { path: out.path.to_owned(), message })?;
            let header = header_bytes(shape, dtype, affine, slope, inter);
            let q = move |v: f32| ((f64::from(v) - inter) / slope).round().clamp(lo, hi);
            macro_rules! go {
                ($t:ty) => {
                    out.data(&header, &values, move |v| (q(v) as $t).to_le_bytes())
                };
            }
            match dtype {
                DType::U8 => go!(u8),
                DType::I8 => go!(i8),
                DType::U16 => go!(u16),
                DType::I16 => go!(i16),
                DType::U32 => go!(u32),
                DType::I32 => go!(i32),
                DType::I64 => go!(i64),
                DType::U64 | DType::F32 | DType::F64 => go!(u64),
            }
        }
    }
}

fn int_range(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::U8 => (0.0, f64::from(u8::MAX)),
        DType::I8 => (f64::from(i8::MIN), f64::from(i8::MAX)),
        DType::U16 => (0.0, f64::from(u16::MAX)),
        DType::I16 => (f64::from(i16::MIN), f64::from(i16::MAX)),
        DType::U32 => (0.0, f64::from(u32::MAX)),
        DType::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
        DType::I64 => (i64::MIN as f64, i64::MAX as f64),
        DType::U64 | DType::F32 | DType::F64 => (0.0, u64::MAX as f64),
    }
}

/// `(scl_slope, scl_inter)`, both exactly representable in f32, for storing `values` in an
/// integer type of range `[lo, hi]`.
fn int_scaling(values: &[f32], lo: f64, hi: f64) -> Result<(f64, f64), String> {
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    let mut integral = true;
    for &v in values {
        let v = f64::from(v);
        if !v.is_finite() {
            return Err(format!("value {v} cannot be stored in an integer type"));
        }
        integral &= v.fract() == 0.0;
        min = min.min(v);
        max = max.max(v);
    }
    if integral && min >= lo && max <= hi {
        return Ok((1.0, 0.0));
    }
    if max == min {
        return Ok((1.0, f64::from(min as f32)));
    }
    let slope = f64::from(((max - min) / (hi - lo)) as f32);
    let inter = f64::from((min - lo * slope) as f32);
    Ok((slope, inter))
}

/// The voxels in Fortran (NIfTI file) order, borrowed when the array already is. A C-order
/// array (what many ndarray constructors make) is transposed in cache-friendly blocks, in
/// parallel; any other layout is gathered element by element.
fn fortran<T: Copy + Send + Sync + Default>(a: &Array4<T>) -> Cow<'_, [T]> {
    let t = a.view().reversed_axes();
    if let Some(s) = t.to_slice() {
        return Cow::Borrowed(s);
    }
    match a.as_slice() {
        Some(c) => Cow::Owned(c_to_fortran(c, a.dim())),
        None => Cow::Owned(t.iter().copied().collect()),
    }
}

/// Transposes a C-order `[x, y, z, t]` slice into Fortran order. Output z-slices are filled
/// `Z_BLOCK` at a time, so each input cache line (consecutive z) is read once.
fn c_to_fortran<T: Copy + Send + Sync + Default>(
    c: &[T],
    (nx, ny, nz, nt): (usize, usize, usize, usize),
) -> Vec<T> {
    const Z_BLOCK: usize = 16;
    const XY_TILE: usize = 16;
    let slab = nx * ny;
    let mut out = vec![T::default(); c.len()];
    out.par_chunks_mut(slab * nz).enumerate().for_each(|(t, frame)| {
        frame.par_chunks_mut(slab * Z_BLOCK).enumerate().for_each(|(b, block)| {
            let z0 = b * Z_BLOCK;
            let bz = block.len() / slab;
            // 16x16 tiles of (x, y): gathered into a small contiguous buffer (reading whole
            // input cache lines of z), then written out as whole rows of x. Going through
            // the buffer avoids the cache-set conflicts of power-of-two strides.
            let mut tile = [T::default(); Z_BLOCK * XY_TILE * XY_TILE];
            for y0 in (0..ny).step_by(XY_TILE) {
                let ty = XY_TILE.min(ny - y0);
                for x0 in (0..nx).step_by(XY_TILE) {
                    let tx = XY_TILE.min(nx - x0);
                    for x in 0..tx {
                        for y in 0..ty {
                            let base = (((x0 + x) * ny + y0 + y) * nz + z0) * nt + t;
                            let lane = c[base..].iter().step_by(nt).take(bz);
                            for (dz, &v) in lane.enumerate() {
                                tile[(dz * XY_TILE + y) * XY_TILE + x] = v;
                            }
                        }
                    }
                    for dz in 0..bz {
                        for y in 0..ty {
                            let dst = dz * slab + (y0 + y) * nx + x0;
                            let src = (dz * XY_TILE + y) * XY_TILE;
                            block[dst..dst + tx].copy_from_slice(&tile[src..src + tx]);
                        }
                    }
                }
            }
        });
    });
    out
}

struct Out<'s, 'p> {
    sink: &'s mut dyn Write,
    gzip: bool,
    level: u32,
    path: &'p Path,
}

impl Out<'_, '_> {
    fn io(&self, source: std::io::Error) -> NiftiError {
        NiftiError::Io { path: PathBuf::from(self.path), source }
    }

    /// Writes the header and the voxels, each converted by `bytes`.
    fn data<T: Copy + Sync, const N: usize>(
        &mut self,
        header: &[u8],
        values: &[T],
        bytes: impl Fn(T) -> [u8; N] + Sync,
    ) -> Result<(), NiftiError> {
        if self.gzip {
            let level = Compression::new(self.level);
            let first = gzip_member(header, level).map_err(|e| self.io(e))?;
            self.sink.write_all(&first).map_err(|e| self.io(e))?;
            let per_member = MEMBER_BYTES / N;
            // Batches bound the compressed bytes held at once; members are fixed-size, so the
            // output does not depend on the thread count.
            let batch = per_member * 4 * rayon::current_num_threads().max(1);
            for group in values.chunks(batch) {
                let members: Vec<std::io::Result<Vec<u8>>> = group
                    .par_chunks(per_member)
                    .map(|chunk| {
                        let mut raw = vec![0u8; chunk.len() * N];
                        convert(chunk, &mut raw, &bytes);
                        gzip_member(&raw, level)
                    })
                    .collect();
                for m in members {
                    let m = m.map_err(|e| self.io(e))?;
                    self.sink.write_all(&m).map_err(|e| self.io(e))?;
                }
            }
        } else {
            self.sink.write_all(header).map_err(|e| self.io(e))?;
            let mut raw = vec![0u8; PLAIN_CHUNK.min(values.len() * N)];
            for chunk in values.chunks(PLAIN_CHUNK / N) {
                let raw = &mut raw[..chunk.len() * N];
                convert(chunk, raw, &bytes);
                self.sink.write_all(raw).map_err(|e| self.io(e))?;
            }
        }
        Ok(())
    }
}

fn convert<T: Copy, const N: usize>(values: &[T], raw: &mut [u8], bytes: &impl Fn(T) -> [u8; N]) {
    for (dst, &v) in raw.chunks_exact_mut(N).zip(values) {
        dst.copy_from_slice(&bytes(v));
    }
}

/// One gzip member holding `raw`, with an extra field (subfield `VF`, 8 bytes: the member's
/// total length, little endian) so a reader can find every member without decompressing
/// and inflate them in parallel (the idea of BGZF). Readers that do not know the subfield
/// skip it, as RFC 1952 requires.
pub(crate) fn gzip_member(raw: &[u8], level: Compression) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len() / 2 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff]); // FLG.FEXTRA, mtime 0, OS unknown
    out.extend_from_slice(&12u16.to_le_bytes()); // XLEN
    out.extend_from_slice(&crate::read::INDEX_SUBFIELD);
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]); // member length, patched below
    let mut enc = DeflateEncoder::new(out, level);
    enc.write_all(raw)?;
    let mut out = enc.finish()?;
    let mut crc = flate2::Crc::new();
    crc.update(raw);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    let len = out.len() as u64;
    out[16..24].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// The 352 bytes of a NIfTI-1 single-file header (348 + an empty extension flag), little
/// endian.
fn header_bytes(shape: [usize; 4], dtype: DType, affine: &Affine, slope: f64, inter: f64) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    let mut put = |off: usize, bytes: &[u8]| h[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    let ndim: i16 = if shape[3] == 1 { 3 } else { 4 };
    let mut dim = [1i16; 8];
    dim[0] = ndim;
    for (i, &d) in shape.iter().enumerate() {
        dim[i + 1] = d as i16;
    }
    for (i, d) in dim.iter().enumerate() {
        put(40 + 2 * i, &d.to_le_bytes());
    }
    put(70, &datatype_code(dtype).to_le_bytes());
    put(72, &((dtype.size() * 8) as i16).to_le_bytes());
    let qform = affine_to_qform(affine);
    let zooms = voxflow_core::volume::spacing(affine);
    let mut pixdim = [1.0f32; 8];
    pixdim[0] = qform.map_or(1.0, |q| q.qfac as f32);
    for i in 0..3 {
        pixdim[i + 1] = zooms[i] as f32;
    }
    for (i, p) in pixdim.iter().enumerate() {
        put(76 + 4 * i, &p.to_le_bytes());
    }
    put(108, &352f32.to_le_bytes());
    put(112, &(slope as f32).to_le_bytes());
    put(116, &(inter as f32).to_le_bytes());
    put(123, &[2 | 8]); // NIFTI_UNITS_MM | NIFTI_UNITS_SEC
    put(148, b"voxflow");
    let qform_code: i16 = if qform.is_some_and(|q| q.exact) { 2 } else { 0 };
    put(252, &qform_code.to_le_bytes());
    put(254, &2i16.to_le_bytes());
    if let Some(q) = qform {
        for i in 0..3 {
            put(256 + 4 * i, &(q.bcd[i] as f32).to_le_bytes());
            put(268 + 4 * i, &(q.offset[i] as f32).to_le_bytes());
        }
    }
    for r in 0..3 {
        for c in 0..4 {
            put(280 + 16 * r + 4 * c, &(affine[(r, c)] as f32).to_le_bytes());
        }
    }
    put(344, b"n+1\0");
    h
}
