#!/usr/bin/env bash
# make_contract_pki.sh OUTDIR [BASE_URL] — a throw-away PKI for the contract-form tests, complete
# enough for every PAdES level: each certificate below the root names a CRL at BASE_URL/NAME
# (default http://crl.inkan.test, served by the tests' in-process transport and never fetched; a
# loopback URL of tests/support/pki_server.py for tools that fetch), and a timestamp authority
# signs with `openssl ts`.
#
# Output: root.pem/.key (self-signed), ca.pem/.key (issuing CA), party1..3.pem/.key (signers,
# P-256), chain.pem (ca.pem then root.pem), tsa.pem/.key (EKU timeStamping, critical), root.crl and ca.crl (DER, empty),
# tsa.cnf (for `openssl ts -reply`). Idempotent: nothing is done when every output exists.
set -euo pipefail
[ $# -eq 1 ] || [ $# -eq 2 ] || { echo "usage: $0 OUTDIR [BASE_URL]" >&2; exit 2; }
out=$1
base_url=${2:-http://crl.inkan.test}
mkdir -p "$out"
out=$(cd "$out" && pwd)
outputs=(root.pem root.key ca.pem ca.key chain.pem tsa.pem tsa.key root.crl ca.crl tsa.cnf)
for n in 1 2 3; do outputs+=("party$n.pem" "party$n.key"); done
all_present() { local f; for f in "${outputs[@]}"; do [ -s "$out/$f" ] || return 1; done; }
all_present && exit 0
if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.lock"
    flock 9
    all_present && exit 0
fi

. "$(dirname "${BASH_SOURCE[0]}")/two_tier_pki.sh"
pki_begin make_contract_pki.sh
pki_config "$base_url/root.crl" "$base_url/ca.crl" "" "" "[ v3_tsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$base_url/ca.crl"

start=$(stamp '2 days ago')
long=$(stamp '10 years')
short=$(stamp '2 years')

ec root; csr root '/C=JP/O=Inkan Contract Test/CN=Inkan Contract Test Root'
issue root root_ca root v3_root "$start" "$long"
ec ca; csr ca '/C=JP/O=Inkan Contract Test/CN=Inkan Contract Test Issuing CA'
issue ca root_ca root v3_ca "$start" "$long"
for entry in "1:山田 太郎" "2:佐藤 花子" "3:Jiro Suzuki"; do
    n=${entry%%:*}
    ec "party$n"; csr "party$n" "/C=JP/O=Inkan Contract Test/CN=${entry#*:}"
    issue "party$n" issuing_ca ca v3_signer "$start" "$short"
done
ec tsa; csr tsa '/C=JP/O=Inkan Contract Test/CN=Inkan Contract Test TSA'
issue tsa issuing_ca ca v3_tsa "$start" "$short"

cat ca.pem root.pem > chain.pem
pki_crls

cat > tsa.cnf <<EOF
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = $out
serial = $out/tsa.serial
crypto_device = builtin
signer_cert = $out/tsa.pem
certs = $out/chain.pem
signer_key = $out/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
EOF
echo 01 > tsa.serial

chmod 600 ./*.key
for f in "${outputs[@]}" tsa.serial; do mv -f "$f" "$out/$f.tmp"; done
for f in "${outputs[@]}" tsa.serial; do mv -f "$out/$f.tmp" "$out/$f"; done
