//! Reads every NIfTI sample in DATADIR and writes it with voxflow as OUTDIR/<name>.nii.gz
//! (label maps, whose name contains "label", as label maps; everything else as f32 images),
//! for `scripts/nibabel_check.py OUTDIR DATADIR` to compare with nibabel.
//!
//! `cargo run -p voxflow-io-nifti --example write_samples -- data/ /tmp/voxflow-out`

use std::path::{Path, PathBuf};
use voxflow_core::Kind;
use voxflow_io_nifti::{WriteOptions, read, write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, out] = args.as_slice() else {
        return Err("usage: write_samples DATADIR OUTDIR".into());
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    let mut names: Vec<String> = std::fs::read_dir(data)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            let lower = n.to_lowercase();
            lower.ends_with(".nii.gz") || Path::new(&lower).extension().is_some_and(|e| e == "nii")
        })
        .collect();
    names.sort();
    for name in names {
        let kind = if name.contains("label") { Kind::Label } else { Kind::Image };
        let volume = read(PathBuf::from(data).join(&name), kind)?;
        let stem = name.trim_end_matches(".gz").trim_end_matches(".nii");
        let target = out.join(format!("{stem}.nii.gz"));
        write(&target, &volume, &WriteOptions::default())?;
        println!("{name} -> {} ({kind})", target.display());
    }
    Ok(())
}
