#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts (official images run every
# executable /docker-entrypoint.d/*.sh). When /etc/nginx/tls holds no certificate — nothing
# mounted there, first start on a fresh volume — make a self-signed one for
# $PUENTE_SERVER_NAME (default localhost), valid 825 days. A mounted or earlier pair is
# left alone. Needs only sh and openssl.
set -eu
dir=/etc/nginx/tls
if [ -s "$dir/fullchain.pem" ] && [ -s "$dir/privkey.pem" ]; then
  echo "$0: using the certificate in $dir"
  exit 0
fi
name="${PUENTE_SERVER_NAME:-localhost}"
san="DNS:$name"
[ "$name" = localhost ] || san="$san,DNS:localhost"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=$name" -addext "subjectAltName=$san,IP:127.0.0.1" \
  -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>/dev/null
echo "$0: generated a self-signed certificate for $name in $dir"
