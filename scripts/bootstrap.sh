#!/usr/bin/env bash
# Installs everything backfill needs on Debian 12: the toolchain and libraries from apt, and
# DuckDB 1.4.4 from the npm registry (prebuilt libduckdb.so + its C header), checked against
# pinned integrity hashes and cached in .deps/ so that later builds need no network.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential cmake ninja-build pkg-config ca-certificates openssl
  libsimdjson-dev libdeflate-dev zlib1g-dev libcli11-dev libtomlplusplus-dev libfmt-dev
  nlohmann-json3-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev jq)

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

# --- node-sql-parser (BigQuery dialect) for the SQL checker of `backfill render` --------------
# scripts/check-bigquery-sql.mjs parses every rendered GoogleSQL file with it in the tests. Pure
# JavaScript, pinned with the registry's sha512 like DuckDB above; its one runtime dependency is
# big-integer (the other, @types/pegjs, holds TypeScript types only). Only the BigQuery build is
# extracted, into .deps/node_modules/ where the checker finds it.
SQLP_PKG="node-sql-parser@5.4.0"
SQLP_TGZ="node-sql-parser-5.4.0.tgz"
SQLP_SHA="sha512-jVe6Z61gPcPjCElPZ6j8llB3wnqGcuQzefim1ERsqIakxnEy5JlzV7XKdO1KmacRG5TKwPc4vJTgSRQ0LfkbFw=="
BIGINT_PKG="big-integer@1.6.52"
BIGINT_TGZ="big-integer-1.6.52.tgz"
BIGINT_SHA="sha512-QxD8cf2eVqJOOz63z6JIN9BzvVs/dlySa5HGSBH5xtR8dPteIRQnBxxKqkNTiT6jbDTF6jAfrd4oMcND9RGbQg=="
NODE_MODULES="$DEPS/node_modules"
if [ ! -f "$NODE_MODULES/.node-sql-parser-5.4.0" ]; then
  fetch "$SQLP_PKG" "$SQLP_TGZ" "$SQLP_SHA"
  fetch "$BIGINT_PKG" "$BIGINT_TGZ" "$BIGINT_SHA"
  rm -rf "$NODE_MODULES.tmp" && mkdir -p "$NODE_MODULES.tmp/node-sql-parser" "$NODE_MODULES.tmp/big-integer"
  tar -xzf "$DEPS/cache/$SQLP_TGZ" -C "$NODE_MODULES.tmp/node-sql-parser" --strip-components=1 \
    package/package.json package/LICENSE package/build/bigquery.js
  tar -xzf "$DEPS/cache/$BIGINT_TGZ" -C "$NODE_MODULES.tmp/big-integer" --strip-components=1
  touch "$NODE_MODULES.tmp/.node-sql-parser-5.4.0"
  rm -rf "$NODE_MODULES" && mv "$NODE_MODULES.tmp" "$NODE_MODULES"
  echo "bootstrap: node-sql-parser 5.4.0 ready in $NODE_MODULES (integrity verified)"
fi
# --- end node-sql-parser ----------------------------------------------------------------------

# --- ZetaSQL (GoogleSQL analyzer) for scripts/check-zetasql.mjs ------------------------------
# Google's analyzer behind BigQuery, as the LocalService gRPC server (a Linux x86-64 executable,
# glibc >= 2.29) in npm @fivetrandevelopers/zetasql, with the gRPC client. scripts/zetasql/
# holds the exact versions: package.json and package-lock.json, whose sha512 integrity of every
# package (41, the transitive ones included) `npm ci` verifies. Installed into .deps/zetasql;
# about 110 MB to download once. `backfill render` and the tests use it when it is there.
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
