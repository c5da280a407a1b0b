#!/usr/bin/env bash
# Puts `promtool` and `prometheus` under .infra/bin/ (git-ignored) from Debian's `prometheus`
# package, WITHOUT installing it: `apt-get install prometheus` would run its init script and
# start a daemon on 0.0.0.0:9090. The .deb is downloaded and unpacked with `dpkg -x` only.
# Idempotent: does nothing when both binaries are already there and run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${PLANWATCH_INFRA_BIN:-$ROOT/.infra/bin}"

if [[ -x "$BIN/promtool" && -x "$BIN/prometheus" ]] \
  && "$BIN/promtool" --version >/dev/null 2>&1 && "$BIN/prometheus" --version >/dev/null 2>&1; then
  exit 0
fi

for tool in apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "install-promtool: needs $tool (Debian)" >&2; exit 1; }
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# `apt-get download` needs package lists; refresh them only when prometheus is unknown.
if ! apt-cache show prometheus >/dev/null 2>&1; then
  apt-get update -qq
fi
apt-get download -q -o APT::Sandbox::User=root prometheus >/dev/null
deb="$(ls prometheus_*.deb)"
dpkg -x "$deb" unpacked

mkdir -p "$BIN"
install -m 0755 unpacked/usr/bin/promtool "$BIN/promtool"
install -m 0755 unpacked/usr/bin/prometheus "$BIN/prometheus"
"$BIN/promtool" --version >/dev/null
echo "install-promtool: $("$BIN/prometheus" --version 2>&1 | head -n1) -> $BIN" >&2
