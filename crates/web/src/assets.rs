//! The static files under `/static/…`: `crates/web/static/` (the stylesheet, the pages' scripts,
//! PDF.js in `vendor/pdfjs/`), embedded in the binary by `build.rs` with their content hash and
//! their gzip and brotli forms. A URL made by [`url`] carries the hash (`?v=…`) and is cached for
//! a year; any other request for the file is revalidated by its ETag (the modules' relative
//! imports), so a new release is never mixed with an old cached file.

use axum::extract::{Path, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Relative to `static/`, with `/`.
    pub path: &'static str,
    /// The first 16 hex digits of its SHA-256.
    pub hash: &'static str,
    pub body: &'static [u8],
    /// Text files, when compression saves something.
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

/// Every file, sorted by path.
pub static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/static_assets.rs"));

/// A cached response is kept this long when its URL names its version.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Otherwise it is revalidated by its ETag on every use.
const REVALIDATE: &str = "no-cache";

pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .map(|i| &ASSETS[i])
}

/// The versioned URL of a static file, for pages (`{{ asset("app.css") }}`); a file that does
/// not exist gets a plain URL (and a test makes sure the templates name none).
pub fn url(path: &str) -> String {
    match find(path) {
        Some(a) => format!("/static/{}?v={}", a.path, a.hash),
        None => format!("/static/{path}"),
    }
}

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/static/{*path}", get(serve))
}

async fn serve(
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = find(&path) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    respond(asset, query.as_deref(), &headers)
}

/// The response for `asset`: the smallest encoding the request accepts, its ETag (one per
/// encoding), 304 when the client has it, and how long it may be cached.
pub fn respond(asset: &Asset, query: Option<&str>, request: &HeaderMap) -> Response {
    let accepted = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (encoding, body) = match (asset.brotli, asset.gzip) {
        (Some(br), _) if accepts(accepted, "br") => (Some("br"), br),
        (_, Some(gz)) if accepts(accepted, "gzip") => (Some("gzip"), gz),
        _ => (None, asset.body),
    };
    let etag = match encoding {
        Some(e) => format!("\"{}-{e}\"", asset.hash),
        None => format!("\"{}\"", asset.hash),
    };
    let versioned = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .any(|pair| pair.strip_prefix("v=") == Some(asset.hash));
    let cache = if versioned { IMMUTABLE } else { REVALIDATE };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        });

    let mut headers = HeaderMap::new();
    let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    headers.insert(header::ETAG, value(&etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if asset.gzip.is_some() || asset.brotli.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(e) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    (StatusCode::OK, headers, body).into_response()
}

/// Whether an Accept-Encoding value accepts `coding` (by name or `*`, with a q-value above 0).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut star = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            star = q > 0.0;
        }
    }
    star
}

/// By the file's extension. Modules must be JavaScript: browsers refuse a module of any other
/// type.
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("wasm") => "application/wasm",
        Some("txt") | None => "text/plain; charset=utf-8",
        Some(_) => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn request(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(name, HeaderValue::from_str(value).expect("a header value"));
        }
        h
    }

    fn body(response: Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .expect("body")
            .to_vec()
    }

    fn asset(path: &str) -> &'static Asset {
        find(path).unwrap_or_else(|| panic!("{path} is embedded"))
    }

    #[test]
    fn every_file_of_the_static_folder_is_embedded_and_sorted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut count = 0;
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).expect("dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let relative = path
                    .strip_prefix(&root)
                    .expect("under static")
                    .to_string_lossy()
                    .replace('\\', "/");
                assert_eq!(
                    asset(&relative).body,
                    std::fs::read(&path).expect("file").as_slice()
                );
                count += 1;
            }
        }
        assert_eq!(ASSETS.len(), count);
        assert!(ASSETS.windows(2).all(|w| w[0].path < w[1].path));
    }

    /// Each file's hash (its URL's version and ETag) and compressed forms are of the body served:
    /// a build script that did not run again after a file changed (cargo judges by modification
    /// times, which copying a tree can keep old) would serve a stale compressed file under a
    /// stale version.
    #[test]
    fn every_hash_and_compressed_form_is_of_the_body() {
        use sha2::Digest as _;
        use std::io::Read as _;
        for a in ASSETS {
            let digest = sha2::Sha256::digest(a.body);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(a.hash, &hex[..16], "{}: hash", a.path);
            if let Some(gz) = a.gzip {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(gz)
                    .read_to_end(&mut plain)
                    .expect("gzip");
                assert!(plain == a.body, "{}: gzip", a.path);
            }
            if let Some(br) = a.brotli {
                let mut plain = Vec::new();
                brotli::Decompressor::new(br, 4096)
                    .read_to_end(&mut plain)
                    .expect("brotli");
                assert!(plain == a.body, "{}: brotli", a.path);
            }
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type("js/party.mjs"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("a.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.png"), "image/png");
        assert_eq!(content_type("x.svg"), "image/svg+xml");
        assert_eq!(content_type("f.woff2"), "font/woff2");
        assert_eq!(
            content_type("vendor/pdfjs/LICENSE"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type("vendor/pdfjs/cmaps/H.bcmap"),
            "application/octet-stream"
        );
    }

    #[test]
    fn brotli_is_preferred_then_gzip_then_none() {
        let a = asset("vendor/pdfjs/pdf.worker.min.mjs");
        let br = respond(
            a,
            None,
            &request(&[(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd")]),
        );
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(br.headers()[header::VARY], "Accept-Encoding");
        assert_eq!(
            br.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let packed = body(br);
        let mut unpacked = Vec::new();
        brotli::Decompressor::new(packed.as_slice(), 4096)
            .read_to_end(&mut unpacked)
            .expect("brotli");
        assert_eq!(unpacked, a.body);

        let gz = respond(
            a,
            None,
            &request(&[(header::ACCEPT_ENCODING, "gzip;q=0.8, br;q=0")]),
        );
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(body(gz).as_slice())
            .read_to_end(&mut unpacked)
            .expect("gzip");
        assert_eq!(unpacked, a.body);

        let plain = respond(a, None, &HeaderMap::new());
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body(plain), a.body);

        // Compressed images gain nothing.
        let cmap = asset("vendor/pdfjs/cmaps/UniJIS-UCS2-H.bcmap");
        let r = respond(
            cmap,
            None,
            &request(&[(header::ACCEPT_ENCODING, "br, gzip")]),
        );
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    }

    /// What the signing page loads besides the PDF stays under the issue's 500 KB.
    #[test]
    fn pdfjs_and_the_pages_scripts_transfer_under_500_kb_with_brotli() {
        let weight: usize = [
            "app.css",
            "js/api.mjs",
            "js/pdfpages.mjs",
            "js/party.mjs",
            "vendor/pdfjs/pdf.min.mjs",
            "vendor/pdfjs/pdf.worker.min.mjs",
        ]
        .iter()
        .map(|p| {
            let a = asset(p);
            a.brotli.unwrap_or(a.body).len()
        })
        .sum();
        assert!(weight < 500_000, "{weight} bytes");
    }

    #[test]
    fn a_versioned_url_is_immutable_and_others_revalidate() {
        let a = asset("app.css");
        let u = url("app.css");
        assert_eq!(u, format!("/static/app.css?v={}", a.hash));
        let q = u.split_once('?').map(|(_, q)| q);
        let r = respond(a, q, &HeaderMap::new());
        assert_eq!(r.headers()[header::CACHE_CONTROL], IMMUTABLE);
        let r = respond(a, Some("v=0000000000000000"), &HeaderMap::new());
        assert_eq!(r.headers()[header::CACHE_CONTROL], REVALIDATE);
        let r = respond(a, None, &HeaderMap::new());
        assert_eq!(r.headers()[header::CACHE_CONTROL], REVALIDATE);
    }

    #[test]
    fn a_matching_etag_answers_not_modified() {
        let a = asset("js/pdfpages.mjs");
        let first = respond(a, None, &request(&[(header::ACCEPT_ENCODING, "br")]));
        let etag = first.headers()[header::ETAG]
            .to_str()
            .expect("etag")
            .to_owned();
        let again = respond(
            a,
            None,
            &request(&[
                (header::ACCEPT_ENCODING, "br"),
                (header::IF_NONE_MATCH, &etag),
            ]),
        );
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).is_empty());
        // Another encoding is another representation.
        let other = respond(
            a,
            None,
            &request(&[
                (header::ACCEPT_ENCODING, "gzip"),
                (header::IF_NONE_MATCH, &etag),
            ]),
        );
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn accept_encoding_is_read_with_its_q_values() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(!accepts("gzip, deflate", "br"));
        assert!(!accepts("br;q=0, *", "br"));
        assert!(accepts("*", "gzip"));
        assert!(!accepts("*;q=0", "gzip"));
        assert!(accepts("BR;q=0.5", "br"));
    }
}
