#!/usr/bin/env bash
# Installs everything backfill needs on Debian 12: the toolchain and libraries from apt, and
# DuckDB 1.4.4 (prebuilt libduckdb.so + its C header) and the ZetaSQL analyzer from the npm
# registry, checked against pinned integrity hashes and cached in .deps/ so that later builds
# need no network.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential cmake ninja-build pkg-config ca-certificates openssl
  libsimdjson-dev libdeflate-dev zlib1g-dev libcli11-dev libtomlplusplus-dev libfmt-dev
  nlohmann-json3-dev libssl-dev libgtest-dev libgmock-dev clang libclang-rt-14-dev clang-format jq)

missing=()
# Node.js may come from elsewhere (it ships its own npm, which conflicts with Debian's npm).
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Pinned DuckDB artifacts: name@version and the registry's sha512 integrity.
LIB_PKG="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
LIB_TGZ="duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz"
LIB_SHA="sha512-jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="
HDR_PKG="duckdb@1.4.4"
HDR_TGZ="duckdb-1.4.4.tgz"
HDR_SHA="sha512-hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="

DEPS=.deps
DUCK="$DEPS/duckdb-1.4.4"
mkdir -p "$DEPS/cache"

integrity() { echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

fetch() {  # fetch PKG TGZ SHA: download once into the cache, verify every time
  local pkg=$1 tgz=$2 sha=$3 file="$DEPS/cache/$2"
  if [ ! -f "$file" ]; then
    echo "bootstrap: fetching $pkg from the npm registry"
    (cd "$DEPS/cache" && npm pack --silent "$pkg" >/dev/null 2>&1)
  fi
  local got; got=$(integrity "$file")
  if [ "$got" != "$sha" ]; then
    echo "bootstrap: integrity check FAILED for $file" >&2
    echo "  expected $sha" >&2
    echo "  got      $got" >&2
    rm -f "$file"
    exit 1
  fi
}

if [ ! -f "$DUCK/lib/libduckdb.so" ] || [ ! -f "$DUCK/include/duckdb.h" ]; then
  fetch "$LIB_PKG" "$LIB_TGZ" "$LIB_SHA"
  fetch "$HDR_PKG" "$HDR_TGZ" "$HDR_SHA"
  rm -rf "$DUCK.tmp" && mkdir -p "$DUCK.tmp/lib" "$DUCK.tmp/include"
  tar -xzf "$DEPS/cache/$LIB_TGZ" -O package/libduckdb.so > "$DUCK.tmp/lib/libduckdb.so"
  tar -xzf "$DEPS/cache/$HDR_TGZ" -O package/src/duckdb/src/include/duckdb.h > "$DUCK.tmp/include/duckdb.h"
  rm -rf "$DUCK" && mv "$DUCK.tmp" "$DUCK"
  echo "bootstrap: DuckDB 1.4.4 ready in $DUCK (integrity verified)"
fi

# --- ZetaSQL (GoogleSQL analyzer) for scripts/check-zetasql.mjs ------------------------------
# Google's analyzer behind BigQuery, as the LocalService gRPC server (a Linux x86-64 executable,
# glibc >= 2.29) in npm @fivetrandevelopers/zetasql, with the gRPC client. scripts/zetasql/
# holds the exact versions: package.json and package-lock.json, whose sha512 integrity of every
# package (41, the transitive ones included) `npm ci` verifies. Installed into .deps/zetasql;
# about 110 MB to download once. The tests need it; `backfill render` uses it when it is there.
ZETASQL="$DEPS/zetasql"
ZETASQL_LOCK_SHA=$(openssl dgst -sha256 -r scripts/zetasql/package-lock.json | cut -d' ' -f1)
if [ ! -f "$ZETASQL/.installed-$ZETASQL_LOCK_SHA" ]; then
  echo "bootstrap: installing ZetaSQL 1.13.0 and its gRPC client from the npm registry (npm ci)"
  rm -rf "$ZETASQL.tmp" && mkdir -p "$ZETASQL.tmp"
  cp scripts/zetasql/package.json scripts/zetasql/package-lock.json "$ZETASQL.tmp/"
  (cd "$ZETASQL.tmp" && npm ci --ignore-scripts --no-audit --no-fund --registry=https://registry.npmjs.org/ >/dev/null)
  touch "$ZETASQL.tmp/.installed-$ZETASQL_LOCK_SHA"
  rm -rf "$ZETASQL" && mv "$ZETASQL.tmp" "$ZETASQL"
  echo "bootstrap: ZetaSQL ready in $ZETASQL (integrity verified by npm ci)"
fi
# --- end ZetaSQL ------------------------------------------------------------------------------
