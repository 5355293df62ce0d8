//! What an output's draws were, in words and units, for the run report: "rotate 11.3° in the
//! coronal plane", "scale ×0.72", "flip left–right", "Gaussian noise σ=0.05".
//!
//! A draw is the concrete op a random node drew, as the manifest records it
//! (`{"op": ..., "params": ...}`). Voxel axes are named anatomically from the orientation of
//! the grid the output was saved on (its affine's closest axis codes, e.g. `RAS`): voxel plane
//! `[0, 2]` of an RAS volume is the coronal plane. Without an orientation, voxel axes are
//! named by number.

use serde_json::Value;

/// A drawn op in words (see the module). `orientation` is the axis codes of the grid the op
/// applied to, one of `R/L`, `A/P`, `S/I` per voxel axis. Numbers have 3 significant digits;
/// resampling settings are named only where they differ from the defaults.
#[must_use]
pub fn describe_draw(drawn: &Value, orientation: Option<[char; 3]>) -> String {
    let op = drawn.get("op").and_then(Value::as_str).unwrap_or("?");
    let params = drawn.get("params").cloned().unwrap_or(Value::Null);
    let axes = Axes(orientation);
    let get = |k: &str| params.get(k).filter(|v| !v.is_null());
    let num = |k: &str| get(k).map_or_else(|| "?".to_owned(), value_text);
    let settings = settings_text(&params);
    match op {
        "chain" => {
            let parts: Vec<String> = get("ops")
                .and_then(Value::as_array)
                .map(|ops| ops.iter().map(|op| describe_draw(op, orientation)).collect())
                .unwrap_or_default();
            if parts.is_empty() { "nothing (every choice skipped)".to_owned() } else { parts.join(", then ") }
        }
        "rotate" => {
            let plane = axis_pair(get("axes")).unwrap_or([0, 1]);
            format!("rotate {}° in {}{settings}", num("angle"), axes.plane(plane))
        }
        "scale" => match get("factor") {
            Some(Value::Array(f)) => format!("scale {}{settings}", axes.per_axis(f, "×", "")),
            _ => format!("scale ×{}{settings}", num("factor")),
        },
        "shift" | "integer_shift" => {
            let unit = match get("unit").and_then(Value::as_str) {
                Some("voxel") => " voxels",
                Some("fraction") => " of the extent",
                _ => " mm",
            };
            match get("offset").and_then(Value::as_array) {
                Some(offset) => format!("shift {}{settings}", axes.per_axis(offset, "", unit)),
                None => format!("shift{settings}"),
            }
        }
        "flip" => {
            let list: Vec<usize> = match get("axis").or_else(|| get("axes")) {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).map(to_usize).collect(),
                Some(v) => v.as_u64().map(to_usize).into_iter().collect(),
                None => Vec::new(),
            };
            if list.is_empty() {
                "no flip".to_owned()
            } else {
                let names: Vec<String> = list.iter().map(|&a| axes.direction(a)).collect();
                format!("flip {}", names.join(" and "))
            }
        }
        "rot90" => {
            let k = get("k").and_then(Value::as_i64).unwrap_or(1).rem_euclid(4);
            let plane = axis_pair(get("axes")).unwrap_or([0, 1]);
            if k == 0 {
                "no rotation".to_owned()
            } else {
                format!("rotate {}° in {}", 90 * k, axes.plane(plane))
            }
        }
        "transpose" => match get("axes").and_then(Value::as_array) {
            Some(order) => {
                let names: Vec<String> =
                    order.iter().filter_map(Value::as_u64).map(|a| axes.name(to_usize(a))).collect();
                format!("reorder the axes to {}", names.join(", "))
            }
            None => "transpose".to_owned(),
        },
        "crop" => match (get("size"), get("start")) {
            (Some(size), Some(start)) => {
                format!("crop {} voxels from voxel {}", dims(size), value_text(start))
            }
            (Some(size), None) => format!("crop {} voxels about the centre", dims(size)),
            _ => "crop".to_owned(),
        },
        "gamma" => {
            let mut text = format!("gamma γ={}", num("gamma"));
            if get("invert").and_then(Value::as_bool) == Some(true) {
                text.push_str(" on the inverted image");
            }
            text
        }
        "contrast" => format!("contrast ×{} about the mean", num("factor")),
        "brightness_contrast" => format!("intensity ×{} then {:+}", num("multiplier"), signed(get("shift"))),
        "noise" => with_mean(format!("Gaussian noise σ={}", num("std")), get("mean")),
        "rician_noise" => with_mean(format!("Rician noise σ={}", num("std")), get("mean")),
        "blur" => format!("Gaussian blur σ={} mm", num("sigma_mm")),
        "sharpen" => {
            format!("sharpen α={} (σ {} and {} mm)", num("alpha"), num("sigma1_mm"), num("sigma2_mm"))
        }
        "bias_field" => {
            let n = get("coefficients").and_then(Value::as_array).map_or(0, Vec::len);
            format!("bias field of order {} ({n} coefficients)", num("order"))
        }
        "low_resolution" => format!("low resolution, zoom ×{}", num("zoom")),
        "dropout" => {
            let n = get("boxes").and_then(Value::as_array).map_or(0, Vec::len);
            let plural = if n == 1 { "" } else { "es" };
            format!("dropout of {n} box{plural}")
        }
        "elastic" => elastic_text(get("model")),
        _ => generic(op, &params),
    }
}

/// Axis codes of a grid, when known.
struct Axes(Option<[char; 3]>);

impl Axes {
    /// The direction of voxel axis `a`: `left–right`, `front–back` or `up–down`.
    fn direction(&self, a: usize) -> String {
        match self.code(a) {
            Some('R' | 'L') => "left–right".to_owned(),
            Some('A' | 'P') => "front–back".to_owned(),
            Some('S' | 'I') => "up–down".to_owned(),
            _ => format!("along voxel axis {a}"),
        }
    }

    /// A short name of voxel axis `a`: `L-R`, `P-A`, `I-S` (towards its code), or `axis a`.
    fn name(&self, a: usize) -> String {
        match self.code(a) {
            Some(c) => format!("{}-{c}", opposite(c)),
            None => format!("axis {a}"),
        }
    }

    fn code(&self, a: usize) -> Option<char> {
        self.0.and_then(|codes| codes.get(a).copied())
    }

    /// The anatomical plane of two voxel axes: axial (L-R and A-P), coronal (L-R and S-I),
    /// sagittal (A-P and S-I).
    fn plane(&self, [a, b]: [usize; 2]) -> String {
        let family = |c: Option<char>| match c {
            Some('R' | 'L') => Some(0),
            Some('A' | 'P') => Some(1),
            Some('S' | 'I') => Some(2),
            _ => None,
        };
        match (family(self.code(a)), family(self.code(b))) {
            (Some(x), Some(y)) if x != y => match x + y {
                1 => "the axial plane".to_owned(),
                2 => "the coronal plane".to_owned(),
                _ => "the sagittal plane".to_owned(),
            },
            _ => format!("voxel plane [{a}, {b}]"),
        }
    }

    /// Three per-axis values with the axes' names: `×0.9 L-R, ×1.1 P-A, ×1 I-S`.
    fn per_axis(&self, values: &[Value], prefix: &str, unit: &str) -> String {
        let parts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(a, v)| format!("{prefix}{}{unit} {}", value_text(v), self.name(a)))
            .collect();
        parts.join(", ")
    }
}

fn opposite(code: char) -> char {
    match code {
        'R' => 'L',
        'L' => 'R',
        'A' => 'P',
        'P' => 'A',
        'S' => 'I',
        'I' => 'S',
        other => other,
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn axis_pair(v: Option<&Value>) -> Option<[usize; 2]> {
    let a = v?.as_array()?;
    match a.as_slice() {
        [x, y] => Some([to_usize(x.as_u64()?), to_usize(y.as_u64()?)]),
        _ => None,
    }
}

/// `[64, 64, 32]` → `64×64×32`.
fn dims(v: &Value) -> String {
    match v.as_array() {
        Some(items) => items.iter().map(value_text).collect::<Vec<_>>().join("×"),
        None => value_text(v),
    }
}

fn signed(v: Option<&Value>) -> f64 {
    let x = v.and_then(Value::as_f64).unwrap_or(0.0);
    // 3 significant digits, as every other number here.
    value_text(&Value::from(x)).parse().unwrap_or(x)
}

fn with_mean(text: String, mean: Option<&Value>) -> String {
    match mean.and_then(Value::as_f64) {
        Some(m) if m != 0.0 => format!("{text}, mean {}", value_text(&Value::from(m))),
        _ => text,
    }
}

fn elastic_text(model: Option<&Value>) -> String {
    let Some(model) = model else { return "elastic deformation".to_owned() };
    let field = |k: &str| model.get(k).map_or_else(|| "?".to_owned(), value_text);
    match model.get("type").and_then(Value::as_str) {
        Some("control_grid") => format!(
            "elastic deformation on a {} control grid, up to {} mm",
            model.get("num_control_points").map_or_else(|| "?".to_owned(), dims),
            field("max_displacement")
        ),
        Some("simard") => format!("elastic deformation α={}, σ={} mm", field("alpha"), field("sigma")),
        Some("identity") => "no deformation".to_owned(),
        _ => "elastic deformation".to_owned(),
    }
}

/// Any other op: its name and its parameters with units.
fn generic(op: &str, params: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(map) = params.as_object() {
        for (k, v) in map {
            if is_default_setting(k, v) {
                continue;
            }
            parts.push(format!("{k}={}{}", value_text(v), unit(k)));
        }
    }
    if parts.is_empty() { op.to_owned() } else { format!("{op} {}", parts.join(", ")) }
}

fn unit(key: &str) -> &'static str {
    match key {
        "angle" | "degrees" => "°",
        k if k.ends_with("_mm") || k == "mm" || k == "sigma" => " mm",
        _ => "",
    }
}

/// The resampling settings every spatial op carries, when they are the defaults.
fn is_default_setting(key: &str, value: &Value) -> bool {
    matches!(
        (key, value.as_str(), value.as_i64()),
        ("interpolation", Some("linear"), _)
            | ("label_interpolation", Some("nearest"), _)
            | ("mode", Some("constant"), _)
            | ("fill", Some("minimum"), _)
            | ("label_fill", _, Some(0))
    ) || value.is_null()
}

fn settings_text(params: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(map) = params.as_object() {
        for key in ["interpolation", "mode", "fill"] {
            if let Some(v) = map.get(key).filter(|v| !is_default_setting(key, v)) {
                parts.push(format!("{key} {}", value_text(v)));
            }
        }
    }
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

/// A number to 3 significant digits, without trailing zeros.
fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if v.is_f64() => {
            let digits = if x == 0.0 { 0 } else { (2 - x.abs().log10().floor() as i32).clamp(0, 6) as usize };
            let text = format!("{x:.digits$}");
            if text.contains('.') {
                text.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                text
            }
        }
        _ => v.to_string(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Number(_) => number(v),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(value_text).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            let inner: Vec<String> = map.iter().map(|(k, v)| format!("{k} {}", value_text(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_draw;
    use serde_json::json;

    const RAS: Option<[char; 3]> = Some(['R', 'A', 'S']);

    fn words(op: &str, params: serde_json::Value, orientation: Option<[char; 3]>) -> String {
        describe_draw(&json!({"op": op, "params": params}), orientation)
    }

    #[test]
    fn planes_and_directions_are_named_from_the_orientation() {
        assert_eq!(
            words("rotate", json!({"angle": 11.2849, "axes": [0, 2]}), RAS),
            "rotate 11.3° in the coronal plane"
        );
        assert_eq!(
            words("rotate", json!({"angle": -4.0, "axes": [1, 2]}), RAS),
            "rotate -4° in the sagittal plane"
        );
        assert_eq!(words("rotate", json!({"angle": 3.5}), RAS), "rotate 3.5° in the axial plane");
        // A grid stored as LPI, sagittal slices first (voxel axis 0 is S-I): the same words
        // follow the anatomy, not the voxel order.
        let pil = Some(['I', 'P', 'L']);
        assert_eq!(
            words("rotate", json!({"angle": 2.0, "axes": [0, 2]}), pil),
            "rotate 2° in the coronal plane"
        );
        assert_eq!(words("flip", json!({"axis": [2]}), pil), "flip left–right");
        assert_eq!(words("flip", json!({"axis": [0, 1]}), RAS), "flip left–right and front–back");
        assert_eq!(words("rot90", json!({"k": 3, "axes": [0, 1]}), RAS), "rotate 270° in the axial plane");
        assert_eq!(words("rot90", json!({"k": 4, "axes": [0, 1]}), RAS), "no rotation");
        assert_eq!(words("transpose", json!({"axes": [1, 0, 2]}), RAS), "reorder the axes to P-A, L-R, I-S");
        assert_eq!(
            words("rotate", json!({"angle": 2.0, "axes": [0, 2]}), None),
            "rotate 2° in voxel plane [0, 2]"
        );
    }

    #[test]
    fn intensity_and_crop_draws_read_with_units() {
        assert_eq!(words("scale", json!({"factor": 0.7213}), RAS), "scale ×0.721");
        assert_eq!(
            words("scale", json!({"factor": [0.9, 1.1, 1.0], "mode": "nearest"}), RAS),
            "scale ×0.9 L-R, ×1.1 P-A, ×1 I-S (mode nearest)"
        );
        assert_eq!(
            words("shift", json!({"offset": [1.5, 0.0, -2.25], "unit": "mm", "fill": 0.0}), RAS),
            "shift 1.5 mm L-R, 0 mm P-A, -2.25 mm I-S (fill 0)"
        );
        assert_eq!(
            words("crop", json!({"start": [3, 0, 7], "size": [64, 64, 32]}), RAS),
            "crop 64×64×32 voxels from voxel [3, 0, 7]"
        );
        assert_eq!(words("gamma", json!({"gamma": 0.73412}), RAS), "gamma γ=0.734");
        assert_eq!(words("contrast", json!({"factor": 1.2}), RAS), "contrast ×1.2 about the mean");
        assert_eq!(
            words("brightness_contrast", json!({"multiplier": 1.1, "shift": -0.05}), RAS),
            "intensity ×1.1 then -0.05"
        );
        assert_eq!(
            words("noise", json!({"std": 0.05, "mean": 0.0, "seed": 9}), RAS),
            "Gaussian noise σ=0.05"
        );
        assert_eq!(words("blur", json!({"sigma_mm": 1.25}), RAS), "Gaussian blur σ=1.25 mm");
        assert_eq!(words("dropout", json!({"boxes": [{}, {}]}), RAS), "dropout of 2 boxes");
        assert_eq!(
            words(
                "elastic",
                json!({"model": {"type": "control_grid", "num_control_points": [7, 7, 7], "max_displacement": 7.5}}),
                RAS
            ),
            "elastic deformation on a 7×7×7 control grid, up to 7.5 mm"
        );
        assert_eq!(
            words("bias_field", json!({"order": 3, "coefficients": [0.1, 0.2]}), RAS),
            "bias field of order 3 (2 coefficients)"
        );
    }

    #[test]
    fn chains_join_their_parts_and_other_ops_list_their_parameters() {
        let chain = json!({"op": "chain", "params": {"ops": [
            {"op": "scale", "params": {"factor": 0.7213, "mode": "constant"}},
            {"op": "flip", "params": {"axis": 0}}]}});
        assert_eq!(describe_draw(&chain, RAS), "scale ×0.721, then flip left–right");
        let empty = json!({"op": "chain", "params": {"ops": []}});
        assert_eq!(describe_draw(&empty, RAS), "nothing (every choice skipped)");
        assert_eq!(words("unknown_op", json!({"mm": 2.0, "mode": "constant"}), RAS), "unknown_op mm=2 mm");
    }
}
