#!/usr/bin/env bash
# Vendors PDF.js (the npm package pdfjs-dist) at the pinned version below into
# crates/web/static/vendor/pdfjs/: the library and its worker (minified ES modules), the predefined
# CMaps (Japanese text in PDFs whose CJK fonts are not embedded needs them) and the licence.
# The tarball is fetched with npm and checked against the pinned integrity before anything is
# copied. To update: change VERSION and INTEGRITY (`npm view pdfjs-dist@X dist.integrity`), run
# this script, and commit the folder.
set -euo pipefail
VERSION=6.5.438
INTEGRITY=sha512-vg8Pw1x+AFKy4AMDvhuWl5cOYV8d698UoEANoFFhc79hqXDnZQqnOXoxw3HG907WHOg1JYOvLhP756boddFxpA==

root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/crates/web/static/vendor/pdfjs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

npm pack --silent "pdfjs-dist@$VERSION" >/dev/null
tarball=pdfjs-dist-$VERSION.tgz
actual=sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)
if [[ $actual != "$INTEGRITY" ]]; then
  echo "vendor-pdfjs: $tarball has integrity $actual, expected $INTEGRITY" >&2
  exit 1
fi
tar xzf "$tarball"

rm -rf "$dest"
mkdir -p "$dest/cmaps"
cp package/build/pdf.min.mjs package/build/pdf.worker.min.mjs package/LICENSE "$dest/"
cp package/cmaps/*.bcmap "$dest/cmaps/"
cp package/cmaps/LICENSE "$dest/cmaps/LICENSE"
printf 'pdfjs-dist %s\n%s\n' "$VERSION" "$INTEGRITY" >"$dest/VERSION"
echo "vendor-pdfjs: pdfjs-dist $VERSION in ${dest#"$root"/}"
