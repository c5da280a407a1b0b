#!/usr/bin/env bash
# Installs Debian's chromium (for the dashboard's browser tests and `planwatch report --pdf`)
# unless /usr/bin/chromium is already there. Needs root (apt-get). Idempotent.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "chromium: present ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium: missing, and installing it needs root (apt-get install -y chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# fonts-noto-cjk: Chinese text in screenshots and PDFs instead of empty boxes.
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
echo "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))"
