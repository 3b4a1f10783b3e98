# two_tier_pki.sh — sourced by the test PKI scripts that need a root, an issuing CA below it and
# CRLs from both (make_contract_pki.sh, crates/inkan/tests/it/make_import_pki.sh); not run alone.
#
# pki_begin NAME           a scratch folder (removed on exit) with an `openssl ca` database per
#                          issuer (root_ca, issuing_ca); `run` logs a command and stops the
#                          script with the log if it fails; `stamp` turns a GNU date into
#                          `openssl ca`'s form
# pki_config ROOT_CRL CA_CRL [AIA_ROOT AIA_CA] [EXTRA]
#                          writes openssl.cnf: the issuers, v3_root, v3_ca (naming ROOT_CRL and,
#                          given, its issuer at AIA_ROOT), v3_signer (naming CA_CRL and AIA_CA),
#                          then the EXTRA sections as given
# ec NAME, rsa NAME        a P-256 or RSA-2048 key NAME.key
# csr NAME SUBJECT         NAME.csr
# issue NAME CA-SECTION ISSUER EXTENSIONS START END
#                          NAME.pem, self-signed when NAME is ISSUER
# pki_crls                 root.crl and ca.crl (DER, empty)

pki_begin() {
    pki_name=$1
    work=$(mktemp -d "${TMPDIR:-/tmp}/inkan-$pki_name.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    log=$work/log
    cd "$work"
    local issuer
    for issuer in root ca; do
        mkdir -p "db-$issuer"
        : > "db-$issuer/index.txt"
        echo 'unique_subject = no' > "db-$issuer/index.txt.attr"
        echo 1000 > "db-$issuer/crlnumber"
        echo 01 > "db-$issuer/serial"
    done
}

run() { "$@" >>"$log" 2>&1 || { echo "$pki_name: failed: $*" >&2; cat "$log" >&2; exit 1; }; }
stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

pki_config() {
    local root_crl=$1 ca_crl=$2 aia_root=${3:-} aia_ca=${4:-} extra=${5:-}
    local issuer section
    {
        echo '[ ca ]'
        echo 'default_ca = root_ca'
        for issuer in root ca; do
            section=root_ca
            [ "$issuer" = ca ] && section=issuing_ca
            cat <<EOF
[ $section ]
database = ./db-$issuer/index.txt
new_certs_dir = ./db-$issuer
serial = ./db-$issuer/serial
crlnumber = ./db-$issuer/crlnumber
default_md = sha256
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
EOF
        done
        cat <<EOF
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
crlDistributionPoints = URI:$root_crl
EOF
        [ -n "$aia_root" ] && echo "authorityInfoAccess = caIssuers;URI:$aia_root"
        cat <<EOF
[ v3_signer ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$ca_crl
EOF
        [ -n "$aia_ca" ] && echo "authorityInfoAccess = caIssuers;URI:$aia_ca"
        printf '%s\n' "$extra"
    } > openssl.cnf
    export OPENSSL_CONF=$work/openssl.cnf
}

ec() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1.key"; }
rsa() { run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key"; }
csr() { run openssl req -new -config openssl.cnf -utf8 -key "$1.key" -subj "$2" -out "$1.csr"; }

issue() {
    local signer=(-cert "$3.pem" -keyfile "$3.key")
    [ "$1" = "$3" ] && signer=(-selfsign -keyfile "$3.key")
    run openssl ca -batch -config openssl.cnf -name "$2" -utf8 -notext -rand_serial "${signer[@]}" \
        -in "$1.csr" -extensions "$4" -startdate "$5" -enddate "$6" -out "$1.pem"
}

pki_crls() {
    run openssl ca -config openssl.cnf -name root_ca -gencrl -cert root.pem -keyfile root.key -out root.crl.pem
    run openssl ca -config openssl.cnf -name issuing_ca -gencrl -cert ca.pem -keyfile ca.key -out ca.crl.pem
    run openssl crl -in root.crl.pem -outform DER -out root.crl
    run openssl crl -in ca.crl.pem -outform DER -out ca.crl
}
