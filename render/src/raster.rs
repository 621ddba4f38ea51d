//! Images: what an embedded image is (PNG, JPEG or SVG, and its size), and SVG drawn to
//! PNG for the writers that cannot take SVG (DOCX), with the report's own fonts.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

use crate::DocumentError;
use crate::bind::{Image, ImageFormat};

/// Most pixels an image may have (about 8000 × 6000): a larger one could exhaust memory
/// when it is decoded or drawn.
pub const MAX_PIXELS: u64 = 50_000_000;

/// Reads an image's format and size from its first bytes, refusing images past
/// [`MAX_PIXELS`].
pub(crate) fn identify(bytes: Vec<u8>) -> Result<Image, String> {
    let image = identify_format(bytes)?;
    let pixels = u64::from(image.width) * u64::from(image.height);
    if pixels > MAX_PIXELS {
        return Err(format!(
            "the image is {} × {} pixels: at most {MAX_PIXELS} pixels are accepted",
            image.width, image.height
        ));
    }
    Ok(image)
}

fn identify_format(bytes: Vec<u8>) -> Result<Image, String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() >= 24 {
        let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        return Ok(Image { format: ImageFormat::Png, bytes, width, height });
    }
    if bytes.starts_with(&[0xff, 0xd8]) {
        let (width, height) = jpeg_size(&bytes).ok_or("the JPEG image has no frame header")?;
        return Ok(Image { format: ImageFormat::Jpeg, bytes, width, height });
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_string();
    if head.contains("<svg") {
        let text = std::str::from_utf8(&bytes).map_err(|_| "the SVG image is not UTF-8")?;
        let tree =
            usvg::Tree::from_str(text, &options()).map_err(|error| format!("the SVG image cannot be read: {error}"))?;
        let size = tree.size();
        return Ok(Image {
            format: ImageFormat::Svg,
            bytes,
            width: size.width().ceil() as u32,
            height: size.height().ceil() as u32,
        });
    }
    Err("the image is neither PNG, JPEG nor SVG".into())
}

/// Width and height from a JPEG's start-of-frame segment.
fn jpeg_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut position = 2;
    while position + 9 < bytes.len() {
        if bytes[position] != 0xff {
            return None;
        }
        let marker = bytes[position + 1];
        let length = usize::from(u16::from_be_bytes([bytes[position + 2], bytes[position + 3]]));
        if matches!(marker, 0xc0..=0xc3 | 0xc5..=0xc7 | 0xc9..=0xcb | 0xcd..=0xcf) {
            let height = u16::from_be_bytes([bytes[position + 5], bytes[position + 6]]);
            let width = u16::from_be_bytes([bytes[position + 7], bytes[position + 8]]);
            return Some((u32::from(width), u32::from(height)));
        }
        position += 2 + length;
    }
    None
}

fn options() -> usvg::Options<'static> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    let fonts = FONTS.get_or_init(|| {
        let mut database = usvg::fontdb::Database::new();
        for data in crate::typst::Renderer::font_data() {
            database.load_font_data(data.to_vec());
        }
        database.set_sans_serif_family("Inter");
        database.set_serif_family("Libertinus Serif");
        database.set_monospace_family("DejaVu Sans Mono");
        Arc::new(database)
    });
    usvg::Options {
        fontdb: fonts.clone(),
        font_family: "Inter".into(),
        // Only images embedded as data: URLs are read; an `href` naming a file or a
        // URL is never followed, so an SVG cannot pull a file off the server.
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data: usvg::ImageHrefResolver::default_data_resolver(),
            resolve_string: Box::new(|_, _| None),
        },
        resources_dir: None,
        ..usvg::Options::default()
    }
}

/// An SVG drawn at `scale` times its size, as PNG bytes with the drawn size.
pub(crate) fn svg_to_png(svg: &str, scale: f32) -> Result<(Vec<u8>, u32, u32), DocumentError> {
    let error = |message: String| DocumentError::Writer { format: "PNG", message };
    let tree = usvg::Tree::from_str(svg, &options()).map_err(|source| error(format!("SVG not readable: {source}")))?;
    let size = tree.size();
    let (width, height) = ((size.width() * scale).ceil() as u32, (size.height() * scale).ceil() as u32);
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(error(format!("the SVG would be drawn at {width} × {height} pixels: at most {MAX_PIXELS}")));
    }
    let mut pixmap = tiny_skia::Pixmap::new(width.max(1), height.max(1)).ok_or_else(|| error("empty image".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    let png = pixmap.encode_png().map_err(|source| error(source.to_string()))?;
    Ok((png, width, height))
}

/// Any image as PNG (SVG drawn at twice its size), for DOCX.
pub(crate) fn as_png(image: &Image) -> Result<(Vec<u8>, u32, u32), DocumentError> {
    match image.format {
        ImageFormat::Png => Ok((image.bytes.clone(), image.width, image.height)),
        ImageFormat::Svg => {
            let text = std::str::from_utf8(&image.bytes)
                .map_err(|_| DocumentError::Writer { format: "PNG", message: "SVG is not UTF-8".into() })?;
            let (png, width, height) = svg_to_png(text, 2.0)?;
            Ok((png, width / 2, height / 2))
        }
        ImageFormat::Jpeg => Ok((image.bytes.clone(), image.width, image.height)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_image(tree: &usvg::Tree) -> bool {
        fn walk(group: &usvg::Group) -> bool {
            group.children().iter().any(|node| match node {
                usvg::Node::Image(_) => true,
                usvg::Node::Group(group) => walk(group),
                _ => false,
            })
        }
        walk(tree.root())
    }

    #[test]
    fn an_svg_cannot_read_a_file_of_the_server() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("secret.png");
        let pixmap = tiny_skia::Pixmap::new(2, 2).unwrap();
        std::fs::write(&path, pixmap.encode_png().unwrap()).unwrap();
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><image href="{0}" width="10" height="10"/><image xlink:href="file://{0}" width="10" height="10"/><image href="/etc/passwd" width="10" height="10"/></svg>"#,
            path.display()
        );
        // The library's defaults would read the file; ours do not.
        assert!(has_image(&usvg::Tree::from_str(&svg, &usvg::Options::default()).unwrap()));
        assert!(!has_image(&usvg::Tree::from_str(&svg, &options()).unwrap()));
        assert!(identify(svg.into_bytes()).is_ok());
    }

    #[test]
    fn images_past_the_pixel_cap_are_refused() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(
            identify(png).unwrap_err(),
            "the image is 100000 × 100000 pixels: at most 50000000 pixels are accepted"
        );
        let huge = r#"<svg xmlns="http://www.w3.org/2000/svg" width="90000" height="90000"></svg>"#;
        assert!(identify(huge.as_bytes().to_vec()).is_err());
    }
}
