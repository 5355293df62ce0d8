//! Text on a preview, rasterised from DejaVu Sans with ab_glyph.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use std::sync::OnceLock;

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(dejavu::sans::regular()).expect("DejaVu Sans is a valid font")
    })
}

/// Draws `text` with its top-left corner at (x, y), `size` pixels high, blended over the image.
pub fn text(canvas: &mut RgbImage, text: &str, x: u32, y: u32, size: f32, colour: Rgb<u8>) {
    let font = font();
    let scaled = font.as_scaled(PxScale::from(size));
    let mut caret = x as f32;
    let baseline = y as f32 + scaled.ascent();
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(size), ab_glyph::point(caret, baseline));
        caret += scaled.h_advance(id);
        previous = Some(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
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
}
