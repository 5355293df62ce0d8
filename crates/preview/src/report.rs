//! One self-contained HTML page for a run: per case, the input and each augmented output side
//! by side (inline PNG previews), the parameters drawn for each output, and per-node timings.

use base64::Engine;
use image::RgbImage;
use std::fmt::Write;

/// One output of a case in the report.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    pub output_index: u64,
    /// PNG bytes of the output's preview.
    pub png: Vec<u8>,
    /// The parameters drawn for this output, by random node (as in the manifest).
    pub draws: serde_json::Value,
}

/// One case in the report.
#[derive(Debug, Clone)]
pub struct ReportCase {
    pub case_id: String,
    /// PNG bytes of the input's preview.
    pub input_png: Option<Vec<u8>>,
    pub outputs: Vec<ReportOutput>,
}

/// Encodes a preview as PNG bytes.
pub fn png_bytes(picture: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut bytes, image::ImageFormat::Png)?;
    Ok(bytes.into_inner())
}

/// Encodes a preview as JPEG bytes (quality 90: the letters and outlines stay crisp).
pub fn jpeg_bytes(picture: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(picture)?;
    Ok(bytes)
}

/// The whole page. `timings` are (node, total milliseconds), in the order to show them.
#[must_use]
pub fn html_report(title: &str, cases: &[ReportCase], timings: &[(String, f64)]) -> String {
    let mut html = String::new();
    let image_count: usize = cases.iter().map(|c| c.outputs.len() + usize::from(c.input_png.is_some())).sum();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; background: #111; color: #ddd; margin: 1.5em; }}
h2 {{ border-bottom: 1px solid #444; padding-bottom: .2em; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }}
figure {{ margin: 0; background: #000; padding: .5em; }}
figure img {{ max-width: 46vw; display: block; }}
figcaption {{ font-size: .85em; margin-top: .4em; }}
pre {{ font-size: .8em; white-space: pre-wrap; max-width: 46vw; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2em .8em; border-bottom: 1px solid #333; text-align: left; }}
</style></head>
<body data-expected-images="{image_count}">
<h1>{title}</h1>
"#,
        title = escape(title)
    );
    for case in cases {
        let _ = write!(html, "<section class=\"case\"><h2>{}</h2><div class=\"row\">", escape(&case.case_id));
        if let Some(png) = &case.input_png {
            figure(&mut html, png, "input", None);
        }
        for output in &case.outputs {
            let caption = format!("output {}", output.output_index);
            figure(&mut html, &output.png, &caption, Some(&output.draws));
        }
        html.push_str("</div></section>\n");
    }
    if !timings.is_empty() {
        html.push_str("<h2>Time per node</h2><table><tr><th>node</th><th>total</th></tr>");
        for (node, ms) in timings {
            let _ = write!(html, "<tr><td>{}</td><td>{ms:.1} ms</td></tr>", escape(node));
        }
        html.push_str("</table>\n");
    }
    // Marks the page with how many previews actually decoded, for headless-browser tests.
    html.push_str(
        "<script>window.addEventListener('load', () => { const ok = [...document.images]\
         .filter(i => i.complete && i.naturalWidth > 0).length; document.body.dataset.renderedImages = ok; });\
         </script>\n</body></html>\n",
    );
    html
}

fn figure(html: &mut String, png: &[u8], caption: &str, draws: Option<&serde_json::Value>) {
    let data = base64::engine::general_purpose::STANDARD.encode(png);
    let _ = write!(
        html,
        "<figure><img alt=\"{c}\" src=\"data:image/png;base64,{data}\"><figcaption>{c}</figcaption>",
        c = escape(caption)
    );
    if let Some(draws) = draws {
        let text = serde_json::to_string_pretty(draws).unwrap_or_default();
        let _ = write!(html, "<pre>{}</pre>", escape(&text));
    }
    html.push_str("</figure>");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_inlines_every_preview_and_escapes_text() {
        let png = png_bytes(&RgbImage::new(4, 3)).expect("encodes");
        let case = ReportCase {
            case_id: "case<1>".into(),
            input_png: Some(png.clone()),
            outputs: vec![ReportOutput {
                output_index: 0,
                png,
                draws: serde_json::json!({"flip": {"axis": 1}}),
            }],
        };
        let html = html_report("run", &[case], &[("rotate".into(), 12.5)]);
        assert_eq!(html.matches("data:image/png;base64,").count(), 2);
        assert!(html.contains("data-expected-images=\"2\""));
        assert!(html.contains("case&lt;1&gt;"));
        assert!(html.contains("&quot;axis&quot;: 1"));
        assert!(html.contains("12.5 ms"));
    }

    #[test]
    fn jpeg_and_png_bytes_carry_their_signatures() {
        let picture = RgbImage::from_pixel(9, 5, image::Rgb([200, 30, 30]));
        assert!(jpeg_bytes(&picture).expect("encodes").starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(png_bytes(&picture).expect("encodes").starts_with(b"\x89PNG"));
    }
}
