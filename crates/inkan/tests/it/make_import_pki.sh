#!/usr/bin/env bash
# make_import_pki.sh OUTDIR BASE_URL — a throw-away PKI of "another CA" for the PKCS#12 import
# tests: a root, an issuing CA and signers, each below the root naming its CRL and its issuer's
# certificate under BASE_URL (which the test serves from OUTDIR on loopback), and the signers'
# keys bundled as PKCS#12 files the way a commercial CA hands them out.
#
# Output (PEM unless said; keys unencrypted PKCS#8):
#   root.pem/.key root.crt (DER)   "Outside Test Root", self-signed, P-256
#   ca.pem/.key ca.crt (DER)       "Outside Test Issuing CA", pathlen 0, P-256
#   signer.pem/.key                an RSA 2048 signer (digitalSignature, nonRepudiation)
#   expired.pem/.key               a P-256 signer whose validity ended yesterday
#   root.crl ca.crl (DER)          empty CRLs
#   signer.p12                     signer key + signer + ca + root, password "p12-Secret"
#   expired.p12                    expired key + cert + ca + root, same password
#   nokey.p12                      signer + ca + root without any key, same password
#   chain.pem                      ca.pem then root.pem
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OUTDIR BASE_URL" >&2; exit 2; }
out=$1
base=$2
mkdir -p "$out"
out=$(cd "$out" && pwd)
. "$(dirname "${BASH_SOURCE[0]}")/../../../pdf-sign/tests/support/two_tier_pki.sh"
pki_begin make_import_pki.sh
pki_config "$base/root.crl" "$base/ca.crl" "$base/root.crt" "$base/ca.crt"

p12() {
    run openssl pkcs12 -export -inkey "$1.key" -in "$1.pem" -certfile chain.pem \
        -name "$1" -passout pass:p12-Secret -out "$1.p12"
}
start=$(stamp '2 days ago')
long=$(stamp '10 years')
short=$(stamp '2 years')

ec root; csr root '/C=JP/O=Outside Trust KK/CN=Outside Test Root'
issue root root_ca root v3_root "$start" "$long"
ec ca; csr ca '/C=JP/O=Outside Trust KK/CN=Outside Test Issuing CA'
issue ca root_ca root v3_ca "$start" "$long"
rsa signer; csr signer '/C=JP/O=株式会社外部テスト/CN=外部 花子'
issue signer issuing_ca ca v3_signer "$start" "$short"
ec expired; csr expired '/C=JP/O=株式会社外部テスト/CN=期限切れ 次郎'
issue expired issuing_ca ca v3_signer "$(stamp '30 days ago')" "$(stamp '1 day ago')"

cat ca.pem root.pem > chain.pem
p12 signer
p12 expired
run openssl pkcs12 -export -nokeys -in signer.pem -certfile chain.pem -passout pass:p12-Secret -out nokey.p12
run openssl x509 -in root.pem -outform DER -out root.crt
run openssl x509 -in ca.pem -outform DER -out ca.crt
pki_crls

chmod 600 ./*.key
for f in root.pem root.key root.crt ca.pem ca.key ca.crt signer.pem signer.key expired.pem \
    expired.key root.crl ca.crl signer.p12 expired.p12 nokey.p12 chain.pem; do
    mv -f "$f" "$out/$f"
done
