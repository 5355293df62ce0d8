//! The `load` and `save` ops: the only nodes that touch files.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use voxflow_core::{DType, Inputs, Kind, Op, OpError, Port, RunContext, Value};

/// Reads one of the case's inputs (a NIfTI file) as an image or a label map.
///
/// ```json
/// {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}}
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Load {
    /// Which input of the case to read (`image`, `label`, `image_0001`, ...). Default `image`.
    pub input: String,
    /// `image` (read as f32) or `label` (read in its integer type). Default `image`.
    pub kind: Kind,
}

impl Default for Load {
    fn default() -> Self {
        Load { input: "image".to_owned(), kind: Kind::Image }
    }
}

voxflow_core::op_doc!(
    "load",
    Load,
    "Reads one input of the case (`image` as float32, or a `label` map in its integer type) from its NIfTI file.",
    "{}"
);

#[typetag::serde(name = "load")]
impl Op for Load {
    fn ports(&self) -> &'static [Port] {
        &[]
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.input.is_empty() {
            return Err(OpError::param("input", "must name an input of the case"));
        }
        if self.kind == Kind::Draw {
            return Err(OpError::param("kind", "must be `image` or `label`"));
        }
        Ok(())
    }

    fn output_kind(&self, _inputs: &std::collections::BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        Ok(self.kind)
    }

    fn run(&self, ctx: &mut RunContext<'_>, _inputs: Inputs) -> Result<Value, OpError> {
        let Some(path) = ctx.case_inputs.get(&self.input) else {
            let known: Vec<&str> = ctx.case_inputs.keys().map(String::as_str).collect();
            // The runner's report names the case and the node.
            return Err(OpError::param(
                "input",
                format!("the case has no input `{}` (it has: {})", self.input, known.join(", ")),
            ));
        };
        let volume = crate::nifti::read(path, self.kind).map_err(OpError::other)?;
        Ok(Value::Volume(Arc::new(volume)))
    }
}

/// Writes a volume to a NIfTI file under the output directory, atomically (temp file, then
/// rename), and records it for the manifest. Passes the volume through.
///
/// ```json
/// {"name": "save_image", "op": "save", "params": {"path": "{case}/image_{output}.nii.gz"},
///  "inputs": {"volume": "image_flipped"}}
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Save {
    /// Path template relative to the output directory, with `{case}`, `{output}` (the output
    /// index) and `{node}` (this node's name). Required.
    pub path: String,
    /// gzip level 0-9 for `.nii.gz` (default 1: fast, nearly as small as 6).
    #[serde(default = "default_gzip")]
    pub gzip_level: u32,
    /// The stored dtype of images (`u8`, `i8`, `u16`, `i16`, `u32`, `i32`, `u64`, `i64`, `f32`,
    /// `f64`); default f32. Label maps keep their integer type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<DType>,
}

fn default_gzip() -> u32 {
    1
}

/// `{case}_{node}_{output}.nii.gz`, the graph's gzip level and dtype (`path` is required in a
/// graph; this is a template that keeps every (case, output, node) apart).
impl Default for Save {
    fn default() -> Self {
        Save { path: "{case}_{node}_{output}.nii.gz".to_owned(), gzip_level: default_gzip(), dtype: None }
    }
}

const PLACEHOLDERS: [&str; 3] = ["case", "output", "node"];

impl Save {
    /// The path (relative to the output directory) for one (case, output) and node.
    #[must_use]
    pub fn render(&self, case_id: &str, output_index: u64, node: &str) -> String {
        self.path
            .replace("{case}", case_id)
            .replace("{output}", &output_index.to_string())
            .replace("{node}", node)
    }
}

voxflow_core::op_doc!(
    "save",
    Save,
    "Writes its input to a NIfTI file at a path template (`{case}`, `{output}`, `{node}`) under the output directory, and passes the volume on.",
    r#"{"path": "{case}_{output}.nii.gz"}"#
);

#[typetag::serde(name = "save")]
impl Op for Save {
    fn validate(&self) -> Result<(), OpError> {
        if self.path.is_empty() {
            return Err(OpError::param("path", "must not be empty"));
        }
        let p = std::path::Path::new(&self.path);
        if p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(OpError::param("path", "must be relative to the output directory, without `..`"));
        }
        let mut rest = self.path.as_str();
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                return Err(OpError::param("path", "has a `{` without `}`"));
            };
            let name = &rest[start + 1..start + len];
            if !PLACEHOLDERS.contains(&name) {
                return Err(OpError::param(
                    "path",
                    format!("unknown placeholder `{{{name}}}`; use {{case}}, {{output}} or {{node}}"),
                ));
            }
            rest = &rest[start + len + 1..];
        }
        let lower = self.path.to_ascii_lowercase();
        if ![".nii", ".nii.gz"].iter().any(|ext| lower.ends_with(ext)) {
            return Err(OpError::param("path", "must end in .nii or .nii.gz"));
        }
        if self.gzip_level > 9 {
            return Err(OpError::param("gzip_level", "must be 0 to 9"));
        }
        Ok(())
    }

    fn run(&self, ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        let volume = inputs.volume("volume")?;
        // The last gate of the output-folder policy (the runner checked every path before
        // starting; this also covers callers that did not, such as a library user).
        let rendered = self.render(ctx.case_id, ctx.output_index, ctx.node);
        let relative = crate::paths::relative_output_path(&rendered)
            .map_err(|reason| OpError::param("path", format!("`{rendered}`: {reason}")))?;
        let path = ctx.output_dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(OpError::other)?;
        }
        crate::nifti::write(&path, &volume, self.gzip_level, self.dtype).map_err(OpError::other)?;
        ctx.written.push(path);
        Ok(Value::Volume(volume))
    }
}
