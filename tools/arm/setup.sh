#!/usr/bin/env bash
# tools/arm/setup.sh [DIR]  -- `make arm-setup`: everything the emulated aarch64 bench target needs.
#
# DIR (default .arm) receives:
#   DIR/rootfs/             aarch64 Debian bookworm userland (python3.11) + wheels in /opt/site
#   DIR/rootfs/proc/cpuinfo fake ARM cpuinfo (edgekd copies the one matching -cpu from DIR/cpuinfo/)
#   DIR/plugin/libinsncount.so  our QEMU TCG instruction-count plugin (built from insncount.c)
#   DIR/qemu-src/           Debian qemu source package files (only the plugin header is extracted)
# Idempotent: every step is skipped when its output exists (stamp files in DIR/.stamps).
# Needs root (apt-get, debootstrap). Host: Debian 12 (bookworm), x86_64.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="$(mkdir -p "${1:-.arm}" && cd "${1:-.arm}" && pwd)"
ROOT="$DIR/rootfs"
STAMPS="$DIR/.stamps"
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# aarch64 wheel pins (newest aarch64 ai-edge-litert is 1.4.0; x86 project uses 2.3.0)
WHEELS=(numpy==2.4.6 onnxruntime==1.32.0 ai-edge-litert==1.4.0)
NICE=()
mkdir -p "$STAMPS"

T0=$(date +%s.%N)
step() { printf '\n== [%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }
done_() { [[ -e "$STAMPS/$1" ]]; }
mark() { touch "$STAMPS/$1"; }

# ---------------------------------------------------------------- 1. host packages
step "host packages"
HOSTPKGS=(qemu-user debootstrap gcc libc6-dev libglib2.0-dev pkg-config xz-utils bc)
missing=()
for p in "${HOSTPKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
python3 -m pip --version >/dev/null 2>&1 || \
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip
command -v qemu-aarch64 >/dev/null   # dynamic qemu-user (qemu-user-static has no plugin support)

# ---------------------------------------------------------------- 2. aarch64 rootfs
if ! done_ rootfs; then
  step "debootstrap --foreign arm64 minbase + python3.11"
  rm -rf "$ROOT"
  "${NICE[@]}" debootstrap --arch=arm64 --foreign --variant=minbase \
      --include=python3.11,libstdc++6 "$SUITE" "$ROOT" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$DIR/debootstrap.log"; exit 1; }
  step "unpack all downloaded .debs (no second stage, no dpkg configure)"
  n=0
  for deb in "$ROOT"/var/cache/apt/archives/*.deb; do
    dpkg-deb -x "$deb" "$ROOT"; n=$((n+1))
  done
  echo "unpacked $n debs"
  # merged-/usr must survive the unpacking (the ELF interpreter is /lib/ld-linux-aarch64.so.1)
  # (debootstrap --foreign leaves a split-/usr layout: /lib is a real dir holding ld-linux; fine)
  test -e "$ROOT/lib/ld-linux-aarch64.so.1"
  test -x "$ROOT/usr/bin/python3.11"
  mark rootfs
fi

# ---------------------------------------------------------------- 3. aarch64 wheels
if ! done_ wheels; then
  step "pip install --target rootfs/opt/site (aarch64 wheels): ${WHEELS[*]}"
  rm -rf "$ROOT/opt/site"
  PIP_BREAK_SYSTEM_PACKAGES=1 "${NICE[@]}" python3 -m pip install -q --disable-pip-version-check --no-compile \
      --target "$ROOT/opt/site" --only-binary=:all: --implementation cp --python-version 3.11 \
      --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
      --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 \
      "${WHEELS[@]}"
  mark wheels
fi

# ---------------------------------------------------------------- 4. fake CPU description
# Without an ARM /proc/cpuinfo and /sys/devices/system/cpu/{possible,present}, cpuinfo
# (used by XNNPACK/LiteRT and ORT) fails and XNNPACK is silently skipped. QEMU -L ROOT makes
# the guest's open("/proc/cpuinfo") find ROOT/proc/cpuinfo. Never bind the host's /sys
# (import onnxruntime segfaults). One CPU is advertised (matches the single-thread measurement).
step "fake /proc/cpuinfo + /sys/devices/system/cpu"
mkdir -p "$DIR/cpuinfo" "$ROOT/proc" "$ROOT/sys/devices/system/cpu/cpu0"
cpuinfo() { # name implementer variant part revision features bogomips
  cat <<EOF
processor	: 0
BogoMIPS	: $7
Features	: $6
CPU implementer	: $2
CPU architecture: 8
CPU variant	: $3
CPU part	: $4
CPU revision	: $5

EOF
}
cpuinfo cortex-a53 0x41 0x0 0xd03 4 "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid" 38.40 \
  > "$DIR/cpuinfo/cortex-a53"
cpuinfo cortex-a76 0x41 0x4 0xd0b 1 \
  "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" \
  38.40 > "$DIR/cpuinfo/cortex-a76"
[[ -e "$ROOT/proc/cpuinfo" ]] || cp "$DIR/cpuinfo/cortex-a53" "$ROOT/proc/cpuinfo"
for f in possible present online; do echo 0 > "$ROOT/sys/devices/system/cpu/$f"; done

# ---------------------------------------------------------------- 5. plugin header
# Debian ships no plugin binaries and no header package: take include/qemu/qemu-plugin.h from
# the qemu *source* package matching the installed qemu-user, via a private apt config
# (deb-src entries in DIR/apt only; the host's sources.list is not touched).
HDR="$DIR/qemu-src/qemu-plugin.h"
SRCVER="$(dpkg-query -W -f='${source:Version}' qemu-user)"
if ! done_ "header-$SRCVER"; then
  step "apt-get source --download-only qemu=$SRCVER (private deb-src config)"
  A="$DIR/apt"; mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$DIR/qemu-src"
  cat > "$A/sources.list" <<EOF
deb-src $MIRROR $SUITE main
deb-src $MIRROR $SUITE-updates main
deb-src http://deb.debian.org/debian-security $SUITE-security main
EOF
  APTO=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/none"
        -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o "APT::Get::Only-Source=true")
  apt-get "${APTO[@]}" update -qq
  id _apt >/dev/null 2>&1 && chown _apt "$DIR/qemu-src"   # lets apt download sandboxed
  ( cd "$DIR/qemu-src" && apt-get "${APTO[@]}" source --download-only -qq "qemu=$SRCVER" )
  ORIG="$(ls "$DIR"/qemu-src/qemu_*.orig.tar.* | head -1)"
  "${NICE[@]}" tar --no-same-owner -xf "$ORIG" -C "$DIR/qemu-src" --wildcards --no-anchored \
      --transform='s,.*/,,' 'include/qemu/qemu-plugin.h'
  test -s "$HDR"
  # Debian patches touching the header? (none expected; warn if any)
  DEBTAR="$(ls "$DIR"/qemu-src/qemu_*.debian.tar.* | head -1)"
  if tar -xOf "$DEBTAR" --wildcards 'debian/patches/*' 2>/dev/null | grep -q 'qemu-plugin.h'; then
    echo "WARNING: a Debian patch touches qemu-plugin.h; header may differ from the binary"
  fi
  grep -m1 'define QEMU_PLUGIN_VERSION' "$HDR"
  rm -f "$STAMPS"/header-* ; mark "header-$SRCVER"
fi

# ---------------------------------------------------------------- 6. build our plugin
PLUG="$DIR/plugin/libinsncount.so"
if [[ ! -e "$PLUG" || "$HERE/insncount.c" -nt "$PLUG" || "$HDR" -nt "$PLUG" ]]; then
  step "gcc insncount.c -> $PLUG"
  mkdir -p "$DIR/plugin"
  gcc -O2 -Wall -shared -fPIC -I"$DIR/qemu-src" $(pkg-config --cflags glib-2.0) \
      -o "$PLUG" "$HERE/insncount.c"
fi

# ---------------------------------------------------------------- 7. smoke test
step "smoke test: emulated python imports numpy, onnxruntime, ai_edge_litert"
env -i PATH=/usr/bin:/bin OPENBLAS_NUM_THREADS=1 PYTHONPATH=/opt/site \
  qemu-aarch64 -cpu cortex-a53 -L "$ROOT" -plugin "$PLUG,out=$DIR/smoke.insns" \
  "$ROOT/usr/bin/python3.11" -c '
import ctypes, platform, numpy, onnxruntime, ai_edge_litert.interpreter as i
libc = ctypes.CDLL(None)
libc.syscall(60782, 0x45444B44, 1, 0); libc.syscall(60782, 0x45444B44, 2, 0)
print(platform.machine(), "numpy", numpy.__version__, "ort", onnxruntime.__version__)'
rm -f "$DIR/smoke.insns"
step "done: rootfs=$ROOT plugin=$PLUG"
