#!/usr/bin/env bash
# Installs what building (and, with `test`, testing) needs, skipping what is
# already there. Debian, as root. Versions come from the project's own files:
# wasm-bindgen from Cargo.toml's "=X" pin, wasm-pack and binaryen from
# wasm-pack.toml, npm packages from package-lock.json.
#
#   scripts/tools.sh          build tools: wasm32 target, wasm-bindgen-cli,
#                             wasm-pack, npm binaryen, fixture tools
#   scripts/tools.sh test     also Chromium, Firefox, WebKitGTK, their
#                             WebDriver servers and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { echo "tools: $*" >&2; }

toml_value() { # file, python expression over the parsed toml
  python3 -c "import tomllib,sys; d=tomllib.load(open('$1','rb')); print($2)"
}

apt_updated=0
apt_install() { # packages…, installed only if a listed command is missing
  local missing=()
  for spec in "$@"; do
    local cmd=${spec%%:*} pkg=${spec#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt-get install ${missing[*]}"
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  # dpkg sometimes fails with "cannot access archive" the first time; the
  # same command then succeeds.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Fixture tools (the sample disk is built from a tree with real tools).
apt_install mkfs.ext4:e2fsprogs sgdisk:gdisk sfdisk:fdisk mkfs.vfat:dosfstools gzip:gzip python3:python3

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

want_bindgen=$(toml_value Cargo.toml "d['target']['cfg(target_arch = \"wasm32\")']['dependencies']['wasm-bindgen'].lstrip('=')")
have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_bindgen" != "$want_bindgen" ]; then
  say "cargo install wasm-bindgen-cli $want_bindgen (about 5 minutes)"
  # Not --locked: its lock file pins a crate the registry here lacks.
  cargo install -q wasm-bindgen-cli --version "$want_bindgen"
fi

want_pack=$(toml_value wasm-pack.toml "d['tools']['wasm-pack']")
have_pack=$(wasm-pack --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have_pack" != "$want_pack" ]; then
  say "cargo install wasm-pack $want_pack (about 6 minutes)"
  cargo install -q wasm-pack --locked --version "$want_pack"
fi

apt_install node:nodejs npm:npm
if [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = test ]; then
  apt_install chromium:chromium chromedriver:chromium-driver \
    mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs mkfs.exfat:exfatprogs mkntfs:ntfs-3g \
    mksquashfs:squashfs-tools xorriso:xorriso cryptsetup:cryptsetup-bin mdadm:mdadm \
    pvcreate:lvm2 xz:xz-utils losetup:mount
  # Firefox and WebKit (Safari's engine) for the cross-engine tests; their
  # WebDriver servers: WebKitWebDriver from Debian, geckodriver from
  # crates.io (Debian has no package). Xvfb gives WebKit a display.
  apt_install firefox-esr:firefox-esr WebKitWebDriver:webkit2gtk-driver Xvfb:xvfb xauth:xauth
  if ! command -v geckodriver >/dev/null; then
    say "cargo install geckodriver (about 3 minutes)"
    cargo install -q geckodriver
  fi
fi
