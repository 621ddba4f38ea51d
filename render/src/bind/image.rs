//! Images a document names: data URLs and shipped assets, their format checked and their
//! size bounded.

use super::*;

/// The largest image a document may embed, decoded.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

pub(super) fn load_image(source: &str, assets: &BTreeMap<String, Vec<u8>>) -> Result<Image, String> {
    use base64::Engine as _;
    let too_large = |bytes: usize| {
        format!(
            "the image is {:.1} MiB: at most {} MiB (reduce its size or resolution)",
            bytes as f64 / 1_048_576.0,
            MAX_IMAGE_BYTES / 1_048_576
        )
    };
    let bytes = if let Some(data) = source.strip_prefix("data:") {
        let (_, payload) = data.split_once(";base64,").ok_or("a data: URL must be base64 (data:image/png;base64,…)")?;
        // Refused before decoding: base64 holds three bytes in four characters.
        if payload.len() / 4 * 3 > MAX_IMAGE_BYTES + 3 {
            return Err(too_large(payload.len() / 4 * 3));
        }
        base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|error| format!("the data: URL is not valid base64: {error}"))?
    } else {
        let name = source.trim_start_matches("asset:");
        assets.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = assets.keys().map(String::as_str).collect();
            format!("unknown image `{name}`: embed it as a data: URL or use a shipped asset ({})", known.join(", "))
        })?
    };
    crate::raster::identify(bytes)
}
