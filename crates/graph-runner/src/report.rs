//! Previews and the HTML report of a run (`--previews`, `--report`), and `graphrun preview`.
//! Built from the manifest, so they show exactly what was written and drawn.

use crate::Graph;
use crate::manifest::ManifestLine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use voxflow_core::{Kind, Volume};
use voxflow_preview::report::{ReportCase, ReportOutput, html_report, png_bytes};
use voxflow_preview::{PreviewOptions, describe, render};

/// A preview or report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Nifti(#[from] voxflow_io_nifti::NiftiError),
    #[error("cannot draw a preview of {path}")]
    Preview { path: PathBuf, source: voxflow_preview::PreviewError },
    #[error("cannot encode the preview of {path} as PNG")]
    Png { path: PathBuf, source: image::ImageError },
    #[error("cannot write {path}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Reads a file as a label map when it is stored with an integer type and `kind` was not given.
fn read_as(path: &Path, kind: Option<Kind>) -> Result<Volume, ReportError> {
    let kind = match kind {
        Some(k) => k,
        None if voxflow_io_nifti::read_header(path)?.datatype.is_integer() => Kind::Label,
        None => Kind::Image,
    };
    Ok(voxflow_io_nifti::read(path, kind)?)
}

/// The preview of `image` (with `label` overlaid) as PNG bytes.
fn preview_png(image: &Path, label: Option<&Path>) -> Result<Vec<u8>, ReportError> {
    let volume = read_as(image, Some(Kind::Image))?;
    let labels = label.map(|l| read_as(l, Some(Kind::Label))).transpose()?;
    let name =
        image.file_name().map_or_else(|| image.display().to_string(), |n| n.to_string_lossy().into_owned());
    let picture = render(&volume, labels.as_ref(), &describe(&name, &volume), &PreviewOptions::default())
        .map_err(|source| ReportError::Preview { path: image.into(), source })?;
    png_bytes(&picture).map_err(|source| ReportError::Png { path: image.into(), source })
}

/// `graphrun preview`: writes the three-slice preview of `image` (and `label`) to `out`.
pub fn preview_file(image: &Path, label: Option<&Path>, out: &Path) -> Result<(), ReportError> {
    let png = preview_png(image, label)?;
    std::fs::write(out, png).map_err(|source| ReportError::Io { path: out.into(), source })
}

/// Splits an output's files into images and label maps, as absolute paths: by the kind of the
/// volume each `save` node received, or for files the graph does not name, by the stored type
/// (label maps keep an integer type).
fn images_and_labels(
    graph: &Graph,
    output_dir: &Path,
    line: &ManifestLine,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), ReportError> {
    let kinds: BTreeMap<String, Kind> = graph
        .saves()
        .map(|(node, save)| (save.render(&line.case, line.output, &node.name), node.kind))
        .collect();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for file in &line.files {
        let path = output_dir.join(file);
        let kind = match kinds.get(file) {
            Some(&kind) => kind,
            None if voxflow_io_nifti::read_header(&path)?.datatype.is_integer() => Kind::Label,
            None => Kind::Image,
        };
        if kind == Kind::Label { labels.push(path) } else { images.push(path) }
    }
    Ok((images, labels))
}

/// The preview of one output: its first image with its first label map overlaid (or the first
/// label map alone). `None` when the output wrote no volume.
fn output_png(
    graph: &Graph,
    output_dir: &Path,
    line: &ManifestLine,
) -> Result<Option<(PathBuf, Vec<u8>)>, ReportError> {
    let (images, labels) = images_and_labels(graph, output_dir, line)?;
    match (images.first(), labels.first()) {
        (Some(image), label) => {
            // A label map on another grid is shown without the overlay rather than failing.
            let label = label.map(PathBuf::as_path);
            let png = preview_png(image, label).or_else(|_| preview_png(image, None))?;
            Ok(Some((image.clone(), png)))
        }
        (None, Some(label)) => Ok(Some((label.clone(), preview_png(label, None)?))),
        (None, None) => Ok(None),
    }
}

/// `--previews`: a PNG next to every output (`<first image file>.png`). Returns how many.
pub fn write_previews(
    graph: &Graph,
    output_dir: &Path,
    lines: &[ManifestLine],
) -> Result<usize, ReportError> {
    let mut written = 0;
    for line in lines {
        if let Some((volume_path, png)) = output_png(graph, output_dir, line)? {
            let out = preview_path(&volume_path);
            std::fs::write(&out, png).map_err(|source| ReportError::Io { path: out, source })?;
            written += 1;
        }
    }
    Ok(written)
}

/// `image.nii.gz` → `image.png`.
#[must_use]
pub fn preview_path(volume: &Path) -> PathBuf {
    let name = volume.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".nii.gz").or_else(|| name.strip_suffix(".nii")).unwrap_or(&name);
    volume.with_file_name(format!("{stem}.png"))
}

/// `--report`: one self-contained HTML page: per case, the input and each output side by side,
/// the parameters drawn for each output, and the per-node timings of the run.
pub fn write_report(
    graph: &Graph,
    report: &Path,
    output_dir: &Path,
    lines: &[ManifestLine],
    timings: &BTreeMap<String, Duration>,
) -> Result<(), ReportError> {
    let mut by_case: BTreeMap<&str, Vec<&ManifestLine>> = BTreeMap::new();
    for line in lines {
        by_case.entry(&line.case).or_default().push(line);
    }
    let mut cases = Vec::new();
    for (case_id, mut outputs) in by_case {
        outputs.sort_by_key(|l| l.output);
        let inputs = &outputs[0].inputs;
        let input_image = inputs.get("image").or_else(|| inputs.values().next());
        let input_png = match input_image {
            Some(image) => {
                let label = inputs.get("label").filter(|l| Some(*l) != input_image).map(PathBuf::as_path);
                Some(preview_png(image, label).or_else(|_| preview_png(image, None))?)
            }
            None => None,
        };
        let mut report_outputs = Vec::new();
        for line in outputs {
            if let Some((_, png)) = output_png(graph, output_dir, line)? {
                let draws = serde_json::to_value(&line.draws).unwrap_or_default();
                report_outputs.push(ReportOutput { output_index: line.output, png, draws });
            }
        }
        cases.push(ReportCase { case_id: case_id.to_owned(), input_png, outputs: report_outputs });
    }
    let mut timings: Vec<(String, f64)> =
        timings.iter().map(|(node, t)| (node.clone(), t.as_secs_f64() * 1e3)).collect();
    timings.sort_by(|a, b| b.1.total_cmp(&a.1));
    let html = html_report("voxflow run report", &cases, &timings);
    // Atomically: the shards of one job array may each write the folder's report.
    crate::ledger::write_atomically(report, html.as_bytes())
        .map_err(|source| ReportError::Io { path: report.into(), source })
}
