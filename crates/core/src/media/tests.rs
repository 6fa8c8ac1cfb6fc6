use super::*;

/// A JPEG as a phone writes it: JFIF, then an EXIF block with a GPS
/// position, a comment, the tables and the scan.
fn phone_jpeg() -> Vec<u8> {
    let segment = |marker: u8, body: &[u8]| {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    };
    let mut b = vec![0xFF, 0xD8];
    b.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
    b.extend(segment(0xE1, b"Exif\0\0GPSLatitude 18.5204 N 73.8567 E"));
    b.extend(segment(0xFE, b"taken at home"));
    b.extend(segment(0xDB, &[0u8; 65]));
    b.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
    b.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]);
    b
}

fn png_with_text() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]);
        c
    };
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
    b.extend(chunk(b"tEXt", b"Location\0Shivaji Nagar, Pune"));
    b.extend(chunk(b"eXIf", b"MM\0*GPS"));
    b.extend(chunk(b"IDAT", &[1, 2, 3]));
    b.extend(chunk(b"IEND", &[]));
    b
}

fn webp_with_exif() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = kind.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &[0b0000_1100, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    body.extend(chunk(b"VP8 ", &[9, 8, 7]));
    body.extend(chunk(b"EXIF", b"GPS 18.52 73.85"));
    body.extend(chunk(b"XMP ", b"<x:xmpmeta/>"));
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&(body.len() as u32).to_le_bytes());
    b.extend(body);
    b
}

/// An Ogg Opus stream of `seconds`: the header page and one last page
/// whose granule position says where the stream ends.
pub(crate) fn ogg_opus(seconds: u64, padding: usize) -> Vec<u8> {
    let page = |granule: u64, data: &[u8]| {
        let mut p = b"OggS\0\0".to_vec();
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&[0; 12]);
        p.push(1);
        p.push(data.len().min(255) as u8);
        p.extend_from_slice(data);
        p
    };
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&312u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    let mut b = page(0, &head);
    b.extend(vec![0x55; padding]);
    b.extend(page(seconds * 48_000 + 312, &[0; 10]));
    b
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn types_are_sniffed_from_the_bytes() {
    assert_eq!(sniff(&phone_jpeg()), Some("image/jpeg"));
    assert_eq!(sniff(&png_with_text()), Some("image/png"));
    assert_eq!(sniff(&webp_with_exif()), Some("image/webp"));
    assert_eq!(sniff(&ogg_opus(3, 0)), Some("audio/ogg"));
    assert_eq!(sniff(b"%PDF-1.7 ..."), Some("application/pdf"));
    assert_eq!(sniff(b"\0\0\0\x20ftypM4A \0\0"), Some("audio/mp4"));
    assert_eq!(sniff(b"<html><script>"), None);
    assert_eq!(sniff(b""), None);
}

#[test]
fn photos_lose_their_metadata_and_keep_their_picture() {
    let jpeg = phone_jpeg();
    let clean = strip_metadata("image/jpeg", &jpeg).unwrap();
    assert!(contains(&jpeg, b"GPSLatitude") && !contains(&clean, b"GPSLatitude"));
    assert!(!contains(&clean, b"taken at home"));
    assert!(contains(&clean, b"JFIF"));
    assert!(clean.ends_with(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9]));
    assert_eq!(sniff(&clean), Some("image/jpeg"));

    let png = strip_metadata("image/png", &png_with_text()).unwrap();
    assert!(!contains(&png, b"Shivaji") && !contains(&png, b"eXIf"));
    assert!(contains(&png, b"IHDR") && contains(&png, b"IDAT") && png.ends_with(b"IEND\0\0\0\0"));

    let webp = strip_metadata("image/webp", &webp_with_exif()).unwrap();
    assert!(!contains(&webp, b"GPS") && !contains(&webp, b"xmpmeta"));
    assert!(contains(&webp, b"VP8 "));
    let size = u32::from_le_bytes(webp[4..8].try_into().unwrap()) as usize;
    assert_eq!(size + 8, webp.len(), "the RIFF size is the new length");
    let vp8x = webp.windows(4).position(|w| w == b"VP8X").unwrap();
    assert_eq!(
        webp[vp8x + 8] & 0b1100,
        0,
        "the flags no longer promise EXIF or XMP"
    );
}

#[test]
fn broken_photos_are_errors_not_panics() {
    for cut in [3, 5, 7, 20, 40] {
        let jpeg = phone_jpeg();
        let _ = strip_metadata("image/jpeg", &jpeg[..cut]);
        let png = png_with_text();
        let _ = strip_metadata("image/png", &png[..cut.min(png.len())]);
        let webp = webp_with_exif();
        let _ = strip_metadata("image/webp", &webp[..cut]);
    }
    assert!(strip_metadata("image/png", &png_with_text()[..30]).is_err());
    let mut lying = phone_jpeg();
    lying[5] = 0xFF; // a segment length past the end
    assert!(strip_metadata("image/jpeg", &lying).is_err());
}

#[test]
fn a_voice_note_says_how_long_it_is() {
    let s = ogg_seconds(&ogg_opus(7, 100)).unwrap();
    assert!((s - 7.0).abs() < 0.001, "{s}");
    assert_eq!(ogg_seconds(b"OggS but not opus"), None);
}

#[test]
fn media_is_judged_by_size_checksum_type_and_length() {
    let limits = MediaLimits::default();
    let jpeg = phone_jpeg();
    let hex_sum = hex::encode(Sha256::digest(&jpeg));
    let b64_sum = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&jpeg))
    };
    for sum in [
        vec![hex_sum.as_str()],
        vec![b64_sum.as_str(), hex_sum.as_str()],
        vec![],
    ] {
        match judge(MessageKind::Image, jpeg.clone(), &sum, &limits) {
            Judged::Accepted(a) => {
                assert_eq!(a.content_type, "image/jpeg");
                assert!(!contains(&a.bytes, b"GPSLatitude"));
                assert_eq!(a.sha256, hex::encode(Sha256::digest(&a.bytes)));
            }
            other => panic!("{other:?}"),
        }
    }
    let refusal = |j: Judged| match j {
        Judged::Refused { refusal, .. } => refusal,
        Judged::Accepted(_) => panic!("accepted"),
    };
    let other_sum = hex::encode(Sha256::digest(b"something else"));
    assert_eq!(
        refusal(judge(
            MessageKind::Image,
            jpeg.clone(),
            &[hex_sum.as_str(), &other_sum],
            &limits
        )),
        Refusal::Damaged
    );
    assert_eq!(
        refusal(judge(
            MessageKind::Image,
            jpeg.clone(),
            &["not a sum"],
            &limits
        )),
        Refusal::Damaged
    );
    let small = MediaLimits {
        image_bytes: 10,
        ..limits
    };
    assert_eq!(
        refusal(judge(MessageKind::Image, jpeg.clone(), &[], &small)),
        Refusal::TooLarge
    );
    // What it claims is not what it is.
    assert_eq!(
        refusal(judge(
            MessageKind::Image,
            b"%PDF-1.4 x".to_vec(),
            &[],
            &limits
        )),
        Refusal::WrongType
    );
    assert_eq!(
        refusal(judge(MessageKind::Audio, jpeg, &[], &limits)),
        Refusal::WrongType
    );
    match judge(MessageKind::Audio, ogg_opus(30, 0), &[], &limits) {
        Judged::Accepted(a) => assert_eq!(a.seconds.map(f64::round), Some(30.0)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        refusal(judge(MessageKind::Audio, ogg_opus(121, 0), &[], &limits)),
        Refusal::TooLong
    );
}
