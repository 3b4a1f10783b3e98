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

work=$(mktemp -d "${TMPDIR:-/tmp}/inkan-contract-pki.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/log
run() { "$@" >>"$log" 2>&1 || { echo "make_contract_pki.sh: failed: $*" >&2; cat "$log" >&2; exit 1; }; }
stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
cd "$work"

# One `openssl ca` database per issuer, so each can publish its CRL.
for issuer in root ca; do
    mkdir -p "db-$issuer"
    : > "db-$issuer/index.txt"
    echo 'unique_subject = no' > "db-$issuer/index.txt.attr"
    echo 1000 > "db-$issuer/crlnumber"
    echo 01 > "db-$issuer/serial"
done

cat > openssl.cnf <<'EOF'
[ ca ]
default_ca = root_ca
[ root_ca ]
database = ./db-root/index.txt
new_certs_dir = ./db-root
serial = ./db-root/serial
crlnumber = ./db-root/crlnumber
default_md = sha256
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
[ issuing_ca ]
database = ./db-ca/index.txt
new_certs_dir = ./db-ca
serial = ./db-ca/serial
crlnumber = ./db-ca/crlnumber
default_md = sha256
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ req ]
distinguished_name = req_dn
string_mask = utf8only
utf8 = yes
prompt = no
[ req_dn ]
CN = placeholder
[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_ca ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://crl.inkan.test/root.crl
[ v3_signer ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://crl.inkan.test/ca.crl
[ v3_tsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://crl.inkan.test/ca.crl
EOF
sed -i "s#http://crl.inkan.test#$base_url#" openssl.cnf
export OPENSSL_CONF=$work/openssl.cnf

key() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1.key"; }
csr() { run openssl req -new -config openssl.cnf -utf8 -key "$1.key" -subj "$2" -out "$1.csr"; }
# issue NAME CA-SECTION ISSUER EXTENSIONS START END
issue() {
    local signer=(-cert "$3.pem" -keyfile "$3.key")
    [ "$1" = "$3" ] && signer=(-selfsign -keyfile "$3.key")
    run openssl ca -batch -config openssl.cnf -name "$2" -utf8 -notext -rand_serial "${signer[@]}" \
        -in "$1.csr" -extensions "$4" -startdate "$5" -enddate "$6" -out "$1.pem"
}
start=$(stamp '2 days ago')
long=$(stamp '10 years')
short=$(stamp '2 years')

key root; csr root '/C=JP/O=Inkan Contract Test/CN=Inkan Contract Test Root'
issue root root_ca root v3_root "$start" "$long"
key ca; csr ca '/C=JP/O=Inkan Contract Test/CN=Inkan Contract Test Issuing CA'
issue ca root_ca root v3_ca "$start" "$long"
for entry in "1:山田 太郎" "2:佐藤 花子" "3:Jiro Suzuki"; do
    n=${entry%%:*}
    key "party$n"; csr "party$n" "/C=JP/O=Inkan Contract Test/CN=${entry#*:}"
    issue "party$n" issuing_ca ca v3_signer "$start" "$short"
done
key tsa; csr tsa '/C=JP/O=Inkan Contract Test/CN=Inkan Contract Test TSA'
issue tsa issuing_ca ca v3_tsa "$start" "$short"

cat ca.pem root.pem > chain.pem
run openssl ca -config openssl.cnf -name root_ca -gencrl -cert root.pem -keyfile root.key -out root.crl.pem
run openssl ca -config openssl.cnf -name issuing_ca -gencrl -cert ca.pem -keyfile ca.key -out ca.crl.pem
run openssl crl -in root.crl.pem -outform DER -out root.crl
run openssl crl -in ca.crl.pem -outform DER -out ca.crl

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
