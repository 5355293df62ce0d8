//! The NIfTI-1 (348-byte) and NIfTI-2 (540-byte) headers: detection of the version and byte
//! order from `sizeof_hdr`, parsing, and the checks and fixes nibabel applies on load
//! (invalid xform codes become 0, `qfac` not ±1 becomes 1, zero spatial pixdims become 1,
//! negative ones their absolute value), so the affine is the one nibabel reports.

use crate::affine;
use crate::error::NiftiError;
use serde::Serialize;
use std::path::Path;
use voxflow_core::{Affine, DType};

/// Size in bytes of a NIfTI-1 header.
pub const NIFTI1_SIZE: usize = 348;
/// Size in bytes of a NIfTI-2 header.
pub const NIFTI2_SIZE: usize = 540;

/// A parsed NIfTI-1 or NIfTI-2 header, with the values nibabel would report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// 1 or 2.
    pub version: u8,
    /// `dim[1..=dim[0]]`.
    pub shape: Vec<usize>,
    /// The stored voxel type.
    pub datatype: DType,
    /// The file's byte order (detected from `sizeof_hdr`).
    pub big_endian: bool,
    /// `pixdim[1..=dim[0]]`, with nibabel's fixes of the spatial ones (0 → 1, negative → abs).
    pub pixdim: Vec<f64>,
    /// `pixdim[0]` as nibabel uses it: 1 or -1 (anything else is read as 1).
    pub qfac: f64,
    pub scl_slope: f64,
    pub scl_inter: f64,
    /// 0..=5 (an invalid code is read as 0, as nibabel does).
    pub sform_code: i32,
    /// 0..=5 (an invalid code is read as 0, as nibabel does).
    pub qform_code: i32,
    /// The affine nibabel chooses: sform if `sform_code != 0`, else qform if
    /// `qform_code != 0`, else the pixdim "base" affine.
    pub affine: Affine,
    /// The affine of the qform fields, whatever `qform_code` says. When the quaternion is
    /// invalid and the qform is not the chosen affine, it is computed from the normalised
    /// quaternion (nibabel would raise).
    pub qform_affine: Affine,
    /// The affine of the sform rows, whatever `sform_code` says.
    pub sform_affine: Affine,
    /// Byte offset of the voxel data in the (uncompressed) stream.
    pub vox_offset: u64,
    /// quatern_b, quatern_c, quatern_d.
    pub quatern: [f64; 3],
    /// qoffset_x, y, z.
    pub qoffset: [f64; 3],
    pub xyzt_units: u8,
    pub intent_code: i32,
    pub dim_info: u8,
    /// The `descrip` text, up to its first NUL.
    pub descrip: String,
    /// Whether the file was gzip-compressed (detected from its first bytes, not its name).
    pub gzip: bool,
}

impl Header {
    /// `[x, y, z, t]` of the array voxflow reads: missing spatial axes are 1, and every axis
    /// from the fourth on is flattened into `t` (so a 5D `x, y, z, 1, c` file reads as
    /// `x, y, z, c`).
    #[must_use]
    pub fn shape4(&self) -> [usize; 4] {
        let d = |i: usize| self.shape.get(i).copied().unwrap_or(1);
        [d(0), d(1), d(2), self.shape.iter().skip(3).product()]
    }

    /// Number of voxels (`u64::MAX` if the product overflows, which a parsed header's cannot).
    #[must_use]
    pub fn voxel_count(&self) -> u64 {
        self.shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64)).unwrap_or(u64::MAX)
    }

    /// Bytes of voxel data (saturating, as [`Header::voxel_count`]).
    #[must_use]
    pub fn data_bytes(&self) -> u64 {
        self.voxel_count().saturating_mul(self.datatype.size() as u64)
    }

    /// The scaling nibabel applies: `None` when `scl_slope` is 0 or not finite.
    #[must_use]
    pub fn scaling(&self) -> Option<(f64, f64)> {
        if self.scl_slope == 0.0 || !self.scl_slope.is_finite() {
            None
        } else {
            Some((self.scl_slope, self.scl_inter))
        }
    }

    /// The size of the header struct itself (348 or 540).
    #[must_use]
    pub fn header_size(&self) -> usize {
        if self.version == 1 { NIFTI1_SIZE } else { NIFTI2_SIZE }
    }
}

/// The version (1 or 2) and byte order (`true` = big endian) from the first four bytes.
pub fn detect(first4: [u8; 4], path: &Path) -> Result<(u8, bool), NiftiError> {
    let le = i32::from_le_bytes(first4);
    let be = i32::from_be_bytes(first4);
    match (le, be) {
        (348, _) => Ok((1, false)),
        (_, 348) => Ok((1, true)),
        (540, _) => Ok((2, false)),
        (_, 540) => Ok((2, true)),
        _ => Err(NiftiError::BadSizeofHdr { path: path.to_owned(), value: le }),
    }
}

/// Reads fixed-offset fields of a header in its byte order. Offsets past the end read as 0
/// (they cannot happen: the caller passes a whole header).
struct Fields<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Fields<'_> {
    fn arr<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut a = [0u8; N];
        if let Some(s) = self.bytes.get(off..off + N) {
            a.copy_from_slice(s);
        }
        if self.big_endian {
            a.reverse();
        }
        a
    }
    fn u8(&self, off: usize) -> u8 {
        self.bytes.get(off).copied().unwrap_or(0)
    }
    fn i16(&self, off: usize) -> i16 {
        i16::from_le_bytes(self.arr(off))
    }
    fn i32(&self, off: usize) -> i32 {
        i32::from_le_bytes(self.arr(off))
    }
    fn i64(&self, off: usize) -> i64 {
        i64::from_le_bytes(self.arr(off))
    }
    fn f32(&self, off: usize) -> f64 {
        f64::from(f32::from_le_bytes(self.arr(off)))
    }
    fn f64(&self, off: usize) -> f64 {
        f64::from_le_bytes(self.arr(off))
    }
    fn raw(&self, off: usize, len: usize) -> &[u8] {
        self.bytes.get(off..off + len).unwrap_or(&[])
    }
}

/// The fields as stored, before nibabel's fixes and the affine.
struct Raw {
    dim: [i64; 8],
    datatype: i32,
    pixdim: [f64; 8],
    vox_offset: f64,
    scl_slope: f64,
    scl_inter: f64,
    qform_code: i32,
    sform_code: i32,
    quatern: [f64; 3],
    qoffset: [f64; 3],
    srow: [[f64; 4]; 3],
    xyzt_units: u8,
    intent_code: i32,
    dim_info: u8,
    descrip: String,
    magic: Vec<u8>,
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn raw_v1(f: &Fields<'_>) -> Raw {
    Raw {
        dim: std::array::from_fn(|i| i64::from(f.i16(40 + 2 * i))),
        datatype: i32::from(f.i16(70)),
        pixdim: std::array::from_fn(|i| f.f32(76 + 4 * i)),
        vox_offset: f.f32(108),
        scl_slope: f.f32(112),
        scl_inter: f.f32(116),
        qform_code: i32::from(f.i16(252)),
        sform_code: i32::from(f.i16(254)),
        quatern: std::array::from_fn(|i| f.f32(256 + 4 * i)),
        qoffset: std::array::from_fn(|i| f.f32(268 + 4 * i)),
        srow: std::array::from_fn(|r| std::array::from_fn(|c| f.f32(280 + 16 * r + 4 * c))),
        xyzt_units: f.u8(123),
        intent_code: i32::from(f.i16(68)),
        dim_info: f.u8(39),
        descrip: c_string(f.raw(148, 80)),
        magic: f.raw(344, 4).to_vec(),
    }
}

fn raw_v2(f: &Fields<'_>) -> Raw {
    Raw {
        dim: std::array::from_fn(|i| f.i64(16 + 8 * i)),
        datatype: i32::from(f.i16(12)),
        pixdim: std::array::from_fn(|i| f.f64(104 + 8 * i)),
        vox_offset: f.i64(168) as f64,
        scl_slope: f.f64(176),
        scl_inter: f.f64(184),
        qform_code: f.i32(344),
        sform_code: f.i32(348),
        quatern: std::array::from_fn(|i| f.f64(352 + 8 * i)),
        qoffset: std::array::from_fn(|i| f.f64(376 + 8 * i)),
        srow: std::array::from_fn(|r| std::array::from_fn(|c| f.f64(400 + 32 * r + 8 * c))),
        xyzt_units: f.i32(500).clamp(0, 255) as u8,
        intent_code: f.i32(504),
        dim_info: f.u8(524),
        descrip: c_string(f.raw(240, 80)),
        magic: f.raw(4, 4).to_vec(),
    }
}

/// The NIfTI datatype code of a dtype.
#[must_use]
pub fn datatype_code(dtype: DType) -> i16 {
    match dtype {
        DType::U8 => 2,
        DType::I16 => 4,
        DType::I32 => 8,
        DType::F32 => 16,
        DType::F64 => 64,
        DType::I8 => 256,
        DType::U16 => 512,
        DType::U32 => 768,
        DType::I64 => 1024,
        DType::U64 => 1280,
    }
}

fn dtype_from_code(code: i32, path: &Path) -> Result<DType, NiftiError> {
    Ok(match code {
        2 => DType::U8,
        4 => DType::I16,
        8 => DType::I32,
        16 => DType::F32,
        64 => DType::F64,
        256 => DType::I8,
        512 => DType::U16,
        768 => DType::U32,
        1024 => DType::I64,
        1280 => DType::U64,
        other => {
            let name = match other {
                1 => "binary",
                32 => "complex64",
                128 => "RGB24",
                1536 => "float128",
                1792 => "complex128",
                2048 => "complex256",
                2304 => "RGBA32",
                _ => "unknown",
            };
            return Err(NiftiError::UnsupportedDatatype { path: path.to_owned(), code: other, name });
        }
    })
}

/// Parses a whole header (`bytes` holds at least 348 or 540 bytes, per `version`) and checks
/// it: magic, dim, datatype, vox_offset. Does not look at the data.
pub fn parse(
    bytes: &[u8],
    version: u8,
    big_endian: bool,
    gzip: bool,
    path: &Path,
) -> Result<Header, NiftiError> {
    let fields = Fields { bytes, big_endian };
    let raw = if version == 1 { raw_v1(&fields) } else { raw_v2(&fields) };
    let expected_magic: &[u8] = if version == 1 { b"n+1\0" } else { b"n+2\0" };
    if raw.magic != expected_magic {
        return Err(NiftiError::BadMagic {
            path: path.to_owned(),
            magic: String::from_utf8_lossy(&raw.magic).into(),
        });
    }
    let bad_dim =
        |message: String| NiftiError::BadDim { path: path.to_owned(), dim: raw.dim.to_vec(), message };
    let ndim = raw.dim[0];
    if !(1..=7).contains(&ndim) {
        return Err(bad_dim(format!("dim[0] = {ndim} is outside 1..=7")));
    }
    let ndim = ndim as usize;
    let mut shape = Vec::with_capacity(ndim);
    let mut bytes_needed = dtype_from_code(raw.datatype, path)?.size() as u64;
    for (i, &d) in raw.dim[1..=ndim].iter().enumerate() {
        if d < 1 {
            return Err(bad_dim(format!("dim[{}] = {d}: sizes must be at least 1", i + 1)));
        }
        let du = u64::try_from(d).map_err(|_| bad_dim(format!("dim[{}] = {d} is too large", i + 1)))?;
        bytes_needed = bytes_needed
            .checked_mul(du)
            .filter(|&b| usize::try_from(b).is_ok())
            .ok_or_else(|| bad_dim("the data size overflows".to_owned()))?;
        shape.push(du as usize);
    }
    let datatype = dtype_from_code(raw.datatype, path)?;

    let min_offset = if version == 1 { 352.0 } else { 544.0 };
    let v = raw.vox_offset;
    if !(v.is_finite() && v.fract() == 0.0 && v >= min_offset && v < 2f64.powi(62)) {
        return Err(NiftiError::BadVoxOffset {
            path: path.to_owned(),
            vox_offset: v,
            message: format!("must be a whole number of bytes, at least {min_offset} (after the header)"),
        });
    }
    let vox_offset = v as u64;

    // nibabel's fixes on load (problem levels below its error level).
    let mut pixdim = raw.pixdim;
    for p in &mut pixdim[1..4] {
        if *p == 0.0 {
            *p = 1.0;
        } else if *p < 0.0 {
            *p = p.abs();
        }
    }
    let qfac = if pixdim[0] == 1.0 || pixdim[0] == -1.0 { pixdim[0] } else { 1.0 };
    let valid_code = |c: i32| if (0..=5).contains(&c) { c } else { 0 };
    let (qform_code, sform_code) = (valid_code(raw.qform_code), valid_code(raw.sform_code));

    let sform_affine = {
        let mut a = Affine::identity();
        for r in 0..3 {
            for c in 0..4 {
                a[(r, c)] = raw.srow[r][c];
            }
        }
        a
    };
    let threshold = if version == 1 { f64::from(f32::EPSILON) * 3.0 } else { f64::EPSILON * 3.0 };
    let zooms = [pixdim[1], pixdim[2], pixdim[3]];
    let qform = affine::quaternion_to_affine(raw.quatern, qfac, zooms, raw.qoffset, threshold);
    let affine = if sform_code != 0 {
        sform_affine
    } else if qform_code != 0 {
        qform.clone().map_err(|message| NiftiError::BadField {
            path: path.to_owned(),
            field: "quatern_b/c/d",
            message,
        })?
    } else {
        affine::base_affine(&shape, &pixdim[1..=ndim])
    };
    let qform_affine = qform.unwrap_or_else(|_| {
        let [b, c, d] = raw.quatern;
        let n = (b * b + c * c + d * d).sqrt();
        let unit = if n.is_finite() && n > 0.0 { [b / n, c / n, d / n] } else { [0.0; 3] };
        affine::quaternion_to_affine(unit, qfac, zooms, raw.qoffset, 1.0)
            .unwrap_or_else(|_| Affine::identity())
    });

    Ok(Header {
        version,
        shape,
        datatype,
        big_endian,
        pixdim: pixdim[1..=ndim].to_vec(),
        qfac,
        scl_slope: raw.scl_slope,
        scl_inter: raw.scl_inter,
        sform_code,
        qform_code,
        affine,
        qform_affine,
        sform_affine,
        vox_offset,
        quatern: raw.quatern,
        qoffset: raw.qoffset,
        xyzt_units: raw.xyzt_units,
        intent_code: raw.intent_code,
        dim_info: raw.dim_info,
        descrip: raw.descrip,
        gzip,
    })
}
