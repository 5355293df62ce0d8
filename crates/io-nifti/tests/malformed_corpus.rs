//! A malformed-file corpus, generated deterministically from the sample files in `data/`:
//! truncations, header fields set to bad values, bit flips, broken gzip streams, gzip bombs,
//! random bytes. Every case is read through the path and the in-memory entry points, as an
//! image and as a label map, and must return `Ok` or `Err`: never panic, and never allocate
//! beyond a bound (the cases claiming huge sizes must fail fast, having allocated almost
//! nothing). Also: a FIFO, a directory and a symlink to a FIFO are refused, not waited on.
//!
//! The allocation bound is measured with a counting global allocator (this test binary only).

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use ndarray::Array3;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use voxflow_core::{Affine, Kind, Volume};
use voxflow_io_nifti::{
    MAX_VOXELS, NiftiError, WriteOptions, read, read_bytes, read_header, read_with_limit, write_to,
};

// --- a counting allocator: live bytes and their peak ---

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(n: usize) {
    LIVE.fetch_sub(n, Ordering::Relaxed);
}

// The one `unsafe` here: a global allocator must implement the unsafe `GlobalAlloc` trait.
// Every call forwards to `System` unchanged and only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc`; the caller guarantees `new_size` is valid for `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`, returning its result and the most bytes it had allocated at once (beyond what
/// was live before; other tests running at the same time add a little noise).
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

// --- building the corpus ---

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");
const MIB: usize = 1 << 20;

/// What a case must do beyond not panicking.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Ok or Err, within the general allocation bound.
    Anything,
    /// A header claiming far more than the file holds: Err, fast, allocating almost nothing.
    HugeClaim,
    /// A stream that holds less than its header claims: Err, fast, within the general bound.
    ShortStream,
    /// Trailing data past what the header claims is ignored: Ok.
    Reads,
}

struct Case {
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
}

/// A valid sample, uncompressed, with the version and byte order of its header.
struct Base {
    name: &'static str,
    raw: Vec<u8>,
    version: u8,
    big_endian: bool,
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("sample decompresses");
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

fn base(name: &'static str) -> Base {
    let file = std::fs::read(format!("{DATA}{name}")).expect("sample file");
    let raw = if file.starts_with(&[0x1f, 0x8b]) { gunzip(&file) } else { file };
    let first: [u8; 4] = raw[..4].try_into().expect("4 bytes");
    let (version, big_endian) = match (i32::from_le_bytes(first), i32::from_be_bytes(first)) {
        (348, _) => (1, false),
        (_, 348) => (1, true),
        (540, _) => (2, false),
        (_, 540) => (2, true),
        other => panic!("{name}: not a NIfTI sample: {other:?}"),
    };
    Base { name, raw, version, big_endian }
}

/// Header fields, located per version.
#[derive(Debug, Clone, Copy)]
enum Field {
    SizeofHdr,
    Dim(usize),
    Datatype,
    Bitpix,
    Pixdim(usize),
    VoxOffset,
    SclSlope,
    SclInter,
    QformCode,
    SformCode,
    Quatern(usize),
    Srow(usize),
}

/// Where a field is and how it is stored: (offset, width in bytes, is a float).
fn layout(field: Field, version: u8) -> (usize, usize, bool) {
    if version == 1 {
        match field {
            Field::SizeofHdr => (0, 4, false),
            Field::Dim(i) => (40 + 2 * i, 2, false),
            Field::Datatype => (70, 2, false),
            Field::Bitpix => (72, 2, false),
            Field::Pixdim(i) => (76 + 4 * i, 4, true),
            Field::VoxOffset => (108, 4, true),
            Field::SclSlope => (112, 4, true),
            Field::SclInter => (116, 4, true),
            Field::QformCode => (252, 2, false),
            Field::SformCode => (254, 2, false),
            Field::Quatern(i) => (256 + 4 * i, 4, true),
            Field::Srow(i) => (280 + 4 * i, 4, true),
        }
    } else {
        match field {
            Field::SizeofHdr => (0, 4, false),
            Field::Dim(i) => (16 + 8 * i, 8, false),
            Field::Datatype => (12, 2, false),
            Field::Bitpix => (14, 2, false),
            Field::Pixdim(i) => (104 + 8 * i, 8, true),
            Field::VoxOffset => (168, 8, false),
            Field::SclSlope => (176, 8, true),
            Field::SclInter => (184, 8, true),
            Field::QformCode => (344, 4, false),
            Field::SformCode => (348, 4, false),
            Field::Quatern(i) => (352 + 8 * i, 8, true),
            Field::Srow(i) => (400 + 8 * i, 8, true),
        }
    }
}

/// A value to store: integers are truncated to the field's width, floats rounded to it;
/// an integer field given a float gets it cast, and the reverse.
#[derive(Debug, Clone, Copy)]
enum Value {
    Int(i64),
    Float(f64),
}

fn set(bytes: &mut [u8], base: &Base, field: Field, value: Value) {
    let (off, width, is_float) = layout(field, base.version);
    let mut le: Vec<u8> = match (value, is_float, width) {
        (Value::Int(v), false, _) => v.to_le_bytes()[..width].to_vec(),
        (Value::Float(v), false, _) => (v as i64).to_le_bytes()[..width].to_vec(),
        (Value::Int(v), true, 4) => (v as f32).to_le_bytes().to_vec(),
        (Value::Float(v), true, 4) => (v as f32).to_le_bytes().to_vec(),
        (Value::Int(v), true, _) => (v as f64).to_le_bytes().to_vec(),
        (Value::Float(v), true, _) => v.to_le_bytes().to_vec(),
    };
    if base.big_endian {
        le.reverse();
    }
    bytes[off..off + width].copy_from_slice(&le);
}

/// A deterministic xorshift generator, so the "random" cases are the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Each header mutation of one base: the field values to set (applied in order).
fn header_mutations(base: &Base) -> Vec<(String, Vec<(Field, Value)>)> {
    use Field::{
        Bitpix, Datatype, Dim, Pixdim, QformCode, Quatern, SclInter, SclSlope, SformCode, SizeofHdr, Srow,
        VoxOffset,
    };
    use Value::{Float, Int};
    let len = base.raw.len() as i64;
    let mut m: Vec<(String, Vec<(Field, Value)>)> = Vec::new();
    let mut one = |name: String, field: Field, value: Value| m.push((name, vec![(field, value)]));
    for v in [0, -1, 8, 7, 1, 2, 32767, -32768] {
        one(format!("dim0={v}"), Dim(0), Int(v));
    }
    let mut dims = vec![0, -1, 30000, 32767, -32768, 2];
    if base.version == 2 {
        dims.extend([1 << 31, 1 << 40, i64::MAX, i64::MIN]);
    }
    for i in 1..=4 {
        for &v in &dims {
            one(format!("dim{i}={v}"), Dim(i), Int(v));
        }
    }
    for v in [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, -1, 77] {
        one(format!("datatype={v}"), Datatype, Int(v));
    }
    for v in [0, 1, 7, -8, 255] {
        one(format!("bitpix={v}"), Bitpix, Int(v));
    }
    let other_size = if base.version == 1 { 540 } else { 348 };
    for v in [0, 347, 349, other_size, -348, 0x5c01_0000] {
        one(format!("sizeof_hdr={v}"), SizeofHdr, Int(v));
    }
    for v in [0.0, 351.0, 352.5, 353.0, -352.0, f64::NAN, f64::INFINITY, 1e30, len as f64, (len + 1) as f64] {
        one(format!("vox_offset={v}"), VoxOffset, Float(v));
    }
    for i in 0..=4 {
        for v in [f64::NAN, -1.0, 0.0, f64::INFINITY, f64::NEG_INFINITY, 1e-30, 1e30] {
            one(format!("pixdim{i}={v}"), Pixdim(i), Float(v));
        }
    }
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0, 1e38, 1e-38] {
        one(format!("scl_slope={v}"), SclSlope, Float(v));
    }
    for v in [f64::NAN, f64::INFINITY] {
        m.push((format!("scl_slope=2,scl_inter={v}"), vec![(SclSlope, Float(2.0)), (SclInter, Float(v))]));
    }
    for v in [-1, 6, 1000, i64::from(i16::MIN)] {
        m.push((format!("qform_code={v}"), vec![(QformCode, Int(v))]));
        m.push((format!("sform_code={v}"), vec![(SformCode, Int(v))]));
    }
    let junk_quaternions: [[f64; 3]; 7] = [
        [0.9, 0.9, 0.9],
        [f64::NAN, 0.0, 0.0],
        [f64::INFINITY, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.000_000_1, 0.0, 0.0],
        [-1e30, 1e30, 0.0],
        [0.0, 0.0, 0.0],
    ];
    for q in junk_quaternions {
        let mut fields = vec![(QformCode, Int(1)), (SformCode, Int(0))];
        fields.extend((0..3).map(|i| (Quatern(i), Float(q[i]))));
        m.push((format!("quatern={q:?}"), fields.clone()));
        fields.push((Pixdim(0), Float(f64::NAN)));
        m.push((format!("quatern={q:?},qfac=nan"), fields));
    }
    for v in [f64::NAN, f64::INFINITY, 0.0] {
        let mut fields = vec![(SformCode, Int(1))];
        fields.extend((0..12).map(|i| (Srow(i), Float(v))));
        m.push((format!("srow=all {v}"), fields));
    }
    m
}

fn corpus() -> Vec<Case> {
    let bases = [
        base("standard.nii.gz"),
        base("anatomical.nii"),
        base("functional.nii"),
        base("example_nifti2.nii.gz"),
        base("someones_epi.nii.gz"),
    ];
    let mut cases = Vec::new();
    let mut push = |name: String, bytes: Vec<u8>, expect: Expect| cases.push(Case { name, bytes, expect });
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);

    for b in &bases {
        let hdr = if b.version == 1 { 348 } else { 540 };
        let gzb = gz(&b.raw);
        // Truncations, of the raw file and of the gzip stream.
        let len = b.raw.len();
        let cuts = [
            1,
            2,
            3,
            4,
            40,
            100,
            hdr - 1,
            hdr,
            hdr + 1,
            hdr + 3,
            hdr + 4,
            hdr + 5,
            len / 2,
            len - 2,
            len - 1,
        ];
        for cut in cuts {
            push(format!("{}: raw cut at {cut}", b.name), b.raw[..cut].to_vec(), Expect::Anything);
            push(format!("{}: gzip of raw cut at {cut}", b.name), gz(&b.raw[..cut]), Expect::Anything);
        }
        let zl = gzb.len();
        for cut in [1, 2, 3, 9, 10, 11, 20, 100, zl / 2, zl - 9, zl - 8, zl - 4, zl - 1] {
            push(format!("{}: gzip stream cut at {cut}", b.name), gzb[..cut].to_vec(), Expect::Anything);
        }
        // Corrupt gzip: CRC, ISIZE, deflate data, trailing garbage, a garbage second member.
        for (what, at) in
            [("crc", zl - 8), ("isize", zl - 2), ("deflate", zl / 3), ("flags", 3), ("method", 2)]
        {
            let mut z = gzb.clone();
            z[at] ^= 0x5a;
            push(format!("{}: gzip {what} flipped", b.name), z, Expect::Anything);
        }
        let mut z = gzb.clone();
        z.extend(rng.bytes(64));
        push(format!("{}: gzip + trailing garbage", b.name), z, Expect::Anything);
        let mut z = gzb.clone();
        z.extend([0x1f, 0x8b, 8, 0]);
        z.extend(rng.bytes(64));
        push(format!("{}: gzip + garbage member", b.name), z, Expect::Anything);

        // Header fields set to bad values, raw and gzipped.
        for (what, fields) in header_mutations(b) {
            let mut raw = b.raw.clone();
            for (field, value) in fields {
                set(&mut raw, b, field, value);
            }
            push(format!("{}: {what} (gzip)", b.name), gz(&raw), Expect::Anything);
            push(format!("{}: {what}", b.name), raw, Expect::Anything);
        }
        // Single bit flips all over the header (and the first data bytes).
        for k in (0..hdr + 8).step_by(3) {
            let mut raw = b.raw.clone();
            raw[k] ^= 1 << ((k * 5) % 8);
            push(format!("{}: bit flip at byte {k}", b.name), raw, Expect::Anything);
        }
        // Random bytes over the header, keeping sizeof_hdr and the magic.
        for k in 0..4 {
            let mut raw = b.raw.clone();
            let junk = rng.bytes(hdr - 8);
            raw[4..hdr - 4].copy_from_slice(&junk);
            if b.version == 2 {
                raw[4..12].copy_from_slice(b"n+2\0\r\n\x1a\n");
            }
            push(format!("{}: random header {k}", b.name), raw, Expect::Anything);
        }
    }

    // Files written by voxflow's parallel gzip writer (indexed members), then damaged.
    let data = Array3::from_shape_fn((64, 64, 40), |(x, y, z)| ((x * y + z) % 251) as f32);
    let mut indexed = Vec::new();
    write_to(&mut indexed, &Volume::image3(data, Affine::identity()), &WriteOptions::default(), true)
        .expect("in memory");
    let il = indexed.len();
    for cut in [24, 100, 400, il / 2, il - 100, il - 4, il - 1] {
        push(format!("indexed gzip cut at {cut}"), indexed[..cut].to_vec(), Expect::Anything);
    }
    let header_member = usize::try_from(u64::from_le_bytes(indexed[16..24].try_into().expect("8")))
        .expect("member length fits");
    for (what, at, value) in [
        ("member length 0", header_member + 16, 0u64),
        ("member length huge", header_member + 16, u64::MAX),
        ("member length short", header_member + 16, 40),
        ("first member length huge", 16, 1 << 40),
    ] {
        let mut z = indexed.clone();
        z[at..at + 8].copy_from_slice(&value.to_le_bytes());
        push(format!("indexed gzip: {what}"), z, Expect::Anything);
    }
    for (what, size) in [("isize 4 GiB", u32::MAX), ("isize 0", 0), ("isize +4", 4 * 64 * 64 * 40 + 4)] {
        let mut z = indexed.clone();
        z[il - 4..].copy_from_slice(&size.to_le_bytes());
        push(format!("indexed gzip: last member {what}"), z, Expect::Anything);
    }
    for k in (0..il).step_by(il / 23) {
        let mut z = indexed.clone();
        z[k] ^= 0x10;
        push(format!("indexed gzip: bit flip at {k}"), z, Expect::Anything);
    }

    // Gzip bombs. A small header followed by 64 MiB of zeros: the header's 140 voxels read and
    // the rest is ignored after at most 1 MiB.
    let small = base("standard.nii.gz");
    let head = small.raw[..352].to_vec();
    let zeros = vec![0u8; 64 * MIB];
    let bomb = gz_parts(&[&small.raw, &zeros]);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    push("bomb: small header, 64 MiB of trailing zeros".into(), bomb, Expect::Reads);
    // The same zeros under a header claiming 30000^3 voxels: rejected from the header alone.
    let mut huge = head.clone();
    for i in 1..=3 {
        set(&mut huge, &small, Field::Dim(i), Value::Int(30000));
    }
    push("bomb: 30000^3 claimed, 64 MiB of zeros".into(), gz_parts(&[&huge, &zeros]), Expect::HugeClaim);
    push("30000^3 claimed, uncompressed".into(), huge.clone(), Expect::HugeClaim);
    // A header claiming 1024^3 voxels (within the voxel limit, and within deflate's ratio of
    // the file thanks to 1 MiB of incompressible bytes), holding 16 MiB: a short stream.
    let mut giga = head.clone();
    for i in 1..=3 {
        set(&mut giga, &small, Field::Dim(i), Value::Int(1024));
    }
    let noise = rng.bytes(MIB + 64 * 1024);
    let short = gz_parts(&[&giga, &zeros[..16 * MIB], &noise]);
    assert!((short.len() as u64) * 1032 > (1u64 << 30) + 352, "{}", short.len());
    push("bomb: 1024^3 claimed, 17 MiB held".into(), short, Expect::ShortStream);
    // NIfTI-2 headers claiming huge dims, in a gzip of zeros and raw.
    let n2 = base("example_nifti2.nii.gz");
    for dims in
        [[1i64 << 40, 1 << 40, 1 << 40], [1 << 20, 1 << 20, 1 << 20], [1 << 31, 1 << 31, 1], [i64::MAX, 1, 1]]
    {
        let mut h = n2.raw[..544].to_vec();
        for (i, d) in dims.iter().enumerate() {
            set(&mut h, &n2, Field::Dim(i + 1), Value::Int(*d));
        }
        set(&mut h, &n2, Field::Dim(4), Value::Int(1));
        push(
            format!("nifti2 {dims:?} claimed, gzip of zeros"),
            gz_parts(&[&h, &zeros[..MIB]]),
            Expect::HugeClaim,
        );
        push(format!("nifti2 {dims:?} claimed, raw"), h, Expect::HugeClaim);
    }

    // Not NIfTI at all.
    push("empty".into(), Vec::new(), Expect::Anything);
    push("gzip magic only".into(), vec![0x1f, 0x8b], Expect::Anything);
    push("gzip of nothing".into(), gz(&[]), Expect::Anything);
    for n in [1, 3, 4, 347, 348, 352, 1000, 4096] {
        push(format!("random {n} bytes"), rng.bytes(n), Expect::Anything);
        let mut r = rng.bytes(n.max(4));
        r[..4].copy_from_slice(&348i32.to_le_bytes());
        push(format!("random {n} bytes after sizeof_hdr 348"), r, Expect::Anything);
        let mut r = rng.bytes(n.max(4));
        r[..4].copy_from_slice(&540i32.to_be_bytes());
        push(format!("random {n} bytes after sizeof_hdr 540 (big endian)"), r, Expect::Anything);
        let mut r = rng.bytes(n.max(2));
        r[..2].copy_from_slice(&[0x1f, 0x8b]);
        push(format!("random {n} bytes after the gzip magic"), r, Expect::Anything);
    }
    cases
}

/// One gzip member holding the concatenation of `parts`, compressed hard (zeros shrink
/// about 1000:1).
fn gz_parts(parts: &[&[u8]]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    for p in parts {
        e.write_all(p).expect("in memory");
    }
    e.finish().expect("in memory")
}

// --- the test ---

/// The most any read of the corpus may allocate at once. The largest legitimate volume in it
/// is under 1 MiB; the short 1024^3 stream decodes 17 MiB of u8 into f32 (68 MiB, so the
/// array grows once past its 64 MiB start).
const GENERAL_BOUND: usize = 160 * MIB;
/// What a header claiming a huge size may allocate before it is refused: buffers only.
const HUGE_CLAIM_BOUND: usize = 4 * MIB;
/// How long a case that must fail fast may take (generous: debug build, shared machine).
const FAST: Duration = Duration::from_secs(5);

/// One way of reading a case: whether it read.
type ReadFn<'a> = Box<dyn Fn() -> bool + 'a>;

/// One read of one case, panics caught: `Ok(is_ok)` or `Err(panic message)`.
fn attempt(f: impl FnOnce() -> bool) -> Result<bool, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

#[test]
fn malformed_corpus_never_panics_and_stays_bounded() {
    let cases = corpus();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut panics = Vec::new();
    let mut problems = Vec::new();
    let (mut oks, mut errs) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case{i}.nii.gz"));
        std::fs::write(&path, &case.bytes).expect("write case");
        let reads: [(&str, ReadFn<'_>); 5] = [
            ("read_bytes image", Box::new(|| read_bytes(&case.bytes, Kind::Image, MAX_VOXELS).is_ok())),
            ("read_bytes label", Box::new(|| read_bytes(&case.bytes, Kind::Label, MAX_VOXELS).is_ok())),
            ("read image", Box::new(|| read(&path, Kind::Image).is_ok())),
            ("read label", Box::new(|| read(&path, Kind::Label).is_ok())),
            ("read_header", Box::new(|| read_header(&path).is_ok())),
        ];
        let mut results = Vec::new();
        for (how, f) in reads {
            let t0 = Instant::now();
            let (result, peak) = measured(|| attempt(f));
            let took = t0.elapsed();
            let ok = match result {
                Ok(ok) => ok,
                Err(message) => {
                    panics.push(format!("{} [{how}]: {message}", case.name));
                    continue;
                }
            };
            results.push((how, ok));
            if ok {
                oks += 1;
            } else {
                errs += 1;
            }
            let bound = if case.expect == Expect::HugeClaim { HUGE_CLAIM_BOUND } else { GENERAL_BOUND };
            if peak > bound {
                problems.push(format!("{} [{how}]: allocated {peak} bytes (bound {bound})", case.name));
            }
            // The header of a short stream is fine: only reading the data must fail.
            let must_fail = case.expect == Expect::HugeClaim
                || (case.expect == Expect::ShortStream && how != "read_header");
            if must_fail && (ok || took > FAST) {
                problems.push(format!("{} [{how}]: ok = {ok} after {took:?}, must fail fast", case.name));
            }
            if case.expect == Expect::Reads && !ok {
                problems.push(format!("{} [{how}]: must read", case.name));
            }
        }
        // The path and the in-memory entry points agree.
        let get = |how: &str| results.iter().find(|(h, _)| *h == how).map(|(_, ok)| *ok);
        for kind in ["image", "label"] {
            let (a, b) = (get(&format!("read_bytes {kind}")), get(&format!("read {kind}")));
            if a.is_some() && b.is_some() && a != b {
                problems
                    .push(format!("{}: read_bytes and read disagree as {kind}: {a:?} vs {b:?}", case.name));
            }
        }
    }
    eprintln!("{} cases, {oks} reads ok, {errs} errors, {} panics", cases.len(), panics.len());
    assert!(panics.is_empty(), "{} panics:\n{}", panics.len(), panics.join("\n"));
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn voxel_limit_refuses_before_reading() {
    let file = std::fs::read(format!("{DATA}standard.nii.gz")).expect("sample");
    // 4x5x7 = 140 voxels.
    assert!(read_bytes(&file, Kind::Image, 140).is_ok());
    let err = read_bytes(&file, Kind::Image, 139).expect_err("over the limit");
    assert!(matches!(err, NiftiError::TooManyVoxels { voxels: 140, limit: 139, .. }), "{err}");
    assert!(err.to_string().contains("<bytes>"), "{err}");
    let path = Path::new(DATA).join("standard.nii.gz");
    let err = read_with_limit(&path, Kind::Label, 100).expect_err("over the limit");
    assert!(err.to_string().contains("standard.nii.gz"), "{err}");
}

#[test]
fn a_short_file_claiming_much_reports_both_sizes() {
    let mut raw = base("anatomical.nii").raw;
    raw.truncate(raw.len() - 1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.nii");
    std::fs::write(&path, &raw).expect("write");
    let err = read(&path, Kind::Image).expect_err("short");
    let message = err.to_string();
    // 33 x 41 x 25 int16 = 67650 bytes claimed; the file holds 1000 fewer after the header.
    assert!(
        message.contains("short.nii") && message.contains("67650") && message.contains("66650"),
        "{message}"
    );
}

// --- non-regular files ---

/// Reads `path` on another thread; fails the test if that takes more than a few seconds
/// (a FIFO would block forever).
fn read_with_timeout(path: &Path) -> Result<Volume, NiftiError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(read(&path, Kind::Image));
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("the read returned instead of blocking")
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe.nii.gz");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(status.success());
    let err = read_with_timeout(&fifo).expect_err("a FIFO is not a file");
    assert!(matches!(err, NiftiError::NotAFile { .. }), "{err}");
    assert!(err.to_string().contains("pipe.nii.gz") && err.to_string().contains("FIFO"), "{err}");
    let err = read_header(&fifo).expect_err("a FIFO is not a file");
    assert!(matches!(err, NiftiError::NotAFile { .. }), "{err}");

    // Through a symlink too (metadata follows it).
    let link = dir.path().join("link.nii");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    let err = read_with_timeout(&link).expect_err("a FIFO behind a link is not a file");
    assert!(matches!(err, NiftiError::NotAFile { .. }) && err.to_string().contains("link.nii"), "{err}");

    // A symlink to a regular file reads.
    let good = dir.path().join("good.nii.gz");
    std::os::unix::fs::symlink(Path::new(DATA).join("standard.nii.gz"), &good).expect("symlink");
    assert_eq!(read_with_timeout(&good).expect("reads").shape4(), [4, 5, 7, 1]);
}

#[test]
fn a_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("dir.nii");
    std::fs::create_dir(&sub).expect("mkdir");
    let err = read_with_timeout(&sub).expect_err("a directory is not a file");
    assert!(matches!(err, NiftiError::NotAFile { what: "a directory", .. }), "{err}");
    assert!(err.to_string().contains("dir.nii"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_device_is_refused() {
    let err = read_with_timeout(Path::new("/dev/zero")).expect_err("a device is not a file");
    assert!(matches!(err, NiftiError::NotAFile { what: "a character device", .. }), "{err}");
}
