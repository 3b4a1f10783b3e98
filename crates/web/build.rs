//! Embeds `static/` in the binary: writes `$OUT_DIR/static_assets.rs`, a sorted list of every
//! file with its content hash (SHA-256, for versioned URLs and ETags) and, for text files, its
//! gzip and brotli forms compressed here, once, so that serving them costs no CPU.
//!
//! Why a generated `include_bytes!` list rather than rust-embed: the compressed forms have to be
//! made at build time anyway (brotli at a good quality takes seconds for PDF.js's worker), and one
//! build step that does both is simpler than a derive macro plus a second step. Compressed forms
//! are kept in `$OUT_DIR/compressed/` under the file's hash, so editing one file recompresses that
//! file only.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Brotli quality 9: PDF.js's two files come to about 465 KB (gzip -9: 514 KB) in about three
/// seconds of an unoptimised build script; quality 11 saves 40 KB more but takes ten times as
/// long.
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let root = manifest.join("static");
    println!("cargo:rerun-if-changed=static");

    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut entries: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&root)
                .expect("under static/")
                .components()
                .map(|c| c.as_os_str().to_str().expect("a UTF-8 file name"))
                .collect::<Vec<_>>()
                .join("/");
            (relative, path)
        })
        .collect();
    entries.sort();

    let cache = out.join("compressed");
    std::fs::create_dir_all(&cache).expect("compressed/");
    let mut list = String::from("&[\n");
    for (relative, path) in &entries {
        let body = std::fs::read(path).expect("a static file");
        let hash = hex(&Sha256::digest(&body));
        let (gzip, brotli) = if is_text(relative) {
            (
                compressed(&cache, &hash, "gz", &body, gzip),
                compressed(&cache, &hash, "br", &body, brotli),
            )
        } else {
            (None, None)
        };
        let optional = |p: Option<PathBuf>| match p {
            Some(p) => format!("Some(include_bytes!({:?}))", p.display().to_string()),
            None => "None".to_owned(),
        };
        writeln!(
            list,
            "    Asset {{ path: {relative:?}, hash: {:?}, body: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            &hash[..16],
            path.display().to_string(),
            optional(gzip),
            optional(brotli),
        )
        .expect("writing to a string");
    }
    list.push(']');
    std::fs::write(out.join("static_assets.rs"), list).expect("static_assets.rs");
}

/// Every file under `dir`, skipping hidden ones.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a static folder") {
        let entry = entry.expect("a folder entry");
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type().expect("a file type").is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Text compresses; images, fonts and CMaps are compressed already.
fn is_text(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((_, ext)) => matches!(ext, "css" | "js" | "mjs" | "svg" | "json" | "txt" | "map"),
        // LICENSE, VERSION
        None => true,
    }
}

/// The compressed form, from the cache or made now; `None` when it saves less than a tenth.
fn compressed(
    cache: &Path,
    hash: &str,
    ext: &str,
    body: &[u8],
    compress: fn(&[u8]) -> Vec<u8>,
) -> Option<PathBuf> {
    let path = cache.join(format!("{hash}.{ext}"));
    let none = cache.join(format!("{hash}.{ext}.none"));
    if path.exists() {
        return Some(path);
    }
    if none.exists() {
        return None;
    }
    let packed = compress(body);
    if packed.len() * 10 > body.len() * 9 {
        std::fs::write(&none, b"").expect("a cache mark");
        return None;
    }
    // Written under another name first: an interrupted build leaves no truncated file.
    let partial = cache.join(format!("{hash}.{ext}.partial"));
    std::fs::write(&partial, packed).expect("a compressed file");
    std::fs::rename(&partial, &path).expect("a compressed file");
    Some(path)
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).expect("gzip");
    encoder.finish().expect("gzip")
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut packed = Vec::new();
    {
        let mut writer =
            brotli::CompressorWriter::new(&mut packed, 1 << 16, BROTLI_QUALITY, BROTLI_WINDOW);
        writer.write_all(body).expect("brotli");
    }
    packed
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
