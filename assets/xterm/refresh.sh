#!/usr/bin/env bash
# Refreshes the vendored xterm.js files from their npm packages (see README.md beside this file).
#
#   assets/xterm/refresh.sh                 # the registry's latest of both packages
#   assets/xterm/refresh.sh 6.0.0 0.11.0    # exact versions of @xterm/xterm and @xterm/addon-fit
#
# `npm pack` fetches each package's tarball (checked against the registry's integrity hash) into
# a temporary directory; only the dist files cofre serves and the licences are copied here, and
# VERSIONS records package@version and the sha256 of every file. Nothing is fetched at run time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
xterm_version="${1:-latest}"
fit_version="${2:-latest}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unpack() { # package version -> prints the unpacked directory
  local package="$1" version="$2" tarball dir
  tarball="$(cd "$work" && npm pack --silent "$package@$version")"
  dir="$work/$(basename "$tarball" .tgz)"
  mkdir -p "$dir"
  tar -xzf "$work/$tarball" -C "$dir"
  echo "$dir/package"
}

check_mit() { # unpacked-dir
  local licence
  licence="$(node -p "require('$1/package.json').license")"
  if [ "$licence" != "MIT" ]; then
    echo "$(node -p "require('$1/package.json').name") is now licensed '$licence', not MIT: review before vendoring" >&2
    exit 1
  fi
}

xterm="$(unpack @xterm/xterm "$xterm_version")"
fit="$(unpack @xterm/addon-fit "$fit_version")"
check_mit "$xterm"
check_mit "$fit"

cp "$xterm/lib/xterm.js" "$here/xterm.js"
cp "$xterm/css/xterm.css" "$here/xterm.css"
cp "$xterm/LICENSE" "$here/LICENSE.xterm"
cp "$fit/lib/addon-fit.js" "$here/addon-fit.js"
cp "$fit/LICENSE" "$here/LICENSE.addon-fit"

{
  echo "# Vendored by refresh.sh; package@version, then sha256 of each file as copied."
  echo "$(node -p "require('$xterm/package.json').name + '@' + require('$xterm/package.json').version")"
  echo "$(node -p "require('$fit/package.json').name + '@' + require('$fit/package.json').version")"
  (cd "$here" && sha256sum xterm.js xterm.css LICENSE.xterm addon-fit.js LICENSE.addon-fit)
} >"$here/VERSIONS"
cat "$here/VERSIONS"
