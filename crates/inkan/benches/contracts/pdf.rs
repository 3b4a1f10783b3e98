//! The benchmark's PDFs, generated: valid, incompressible, of any size.

/// A valid PDF of about `bytes` bytes: A4 pages with a line of text, each showing one
/// uncompressed RGB image of pseudo-random bytes (so nothing compresses it away), with a
/// classic cross-reference table. About 10 MB of image a page.
pub fn make(bytes: usize) -> Vec<u8> {
    let pages = (bytes / 10_000_000).max(1);
    let side = ((bytes.saturating_sub(2000) / pages / 3) as f64)
        .sqrt()
        .max(1.0) as usize;
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |pdf: &mut Vec<u8>, head: String, stream: Option<&[u8]>| {
        offsets.push(pdf.len());
        pdf.extend_from_slice(head.as_bytes());
        if let Some(data) = stream {
            pdf.extend_from_slice(b"\nstream\n");
            pdf.extend_from_slice(data);
            pdf.extend_from_slice(b"\nendstream");
        }
        pdf.extend_from_slice(b"\nendobj\n");
    };
    // 1 catalog, 2 page tree, 3 font; then page, contents and image for each page.
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 3 * i)).collect();
    object(
        &mut pdf,
        "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>".into(),
        None,
    );
    object(
        &mut pdf,
        format!(
            "2 0 obj\n<< /Type /Pages /Count {pages} /Kids [{}] >>",
            kids.join(" ")
        ),
        None,
    );
    object(
        &mut pdf,
        "3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
        None,
    );
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut pixels = vec![0u8; side * side * 3];
    for i in 0..pages {
        let (page, contents, image) = (4 + 3 * i, 5 + 3 * i, 6 + 3 * i);
        object(
            &mut pdf,
            format!(
                "{page} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
                 /Resources << /Font << /F1 3 0 R >> /XObject << /Im0 {image} 0 R >> >> \
                 /Contents {contents} 0 R >>"
            ),
            None,
        );
        let text = format!(
            "BT /F1 16 Tf 50 790 Td (Benchmark agreement - page {} of {pages}) Tj ET \
             q 300 0 0 300 150 420 cm /Im0 Do Q",
            i + 1
        );
        object(
            &mut pdf,
            format!("{contents} 0 obj\n<< /Length {} >>", text.len()),
            Some(text.as_bytes()),
        );
        for chunk in pixels.chunks_mut(8) {
            // xorshift64*: quick, and incompressible enough.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let v = state.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        object(
            &mut pdf,
            format!(
                "{image} 0 obj\n<< /Type /XObject /Subtype /Image /Width {side} /Height {side} \
                 /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {} >>",
                pixels.len()
            ),
            Some(&pixels),
        );
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f\r\n", offsets.len() + 1).as_bytes(),
    );
    for o in &offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n\r\n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

pub fn size_label(bytes: usize) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}
