//! Label names and colours: the legend under a preview.

use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Names of label values, for the legend (`1 → "edema"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelNames(pub BTreeMap<i128, String>);

/// A label names text could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LabelNamesError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error(
        "the JSON is not an object of label names (nnU-Net's `\"labels\": {{\"edema\": 1}}` or MSD's `{{\"1\": \"edema\"}}`)"
    )]
    NotAnObject,
    #[error("entry `{key}`: neither `\"NAME\": VALUE` nor `\"VALUE\": \"NAME\"` with an integer VALUE")]
    BadEntry { key: String },
    #[error("line {line}: expected `VALUE NAME` with an integer VALUE, got `{text}`")]
    BadLine { line: usize, text: String },
}

impl LabelNames {
    /// Reads label names from nnU-Net's `dataset.json` (`"labels": {"background": 0, "edema": 1}`),
    /// the inverted MSD form (`"labels": {"0": "background", "1": "edema"}`), either object
    /// alone, or a text file of `VALUE NAME` lines (`#` starts a comment; a quoted name, as in
    /// ITK-SNAP's label files, is taken whole). JSON is recognised by its leading `{`. nnU-Net's
    /// region entries (`"whole tumour": [1, 2, 3]`) name several values at once and are skipped.
    pub fn parse(text: &str) -> Result<Self, LabelNamesError> {
        if text.trim_start().starts_with('{') { Self::from_json(text) } else { Self::from_lines(text) }
    }

    fn from_json(text: &str) -> Result<Self, LabelNamesError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| LabelNamesError::Json(e.to_string()))?;
        let object = value.as_object().ok_or(LabelNamesError::NotAnObject)?;
        let labels = match object.get("labels") {
            Some(serde_json::Value::Object(labels)) => labels,
            Some(_) => return Err(LabelNamesError::NotAnObject),
            None => object,
        };
        let mut names = BTreeMap::new();
        for (key, value) in labels {
            match value {
                // nnU-Net v2: name → value.
                serde_json::Value::Number(n) => {
                    let v = n
                        .as_i64()
                        .or_else(|| {
                            n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)
                        })
                        .ok_or_else(|| LabelNamesError::BadEntry { key: key.clone() })?;
                    names.insert(i128::from(v), key.clone());
                }
                // MSD and nnU-Net v1: value → name.
                serde_json::Value::String(name) => {
                    let v: i128 =
                        key.trim().parse().map_err(|_| LabelNamesError::BadEntry { key: key.clone() })?;
                    names.insert(v, name.clone());
                }
                // A region of several labels: no single value to name.
                serde_json::Value::Array(_) => {}
                _ => return Err(LabelNamesError::BadEntry { key: key.clone() }),
            }
        }
        Ok(LabelNames(names))
    }

    fn from_lines(text: &str) -> Result<Self, LabelNamesError> {
        let mut names = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad =
                || LabelNamesError::BadLine { line: index + 1, text: raw.trim().chars().take(80).collect() };
            let (value, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let value: i128 = value.parse().map_err(|_| bad())?;
            let rest = rest.trim();
            let name = match (rest.find('"'), rest.rfind('"')) {
                (Some(a), Some(b)) if b > a => &rest[a + 1..b],
                _ => rest,
            };
            if name.is_empty() {
                return Err(bad());
            }
            names.insert(value, name.to_owned());
        }
        Ok(LabelNames(names))
    }
}

/// The colours of labels 1 to 10 (label 0 is background and not drawn): matplotlib's `tab10`,
/// distinct for the common few tissue classes.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// The colour of a label value: `tab10` for 1 to 10, a hue hashed from the value otherwise, so
/// a label keeps its colour in every preview whichever other labels are present.
#[must_use]
pub fn colour(label: i128) -> [u8; 3] {
    if (1..=10).contains(&label) {
        return PALETTE[(label - 1) as usize];
    }
    // splitmix64 of the value's two halves.
    let bits = (label as u128 as u64) ^ ((label as u128 >> 64) as u64).rotate_left(17);
    let mut z = bits.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let hue = (z % 360) as f32;
    let saturation = 0.55 + (((z >> 16) % 4) as f32) * 0.1;
    hsv(hue, saturation, 0.95)
}

fn hsv(hue: f32, saturation: f32, value: f32) -> [u8; 3] {
    let c = value * saturation;
    let h = hue / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = value - c;
    [r, g, b].map(|v| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}

/// The distinct non-zero values of a label map, in order.
pub fn present<'a>(labels: impl IntoIterator<Item = &'a i128>) -> BTreeSet<i128> {
    let mut seen = BTreeSet::new();
    let mut last = 0;
    for &l in labels {
        if l != last {
            last = l;
            if l != 0 {
                seen.insert(l);
            }
        }
    }
    seen
}

/// The legend's text for each present label: `VALUE NAME`, or the value alone without a name.
#[must_use]
pub fn entries(present: &BTreeSet<i128>, names: &LabelNames) -> Vec<(i128, String)> {
    present
        .iter()
        .map(|&value| {
            let text = match names.0.get(&value) {
                Some(name) => {
                    let name: String = if name.chars().count() > 40 {
                        name.chars().take(39).chain(std::iter::once('…')).collect()
                    } else {
                        name.clone()
                    };
                    format!("{value} {name}")
                }
                None => value.to_string(),
            };
            (value, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(i128, &str)]) -> LabelNames {
        LabelNames(pairs.iter().map(|&(v, n)| (v, n.to_owned())).collect())
    }

    #[test]
    fn nnunet_msd_and_text_forms_read_the_same() {
        let expected = names(&[(0, "background"), (1, "edema"), (2, "enhancing tumour")]);
        let nnunet = r#"{"channel_names": {"0": "FLAIR"}, "labels": {"background": 0, "edema": 1, "enhancing tumour": 2, "whole": [1, 2]}}"#;
        let msd =
            r#"{"name": "BRATS", "labels": {"0": "background", "1": "edema", "2": "enhancing tumour"}}"#;
        let bare = r#"{"background": 0, "edema": 1, "enhancing tumour": 2}"#;
        let text = "# value name\n0 background\n1 edema\n\n2   enhancing tumour  \n";
        let itk =
            "0 0 0 0 0 0 0 \"background\"\n1 255 0 0 1 1 1 \"edema\"\n2 0 255 0 1 1 1 \"enhancing tumour\"";
        for source in [nnunet, msd, bare, text, itk] {
            assert_eq!(LabelNames::parse(source), Ok(expected.clone()), "{source}");
        }
    }

    #[test]
    fn bad_names_say_where() {
        assert_eq!(
            LabelNames::parse("1 edema\ntwo necrosis"),
            Err(LabelNamesError::BadLine { line: 2, text: "two necrosis".into() })
        );
        assert_eq!(LabelNames::parse("3"), Err(LabelNamesError::BadLine { line: 1, text: "3".into() }));
        assert_eq!(
            LabelNames::parse(r#"{"labels": {"edema": "x"}}"#),
            Err(LabelNamesError::BadEntry { key: "edema".into() })
        );
        assert_eq!(LabelNames::parse(r#"{"labels": [1]}"#), Err(LabelNamesError::NotAnObject));
        assert!(matches!(LabelNames::parse("{oops"), Err(LabelNamesError::Json(_))));
    }

    #[test]
    fn legend_lists_only_present_labels_with_their_names() {
        let labels = [0, 0, 2, 2, 0, 7, 1_000_000_000_000_000_000_000, 2, -3];
        let found = present(&labels);
        assert_eq!(found.iter().copied().collect::<Vec<_>>(), [-3, 2, 7, 1_000_000_000_000_000_000_000]);
        let legend = entries(&found, &names(&[(1, "absent"), (2, "edema")]));
        let texts: Vec<&str> = legend.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["-3", "2 edema", "7", "1000000000000000000000"]);
    }

    #[test]
    fn colours_are_tab10_then_hashed_and_never_grey() {
        assert_eq!(colour(1), [31, 119, 180]);
        assert_eq!(colour(10), [23, 190, 207]);
        let many: BTreeSet<[u8; 3]> = (11..61).chain([-1, i128::MAX, i128::MIN]).map(colour).collect();
        assert!(many.len() > 45, "{} distinct colours of 53", many.len());
        assert!(many.iter().all(|c| c[0] != c[1] || c[1] != c[2]));
    }
}
