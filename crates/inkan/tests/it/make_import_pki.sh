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
work=$(mktemp -d "${TMPDIR:-/tmp}/inkan-import-pki.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/log
run() { "$@" >>"$log" 2>&1 || { echo "make_import_pki.sh: failed: $*" >&2; cat "$log" >&2; exit 1; }; }
stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
cd "$work"

for issuer in root ca; do
    mkdir -p "db-$issuer"
    : > "db-$issuer/index.txt"
    echo 'unique_subject = no' > "db-$issuer/index.txt.attr"
    echo 1000 > "db-$issuer/crlnumber"
    echo 01 > "db-$issuer/serial"
done

cat > openssl.cnf <<EOF
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
crlDistributionPoints = URI:$base/root.crl
authorityInfoAccess = caIssuers;URI:$base/root.crt
[ v3_signer ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$base/ca.crl
authorityInfoAccess = caIssuers;URI:$base/ca.crt
EOF
export OPENSSL_CONF=$work/openssl.cnf

ec() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1.key"; }
rsa() { run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key"; }
csr() { run openssl req -new -config openssl.cnf -utf8 -key "$1.key" -subj "$2" -out "$1.csr"; }
# issue NAME CA-SECTION ISSUER EXTENSIONS START END
issue() {
    local signer=(-cert "$3.pem" -keyfile "$3.key")
    [ "$1" = "$3" ] && signer=(-selfsign -keyfile "$3.key")
    run openssl ca -batch -config openssl.cnf -name "$2" -utf8 -notext -rand_serial "${signer[@]}" \
        -in "$1.csr" -extensions "$4" -startdate "$5" -enddate "$6" -out "$1.pem"
}
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
run openssl ca -config openssl.cnf -name root_ca -gencrl -cert root.pem -keyfile root.key -out root.crl.pem
run openssl ca -config openssl.cnf -name issuing_ca -gencrl -cert ca.pem -keyfile ca.key -out ca.crl.pem
run openssl crl -in root.crl.pem -outform DER -out root.crl
run openssl crl -in ca.crl.pem -outform DER -out ca.crl

chmod 600 ./*.key
for f in root.pem root.key root.crt ca.pem ca.key ca.crt signer.pem signer.key expired.pem \
    expired.key root.crl ca.crl signer.p12 expired.p12 nokey.p12 chain.pem; do
    mv -f "$f" "$out/$f"
done
