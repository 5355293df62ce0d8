//! Text on a preview, rasterised from DejaVu Sans with ab_glyph.

use ab_glyph::{Font, FontRef, OutlinedGlyph, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use std::sync::OnceLock;

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(dejavu::sans::regular()).expect("DejaVu Sans is a valid font")
    })
}

/// The outlined glyphs of `text` laid out from (0, 0) (the top-left of the line), and the
/// caret's final position (the line's advance width).
fn layout(text: &str, size: f32) -> (Vec<OutlinedGlyph>, f32) {
    let font = font();
    let scaled = font.as_scaled(PxScale::from(size));
    let mut caret = 0.0;
    let baseline = scaled.ascent();
    let mut previous = None;
    let mut glyphs = Vec::new();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(size), ab_glyph::point(caret, baseline));
        caret += scaled.h_advance(id);
        previous = Some(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            glyphs.push(outlined);
        }
    }
    (glyphs, caret)
}

/// The width in pixels `text` takes at `size` (its advance, rounded up).
pub fn width(text: &str, size: f32) -> u32 {
    layout(text, size).1.ceil().max(0.0) as u32
}

/// Draws `text` with its line's top-left corner at (x, y), `size` pixels high, blended over the
/// image. Pixels outside the canvas are skipped.
pub fn text(canvas: &mut RgbImage, text: &str, x: u32, y: u32, size: f32, colour: Rgb<u8>) {
    let (glyphs, _) = layout(text, size);
    paint(canvas, &glyphs, i64::from(x), i64::from(y), colour);
}

/// Draws `text` with the box of its inked pixels centred on (cx, cy).
pub fn text_centred(canvas: &mut RgbImage, text: &str, cx: i64, cy: i64, size: f32, colour: Rgb<u8>) {
    let (glyphs, _) = layout(text, size);
    let Some((x0, y0, x1, y1)) = glyphs.iter().map(OutlinedGlyph::px_bounds).fold(None, |acc, b| {
        let b = (b.min.x, b.min.y, b.max.x, b.max.y);
        Some(acc.map_or(b, |(a0, a1, a2, a3): (f32, f32, f32, f32)| {
            (a0.min(b.0), a1.min(b.1), a2.max(b.2), a3.max(b.3))
        }))
    }) else {
        return;
    };
    let dx = cx - f32::midpoint(x0, x1).round() as i64;
    let dy = cy - f32::midpoint(y0, y1).round() as i64;
    paint(canvas, &glyphs, dx, dy, colour);
}

fn paint(canvas: &mut RgbImage, glyphs: &[OutlinedGlyph], dx: i64, dy: i64, colour: Rgb<u8>) {
    for outlined in glyphs {
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let px = dx + bounds.min.x as i64 + i64::from(gx);
            let py = dy + bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= i64::from(canvas.width()) || py >= i64::from(canvas.height()) {
                return;
            }
            let pixel = canvas.get_pixel_mut(px as u32, py as u32);
            for (channel, target) in pixel.0.iter_mut().zip(colour.0) {
                let blended = f32::from(*channel) * (1.0 - coverage) + f32::from(target) * coverage;
                *channel = blended.round().clamp(0.0, 255.0) as u8;
            }
        });
    }
}
