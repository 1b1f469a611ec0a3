#!/usr/bin/env bash
# Refreshes the vendored Swagger UI files from the swagger-ui-dist npm package (README.md beside
# this file).
#
#   assets/swagger-ui/refresh.sh          # the registry's latest
#   assets/swagger-ui/refresh.sh 5.32.0   # an exact version
#
# `npm pack` fetches the tarball (checked against the registry's integrity hash) into a temporary
# directory; only the bundle, its stylesheet and the licences are copied here, and VERSIONS
# records package@version and the sha256 of every file. Nothing is fetched at run time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${1:-latest}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="$(cd "$work" && npm pack --silent "swagger-ui-dist@$version")"
tar -xzf "$work/$tarball" -C "$work"
dist="$work/package"
licence="$(node -p "require('$dist/package.json').license")"
if [ "$licence" != "Apache-2.0" ]; then
  echo "swagger-ui-dist is now licensed '$licence', not Apache-2.0: review before vendoring" >&2
  exit 1
fi

cp "$dist/swagger-ui-bundle.js" "$here/swagger-ui-bundle.js"
cp "$dist/swagger-ui.css" "$here/swagger-ui.css"
cp "$dist/LICENSE" "$here/LICENSE"
cp "$dist/NOTICE" "$here/NOTICE"
cp "$dist/swagger-ui-bundle.js.LICENSE.txt" "$here/swagger-ui-bundle.js.LICENSE.txt"

{
  echo "# Vendored by refresh.sh; package@version, then sha256 of each file as copied."
  node -p "require('$dist/package.json').name + '@' + require('$dist/package.json').version"
  (cd "$here" && sha256sum swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt)
} >"$here/VERSIONS"
cat "$here/VERSIONS"
