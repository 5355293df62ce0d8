//! The output-folder policy: every file a run writes stays under `-o`.
//!
//! Three things go into an output path: the `save` node's template (checked when the graph is
//! built), the case id (checked where datasets are read, and again by `replay`) and the node
//! name (checked when the graph is built). [`relative_output_path`] is the final gate: every
//! rendered path is checked before any work starts, and again by `save` itself.

use std::path::{Component, Path, PathBuf};

/// Why a case id cannot name files (`None`: it can). A case id becomes a path component
/// through `{case}`, so it must be one: not empty, not `.` or `..`, no separator, no control
/// character.
#[must_use]
pub fn case_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("it is empty")
    } else if id == "." || id == ".." {
        Some("`.` and `..` name folders, not cases")
    } else if id.contains(['/', '\\']) {
        Some("it contains a path separator")
    } else if id.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    }
}

/// Why a node name cannot be used in a graph (`None`: it can): names are ASCII letters,
/// digits, `_`, `-` and `.`, not starting with `.`, at most 128 characters, since they appear
/// in file names (`{node}`), the manifest and `graphrun dot`.
#[must_use]
pub fn node_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 128 {
        Some("it is longer than 128 characters")
    } else if name.starts_with('.') {
        Some("it starts with `.`")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        Some("only ASCII letters, digits, `_`, `-` and `.` are allowed")
    } else {
        None
    }
}

/// A rendered output path, checked to stay under the output folder: relative, non-empty, and
/// made of plain components only (no `..`, no root, no `.`). Returns it as a path, or why not.
pub fn relative_output_path(rendered: &str) -> Result<PathBuf, &'static str> {
    if rendered.is_empty() {
        return Err("the path is empty");
    }
    if rendered.contains('\\') {
        return Err("the path contains `\\`");
    }
    if rendered.chars().any(char::is_control) {
        return Err("the path contains a control character");
    }
    if rendered.starts_with('/') || Path::new(rendered).has_root() {
        return Err("the path is absolute; save paths are relative to the output folder");
    }
    // Segment by segment (`Path::components` would quietly drop an inner `.` or `//`).
    for segment in rendered.split('/') {
        match segment {
            ".." => return Err("the path leaves the output folder through `..`"),
            "." => return Err("the path contains `.` as a component"),
            "" => return Err("the path has an empty component (`//` or a trailing `/`)"),
            _ => {}
        }
    }
    let path = Path::new(rendered);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("the path is not a plain relative path");
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ids() {
        for bad in ["", ".", "..", "../x", "/abs/x", "a/b", "a\\b", "a\nb"] {
            assert!(case_id_problem(bad).is_some(), "{bad:?} accepted");
        }
        for good in ["case1", "BraTS_00001", "sub-01_ses-1", "a..b", ".hidden", "ünïcode"] {
            assert_eq!(case_id_problem(good), None, "{good:?} refused");
        }
    }

    #[test]
    fn node_names() {
        for bad in ["", "../../x", "a/b", ".x", "a b", "x\0"] {
            assert!(node_name_problem(bad).is_some(), "{bad:?} accepted");
        }
        for good in ["save_image", "rot-1", "v1.2"] {
            assert_eq!(node_name_problem(good), None, "{good:?} refused");
        }
    }

    #[test]
    fn output_paths() {
        for bad in ["", "../x.nii", "a/../../x.nii", "/etc/x.nii", "./x.nii", "a/./x.nii", "a/", "a\\..\\x"] {
            assert!(relative_output_path(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["x.nii.gz", "case1/image_0.nii.gz", "a/b/c.nii"] {
            assert!(relative_output_path(good).is_ok(), "{good:?} refused");
        }
    }
}
