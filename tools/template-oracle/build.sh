#!/bin/sh
# Builds the template oracle: a Go module (go.mod, go.sum) pinned at the Sprig copy and the
# libraries ESO v2.9.0 builds its template engine with. Needs Go 1.26 or newer (on PATH, or
# GO=/path/to/go) and the Go module proxy the first time; Go keeps the downloaded modules and
# the build cache outside the checkout (GOMODCACHE, GOCACHE), so later builds are offline and fast.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/template-oracle}
GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1; then
	echo "Go not found: install Go 1.26 or newer (https://go.dev/dl) or set GO=/path/to/go" >&2
	exit 127
fi
cd "$here"
# GOTOOLCHAIN=local: an older Go fails with its own message instead of fetching a toolchain.
GO111MODULE=on GOFLAGS=-mod=readonly GOTOOLCHAIN=local "$GO" build -o "$out" .
