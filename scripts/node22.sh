#!/usr/bin/env bash
# Node 22 for a machine that lacks it, from the npm registry (no nodejs.org needed).
#
#   eval "$(scripts/node22.sh)"
#
# prints nothing when the `node` on PATH is already 22.15 or later within 22 (see `engines`);
# otherwise it unpacks the official Node binary and headers (package node-linux-<arch>) into a
# cache folder outside the clone, once, and prints the exports that put that node first on PATH
# and point native builds (node-gyp, for better-sqlite3) at its headers instead of another Node's.
# The machine's own npm then runs on it (npm starts with `#!/usr/bin/env node`).
# Override the folder with OMEGA_NODE_CACHE.
set -euo pipefail

NODE_VERSION=22.23.3

if command -v node >/dev/null 2>&1 &&
  node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major === 22 && minor >= 15 ? 0 : 1)'; then
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  *) echo "node22.sh: no Node package for $(uname -s) $(uname -m); install Node 22 another way" >&2; exit 1 ;;
esac

cache=${OMEGA_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/omega-node}
dir="$cache/node-v$NODE_VERSION-$platform"

if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.unpack.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # `npm pack` fetches through this machine's npm settings and checks the tarball's integrity.
  (cd "$work" && npm pack --silent "node-$platform@$NODE_VERSION" >/dev/null)
  mkdir -p "$work/node"
  tar -xzf "$work/node-$platform-$NODE_VERSION.tgz" -C "$work/node" --strip-components=1
  test -f "$work/node/include/node/node.h"
  # npm reads its global settings (CA file, registry, proxy) from <node's prefix>/etc/npmrc: keep this machine's.
  globalconfig=$(npm config get globalconfig 2>/dev/null || true)
  if [ -n "$globalconfig" ] && [ -f "$globalconfig" ]; then
    mkdir -p "$work/node/etc"
    ln -s "$globalconfig" "$work/node/etc/npmrc"
  fi
  "$work/node/bin/node" -e 'process.exit(process.versions.node === process.argv[1] ? 0 : 1)' "$NODE_VERSION"
  rm -rf "$dir"
  mv "$work/node" "$dir"
fi

printf 'export PATH=%q:"$PATH"\n' "$dir/bin"
printf 'export npm_config_nodedir=%q\n' "$dir"
