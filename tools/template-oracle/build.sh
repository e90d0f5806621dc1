#!/bin/sh
# Builds the template oracle offline from Debian's Go and Sprig packages.
# Needs: apt-get install golang-1.19-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/template-oracle}
GO=${GO:-}
if [ -z "$GO" ]; then
	if command -v go >/dev/null 2>&1; then GO=go
	elif [ -x /usr/lib/go-1.19/bin/go ]; then GO=/usr/lib/go-1.19/bin/go
	else
		echo "Go not found: apt-get install -y golang-1.19-go golang-github-masterminds-sprig-dev" >&2
		exit 127
	fi
fi
if [ ! -d /usr/share/gocode/src/github.com/Masterminds/sprig ] || [ ! -d /usr/share/gocode/src/sigs.k8s.io/yaml ]; then
	echo "Sprig or sigs.k8s.io/yaml source not found: apt-get install -y golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev" >&2
	exit 127
fi
cd "$here"
GOCACHE=${GOCACHE:-${TMPDIR:-/tmp}/template-oracle-gocache} GO111MODULE=off GOPATH=/usr/share/gocode \
	"$GO" build -o "$out" main.go eso.go
