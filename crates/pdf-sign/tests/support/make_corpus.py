#!/usr/bin/env python3
"""make_corpus.py OUTDIR -- build the pdf-sign test corpus.

Python: any CPython >= 3.8 with only the standard library (the system
``python3`` is fine).  The one file that needs a Python package,
reportlab.pdf, is produced by running a second interpreter that has
reportlab (+ Pillow) installed; it is looked up in this order:

  1. $INKAN_CORPUS_PYTHON
  2. ~/.cache/inkan-conformance/venv/bin/python
  3. the interpreter running this script, if it can import reportlab

External tools: soffice/libreoffice, gs, qpdf.  chromium (/usr/bin/chromium)
is optional; chromium.pdf is produced only when it is installed.
On Debian: apt-get install ghostscript libreoffice-writer-nogui qpdf
(poppler-utils is only needed to *check* the output).

Behaviour:
  * Every file is written atomically (temp file + rename); files that already
    exist are not rebuilt, so the script is idempotent and cheap to re-run.
    Delete a file (or OUTDIR) to rebuild it.
  * Concurrent runs on the same OUTDIR are serialised with a lock file.
  * If a tool needed for a missing file is not installed the script prints
    "make_corpus.py: SKIP: ..." on stderr and exits 77 (the automake "skip"
    code) without building anything.  Any other failure exits 1.
  * OUTDIR/corpus.json lists every produced file:
      {"file", "producer", "kind": "ok"|"damaged"|"encrypted", ...}
    with optional extras "pages", "user_password", "owner_password", "notes".

Nothing here is copied from other projects; the hand-written PDFs are built
byte by byte below.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

EXIT_SKIP = 77

def die(msg, code=1):
    sys.stderr.write("make_corpus.py: %s\n" % msg)
    sys.exit(code)


def run(cmd, timeout=120, ok_codes=(0,), **kw):
    """Run an external command; on failure show its output and exit 1."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        die("timed out after %ss: %s" % (timeout, " ".join(cmd)))
    if p.returncode not in ok_codes:
        die("command failed (exit %d): %s\n%s" % (
            p.returncode, " ".join(cmd), p.stdout.decode("utf-8", "replace")))
    return p


def write_atomic(path, data):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def tmp_target(path):
    """A temporary sibling of `path` for tools that write the file themselves."""
    d, b = os.path.split(path)
    return os.path.join(d, ".%s.tmp-%d.pdf" % (b, os.getpid()))


def pdf_id(label):
    return hashlib.md5(("inkan-corpus:" + label).encode()).hexdigest().upper().encode()


# --------------------------------------------------------------------------
# Tiny byte-level PDF builder used by the hand-made files.
# --------------------------------------------------------------------------

class Builder:
    def __init__(self, header=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", base=b""):
        self.buf = bytearray(base)
        self.buf += header
        self.offsets = {}

    def obj(self, num, body, gen=0):
        self.offsets[num] = len(self.buf)
        self.buf += b"%d %d obj\n" % (num, gen) + body + b"\nendobj\n"

    def stream(self, num, dict_entries, data):
        self.obj(num, b"<< " + dict_entries + b" /Length %d >>\nstream\n" % len(data)
                 + data + b"\nendstream")

    def xref_table(self, sections):
        """sections: list of (first_objnum, [(offset_or_next, gen, 'n'|'f'), ...])."""
        pos = len(self.buf)
        self.buf += b"xref\n"
        for first, entries in sections:
            self.buf += b"%d %d\n" % (first, len(entries))
            for off, gen, kind in entries:
                # Exactly 20 bytes per entry, CR LF end of line.
                self.buf += b"%010d %05d %s\r\n" % (off, gen, kind.encode())
        return pos

    def trailer(self, entries, startxref):
        self.buf += b"trailer\n<< " + entries + b" >>\nstartxref\n%d\n%%%%EOF\n" % startxref


def text_content(lines, font=b"/F1", size=14, x=72, y=770, leading=22):
    out = [b"BT", b"%s %d Tf" % (font, size), b"%d TL" % leading, b"%d %d Td" % (x, y)]
    for ln in lines:
        esc = ln.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
        out.append(b"(" + esc + b") Tj T*")
    out.append(b"ET")
    return b"\n".join(out) + b"\n"


HANDMADE_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
A4 = b"[0 0 595 842]"


def handmade_classic():
    """2-page PDF 1.4, one classic xref table, /Info and /ID."""
    b = Builder()
    b.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    b.obj(2, b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>")
    b.obj(3, b"<< /Type /Page /Parent 2 0 R /MediaBox " + A4 +
          b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>")
    b.stream(4, b"", text_content([
        b"Inkan test corpus: handmade-classic.pdf",
        b"Written byte by byte with a classic cross-reference table.",
        b"Page 1 of 2",
    ]) + b"0 0 1 RG 2 w 72 600 m 523 600 l S\n")
    b.obj(5, HANDMADE_FONT)
    b.obj(6, b"<< /Type /Page /Parent 2 0 R /MediaBox " + A4 +
          b" /Resources << /Font << /F1 5 0 R >> >> /Contents 7 0 R >>")
    b.stream(7, b"", text_content([b"Page 2 of 2"]) +
             b"0.9 0.9 0.9 rg 72 500 451 120 re f\n")
    b.obj(8, b"<< /Title (Handmade classic) /Producer (Inkan make_corpus.py)"
          b" /CreationDate (D:20240101000000Z) >>")
    n = 9
    entries = [(0, 65535, "f")] + [(b.offsets[i], 0, "n") for i in range(1, n)]
    x = b.xref_table([(0, entries)])
    i = pdf_id("handmade-classic")
    b.trailer(b"/Size %d /Root 1 0 R /Info 8 0 R /ID [<%s> <%s>]" % (n, i, i), x)
    return bytes(b.buf)


def incremental(base):
    """Append one incremental update to handmade-classic: new /Info title,
    page 1 gains a Square annotation (with appearance stream)."""
    prev = int(base.rsplit(b"startxref", 1)[1].split()[0])
    if not base.endswith(b"\n"):
        base += b"\n"
    b = Builder(header=b"", base=base)
    b.obj(3, b"<< /Type /Page /Parent 2 0 R /MediaBox " + A4 +
          b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R /Annots [9 0 R] >>")
    b.obj(8, b"<< /Title (Handmade classic \\(updated\\)) /Producer (Inkan make_corpus.py)"
          b" /CreationDate (D:20240101000000Z) /ModDate (D:20240102000000Z) >>")
    b.obj(9, b"<< /Type /Annot /Subtype /Square /Rect [72 450 272 550] /F 4"
          b" /C [1 0 0] /Border [0 0 3] /Contents (added by incremental update)"
          b" /P 3 0 R /AP << /N 10 0 R >> >>")
    b.stream(10, b"/Type /XObject /Subtype /Form /BBox [0 0 200 100]",
             b"1 0 0 RG 3 w 1.5 1.5 197 97 re S\n")
    x = b.xref_table([
        (0, [(0, 65535, "f")]),
        (3, [(b.offsets[3], 0, "n")]),
        (8, [(b.offsets[i], 0, "n") for i in (8, 9, 10)]),
    ])
    b.trailer(b"/Size 11 /Root 1 0 R /Info 8 0 R /Prev %d /ID [<%s> <%s>]"
              % (prev, pdf_id("handmade-classic"), pdf_id("incremental")), x)
    return bytes(b.buf)


def hybrid():
    """Hybrid-reference file laid out as in ISO 32000 7.5.8.4.

    Main section: objects 1, 4, 9 uncompressed; a classic table covering
    0..Size-1 in which the hidden objects (2, 3, 5, 6 inside object stream 7,
    the object stream itself and xref stream 8) are *free* entries.
    Update section (appended): object stream 7 and xref stream 8, an empty
    classic table, and a trailer with /Prev (main table) and /XRefStm (8).
    Readers that honour /XRefStm find the hidden objects before falling back
    to the free entries of the /Prev section; PDF 1.4 readers see them free.
    """
    size = 10
    b = Builder(header=b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    b.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    b.stream(4, b"", text_content([
        b"Inkan test corpus: hybrid.pdf",
        b"Page tree, page and font dictionaries are in an object stream;",
        b"the main xref table marks them free, /XRefStm resolves them.",
    ]) + b"0 0.5 0 RG 2 w 72 600 m 523 600 l S\n"
      + b"BT /F2 12 Tf 72 560 Td (Courier text from a compressed font dict) Tj ET\n")
    b.obj(9, b"<< /Title (Hybrid reference file) /Producer (Inkan make_corpus.py)"
          b" /CreationDate (D:20240101000000Z) >>")

    hidden = [2, 3, 5, 6, 7, 8]
    next_free = dict(zip([0] + hidden, hidden + [0]))
    entries = []
    for num in range(size):
        if num in next_free:
            entries.append((next_free[num], 65535, "f"))
        else:
            entries.append((b.offsets[num], 0, "n"))
    main_xref = b.xref_table([(0, entries)])
    i = pdf_id("hybrid")
    ident = b"/ID [<%s> <%s>]" % (i, i)
    b.trailer(b"/Size %d /Root 1 0 R /Info 9 0 R " % size + ident, main_xref)

    packed = [
        (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        (3, b"<< /Type /Page /Parent 2 0 R /MediaBox " + A4 +
            b" /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>"),
        (5, HANDMADE_FONT),
        (6, b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"),
    ]
    heads, bodies = [], b""
    for num, body in packed:
        heads.append(b"%d %d" % (num, len(bodies)))
        bodies += body + b"\n"
    head = b" ".join(heads) + b"\n"
    b.stream(7, b"/Type /ObjStm /N %d /First %d /Filter /FlateDecode" % (len(packed), len(head)),
             zlib.compress(head + bodies))

    # Xref stream with W [1 4 2]: entries for objects 2..8.
    xrefstm = len(b.buf)
    row = lambda t, f2, f3: bytes([t]) + f2.to_bytes(4, "big") + f3.to_bytes(2, "big")
    slot = {num: idx for idx, (num, _) in enumerate(packed)}
    rows = b""
    for num in range(2, 9):
        if num in slot:
            rows += row(2, 7, slot[num])
        elif num == 7:
            rows += row(1, b.offsets[7], 0)
        elif num == 8:
            rows += row(1, xrefstm, 0)
        else:  # 4: uncompressed, already in the main table
            rows += row(1, b.offsets[num], 0)
    b.stream(8, b"/Type /XRef /Size %d /W [1 4 2] /Index [2 7] /Filter /FlateDecode" % size,
             zlib.compress(rows))
    assert b.offsets[8] == xrefstm

    # Update section: an empty classic table; the trailer carries /XRefStm.
    upd = len(b.buf)
    b.buf += b"xref\n0 0\n"
    b.trailer(b"/Size %d /Root 1 0 R /Info 9 0 R /Prev %d /XRefStm %d "
              % (size, main_xref, xrefstm) + ident, upd)
    return bytes(b.buf)


def corrupt_xref(data, mode):
    """Damage the (single, classic) xref of `data`.
    mode 'offsets': every in-use offset +7; mode 'startxref': startxref points
    at the first object instead of the xref table."""
    head, tail = data.rsplit(b"startxref", 1)
    sx = int(tail.split()[0])
    if data[sx:sx + 4] != b"xref":
        die("broken-xref: expected a classic xref table at %d" % sx)
    if mode == "startxref":
        first_obj = data.index(b" 0 obj")
        first_obj = data.rindex(b"\n", 0, first_obj) + 1
        return head + b"startxref\n%d\n%%%%EOF\n" % first_obj
    out = bytearray(data)
    p = sx + len(b"xref")
    while True:
        while out[p:p + 1] in (b"\r", b"\n", b" "):
            p += 1
        if out[p:p + 7] == b"trailer":
            break
        eol = out.index(b"\n", p)
        first, count = (int(v) for v in out[p:eol].split())
        p = eol + 1
        for _ in range(count):
            entry = bytes(out[p:p + 20])
            off, gen, kind = entry[:10], entry[11:16], entry[17:18]
            if kind == b"n":
                out[p:p + 10] = b"%010d" % (int(off) + 7)
            p += 20
    return bytes(out)


# --------------------------------------------------------------------------
# Inputs for the external producers.
# --------------------------------------------------------------------------

FODT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:meta>
  <dc:title>業務委託契約書 / Service Agreement</dc:title>
  <meta:initial-creator>Inkan test corpus</meta:initial-creator>
 </office:meta>
 <office:font-face-decls>
  <style:font-face style:name="Liberation Serif" svg:font-family="'Liberation Serif'"/>
  <style:font-face style:name="IPAMincho" svg:font-family="IPAMincho"/>
 </office:font-face-decls>
 <office:styles>
  <style:default-style style:family="paragraph">
   <style:paragraph-properties fo:margin-bottom="0.2cm"/>
   <style:text-properties style:font-name="Liberation Serif" fo:font-size="11pt"
     fo:language="en" fo:country="US" style:font-name-asian="IPAMincho"
     style:font-size-asian="11pt" style:language-asian="ja" style:country-asian="JP"/>
  </style:default-style>
 </office:styles>
 <office:automatic-styles>
  <style:style style:name="P1" style:family="paragraph">
   <style:paragraph-properties fo:text-align="center" fo:margin-bottom="0.6cm"/>
   <style:text-properties fo:font-size="18pt" fo:font-weight="bold"
     style:font-size-asian="18pt" style:font-weight-asian="bold"/>
  </style:style>
  <style:style style:name="P2" style:family="paragraph">
   <style:paragraph-properties fo:break-before="page"/>
  </style:style>
  <style:page-layout style:name="pm1">
   <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm"
     fo:margin-top="2cm" fo:margin-bottom="2cm" fo:margin-left="2.5cm" fo:margin-right="2.5cm"/>
  </style:page-layout>
 </office:automatic-styles>
 <office:master-styles>
  <style:master-page style:name="Standard" style:page-layout-name="pm1"/>
 </office:master-styles>
 <office:body>
  <office:text>
   <text:p text:style-name="P1">業務委託契約書 — Service Agreement</text:p>
   <text:p>株式会社印鑑テスト（以下「甲」という）と山田太郎（以下「乙」という）は、次のとおり業務委託契約（以下「本契約」という）を締結する。</text:p>
   <text:p>This Service Agreement is made between Inkan Test Co., Ltd. ("Party A") and Taro Yamada ("Party B").</text:p>
   <text:p>第1条（目的）甲は乙に対し、電子署名システムの試験業務を委託し、乙はこれを受託する。</text:p>
   <text:p>Article 1 (Purpose). Party A entrusts Party B with testing of the electronic signature system.</text:p>
   <text:p>第2条（契約期間）本契約の有効期間は、契約締結日から1年間とする。</text:p>
   <text:p>Article 2 (Term). This Agreement is valid for one year from the date of execution.</text:p>
   <text:p text:style-name="P2">第3条（署名）本契約の成立を証するため、本書を電磁的に作成し、甲乙それぞれ電子署名を行う。</text:p>
   <text:p>Article 3 (Signatures). In witness whereof, the parties sign this document electronically.</text:p>
   <text:p>甲：株式会社印鑑テスト　代表取締役</text:p>
   <text:p>乙：山田太郎 (Taro Yamada)</text:p>
  </office:text>
 </office:body>
</office:document>
"""

REPORTLAB_SCRIPT = r'''
import os, sys
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.lib.utils import ImageReader

out = sys.argv[1]
jp = None
for path in ("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
             "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
             "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf"):
    if os.path.exists(path):
        try:
            pdfmetrics.registerFont(TTFont("JP", path))
            jp = "JP"
            break
        except Exception:
            pass
if jp is None:
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    jp = "HeiseiKakuGo-W5"

c = canvas.Canvas(out, pagesize=A4, invariant=1)
c.setTitle("Inkan reportlab fixture / 契約書")
c.setAuthor("Inkan test corpus")
c.setSubject("3-page document produced by reportlab")
c.setCreator("Inkan test corpus")
w, h = A4

# Page 1: mixed Japanese / English text.
c.setFont(jp, 20)
c.drawString(72, h - 90, "契約書（テスト用）")
c.setFont("Helvetica-Bold", 14)
c.drawString(72, h - 120, "Inkan test corpus: reportlab.pdf")
c.setFont(jp, 11)
y = h - 160
for line in ["甲と乙は、以下の条件で契約を締結する。",
             "第1条　本書は電子署名の試験のために作成された。",
             "第2条　署名欄は3ページ目にある。"]:
    c.drawString(72, y, line); y -= 18
c.setFont("Helvetica", 11)
for line in ["This page mixes an embedded TrueType subset (Japanese)",
             "with a standard-14 font (Helvetica)."]:
    c.drawString(72, y, line); y -= 16
c.bookmarkPage("p1"); c.addOutlineEntry("Page 1", "p1", level=0)
c.showPage()

# Page 2: vector graphics and a raster image.
c.setFont("Helvetica-Bold", 14)
c.drawString(72, h - 90, "Page 2: graphics")
c.setStrokeColorRGB(0.1, 0.3, 0.8); c.setLineWidth(2)
for i in range(6):
    c.line(72, h - 140 - i * 20, w - 72, h - 140 - i * 20)
c.setFillColorRGB(0.9, 0.4, 0.1)
c.circle(w / 2, h / 2, 60, stroke=1, fill=1)
try:
    from PIL import Image
    img = Image.new("RGB", (32, 32))
    img.putdata([((x * 8) % 256, (y * 8) % 256, 128) for y in range(32) for x in range(32)])
    c.drawImage(ImageReader(img), 72, 120, width=96, height=96)
except ImportError:
    pass
c.bookmarkPage("p2"); c.addOutlineEntry("Page 2", "p2", level=0)
c.showPage()

# Page 3: a place for the signature.
c.setFillColorRGB(0, 0, 0)
c.setFont(jp, 14)
c.drawString(72, h - 90, "署名欄 / Signature")
c.setStrokeColorRGB(0, 0, 0); c.setLineWidth(1)
c.rect(72, h - 220, 250, 100)
c.setFont("Helvetica", 10)
c.drawString(72, h - 235, "Signed by: ____________________")
c.linkURL("https://example.com/inkan", (72, 72, 300, 90), relative=0)
c.drawString(72, 76, "https://example.com/inkan (link annotation)")
c.bookmarkPage("p3"); c.addOutlineEntry("Page 3", "p3", level=0)
c.showPage()
c.save()
'''

GS_PROGRAM = b"""%!PS-Adobe-3.0
%%Title: Inkan ghostscript fixture
%%Pages: 2
%%BoundingBox: 0 0 595 842
%%EndComments
[ /Title (Inkan ghostscript fixture) /Author (Inkan test corpus)
  /Subject (PostScript converted by gs pdfwrite) /DOCINFO pdfmark
<< /PageSize [595 842] >> setpagedevice

/line { % string y -> draws at x=72
  72 exch moveto show } def

%%Page: 1 1
/Helvetica-Bold findfont 20 scalefont setfont
(Inkan test corpus: ghostscript.pdf) 770 line
/Times-Roman findfont 12 scalefont setfont
(Hand-written PostScript converted with gs -sDEVICE=pdfwrite.) 740 line
(Page 1 of 2) 722 line
gsave
  0.2 0.4 0.8 setrgbcolor 3 setlinewidth
  72 600 moveto 200 700 350 500 523 600 curveto stroke
  0.85 setgray 72 400 451 120 rectfill
  0 setgray 72 400 451 120 rectstroke
grestore
showpage

%%Page: 2 2
/Courier findfont 12 scalefont setfont
(Page 2 of 2) 770 line
0 1 9 {
  /i exch def
  i 10 div 0.5 1 sethsbcolor
  297 421 moveto 297 421 150 i 36 mul i 36 mul 30 add arc closepath fill
} for
showpage
%%EOF
"""

HTML = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>契約書 / Agreement</title>
<style>body{font-family:"IPAMincho","Liberation Serif",serif;margin:2cm}
h1{text-align:center}</style></head>
<body><h1>契約書 — Agreement</h1>
<p>甲と乙は、電子署名の試験のため本契約を締結する。</p>
<p>The parties enter into this agreement to test electronic signatures.</p>
<p style="page-break-before:always">署名欄 / Signature: ____________</p>
</body></html>
"""


# --------------------------------------------------------------------------
# Producers.
# --------------------------------------------------------------------------

def find_reportlab_python():
    cands = []
    if os.environ.get("INKAN_CORPUS_PYTHON"):
        cands.append(os.environ["INKAN_CORPUS_PYTHON"])
    cands.append(os.path.expanduser("~/.cache/inkan-conformance/venv/bin/python"))
    cands.append(sys.executable)
    for py in cands:
        if py and os.path.exists(py):
            try:
                r = subprocess.run([py, "-c", "import reportlab"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if r.returncode == 0:
                return py
    return None


def find_soffice():
    for name in ("soffice", "libreoffice"):
        p = shutil.which(name)
        if p:
            return p
    return None


def start_libreoffice(soffice, out_pdf, scratch):
    src = os.path.join(scratch, "libreoffice.fodt")
    with open(src, "w", encoding="utf-8") as f:
        f.write(FODT)
    profile = tempfile.mkdtemp(prefix="inkan-lo-profile-")
    outdir = os.path.join(scratch, "lo-out")
    os.mkdir(outdir)
    cmd = [soffice, "-env:UserInstallation=file://" + profile, "--headless", "--norestore",
           "--nolockcheck", "--nodefault", "--convert-to", "pdf:writer_pdf_Export",
           "--outdir", outdir, src]
    # Own session, so that an early exit can stop soffice.bin (a grandchild) too.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    return proc, cmd, os.path.join(outdir, "libreoffice.pdf"), profile


def finish_libreoffice(job, out_pdf):
    proc, cmd, produced, profile = job
    try:
        out, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except OSError:
            pass
        proc.communicate()
        shutil.rmtree(profile, ignore_errors=True)
        die("LibreOffice timed out: " + " ".join(cmd))
    shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0 or not os.path.exists(produced) or os.path.getsize(produced) == 0:
        die("LibreOffice conversion failed (exit %d): %s\n%s"
            % (proc.returncode, " ".join(cmd), out.decode("utf-8", "replace")))
    shutil.move(produced, tmp_target(out_pdf))
    os.replace(tmp_target(out_pdf), out_pdf)


def make_reportlab(py, out_pdf, scratch):
    script = os.path.join(scratch, "reportlab_fixture.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(REPORTLAB_SCRIPT)
    tmp = tmp_target(out_pdf)
    run([py, script, tmp])
    os.replace(tmp, out_pdf)


def make_ghostscript(gs, out_pdf, scratch):
    src = os.path.join(scratch, "ghostscript.ps")
    with open(src, "wb") as f:
        f.write(GS_PROGRAM)
    tmp = tmp_target(out_pdf)
    run([gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite",
         "-dCompatibilityLevel=1.7", "-sOutputFile=" + tmp, src])
    os.replace(tmp, out_pdf)


def qpdf_to(qpdf, args, out_pdf):
    tmp = tmp_target(out_pdf)
    # qpdf exits 3 when it succeeded with warnings.
    run([qpdf] + args[:-1] + [args[-1], tmp], ok_codes=(0, 3))
    os.replace(tmp, out_pdf)


def make_chromium(chromium, out_pdf, scratch):
    src = os.path.join(scratch, "chromium.html")
    with open(src, "w", encoding="utf-8") as f:
        f.write(HTML)
    profile = tempfile.mkdtemp(prefix="inkan-chromium-")
    tmp = tmp_target(out_pdf)
    try:
        p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            "--user-data-dir=" + profile, "--no-pdf-header-footer",
                            "--print-to-pdf=" + tmp, "file://" + src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=90)
        ok = p.returncode == 0 and os.path.exists(tmp) and os.path.getsize(tmp) > 0
        msg = p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        ok, msg = False, "timed out"
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if not ok:
        # chromium is optional: warn and leave it out of the corpus.
        sys.stderr.write("make_corpus.py: warning: chromium.pdf not produced: %s\n"
                         % msg[-2000:])
        if os.path.exists(tmp):
            os.unlink(tmp)
        return False
    os.replace(tmp, out_pdf)
    return True


# (file, producer, kind, pages, extra)
CATALOG = [
    ("libreoffice.pdf", "LibreOffice Writer (writer_pdf_Export) from .fodt", "ok", 2,
     {"notes": "Japanese+English text, embedded TrueType subsets, classic xref"}),
    ("reportlab.pdf", "reportlab", "ok", 3,
     {"notes": "embedded Japanese TTF subset, image, outlines, link annotation"}),
    ("ghostscript.pdf", "Ghostscript pdfwrite from hand-written PostScript", "ok", 2,
     {"notes": "DOCINFO pdfmark, vector graphics"}),
    ("handmade-classic.pdf", "make_corpus.py (hand-written)", "ok", 2,
     {"notes": "PDF 1.4, single classic xref table, no compression"}),
    ("objstm.pdf", "qpdf --object-streams=generate of reportlab.pdf", "ok", 3,
     {"notes": "PDF 1.5 xref stream + object streams"}),
    ("linearized.pdf", "qpdf --linearize of libreoffice.pdf", "ok", 2,
     {"notes": "linearized (fast web view), first-page xref + main xref"}),
    ("hybrid.pdf", "make_corpus.py (hand-written)", "ok", 1,
     {"notes": "hybrid-reference: classic table (compressed objs marked free) "
               "+ trailer /XRefStm to an xref stream for objects in an ObjStm"}),
    ("incremental.pdf", "make_corpus.py (handmade-classic + hand-written update)", "ok", 2,
     {"notes": "one incremental update: new /Info, page 1 replaced with /Annots, "
               "classic xref with /Prev"}),
    ("broken-xref.pdf", "reportlab.pdf via qpdf (uncompressed), xref offsets +7", "damaged", 3,
     {"notes": "every in-use xref offset is 7 bytes too large; startxref is correct"}),
    ("broken-startxref.pdf", "reportlab.pdf via qpdf (uncompressed), bad startxref", "damaged", 3,
     {"notes": "startxref points at the first object, not at the xref table"}),
    ("encrypted.pdf", "qpdf --encrypt user owner 256 of reportlab.pdf", "encrypted", 3,
     {"user_password": "user", "owner_password": "owner",
      "notes": "AES-256 (V5 R6) standard security handler"}),
    ("encrypted-empty-user.pdf", "qpdf --encrypt '' owner 256 of reportlab.pdf", "encrypted", 3,
     {"user_password": "", "owner_password": "owner",
      "notes": "AES-256 (V5 R6), opens without a password"}),
    ("chromium.pdf", "Chromium headless --print-to-pdf (Skia/PDF)", "ok", None,
     {"notes": "only present when /usr/bin/chromium is installed"}),
]


def main():
    if len(sys.argv) != 2:
        die("usage: make_corpus.py OUTDIR", 2)
    outdir = os.path.abspath(sys.argv[1])
    os.makedirs(outdir, exist_ok=True)

    lock = open(os.path.join(outdir, ".make_corpus.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)

    def path(name):
        return os.path.join(outdir, name)

    def missing(name):
        return not (os.path.exists(path(name)) and os.path.getsize(path(name)) > 0)

    need = {n for n, *_ in CATALOG if missing(n)}
    chromium = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    if chromium is None:
        need.discard("chromium.pdf")
    qpdf_outputs = {"objstm.pdf", "linearized.pdf", "broken-xref.pdf",
                    "broken-startxref.pdf", "encrypted.pdf", "encrypted-empty-user.pdf"}

    # Check tools first so that a missing tool skips cleanly.
    absent = []
    soffice = find_soffice() if "libreoffice.pdf" in need else None
    if "libreoffice.pdf" in need and not soffice:
        absent.append("libreoffice/soffice (apt-get install libreoffice-writer-nogui)")
    gs = shutil.which("gs") if "ghostscript.pdf" in need else None
    if "ghostscript.pdf" in need and not gs:
        absent.append("gs (apt-get install ghostscript)")
    qpdf = shutil.which("qpdf")
    if need & qpdf_outputs and not qpdf:
        absent.append("qpdf (apt-get install qpdf)")
    rl_py = None
    if "reportlab.pdf" in need:
        rl_py = find_reportlab_python()
        if not rl_py:
            absent.append("a python with reportlab (set INKAN_CORPUS_PYTHON or create "
                          "~/.cache/inkan-conformance/venv with reportlab and Pillow)")
    if absent:
        die("SKIP: missing tool(s): " + "; ".join(absent), EXIT_SKIP)

    scratch = tempfile.mkdtemp(prefix="inkan-corpus-")
    lo_job = None
    try:
        if "libreoffice.pdf" in need:  # slowest: run it in the background
            lo_job = start_libreoffice(soffice, path("libreoffice.pdf"), scratch)

        if "handmade-classic.pdf" in need:
            write_atomic(path("handmade-classic.pdf"), handmade_classic())
        if "incremental.pdf" in need:
            with open(path("handmade-classic.pdf"), "rb") as f:
                write_atomic(path("incremental.pdf"), incremental(f.read()))
        if "hybrid.pdf" in need:
            write_atomic(path("hybrid.pdf"), hybrid())
        if "ghostscript.pdf" in need:
            make_ghostscript(gs, path("ghostscript.pdf"), scratch)
        if "reportlab.pdf" in need:
            make_reportlab(rl_py, path("reportlab.pdf"), scratch)

        rl = path("reportlab.pdf")
        if "objstm.pdf" in need:
            qpdf_to(qpdf, ["--object-streams=generate", "--deterministic-id", rl],
                    path("objstm.pdf"))
        if need & {"broken-xref.pdf", "broken-startxref.pdf"}:
            plain = os.path.join(scratch, "plain.pdf")
            run([qpdf, "--object-streams=disable", "--compress-streams=n",
                 "--deterministic-id", rl, plain], ok_codes=(0, 3))
            with open(plain, "rb") as f:
                data = f.read()
            if "broken-xref.pdf" in need:
                write_atomic(path("broken-xref.pdf"), corrupt_xref(data, "offsets"))
            if "broken-startxref.pdf" in need:
                write_atomic(path("broken-startxref.pdf"), corrupt_xref(data, "startxref"))
        if "encrypted.pdf" in need:
            qpdf_to(qpdf, ["--encrypt", "user", "owner", "256", "--", rl],
                    path("encrypted.pdf"))
        if "encrypted-empty-user.pdf" in need:
            qpdf_to(qpdf, ["--encrypt", "", "owner", "256", "--", rl],
                    path("encrypted-empty-user.pdf"))
        if "chromium.pdf" in need:
            make_chromium(chromium, path("chromium.pdf"), scratch)

        if lo_job:
            finish_libreoffice(lo_job, path("libreoffice.pdf"))
        if "linearized.pdf" in need:
            qpdf_to(qpdf, ["--linearize", "--deterministic-id", path("libreoffice.pdf")],
                    path("linearized.pdf"))
    finally:
        if lo_job and lo_job[0].poll() is None:  # we are bailing out early
            try:
                os.killpg(lo_job[0].pid, 9)
            except OSError:
                pass
            lo_job[0].wait()
        if lo_job:
            shutil.rmtree(lo_job[3], ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)

    corpus = []
    for name, producer, kind, pages, extra in CATALOG:
        if missing(name):
            continue
        entry = {"file": name, "producer": producer, "kind": kind}
        if pages is not None:
            entry["pages"] = pages
        entry.update(extra)
        corpus.append(entry)
    write_atomic(path("corpus.json"),
                 (json.dumps(corpus, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
