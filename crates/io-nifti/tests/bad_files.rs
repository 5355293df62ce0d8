//! Bad input: every case gives a typed error naming the file, never a panic, and never a large
//! allocation sized by an untrusted header. One test per case, on small files crafted here.

use flate2::Compression;
use flate2::write::GzEncoder;
use ndarray::Array3;
use std::io::Write;
use std::path::{Path, PathBuf};
use voxflow_core::{Affine, DType, Kind, LabelArray, Volume, Voxels};
use voxflow_io_nifti::{NiftiError, WriteOptions, read, read_header, write, write_to};

/// A valid little-endian NIfTI-1 file (uncompressed) of a 3x4x5 u8 label map, as bytes.
fn valid() -> Vec<u8> {
    let data = Array3::from_shape_fn((3, 4, 5), |(x, y, z)| (x + 3 * y + 12 * z) as u8);
    let vol = Volume::label3(data, Affine::identity());
    let mut bytes = Vec::new();
    write_to(&mut bytes, &vol, &WriteOptions::default(), false).expect("writes to memory");
    bytes
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(1));
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

fn put_i16(b: &mut [u8], off: usize, v: i16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes `bytes` to a temp file named `name`, reads it, and returns the error, after
/// checking that its message names the file.
fn check(name: &str, bytes: &[u8], kind: Kind) -> NiftiError {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    let err = read(&path, kind).expect_err("bad file must not read");
    assert!(err.to_string().contains(name), "error does not name the file: {err}");
    err
}

fn check_image(name: &str, bytes: &[u8]) -> NiftiError {
    check(name, bytes, Kind::Image)
}

#[test]
fn valid_file_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ok.nii");
    std::fs::write(&path, valid()).expect("write");
    let v = read(&path, Kind::Label).expect("reads");
    assert_eq!(v.shape4(), [3, 4, 5, 1]);
}

#[test]
fn empty_file() {
    assert!(matches!(check_image("empty.nii", &[]), NiftiError::Empty { .. }));
}

#[test]
fn truncated_header() {
    let b = valid();
    let err = check_image("short.nii", &b[..100]);
    assert!(matches!(err, NiftiError::Truncated { what: "header", expected: 348, found: 100, .. }), "{err}");
}

#[test]
fn truncated_header_gzip() {
    let err = check_image("short.nii.gz", &gz(&valid()[..200]));
    assert!(matches!(err, NiftiError::Truncated { what: "header", .. }), "{err}");
}

#[test]
fn truncated_data() {
    let b = valid();
    let err = check_image("cut.nii", &b[..b.len() - 7]);
    assert!(
        matches!(err, NiftiError::Truncated { what: "voxel data", expected: 60, found: 53, .. }),
        "{err}"
    );
}

#[test]
fn truncated_data_gzip() {
    let b = valid();
    let err = check_image("cut.nii.gz", &gz(&b[..b.len() - 7]));
    assert!(
        matches!(err, NiftiError::Truncated { what: "voxel data", expected: 60, found: 53, .. }),
        "{err}"
    );
}

#[test]
fn truncated_gzip_stream() {
    let z = gz(&valid());
    let err = check_image("cutstream.nii.gz", &z[..z.len() - 20]);
    assert!(matches!(err, NiftiError::Truncated { .. } | NiftiError::Gzip { .. }), "{err}");
}

#[test]
fn wrong_magic() {
    let mut b = valid();
    b[344..348].copy_from_slice(b"ni1\0");
    assert!(matches!(check_image("magic.nii", &b), NiftiError::BadMagic { .. }));
}

#[test]
fn bad_sizeof_hdr() {
    let mut b = valid();
    b[0..4].copy_from_slice(&349i32.to_le_bytes());
    assert!(matches!(check_image("sizeof.nii", &b), NiftiError::BadSizeofHdr { value: 349, .. }));
}

#[test]
fn not_nifti_at_all() {
    let err = check_image("text.nii", b"hello, this is not a NIfTI file at all");
    assert!(matches!(err, NiftiError::BadSizeofHdr { .. }), "{err}");
}

#[test]
fn zero_dim() {
    let mut b = valid();
    put_i16(&mut b, 44, 0);
    assert!(matches!(check_image("zero.nii", &b), NiftiError::BadDim { .. }));
}

#[test]
fn negative_dim() {
    let mut b = valid();
    put_i16(&mut b, 46, -5);
    assert!(matches!(check_image("negative.nii", &b), NiftiError::BadDim { .. }));
}

#[test]
fn dim0_zero() {
    let mut b = valid();
    put_i16(&mut b, 40, 0);
    assert!(matches!(check_image("dim0.nii", &b), NiftiError::BadDim { .. }));
}

#[test]
fn dim0_too_large() {
    let mut b = valid();
    put_i16(&mut b, 40, 8);
    assert!(matches!(check_image("dim8.nii", &b), NiftiError::BadDim { .. }));
}

/// A NIfTI-2 header (little endian, f32 data) with the given dims and no data.
fn nifti2(dims: &[i64]) -> Vec<u8> {
    let mut b = vec![0u8; 544];
    b[0..4].copy_from_slice(&540i32.to_le_bytes());
    b[4..12].copy_from_slice(b"n+2\0\r\n\x1a\n");
    b[12..14].copy_from_slice(&16i16.to_le_bytes());
    b[14..16].copy_from_slice(&32i16.to_le_bytes());
    b[16..24].copy_from_slice(&(dims.len() as i64).to_le_bytes());
    for (i, d) in dims.iter().enumerate() {
        b[24 + 8 * i..32 + 8 * i].copy_from_slice(&d.to_le_bytes());
    }
    b[168..176].copy_from_slice(&544i64.to_le_bytes());
    b
}

#[test]
fn dims_product_overflows() {
    let err = check_image("overflow.nii", &nifti2(&[1 << 40, 1 << 40, 1 << 40]));
    assert!(matches!(err, NiftiError::BadDim { .. }), "{err}");
}

#[test]
fn dims_exceed_file() {
    let mut b = valid();
    put_i16(&mut b, 42, 300);
    let err = check_image("big.nii", &b);
    assert!(matches!(err, NiftiError::Truncated { what: "voxel data", .. }), "{err}");
}

#[test]
fn huge_claim_in_tiny_gzip_fails_fast() {
    // A ~300-byte gzip file claiming 30000^3 voxels: rejected from the header alone.
    let mut b = valid();
    b.truncate(352);
    for off in [42, 44, 46] {
        put_i16(&mut b, off, 30000);
    }
    let z = gz(&b);
    assert!(z.len() < 400, "{}", z.len());
    let err = check_image("bomb.nii.gz", &z);
    assert!(matches!(err, NiftiError::DataTooLarge { .. }), "{err}");
    // Same with a NIfTI-2 header, whose dims are 64-bit.
    let err = check_image("bomb2.nii.gz", &gz(&nifti2(&[30000, 30000, 30000])));
    assert!(matches!(err, NiftiError::DataTooLarge { .. }), "{err}");
}

#[test]
fn vox_offset_past_end() {
    let mut b = valid();
    b[108..112].copy_from_slice(&1.0e6f32.to_le_bytes());
    let err = check_image("offset.nii", &b);
    assert!(matches!(err, NiftiError::BadVoxOffset { .. }), "{err}");
}

#[test]
fn vox_offset_inside_header() {
    let mut b = valid();
    b[108..112].copy_from_slice(&100f32.to_le_bytes());
    assert!(matches!(check_image("inside.nii", &b), NiftiError::BadVoxOffset { .. }));
}

#[test]
fn unknown_datatype() {
    let mut b = valid();
    put_i16(&mut b, 70, 77);
    let err = check_image("dtype.nii", &b);
    assert!(matches!(err, NiftiError::UnsupportedDatatype { code: 77, name: "unknown", .. }), "{err}");
}

#[test]
fn complex_datatype() {
    let mut b = valid();
    put_i16(&mut b, 70, 32);
    assert!(matches!(check_image("complex.nii", &b), NiftiError::UnsupportedDatatype { code: 32, .. }));
}

#[test]
fn corrupt_gzip_deflate_block() {
    let mut z = gz(&valid());
    z[10] = 0xff; // first deflate block: final, reserved block type 11
    let err = check_image("corrupt.nii.gz", &z);
    assert!(matches!(err, NiftiError::Gzip { .. }), "{err}");
}

#[test]
fn corrupt_gzip_checksum() {
    let mut z = gz(&valid());
    let n = z.len();
    z[n - 8] ^= 0xff; // CRC-32 of the member
    let err = check_image("crc.nii.gz", &z);
    assert!(matches!(err, NiftiError::Gzip { .. }), "{err}");
}

#[test]
fn gzip_header_only() {
    // Magic bytes of gzip and nothing else.
    let err = check_image("magiconly.nii.gz", &[0x1f, 0x8b]);
    assert!(matches!(err, NiftiError::Gzip { .. } | NiftiError::Truncated { .. }), "{err}");
}

#[test]
fn invalid_quaternion_when_qform_is_the_affine() {
    let mut b = valid();
    put_i16(&mut b, 254, 0); // no sform: the qform decides
    put_i16(&mut b, 252, 1);
    b[256..260].copy_from_slice(&0.9f32.to_le_bytes());
    b[260..264].copy_from_slice(&0.9f32.to_le_bytes());
    let err = check_image("quat.nii", &b);
    assert!(matches!(err, NiftiError::BadField { field: "quatern_b/c/d", .. }), "{err}");
}

#[test]
fn float_labels_must_be_integral() {
    let vol = Volume::image3(Array3::from_elem((2, 2, 2), 1.5), Affine::identity());
    let mut b = Vec::new();
    write_to(&mut b, &vol, &WriteOptions::default(), false).expect("in memory");
    let err = check("float.nii", &b, Kind::Label);
    assert!(matches!(err, NiftiError::NotIntegral { value: 1.5, dtype: DType::F32, .. }), "{err}");
}

#[test]
fn draw_is_not_a_readable_kind() {
    assert!(matches!(check("draw.nii", &valid(), Kind::Draw), NiftiError::BadKind { .. }));
}

#[test]
fn missing_file() {
    let err = read("/nonexistent/dir/missing.nii", Kind::Image).expect_err("missing");
    assert!(matches!(err, NiftiError::Io { .. }) && err.to_string().contains("missing.nii"));
}

/// A voxflow-written (indexed, multi-member) .nii.gz of a volume spanning several members.
fn indexed_gz() -> Vec<u8> {
    let data = Array3::from_shape_fn((128, 128, 80), |(x, y, z)| ((x * y + z) % 251) as f32);
    let mut z = Vec::new();
    write_to(&mut z, &Volume::image3(data, Affine::identity()), &WriteOptions::default(), true)
        .expect("in memory");
    z
}

#[test]
fn indexed_gzip_corrupt_member() {
    let mut z = indexed_gz();
    let n = z.len();
    z[n - 2000] ^= 0xff; // inside the last member's deflate data
    let err = check_image("corrupt_member.nii.gz", &z);
    assert!(matches!(err, NiftiError::Gzip { .. }), "{err}");
}

#[test]
fn indexed_gzip_truncated() {
    let z = indexed_gz();
    let err = check_image("cut_indexed.nii.gz", &z[..z.len() - 100]);
    assert!(matches!(err, NiftiError::Truncated { .. } | NiftiError::Gzip { .. }), "{err}");
}

#[test]
fn indexed_gzip_with_a_lying_member_length() {
    let mut z = indexed_gz();
    // The first data member starts after the header member; make its length field lie.
    let header_member =
        usize::try_from(u64::from_le_bytes(z[16..24].try_into().expect("8 bytes"))).expect("fits");
    z[header_member + 16..header_member + 24].copy_from_slice(&7u64.to_le_bytes());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lying.nii.gz");
    std::fs::write(&path, &z).expect("write");
    // The index is not trusted: the file is streamed instead, and reads correctly.
    let v = read(&path, Kind::Image).expect("reads by streaming");
    assert_eq!(v.shape4(), [128, 128, 80, 1]);
}

// --- things that must work on odd but valid files ---

fn read_bytes(name: &str, bytes: &[u8], kind: Kind) -> Volume {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    read(&path, kind).expect("valid file reads")
}

#[test]
fn gzip_detected_by_content_not_name() {
    let v = read_bytes("really_gzip.nii", &gz(&valid()), Kind::Label);
    assert_eq!(v.shape4(), [3, 4, 5, 1]);
}

#[test]
fn multi_member_gzip_reads_whole() {
    let b = valid();
    let mut z = gz(&b[..100]);
    z.extend(gz(&b[100..380]));
    z.extend(gz(&b[380..]));
    let v = read_bytes("multi.nii.gz", &z, Kind::Label);
    assert_eq!(v, read_bytes("single.nii", &b, Kind::Label));
}

#[test]
fn nan_slope_means_no_scaling() {
    let mut b = valid();
    b[112..116].copy_from_slice(&f32::NAN.to_le_bytes());
    b[116..120].copy_from_slice(&5f32.to_le_bytes());
    let v = read_bytes("nan.nii", &b, Kind::Image);
    let Voxels::Image(a) = &v.voxels else { panic!("image") };
    assert_eq!(a[[2, 3, 4, 0]], 2.0 + 9.0 + 48.0);
}

#[test]
fn integral_float_labels_get_the_smallest_type() {
    let vol =
        Volume::image3(Array3::from_shape_fn((2, 2, 2), |(x, _, _)| -(x as f32) * 200.0), Affine::identity());
    let mut b = Vec::new();
    write_to(&mut b, &vol, &WriteOptions::default(), false).expect("in memory");
    let v = read_bytes("intfloat.nii", &b, Kind::Label);
    assert!(matches!(v.voxels, Voxels::Label(LabelArray::I16(_))));
    assert_eq!(v.stored_dtype, DType::F32);
}

#[test]
fn base_affine_when_no_codes() {
    // nibabel: shape (3, 4, 5), zooms (2, 3, 4), no sform/qform ->
    // [[-2, 0, 0, 2], [0, 3, 0, -4.5], [0, 0, 4, -8], [0, 0, 0, 1]]
    let mut b = valid();
    put_i16(&mut b, 252, 0);
    put_i16(&mut b, 254, 0);
    for (i, z) in [2f32, 3.0, 4.0].iter().enumerate() {
        b[80 + 4 * i..84 + 4 * i].copy_from_slice(&z.to_le_bytes());
    }
    let v = read_bytes("base.nii", &b, Kind::Label);
    let want = Affine::new(-2., 0., 0., 2., 0., 3., 0., -4.5, 0., 0., 4., -8., 0., 0., 0., 1.);
    assert_eq!(v.affine, want);
}

#[test]
fn big_endian_nifti2_with_extension_reads() {
    // NIfTI-2, big endian, 2x1x1x3 i16, 16 bytes of extension, qform only (negative qfac).
    let mut b = vec![0u8; 560];
    b[0..4].copy_from_slice(&540i32.to_be_bytes());
    b[4..12].copy_from_slice(b"n+2\0\r\n\x1a\n");
    b[12..14].copy_from_slice(&4i16.to_be_bytes());
    let dims: [i64; 5] = [4, 2, 1, 1, 3];
    for (i, d) in dims.iter().enumerate() {
        b[16 + 8 * i..24 + 8 * i].copy_from_slice(&d.to_be_bytes());
    }
    let pixdim = [-1.0f64, 2.0, 3.0, 4.0];
    for (i, p) in pixdim.iter().enumerate() {
        b[104 + 8 * i..112 + 8 * i].copy_from_slice(&p.to_be_bytes());
    }
    b[168..176].copy_from_slice(&560i64.to_be_bytes());
    b[344..348].copy_from_slice(&1i32.to_be_bytes());
    b[376..384].copy_from_slice(&10f64.to_be_bytes());
    for (i, v) in [1i16, -2, 3, -4, 5, -6].iter().enumerate() {
        b.extend(v.to_be_bytes());
        let _ = i;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join("be2.nii");
    std::fs::write(&path, &b).expect("write");
    let h = read_header(&path).expect("header");
    assert_eq!((h.version, h.big_endian, h.shape.clone()), (2, true, vec![2, 1, 1, 3]));
    let want = Affine::new(2., 0., 0., 10., 0., 3., 0., 0., 0., 0., -4., 0., 0., 0., 0., 1.);
    assert_eq!(h.affine, want);
    let v = read(&path, Kind::Label).expect("reads");
    let Voxels::Label(LabelArray::I16(a)) = &v.voxels else { panic!("i16 labels") };
    assert_eq!(a.as_slice_memory_order().expect("contiguous"), &[1, -2, 3, -4, 5, -6]);
    assert_eq!(a[[1, 0, 0, 2]], -6);
}

#[test]
fn qform_with_nibabels_load_fixes() {
    // qform only, oblique quaternion, pixdim [0.5, -2, 0, 3]: nibabel reads qfac 0.5 as 1,
    // -2 as 2 and 0 as 1. Expected values printed by nibabel 5.4 for the same bytes.
    let mut b = valid();
    put_i16(&mut b, 252, 1);
    put_i16(&mut b, 254, 0);
    for (i, v) in [0.1f32, -0.2, 0.3, 1.0, 2.0, 3.0].iter().enumerate() {
        b[256 + 4 * i..260 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    for (i, v) in [0.5f32, -2.0, 0.0, 3.0].iter().enumerate() {
        b[76 + 4 * i..80 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let v = read_bytes("qform.nii", &b, Kind::Label);
    let want = [
        [1.479_999_966_621_398_3, -0.596_417_130_235_974_1, -0.932_834_220_615_459_2, 1.0],
        [1.032_834_255_703_576_6, 0.799_999_985_098_838_5, -0.916_417_134_894_645_8, 2.0],
        [0.861_889_493_523_328_1, 0.065_472_365_185_193_28, 2.699_999_991_059_303, 3.0],
    ];
    for (r, row) in want.iter().enumerate() {
        for (c, w) in row.iter().enumerate() {
            assert!((v.affine[(r, c)] - w).abs() < 1e-12, "[{r}][{c}] {} vs {w}", v.affine[(r, c)]);
        }
    }
}

#[test]
fn five_dims_flatten_into_frames() {
    // 2x3x1x1x2 (a 5D "vector" file) reads as [2, 3, 1, 2]; 60 bytes hold 2*3*2 = 12 voxels.
    let mut b = valid();
    for (i, d) in [5i16, 2, 3, 1, 1, 2, 1, 1].iter().enumerate() {
        put_i16(&mut b, 40 + 2 * i, *d);
    }
    b.truncate(352 + 12);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("five.nii");
    std::fs::write(&path, &b).expect("write");
    let h = read_header(&path).expect("header");
    assert_eq!(h.shape, vec![2, 3, 1, 1, 2]);
    let v = read(&path, Kind::Label).expect("reads");
    assert_eq!(v.shape4(), [2, 3, 1, 2]);
}

#[test]
fn two_dims_get_unit_axes() {
    let mut b = valid();
    for (i, d) in [2i16, 3, 4, 1, 1, 1, 1, 1].iter().enumerate() {
        put_i16(&mut b, 40 + 2 * i, *d);
    }
    b.truncate(352 + 12);
    let v = read_bytes("two.nii", &b, Kind::Image);
    assert_eq!(v.shape4(), [3, 4, 1, 1]);
}

// --- writing ---

fn no_leftovers(dir: &Path) {
    let names: Vec<_> = std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert!(names.is_empty(), "left behind: {names:?}");
}

#[test]
fn failed_write_leaves_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.nii.gz");
    let vol = Volume::image3(Array3::from_elem((2, 2, 2), f32::NAN), Affine::identity());
    let opts = WriteOptions { image_dtype: DType::I16, ..WriteOptions::default() };
    let err = write(&path, &vol, &opts).expect_err("NaN cannot be stored as int16");
    assert!(matches!(err, NiftiError::Unwritable { .. }) && err.to_string().contains("out.nii.gz"), "{err}");
    no_leftovers(dir.path());
}

#[test]
fn failed_write_keeps_the_old_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keep.nii");
    std::fs::write(&path, b"old").expect("write");
    let vol = Volume::image3(Array3::from_elem((2, 2, 2), f32::INFINITY), Affine::identity());
    let opts = WriteOptions { image_dtype: DType::U8, ..WriteOptions::default() };
    assert!(write(&path, &vol, &opts).is_err());
    assert_eq!(std::fs::read(&path).expect("still there"), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
}

#[test]
fn write_needs_a_nifti_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vol = Volume::image3(Array3::zeros((2, 2, 2)), Affine::identity());
    let err = write(dir.path().join("out.png"), &vol, &WriteOptions::default()).expect_err("not nifti");
    assert!(matches!(err, NiftiError::BadExtension { .. }));
    no_leftovers(dir.path());
}

#[test]
fn write_into_missing_directory() {
    let vol = Volume::image3(Array3::zeros((2, 2, 2)), Affine::identity());
    let err = write("/nonexistent/dir/out.nii", &vol, &WriteOptions::default()).expect_err("no dir");
    assert!(matches!(err, NiftiError::Io { .. }) && err.to_string().contains("out.nii"), "{err}");
}

#[test]
fn write_rejects_a_bad_gzip_level() {
    let vol = Volume::image3(Array3::zeros((2, 2, 2)), Affine::identity());
    let opts = WriteOptions { gzip_level: 10, ..WriteOptions::default() };
    let err = write_to(Vec::new(), &vol, &opts, true).expect_err("level 10");
    assert!(matches!(err, NiftiError::Unwritable { .. }) && err.to_string().contains("<stream>"));
}
