#!/usr/bin/env bash
# Installs the Node-RED peer of the e2e benchmark into a scratch folder (never committed):
#   node-red@4 (5 needs a newer Node.js than Debian 12's 18/20) and node-red-contrib-influxdb.
# Usage: benchmarks/peer/setup.sh [DIR]   (default: ${SENSING_PEER_DIR:-/tmp/sensing-nodered})
# Idempotent: a folder that already has both packages is left as it is. Prints the folder on the last line.
set -euo pipefail
dir="${1:-${SENSING_PEER_DIR:-/tmp/sensing-nodered}}"
mkdir -p "$dir"
if [ ! -x "$dir/node_modules/.bin/node-red" ] || [ ! -d "$dir/node_modules/node-red-contrib-influxdb" ]; then
  command -v npm >/dev/null || { echo "npm is missing: apt-get install nodejs npm" >&2; exit 1; }
  [ -f "$dir/package.json" ] || echo '{"name":"sensing-nodered-peer","private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error node-red@4 node-red-contrib-influxdb >&2
fi
echo "$dir"
