#!/usr/bin/env bash
# make_pki.sh OUTDIR — create a throw-away test PKI for the pdf-sign tests.
#
# Needs: bash, openssl (3.0+) and GNU date; flock (util-linux) is used when
# present so that concurrent test processes do not race each other.
#
# Output (all PEM; private keys are unencrypted PKCS#8 "BEGIN PRIVATE KEY"):
#   root.pem/.key        self-signed root CA, P-256, 10 years
#   ca.pem/.key          issuing CA (pathlen:0) signed by root, P-256
#   rsa2048.pem/.key     end-entity signers issued by ca, valid from
#   rsa3072.pem/.key       yesterday for 2 years
#   p256.pem/.key
#   p384.pem/.key
#   expired.pem/.key     P-256 signer issued by ca, valid 30 days ago .. 1 day ago
#   other-root.pem/.key  unrelated self-signed root ("untrusted" tests)
#   rsa2048.p12          rsa2048 key + cert + ca + root, password "secret",
#                        AES-256-CBC / PBKDF2 / HMAC-SHA256 MAC
#   chain.pem            ca.pem followed by root.pem
#
# Idempotent: if every output already exists nothing is done.  Otherwise the
# whole PKI is regenerated in a scratch directory and moved into place, so a
# half-finished run never leaves mismatched keys/certs behind.
# Prints nothing on success; on failure prints the openssl log to stderr.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

signers=(rsa2048 rsa3072 p256 p384 expired $(printf 'signer%02d ' $(seq 1 20)))
outputs=(root.pem root.key ca.pem ca.key other-root.pem other-root.key rsa2048.p12 chain.pem)
for s in "${signers[@]}"; do outputs+=("$s.pem" "$s.key"); done

all_present() {
    local f
    for f in "${outputs[@]}"; do
        [ -s "$out/$f" ] || return 1
    done
    return 0
}

all_present && exit 0

# Serialise concurrent invocations on the same OUTDIR.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$out/.make_pki.lock"
    flock 9
    all_present && exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/inkan-pki.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/log

run() {
    if ! "$@" >>"$log" 2>&1; then
        echo "make_pki.sh: command failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

# Dates for `openssl ca` (x509 -req in OpenSSL 3.0 has no -not_before).
stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
ca_start=$(stamp '60 days ago')
root_end=$(stamp '10 years')
ca_end=$(stamp '8 years')
ee_start=$(stamp '1 day ago')
ee_end=$(stamp '1 day ago 730 days')
old_start=$(stamp '30 days ago')
old_end=$(stamp '1 day ago')

cd "$work"
mkdir db
: > db/index.txt
echo 01 > db/serial
# OpenSSL 3.0 refuses "unique_subject = yes" duplicates; all EE certs share
# one subject on purpose, so turn that check off.
echo 'unique_subject = no' > db/index.txt.attr

cat > openssl.cnf <<'EOF'
# Minimal `openssl ca` configuration used only by make_pki.sh.
[ ca ]
default_ca = test_ca

[ test_ca ]
dir             = .
database        = ./db/index.txt
new_certs_dir   = ./db
default_md      = sha256
policy          = policy_any
preserve        = yes
copy_extensions = none
unique_subject  = no
serial          = ./db/serial
# -rand_serial is used, so ./db/serial is only a formality.

[ policy_any ]
countryName            = optional
stateOrProvinceName    = optional
localityName           = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied
emailAddress           = optional

[ req ]
distinguished_name = req_dn
string_mask        = utf8only
utf8               = yes
prompt             = no

[ req_dn ]
CN = placeholder

[ v3_root ]
basicConstraints       = critical, CA:true
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ v3_ca ]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_signer ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, nonRepudiation
# emailProtection, id-kp-documentSigning (RFC 9336), Adobe Authentic Documents Trust
extendedKeyUsage       = emailProtection, 1.3.6.1.5.5.7.3.36, 1.2.840.113583.1.1.5
subjectAltName         = email:taro.yamada@example.com
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
export OPENSSL_CONF=$work/openssl.cnf

genkey() { # name kind
    case $2 in
        p256)    run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1.key" ;;
        p384)    run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve -out "$1.key" ;;
        rsa2048) run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" ;;
        rsa3072) run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$1.key" ;;
    esac
}

csr() { # name subject
    run openssl req -new -config openssl.cnf -utf8 -key "$1.key" -subj "$2" -out "$1.csr"
}

# selfsign name start end ext
selfsign() {
    run openssl ca -batch -config openssl.cnf -utf8 -notext -rand_serial -selfsign \
        -keyfile "$1.key" -in "$1.csr" -startdate "$2" -enddate "$3" \
        -extensions "$4" -out "$1.pem"
}

# issue name issuer start end ext
issue() {
    run openssl ca -batch -config openssl.cnf -utf8 -notext -rand_serial \
        -cert "$2.pem" -keyfile "$2.key" -in "$1.csr" -startdate "$3" -enddate "$4" \
        -extensions "$5" -out "$1.pem"
}

# Each signer has a subject of its own, as real signers do: NSS (pdfsig) mixes up distinct
# certificates that share a subject name within one document.
ee_subject() { echo "/C=JP/ST=Tokyo/O=Inkan Test/OU=総務部/CN=$1"; }

genkey root p256
csr root '/C=JP/O=Inkan Test/CN=Inkan Test Root CA'
selfsign root "$ca_start" "$root_end" v3_root

genkey ca p256
csr ca '/C=JP/O=Inkan Test/CN=Inkan Test Issuing CA'
issue ca root "$ca_start" "$ca_end" v3_ca

for entry in "rsa2048:Taro Yamada" "rsa3072:Ichiro Tanaka" "p256:Hanako Sato" "p384:Jiro Suzuki"; do
    kind=${entry%%:*}
    genkey "$kind" "$kind"
    csr "$kind" "$(ee_subject "${entry#*:}")"
    issue "$kind" ca "$ee_start" "$ee_end" v3_signer
done

# Twenty more signers, one per person, for documents signed by many parties.
for n in $(seq -w 1 20); do
    genkey "signer$n" p256
    csr "signer$n" "$(ee_subject "Signer $n")"
    issue "signer$n" ca "$ee_start" "$ee_end" v3_signer
done

genkey expired p256
csr expired "$(ee_subject 'Saburo Expired')"
issue expired ca "$old_start" "$old_end" v3_signer

genkey other-root p256
csr other-root '/C=JP/O=Unrelated Test/CN=Unrelated Test Root CA'
selfsign other-root "$ca_start" "$root_end" v3_root

cat ca.pem root.pem > chain.pem

run openssl pkcs12 -export -inkey rsa2048.key -in rsa2048.pem -certfile chain.pem \
    -name 'Taro Yamada (rsa2048)' -passout pass:secret \
    -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 \
    -out rsa2048.p12

chmod 600 ./*.key
for f in "${outputs[@]}"; do
    mv -f "$f" "$out/$f.tmp"
done
# Rename in a second pass so the visible set flips as late as possible.
for f in "${outputs[@]}"; do
    mv -f "$out/$f.tmp" "$out/$f"
done
