#!/usr/bin/env python3
"""pyhanko_sign_anyway.py IN OUT KEY CERT CHAIN FIELD -- signs IN as `pyhanko sign addsig
--use-pades --field FIELD pemder ...` does (FIELD: an existing empty field's name, a new
invisible field's name, or PAGE/X1,Y1,X2,Y2/NAME for a new visible one), but without pyHanko's
refusal to sign a document certified with no changes allowed: a tool that ignores DocMDP, so that
the tests can see what validators make of what it wrote. Run with the conformance virtualenv's
python (pyHanko 0.38).
"""

import sys

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import PdfSigner

if len(sys.argv) != 7:
    sys.exit(__doc__)
src, dst, key, cert, chain, field = sys.argv[1:]

PdfSigner._enforce_certification_constraints = lambda self, reader: None

signer = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))
with open(src, "rb") as inf:
    writer = IncrementalPdfFileWriter(inf)
    parts = field.split("/")
    if len(parts) == 3:
        page, box, field = parts
        x1, y1, x2, y2 = (int(v) for v in box.split(","))
        fields.append_signature_field(
            writer,
            fields.SigFieldSpec(sig_field_name=field, on_page=int(page) - 1, box=(x1, y1, x2, y2)),
        )
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=fields.SigSeedSubFilter.PADES
    )
    with open(dst, "wb") as outf:
        signers.sign_pdf(writer, meta, signer=signer, output=outf)
