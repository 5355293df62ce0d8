//! read → write → read is lossless for every sample, as `.nii` and `.nii.gz`; the written
//! header says what the writer promises; gzip output does not depend on the thread count.

use ndarray::{Array3, Array4, ShapeBuilder};
use voxflow_core::{Affine, DType, Kind, Volume, Voxels};
use voxflow_io_nifti::{WriteOptions, read, read_with_header, write, write_to};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");

fn check(file: &str, kind: Kind) {
    let original = read(format!("{DATA}{file}"), kind).expect("sample reads");
    let dir = tempfile::tempdir().expect("tempdir");
    for ext in ["nii", "nii.gz"] {
        let path = dir.path().join(format!("copy.{ext}"));
        write(&path, &original, &WriteOptions::default()).expect("writes");
        let (h, back) = read_with_header(&path, kind).expect("reads back");
        assert_eq!(back.voxels, original.voxels, "{file} as .{ext}: voxels differ");
        assert_eq!(back.affine, original.affine, "{file} as .{ext}: affine differs");
        assert_eq!(h.gzip, ext == "nii.gz");
        assert_eq!((h.version, h.vox_offset, h.xyzt_units, h.sform_code), (1, 352, 10, 2));
        assert_eq!(h.qform_code, 2, "{file}: sample affines have no shear, so the qform is set");
        let qdiff = (h.qform_affine - original.affine).abs().max();
        assert!(qdiff < 1e-4, "{file}: qform differs from the affine by {qdiff}");
        let spacing = original.spacing();
        for (p, s) in h.pixdim.iter().zip(spacing) {
            assert!((p - s).abs() < 1e-5);
        }
        if kind == Kind::Label {
            assert_eq!(back.stored_dtype, original.stored_dtype);
        } else {
            assert_eq!(back.stored_dtype, DType::F32);
        }
    }
}

#[test]
fn anatomical() {
    check("anatomical.nii", Kind::Image);
}

#[test]
fn example4d() {
    check("example4d.nii.gz", Kind::Image);
}

#[test]
fn example_nifti2() {
    check("example_nifti2.nii.gz", Kind::Image);
}

#[test]
fn functional() {
    check("functional.nii", Kind::Image);
}

#[test]
fn mni152_t1() {
    check("mni152_t1.nii.gz", Kind::Image);
}

#[test]
fn mni152_tissue_labels() {
    check("mni152_tissue_labels.nii.gz", Kind::Label);
}

#[test]
fn someones_anatomy() {
    check("someones_anatomy.nii.gz", Kind::Image);
}

#[test]
fn someones_epi() {
    check("someones_epi.nii.gz", Kind::Image);
}

#[test]
fn standard() {
    check("standard.nii.gz", Kind::Image);
}

#[test]
fn anatomical_labels_keep_big_endian_int16_values() {
    check("anatomical.nii", Kind::Label);
}

/// A smooth volume big enough for several gzip members.
fn phantom() -> Volume {
    let data = Array3::from_shape_fn((96, 96, 80), |(x, y, z)| {
        let (x, y, z) = (x as f32 / 96.0 - 0.5, y as f32 / 96.0 - 0.5, z as f32 / 80.0 - 0.5);
        (1000.0 * (-(x * x + y * y + z * z) * 8.0).exp()).round() / 4.0
    });
    Volume::image3(data, Affine::identity())
}

#[test]
fn gzip_output_is_identical_for_any_thread_count() {
    let vol = phantom();
    let bytes = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        pool.install(|| {
            let mut out = Vec::new();
            write_to(&mut out, &vol, &WriteOptions::default(), true).expect("writes");
            out
        })
    };
    let one = bytes(1);
    assert_eq!(one, bytes(2));
    assert_eq!(one, bytes(3));
}

#[test]
fn parallel_and_streamed_gzip_reads_agree() {
    // voxflow's indexed members are inflated in parallel; the same bytes as one plain gzip
    // member are streamed. Both must give the same volume.
    let vol = phantom();
    let dir = tempfile::tempdir().expect("tempdir");
    let (indexed, plain, single) =
        (dir.path().join("indexed.nii.gz"), dir.path().join("plain.nii"), dir.path().join("single.nii.gz"));
    write(&indexed, &vol, &WriteOptions::default()).expect("writes");
    write(&plain, &vol, &WriteOptions::default()).expect("writes");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    std::io::Write::write_all(&mut enc, &std::fs::read(&plain).expect("read")).expect("compress");
    std::fs::write(&single, enc.finish().expect("compress")).expect("write");
    let a = read(&indexed, Kind::Image).expect("parallel read");
    let b = read(&single, Kind::Image).expect("streamed read");
    assert_eq!(a, b);
    assert_eq!(a.voxels, vol.voxels);
}

#[test]
fn c_order_arrays_are_written_in_nifti_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vol = |a: Array4<f32>| Volume {
        voxels: Voxels::Image(a),
        affine: Affine::identity(),
        stored_dtype: DType::F32,
    };
    // Small, several blocks of z with a partial last one, and a 4D one.
    for shape in [(3, 4, 5, 2), (19, 7, 37, 1), (6, 5, 33, 3)] {
        let c =
            Array4::from_shape_fn(shape, |(x, y, z, t)| (x + 100 * y + 10_000 * z + 1_000_000 * t) as f32);
        let mut f = Array4::zeros(shape.f());
        f.assign(&c);
        let (pc, pf) = (dir.path().join("c.nii"), dir.path().join("f.nii"));
        write(&pc, &vol(c.clone()), &WriteOptions::default()).expect("writes");
        write(&pf, &vol(f), &WriteOptions::default()).expect("writes");
        assert_eq!(std::fs::read(&pc).expect("c"), std::fs::read(&pf).expect("f"), "{shape:?}");
        let back = read(&pc, Kind::Image).expect("reads");
        assert_eq!(back.voxels, Voxels::Image(c));
    }
}

#[test]
fn integer_image_dtypes() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Integral values in range: stored exactly.
    let ints = Volume::image3(
        Array3::from_shape_fn((4, 5, 6), |(x, y, z)| (x * 30 + y * 7 + z) as f32 - 50.0),
        Affine::identity(),
    );
    let path = dir.path().join("ints.nii.gz");
    write(&path, &ints, &WriteOptions { image_dtype: DType::I16, ..WriteOptions::default() })
        .expect("writes");
    let (h, back) = read_with_header(&path, Kind::Image).expect("reads");
    assert_eq!((h.datatype, h.scl_slope, h.scl_inter), (DType::I16, 1.0, 0.0));
    assert_eq!(back.voxels, ints.voxels);
    // Fractional values: scaled onto uint8, within half a quantisation step.
    let frac = Volume::image3(
        Array3::from_shape_fn((4, 5, 6), |(x, y, z)| (x + y + z) as f32 * 0.37 + 3.1),
        Affine::identity(),
    );
    write(&path, &frac, &WriteOptions { image_dtype: DType::U8, ..WriteOptions::default() }).expect("writes");
    let (h, back) = read_with_header(&path, Kind::Image).expect("reads");
    assert_eq!(h.datatype, DType::U8);
    let step = h.scl_slope;
    let (Voxels::Image(a), Voxels::Image(b)) = (&back.voxels, &frac.voxels) else { panic!("images") };
    let worst = a.iter().zip(b).map(|(p, q)| f64::from((p - q).abs())).fold(0.0, f64::max);
    assert!(worst <= step * 0.5 + 1e-4, "worst {worst} step {step}");
    // f64 storage is lossless.
    write(&path, &frac, &WriteOptions { image_dtype: DType::F64, ..WriteOptions::default() })
        .expect("writes");
    let (h, back) = read_with_header(&path, Kind::Image).expect("reads");
    assert_eq!(h.datatype, DType::F64);
    assert_eq!(back.voxels, frac.voxels);
}

#[test]
fn sheared_affine_sets_no_qform() {
    let mut affine = Affine::identity();
    affine[(0, 1)] = 0.5;
    let vol = Volume::image3(Array3::zeros((2, 3, 4)), affine);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shear.nii");
    write(&path, &vol, &WriteOptions::default()).expect("writes");
    let (h, back) = read_with_header(&path, Kind::Image).expect("reads");
    assert_eq!((h.sform_code, h.qform_code), (2, 0));
    assert_eq!(back.affine, affine);
}

/// A volume bigger than the 64 MiB a gzip read starts with: voxflow's indexed file is inflated
/// in two waves of members, and the same data as one plain gzip member is streamed into an
/// array that grows; both read back exactly, and in memory as from the file.
#[test]
fn gzip_larger_than_the_first_reservation() {
    use flate2::{Compression, read::MultiGzDecoder, write::GzEncoder};
    use std::io::{Read, Write};
    let data = Array3::from_shape_fn((512, 512, 66), |(x, y, z)| ((x * 7 + y * 3 + z) % 1009) as f32);
    let original = Volume::image3(data, Affine::identity());
    let mut indexed = Vec::new();
    write_to(&mut indexed, &original, &WriteOptions::default(), true).expect("in memory");
    let (_, back) = voxflow_io_nifti::read_bytes(&indexed, Kind::Image, voxflow_io_nifti::MAX_VOXELS)
        .expect("indexed reads");
    assert!(back.voxels == original.voxels, "indexed gzip: voxels differ");

    let mut raw = Vec::new();
    MultiGzDecoder::new(indexed.as_slice()).read_to_end(&mut raw).expect("gunzip");
    drop(indexed);
    let mut plain = GzEncoder::new(Vec::new(), Compression::fast());
    plain.write_all(&raw).expect("in memory");
    let plain = plain.finish().expect("in memory");
    drop(raw);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plain.nii.gz");
    std::fs::write(&path, &plain).expect("write");
    let back = read(&path, Kind::Image).expect("plain gzip reads");
    assert!(back.voxels == original.voxels, "plain gzip: voxels differ");
}
