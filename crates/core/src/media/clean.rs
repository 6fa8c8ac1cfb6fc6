//! Photos made safe to show: their metadata (where and when the phone took
//! them, its owner's name) removed, the picture copied byte for byte. Each
//! format is walked by its own structure (JPEG segments, PNG and WebP
//! chunks); what cannot be walked is an error, never a panic.

/// A photo without its metadata: JPEG's APP1 (EXIF, XMP), APP13 (IPTC)
/// and comments; PNG's text, time and EXIF chunks; WebP's EXIF and XMP
/// chunks. The picture itself is copied byte for byte.
pub fn strip_metadata(content_type: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    match content_type {
        "image/jpeg" => strip_jpeg(bytes),
        "image/png" => strip_png(bytes),
        "image/webp" => strip_webp(bytes),
        other => Err(format!("{other} is not a photo type")),
    }
}

fn strip_jpeg(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(b.get(..2).ok_or("no start of image")?);
    let mut i = 2;
    loop {
        // Markers may be padded with 0xFF fill bytes.
        while b.get(i) == Some(&0xFF) && b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (b.get(i), b.get(i + 1)) else {
            return Err(format!("no marker at byte {i}"));
        };
        if marker == 0xD9 {
            out.extend_from_slice(&[0xFF, 0xD9]);
            return Ok(out);
        }
        let len = match b.get(i + 2..i + 4) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err("cut short in a segment's length".into()),
        };
        if len < 2 || i + 2 + len > b.len() {
            return Err(format!("segment at byte {i} runs past the end"));
        }
        let end = i + 2 + len;
        // APP1 (EXIF, XMP), APP13 (IPTC), COM: the metadata.
        let metadata = matches!(marker, 0xE1 | 0xED | 0xFE);
        if !metadata {
            out.extend_from_slice(&b[i..end]);
        }
        if marker == 0xDA {
            // Start of scan: the picture data follows to the end.
            out.extend_from_slice(&b[end..]);
            return Ok(out);
        }
        i = end;
    }
}

fn strip_png(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(b.get(..8).ok_or("no PNG signature")?);
    let mut i = 8;
    while i < b.len() {
        let Some(head) = b.get(i..i + 8) else {
            return Err(format!("cut short in a chunk header at byte {i}"));
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let end = i
            .checked_add(12)
            .and_then(|n| n.checked_add(len))
            .filter(|end| *end <= b.len())
            .ok_or_else(|| format!("chunk at byte {i} runs past the end"))?;
        let metadata = matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME");
        if !metadata {
            out.extend_from_slice(&b[i..end]);
        }
        i = end;
        if kind == b"IEND" {
            return Ok(out);
        }
    }
    Err("no IEND chunk".into())
}

fn strip_webp(b: &[u8]) -> Result<Vec<u8>, String> {
    let mut chunks = Vec::with_capacity(b.len());
    let mut i = 12;
    while i < b.len() {
        let Some(head) = b.get(i..i + 8) else {
            return Err(format!("cut short in a chunk header at byte {i}"));
        };
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let padded = len + (len & 1);
        let end = (i + 8 + padded).min(b.len());
        if i + 8 + len > b.len() {
            return Err(format!("chunk at byte {i} runs past the end"));
        }
        match &head[..4] {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let mut chunk = b[i..end].to_vec();
                // Flags: bit 3 says EXIF follows, bit 2 XMP.
                if let Some(flags) = chunk.get_mut(8) {
                    *flags &= !0b0000_1100;
                }
                chunks.extend_from_slice(&chunk);
            }
            _ => chunks.extend_from_slice(&b[i..end]),
        }
        i = end;
    }
    let size = u32::try_from(chunks.len() + 4).map_err(|_| "too large".to_owned())?;
    let mut out = Vec::with_capacity(chunks.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&chunks);
    Ok(out)
}
