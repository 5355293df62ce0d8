//! The HTML report of a run: a summary (cases, outputs, failures, time per node), a table of
//! contents, and per case the input and each output as thumbnails linking to the full previews
//! (separate files beside the page), with the parameters drawn for each output in words.

use image::RgbImage;
use std::collections::BTreeMap;
use std::fmt::Write;

pub use crate::words::describe_draw;

/// A preview in the report: the full picture and its thumbnail, as links relative to the page.
#[derive(Debug, Clone)]
pub struct Picture {
    pub href: String,
    pub thumbnail: String,
}

/// One output of a case in the report.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    pub output_index: u64,
    pub picture: Option<Picture>,
    /// The parameters drawn for this output, by random node (as in the manifest: each a drawn
    /// op `{"op": ..., "params": ...}`).
    pub draws: BTreeMap<String, serde_json::Value>,
    /// The axis codes of the output's grid (`['R', 'A', 'S']`), which name the draws' planes
    /// and directions ([`describe_draw`]); `None` when unknown.
    pub orientation: Option<[char; 3]>,
}

/// One case in the report.
#[derive(Debug, Clone)]
pub struct ReportCase {
    pub case_id: String,
    /// The preview of the case's input.
    pub input: Option<Picture>,
    pub outputs: Vec<ReportOutput>,
}

/// The run as a whole, for the summary at the top.
#[derive(Debug, Clone, Default)]
pub struct ReportSummary {
    /// Outstanding failures, one line each (`case X, node Y: message`).
    pub failures: Vec<String>,
}

/// A thumbnail of a preview, `height` pixels high.
#[must_use]
pub fn thumbnail(picture: &RgbImage, height: u32) -> RgbImage {
    let (w, h) = picture.dimensions();
    if h <= height || h == 0 {
        return picture.clone();
    }
    let width = ((u64::from(w) * u64::from(height)) / u64::from(h)).max(1) as u32;
    image::imageops::thumbnail(picture, width, height)
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

/// The whole page: a summary (cases, outputs, failures, time per node), a table of contents,
/// and per case the input's and each output's thumbnail (linking to the full preview) with what
/// was drawn, one line per draw in words and units. Pictures are separate files, so the page
/// stays small (about 2 kB per output). `timings` are (node, total milliseconds), in the order
/// to show them.
#[must_use]
pub fn html_report(
    title: &str,
    summary: &ReportSummary,
    cases: &[ReportCase],
    timings: &[(String, f64)],
) -> String {
    let mut html = String::new();
    let outputs: usize = cases.iter().map(|c| c.outputs.len()).sum();
    let image_count: usize = cases
        .iter()
        .map(|c| c.outputs.iter().filter(|o| o.picture.is_some()).count() + usize::from(c.input.is_some()))
        .sum();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; background: #111; color: #ddd; margin: 1.5em; }}
a {{ color: #8cf; }}
h2 {{ border-bottom: 1px solid #444; padding-bottom: .2em; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }}
figure {{ margin: 0; background: #000; padding: .5em; max-width: 32em; }}
figure img {{ display: block; height: 160px; }}
figcaption {{ font-size: .85em; margin-top: .4em; }}
table.draws {{ font-size: .8em; margin-top: .3em; }} table.draws th {{ color: #aaa; font-weight: normal; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2em .8em; border-bottom: 1px solid #333; text-align: left; }}
td.num {{ text-align: right; }}
nav a {{ margin-right: .8em; }}
.failure {{ color: #f88; }}
</style></head>
<body data-expected-images="{image_count}">
<h1>{title}</h1>
"#,
        title = escape(title)
    );
    let _ = write!(
        html,
        "<section id=\"summary\"><table><tr><th>cases</th><td class=\"num\">{}</td></tr>\
         <tr><th>outputs</th><td class=\"num\">{outputs}</td></tr>\
         <tr><th>failures</th><td class=\"num\">{}</td></tr></table>",
        cases.len(),
        summary.failures.len()
    );
    if !summary.failures.is_empty() {
        html.push_str("<ul>");
        for failure in &summary.failures {
            let _ = write!(html, "<li class=\"failure\">{}</li>", escape(failure));
        }
        html.push_str("</ul>");
    }
    if !timings.is_empty() {
        let total: f64 = timings.iter().map(|(_, ms)| ms).sum();
        html.push_str("<h2>Time per node</h2><table><tr><th>node</th><th>total</th><th>share</th></tr>");
        for (node, ms) in timings {
            if *ms == 0.0 {
                // A spatial op fused into a later resampling: its time is that node's.
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td class=\"num\">fused</td><td class=\"num\">in a later resampling</td></tr>",
                    escape(node)
                );
                continue;
            }
            let share = if total > 0.0 { 100.0 * ms / total } else { 0.0 };
            let _ = write!(
                html,
                "<tr><td>{}</td><td class=\"num\">{ms:.1} ms</td><td class=\"num\">{share:.0}%</td></tr>",
                escape(node)
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</section>\n<nav><h2>Cases</h2>");
    for case in cases {
        let _ = write!(html, "<a href=\"#case-{id}\">{id}</a>", id = escape(&case.case_id));
    }
    html.push_str("</nav>\n");
    for case in cases {
        let _ = write!(
            html,
            "<section class=\"case\" id=\"case-{id}\"><h2>{id}</h2><div class=\"row\">",
            id = escape(&case.case_id)
        );
        if let Some(picture) = &case.input {
            figure(&mut html, picture, "input", None);
        }
        for output in &case.outputs {
            let caption = format!("output {}", output.output_index);
            if let Some(picture) = &output.picture {
                figure(&mut html, picture, &caption, Some(output));
            } else {
                let _ = write!(html, "<figure><figcaption>{}</figcaption>", escape(&caption));
                draw_table(&mut html, output);
                html.push_str("</figure>");
            }
        }
        html.push_str("</div></section>\n");
    }
    // Marks the page with how many previews actually decoded, for headless-browser tests.
    html.push_str(
        "<script>window.addEventListener('load', () => { const ok = [...document.images]\
         .filter(i => i.complete && i.naturalWidth > 0).length; document.body.dataset.renderedImages = ok; });\
         </script>\n</body></html>\n",
    );
    html
}

fn figure(html: &mut String, picture: &Picture, caption: &str, output: Option<&ReportOutput>) {
    let _ = write!(
        html,
        "<figure><a href=\"{href}\"><img alt=\"{c}\" src=\"{thumb}\"></a><figcaption>{c}</figcaption>",
        href = escape(&picture.href),
        thumb = escape(&picture.thumbnail),
        c = escape(caption)
    );
    if let Some(output) = output {
        draw_table(html, output);
    }
    html.push_str("</figure>");
}

/// The output's draws, a row each: the random node, and what it drew in words.
fn draw_table(html: &mut String, output: &ReportOutput) {
    if output.draws.is_empty() {
        return;
    }
    html.push_str("<table class=\"draws\">");
    for (node, drawn) in &output.draws {
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(node),
            escape(&describe_draw(drawn, output.orientation))
        );
    }
    html.push_str("</table>");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_links_pictures_and_describes_draws_in_words() {
        let picture =
            |name: &str| Picture { href: format!("f/{name}.png"), thumbnail: format!("f/{name}_t.png") };
        let draws = BTreeMap::from([
            (
                "rotate".to_owned(),
                serde_json::json!({"op": "rotate", "params": {"angle": 11.2849, "axes": [0, 2], "interpolation": "linear", "fill": "minimum"}}),
            ),
            ("flip".to_owned(), serde_json::json!({"op": "flip", "params": {"axes": [1]}})),
            ("gamma".to_owned(), serde_json::json!({"op": "gamma", "params": {"gamma": 0.73412}})),
        ]);
        let case = ReportCase {
            case_id: "case<1>".into(),
            input: Some(picture("in")),
            outputs: vec![ReportOutput {
                output_index: 0,
                picture: Some(picture("o0")),
                draws,
                orientation: Some(['R', 'A', 'S']),
            }],
        };
        let summary = ReportSummary { failures: vec!["case `x`: unreadable".into()] };
        let html = html_report("run", &summary, &[case], &[("rotate".into(), 12.5)]);
        assert!(!html.contains("base64"), "pictures are files, not inline");
        assert_eq!(html.matches("<img ").count(), 2);
        assert!(html.contains(r#"<a href="f/o0.png"><img alt="output 0" src="f/o0_t.png">"#));
        assert!(html.contains("data-expected-images=\"2\""));
        assert!(html.contains("case&lt;1&gt;") && html.contains("href=\"#case-case&lt;1&gt;\""));
        assert!(
            html.contains("<tr><th>rotate</th><td>rotate 11.3° in the coronal plane</td></tr>"),
            "{html}"
        );
        assert!(html.contains("flip front–back") && html.contains("gamma γ=0.734"), "{html}");
        assert!(html.contains("unreadable") && html.contains("12.5 ms"));
    }

    #[test]
    fn jpeg_and_png_bytes_carry_their_signatures() {
        let picture = RgbImage::from_pixel(9, 5, image::Rgb([200, 30, 30]));
        assert!(jpeg_bytes(&picture).expect("encodes").starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(png_bytes(&picture).expect("encodes").starts_with(b"\x89PNG"));
        let small = thumbnail(&RgbImage::new(400, 320), 160);
        assert_eq!(small.dimensions(), (200, 160));
    }
}
