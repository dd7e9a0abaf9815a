#!/usr/bin/env bash
# Refreshes the bundled country database from the npm registry package
# @ip-location-db/geo-whois-asn-country-mmdb (data: CC BY 4.0, NRO; see data/geo/README.md).
# Usage: scripts/refresh-geo-db.sh [VERSION]   (default: latest)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ver=${1:-latest}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack "@ip-location-db/geo-whois-asn-country-mmdb@${ver}" >/dev/null
tar xzf ./*.tgz
cp package/geo-whois-asn-country.mmdb "$here/data/geo/geo-whois-asn-country.mmdb"
cp package/NRO_LICENSE "$here/data/geo/NRO_LICENSE"
v=$(node -p 'require("./package/package.json").version')
sum=$(sha256sum "$here/data/geo/geo-whois-asn-country.mmdb" | cut -d' ' -f1)
sed -i -e "s/^- package version: .*/- package version: ${v}/" -e "s/^- sha256: .*/- sha256: ${sum}/" "$here/data/geo/README.md"
echo "bundled database refreshed to ${v} (sha256 ${sum}); run make test to check the special-range and lookup tests"
