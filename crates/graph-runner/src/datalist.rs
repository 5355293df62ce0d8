//! `--datalist FILE.json|FILE.csv`: the outputs of a run as a training script reads them, one
//! entry per (case, output) with one key per `save` node.
//!
//! JSON is MONAI's datalist (`{"training": [{"image": ..., "label": ..., "case": ..., "output":
//! ...}]}`, read by `monai.data.load_decathlon_datalist`); CSV has the columns `case`, `output`
//! and one per `save` node. A key is the save node's name without a leading `save_`
//! (`save_image` → `image`), or the whole name where that would collide. Paths are relative to
//! the datalist's folder when the outputs are inside it (MONAI resolves them against it),
//! otherwise absolute.

use crate::manifest::ManifestLine;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Why a datalist could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DatalistError {
    #[error("{0}: a datalist is a .json or .csv file")]
    Extension(PathBuf),
    #[error("cannot write {path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}")]
    Csv { path: PathBuf, source: csv::Error },
}

/// The key of each save node: its name without `save_`, unless two would then collide.
#[must_use]
pub fn keys<'a>(save_nodes: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let nodes: BTreeSet<&str> = save_nodes.into_iter().collect();
    let short = |n: &str| n.strip_prefix("save_").filter(|s| !s.is_empty()).unwrap_or(n).to_owned();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for n in &nodes {
        *count.entry(short(n)).or_default() += 1;
    }
    nodes
        .iter()
        .map(|n| {
            let key = short(n);
            let unique = count[&key] == 1 && !["case", "output"].contains(&key.as_str());
            ((*n).to_owned(), if unique { key } else { (*n).to_owned() })
        })
        .collect()
}

/// Writes the datalist of `lines` (outputs under `output_dir`) to `path`.
pub fn write(path: &Path, output_dir: &Path, lines: &[ManifestLine]) -> Result<(), DatalistError> {
    let io = |source| DatalistError::Io { path: path.to_owned(), source };
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let base = absolute(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
        .map_err(io)?;
    let out = absolute(output_dir).map_err(io)?;
    let key_of = keys(lines.iter().flat_map(|l| l.saved.keys().map(String::as_str)));
    let location = |file: &str| -> String {
        let full = out.join(file);
        match full.strip_prefix(&base) {
            Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
            Err(_) => full.to_string_lossy().into_owned(),
        }
    };
    let text = match ext.as_deref() {
        Some("json") => {
            let entries: Vec<serde_json::Value> = lines
                .iter()
                .map(|l| {
                    let mut entry = serde_json::Map::new();
                    for (node, file) in &l.saved {
                        entry.insert(key_of[node].clone(), location(file).into());
                    }
                    entry.insert("case".into(), l.case.clone().into());
                    entry.insert("output".into(), l.output.into());
                    serde_json::Value::Object(entry)
                })
                .collect();
            let mut text =
                serde_json::to_string_pretty(&serde_json::json!({ "training": entries })).unwrap_or_default();
            text.push('\n');
            text.into_bytes()
        }
        Some("csv") => {
            let columns: Vec<&String> = key_of.values().collect();
            let mut writer = csv::Writer::from_writer(Vec::new());
            let header = ["case", "output"].into_iter().chain(columns.iter().map(|c| c.as_str()));
            let csv_err = |source| DatalistError::Csv { path: path.to_owned(), source };
            writer.write_record(header).map_err(csv_err)?;
            for l in lines {
                let mut row = vec![l.case.clone(), l.output.to_string()];
                for node in key_of.keys() {
                    row.push(l.saved.get(node).map(|f| location(f)).unwrap_or_default());
                }
                writer.write_record(&row).map_err(csv_err)?;
            }
            writer.into_inner().map_err(|e| io(e.into_error()))?
        }
        _ => return Err(DatalistError::Extension(path.to_owned())),
    };
    crate::ledger::write_atomically(path, &text).map_err(io)
}

fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    std::path::absolute(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_drop_save_unless_they_collide() {
        let k = keys(["save_image", "save_label", "regions"]);
        assert_eq!(k["save_image"], "image");
        assert_eq!(k["save_label"], "label");
        assert_eq!(k["regions"], "regions");
        let k = keys(["save_image", "image", "save_case"]);
        assert_eq!((k["save_image"].as_str(), k["image"].as_str()), ("save_image", "image"));
        assert_eq!(k["save_case"], "save_case");
    }
}
