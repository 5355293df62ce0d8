//! Previews and the HTML report of a run (`--previews`, `--report`), and `graphrun preview`.
//! Built from the manifest, so they show exactly what was written and drawn.

use crate::Graph;
use crate::manifest::ManifestLine;
use image::RgbImage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use voxflow_core::{Kind, Volume};
use voxflow_preview::report::{
    Picture, ReportCase, ReportOutput, ReportSummary, html_report, jpeg_bytes, png_bytes, thumbnail,
};
use voxflow_preview::{LabelNames, PreviewOptions, describe, render, stack};

/// A preview or report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Nifti(#[from] voxflow_io_nifti::NiftiError),
    #[error("cannot draw a preview of {path}")]
    Preview { path: PathBuf, source: voxflow_preview::PreviewError },
    #[error("cannot encode the preview {path}")]
    Encode { path: PathBuf, source: image::ImageError },
    #[error("cannot write {path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path}: the picture format is chosen by the extension, `{extension}` is none of .png, .jpg, .jpeg"
    )]
    Format { path: PathBuf, extension: String },
    #[error("cannot read label names from {path}")]
    LabelNames { path: PathBuf, source: voxflow_preview::LabelNamesError },
    #[error(
        "--labels {path}: a volume, not label names (put --labels after the files, or write \
         --labels=FILE; the overlay is --label)"
    )]
    LabelsIsVolume { path: PathBuf },
    #[error("--labels: no dataset.json in {} or {}: give --labels FILE", .looked[0].display(), .looked[1].display())]
    NoDatasetJson { looked: [PathBuf; 2] },
}

/// The encoding of a picture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureFormat {
    Png,
    Jpeg,
}

/// The picture format `path`'s extension names: `.png`, or `.jpg` / `.jpeg` (any case).
pub fn picture_format(path: &Path) -> Result<PictureFormat, ReportError> {
    let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "png" => Ok(PictureFormat::Png),
        "jpg" | "jpeg" => Ok(PictureFormat::Jpeg),
        _ => Err(ReportError::Format {
            path: path.into(),
            extension: if extension.is_empty() { "(no extension)".into() } else { format!(".{extension}") },
        }),
    }
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

/// The preview of `image` (with `label` overlaid) under the title of its file name.
fn render_file(
    image: &Path,
    label: Option<&Path>,
    options: &PreviewOptions,
) -> Result<RgbImage, ReportError> {
    let volume = read_as(image, Some(Kind::Image))?;
    let labels = label.map(|l| read_as(l, Some(Kind::Label))).transpose()?;
    let name =
        image.file_name().map_or_else(|| image.display().to_string(), |n| n.to_string_lossy().into_owned());
    render(&volume, labels.as_ref(), &describe(&name, &volume), options)
        .map_err(|source| ReportError::Preview { path: image.into(), source })
}

/// `graphrun preview`: the three-slice preview of each `(image, label)` row, one row under the
/// other, written to `out` as `format`. Each row is rendered and its volumes dropped before the
/// next is read, so memory holds one case's volumes and the pictures.
pub fn preview_files(
    rows: &[(PathBuf, Option<PathBuf>)],
    options: &PreviewOptions,
    out: &Path,
    format: PictureFormat,
) -> Result<(), ReportError> {
    let mut pictures = Vec::with_capacity(rows.len());
    for (image, label) in rows {
        pictures.push(render_file(image, label.as_deref(), options)?);
    }
    let picture = if pictures.len() == 1 { pictures.swap_remove(0) } else { stack(&pictures) };
    drop(pictures);
    let bytes = match format {
        PictureFormat::Png => png_bytes(&picture),
        PictureFormat::Jpeg => jpeg_bytes(&picture),
    }
    .map_err(|source| ReportError::Encode { path: out.into(), source })?;
    std::fs::write(out, bytes).map_err(|source| ReportError::Io { path: out.into(), source })
}

/// Label names from `path`: nnU-Net's or MSD's `dataset.json` (a folder means its
/// `dataset.json`), or a `VALUE NAME` text file.
pub fn read_label_names(path: &Path) -> Result<LabelNames, ReportError> {
    let path = if path.is_dir() { path.join("dataset.json") } else { path.to_owned() };
    let name = path.to_string_lossy();
    if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        return Err(ReportError::LabelsIsVolume { path });
    }
    let text =
        std::fs::read_to_string(&path).map_err(|source| ReportError::Read { path: path.clone(), source })?;
    LabelNames::parse(&text).map_err(|source| ReportError::LabelNames { path, source })
}

/// The `dataset.json` that names `image`'s labels: in its folder, or in the folder above (the
/// nnU-Net layout, `DatasetXXX/imagesTr/case_0000.nii.gz`).
pub fn find_dataset_json(image: &Path) -> Result<PathBuf, ReportError> {
    let folder = match image.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let looked = [folder.join("dataset.json"), folder.join("..").join("dataset.json")];
    looked.iter().find(|p| p.is_file()).cloned().ok_or(ReportError::NoDatasetJson { looked })
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

/// The preview of one output as PNG bytes (see [`output_picture`]), with the path of the volume
/// it shows. `None` when the output wrote no volume.
fn output_png(
    graph: &Graph,
    output_dir: &Path,
    line: &ManifestLine,
) -> Result<Option<(PathBuf, Vec<u8>)>, ReportError> {
    let (images, labels) = images_and_labels(graph, output_dir, line)?;
    let Some(shown) = images.first().or(labels.first()).cloned() else { return Ok(None) };
    let Some(picture) = output_picture(graph, output_dir, line)? else { return Ok(None) };
    let png = png_bytes(&picture).map_err(|source| ReportError::Encode { path: shown.clone(), source })?;
    Ok(Some((shown, png)))
}

/// The preview of one output: its first image with its first label map overlaid (a label map
/// on another grid is shown without the overlay rather than failing), or the first label map
/// alone. `None` when the output wrote no volume.
fn output_picture(
    graph: &Graph,
    output_dir: &Path,
    line: &ManifestLine,
) -> Result<Option<RgbImage>, ReportError> {
    let (images, labels) = images_and_labels(graph, output_dir, line)?;
    let options = PreviewOptions::default();
    match (images.first(), labels.first()) {
        (Some(image), label) => Ok(Some(
            render_file(image, label.map(PathBuf::as_path), &options)
                .or_else(|_| render_file(image, None, &options))?,
        )),
        (None, Some(label)) => Ok(Some(render_file(label, None, &options)?)),
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

/// Draws a report's pictures: each case's input and outputs, full size and as thumbnails, as
/// PNG files in `REPORT_files/` beside the page. One case at a time, so a run can draw its
/// cases as they finish ([`crate::run::run_observed`]) and the page is only assembled at the end.
#[derive(Debug)]
pub struct ReportPictures<'a> {
    graph: &'a Graph,
    output_dir: &'a Path,
    files_dir: PathBuf,
    files_name: String,
}

impl<'a> ReportPictures<'a> {
    /// Pictures for the report page `report` of the outputs in `output_dir` (creates the
    /// pictures' folder).
    pub fn new(graph: &'a Graph, report: &Path, output_dir: &'a Path) -> Result<Self, ReportError> {
        let stem = report.file_stem().map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
        let files_name = format!("{stem}_files");
        let files_dir = report.with_file_name(&files_name);
        std::fs::create_dir_all(&files_dir)
            .map_err(|source| ReportError::Io { path: files_dir.clone(), source })?;
        Ok(ReportPictures { graph, output_dir, files_dir, files_name })
    }

    /// Writes a picture and its thumbnail; returns their links relative to the page.
    fn save(&self, picture: &RgbImage, name: &str) -> Result<Picture, ReportError> {
        let full = self.files_dir.join(format!("{name}.png"));
        let thumb = self.files_dir.join(format!("{name}_thumb.png"));
        for (path, image) in [(&full, picture.clone()), (&thumb, thumbnail(picture, 160))] {
            let bytes =
                png_bytes(&image).map_err(|source| ReportError::Encode { path: path.clone(), source })?;
            std::fs::write(path, bytes).map_err(|source| ReportError::Io { path: path.clone(), source })?;
        }
        Ok(Picture {
            href: format!("{}/{name}.png", self.files_name),
            thumbnail: format!("{}/{name}_thumb.png", self.files_name),
        })
    }

    /// The axis codes of an output's grid (its first saved volume's header), which name the
    /// planes of its draws; `None` when no file says.
    fn orientation(&self, line: &ManifestLine) -> Option<[char; 3]> {
        let (images, labels) = images_and_labels(self.graph, self.output_dir, line).ok()?;
        let first = images.first().or(labels.first())?;
        let header = voxflow_io_nifti::read_header(first).ok()?;
        let codes = voxflow_io_nifti::affine::orientation_code(&header.affine);
        (!codes.contains(&'?')).then_some(codes)
    }

    /// One case's entry: its input's picture and each output's, with the output's draws.
    pub fn case(&self, case_id: &str, outputs: &[&ManifestLine]) -> Result<ReportCase, ReportError> {
        let mut outputs = outputs.to_vec();
        outputs.sort_by_key(|l| l.output);
        let input = match outputs.first() {
            Some(first) => {
                let inputs = &first.inputs;
                let input_image = inputs.get("image").or_else(|| inputs.values().next());
                match input_image {
                    Some(image) => {
                        let label =
                            inputs.get("label").filter(|l| Some(*l) != input_image).map(PathBuf::as_path);
                        let picture = render_file(image, label, &PreviewOptions::default())
                            .or_else(|_| render_file(image, None, &PreviewOptions::default()))?;
                        Some(self.save(&picture, &format!("{case_id}_input"))?)
                    }
                    None => None,
                }
            }
            None => None,
        };
        let mut report_outputs = Vec::new();
        for line in outputs {
            let picture = match output_picture(self.graph, self.output_dir, line)? {
                Some(picture) => Some(self.save(&picture, &format!("{case_id}_{}", line.output))?),
                None => None,
            };
            report_outputs.push(ReportOutput {
                output_index: line.output,
                picture,
                draws: line.draws.clone(),
                orientation: self.orientation(line),
            });
        }
        Ok(ReportCase { case_id: case_id.to_owned(), input, outputs: report_outputs })
    }
}

/// `--report`: the HTML report of a run (see [`html_report`]), with its pictures (full previews
/// and thumbnails) in `REPORT_files/` beside it. `drawn` are cases whose pictures were drawn
/// already (while the run went on); they are kept when they show the same outputs with the
/// same draws, and every other case is drawn now, in parallel. `failures` are the run's
/// outstanding failures, one line each.
pub fn write_report(
    graph: &Graph,
    report: &Path,
    output_dir: &Path,
    lines: &[ManifestLine],
    timings: &BTreeMap<String, Duration>,
    failures: &[String],
    drawn: &BTreeMap<String, ReportCase>,
) -> Result<(), ReportError> {
    use rayon::prelude::*;
    let pictures = ReportPictures::new(graph, report, output_dir)?;
    let mut by_case: BTreeMap<&str, Vec<&ManifestLine>> = BTreeMap::new();
    for line in lines {
        by_case.entry(&line.case).or_default().push(line);
    }
    let cases: Vec<ReportCase> = by_case
        .into_par_iter()
        .map(|(case_id, outputs)| match drawn.get(case_id) {
            Some(done) if shows(done, &outputs) => Ok(done.clone()),
            _ => pictures.case(case_id, &outputs),
        })
        .collect::<Result<_, _>>()?;
    let mut timings: Vec<(String, f64)> =
        timings.iter().map(|(node, t)| (node.clone(), t.as_secs_f64() * 1e3)).collect();
    timings.sort_by(|a, b| b.1.total_cmp(&a.1));
    let summary = ReportSummary { failures: failures.to_vec() };
    let html = html_report("voxflow run report", &summary, &cases, &timings);
    // Atomically: the shards of one job array may each write the folder's report.
    crate::ledger::write_atomically(report, html.as_bytes())
        .map_err(|source| ReportError::Io { path: report.into(), source })
}

/// Whether a case drawn earlier shows exactly these outputs, with these draws.
fn shows(drawn: &ReportCase, outputs: &[&ManifestLine]) -> bool {
    drawn.outputs.len() == outputs.len()
        && outputs
            .iter()
            .all(|line| drawn.outputs.iter().any(|o| o.output_index == line.output && o.draws == line.draws))
}
