#!/usr/bin/env bash
# Certificates for the TLS e2e tests, made with openssl in DIR (bash make_certs.sh DIR):
#   ca.pem          the test CA; other-ca.pem, a CA sendgate does not trust
#   server.pem/key  sendgate's certificate (CN sendgate-1; DNS:localhost, IP:127.0.0.1),
#   server2.pem/key the one it is rotated to (CN sendgate-2)
#   client.pem/key  a caller (URI spiffe://sendgate.test/sender), valid
#   receipts, preference-centre (URIs), admin (DNS ops-1.admin.sendgate.test) and reader
#                   (subject CN=dashboard only): the callers of the authorization tests
#   expired.pem/key valid in 2020 only; revoked.pem/key revoked in crl/ (hashed for OpenSSL)
#   wrong-ca.pem/key signed by other-ca
set -euo pipefail
cd "$1"
cat > ca.cnf <<'CNF'
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
crlnumber = crlnumber
default_md = sha256
default_days = 30
default_crl_days = 30
policy = any_name
copy_extensions = copy
unique_subject = no
[any_name]
commonName = supplied
CNF
: > index.txt
echo 1000 > serial
echo 1000 > crlnumber
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
for ca in ca other-ca; do
  key "$ca.key"
  openssl req -x509 -new -key "$ca.key" -subj "/CN=sendgate test $ca" -days 30 -out "$ca.pem"
done
# leaf NAME CN SAN CA [openssl ca options...]
leaf() {
  local name=$1 cn=$2 san=$3 ca=$4
  shift 4
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -addext "subjectAltName=$san" -out "$name.csr"
  openssl ca -batch -config ca.cnf -cert "$ca.pem" -keyfile "$ca.key" -in "$name.csr" \
    -out "$name.pem" -notext "$@" 2>/dev/null
}
leaf server sendgate-1 "DNS:localhost,IP:127.0.0.1" ca
leaf server2 sendgate-2 "DNS:localhost,IP:127.0.0.1" ca
leaf client sender "URI:spiffe://sendgate.test/sender" ca
# One caller per role of the authorization tests: known by a URI, a DNS name or the subject.
leaf receipts receipts "URI:spiffe://sendgate.test/receipts" ca
leaf preference-centre preference-centre "URI:spiffe://sendgate.test/preference-centre" ca
leaf admin admin "DNS:ops-1.admin.sendgate.test" ca
leaf reader dashboard "email:dashboard@sendgate.test" ca
leaf expired sender "URI:spiffe://sendgate.test/sender" ca \
  -startdate 20200101000000Z -enddate 20200102000000Z
leaf revoked sender "URI:spiffe://sendgate.test/sender" ca
leaf wrong-ca sender "URI:spiffe://sendgate.test/sender" other-ca
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -revoke revoked.pem 2>/dev/null
mkdir -p crl
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -gencrl -out crl/ca.crl.pem 2>/dev/null
openssl rehash crl
