#!/usr/bin/env bash
# tools/arm/setup.sh [DIR]  -- `make arm-setup`: everything the emulated aarch64 bench target needs.
#
# DIR (default .arm) receives:
#   DIR/rootfs/             aarch64 Debian bookworm userland (python3.11) + wheels in /opt/site,
#                           CPU-only PyTorch and its deps in /opt/site-torch
#   DIR/views/<cpu>/      made by edgekd: the rootfs seen with that CPU's fake /proc/cpuinfo (DIR/cpuinfo/)
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
# PyTorch for the emulated "pytorch" rows: CPU-only aarch64 torch. 2.9.1 is the newest that runs on
# the Cortex-A53: 2.10.0 dies with SIGILL at `import torch` on ARMv8.0 cores (LSE atomics in
# libc10.so, pytorch/pytorch#174344), and 2.11+ aarch64 wheels are CUDA builds. Installed with
# --no-deps and every dependency pinned here, because pip evaluates Requires-Dist markers against the
# *host* (x86_64) and would pull torch's x86-only nvidia-*/triton wheels. numpy and
# typing-extensions come from /opt/site.
TORCH_WHEELS=(torch==2.9.1 safetensors==0.8.0 filelock==4.2.12 sympy==1.14.0 mpmath==1.3.0
              networkx==3.6.1 jinja2==3.1.6 markupsafe==3.0.4 fsspec==2026.9.0)
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
  rm -rf "$ROOT/opt/site" "$STAMPS/bytecode"
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

# ---------------------------------------------------------------- 4a. bytecode for the guest
# The emulated python cannot write __pycache__ (see 4b), and debootstrap's first stage never runs
# Debian's py3compile: without this every emulated run recompiles the stdlib and numpy/onnxruntime/
# LiteRT modules it imports (measured: ~1 s of a 2-4 s emulated row). Compiled here once; .pyc files
# depend only on the minor version, so only a 3.11 host python does it.
if ! done_ bytecode; then
  if python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    step "compile guest bytecode (stdlib, /opt/site)"
    "${NICE[@]}" python3 -m compileall -q -j0 -s "$ROOT" "$ROOT/usr/lib/python3.11" "$ROOT/opt/site" >/dev/null || true
  fi
  mark bytecode
fi

# ---------------------------------------------------------------- 4b. aarch64 PyTorch wheels
# (after 4, so that the fake /proc/cpuinfo and /sys entries exist for its smoke test.)
# Own folder and own stamp (named after the pin list), so an existing set-up picks the wheels up
# and a changed pin reinstalls them, without touching /opt/site.
TORCH_STAMP="torch-wheels-$(printf '%s\n' "${TORCH_WHEELS[@]}" | sha256sum | cut -c1-12)"
if ! done_ "$TORCH_STAMP"; then
  step "pip install --no-deps --target rootfs/opt/site-torch (aarch64 wheels): ${TORCH_WHEELS[*]}"
  rm -rf "$ROOT/opt/site-torch"
  PIP_BREAK_SYSTEM_PACKAGES=1 "${NICE[@]}" python3 -m pip install -q --disable-pip-version-check --no-compile \
      --no-deps --target "$ROOT/opt/site-torch" --only-binary=:all: --implementation cp --python-version 3.11 \
      --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
      --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 \
      "${TORCH_WHEELS[@]}"
  # A CUDA build would need libcudart & co., which the guest lacks: refuse it here, not at bench time.
  if ls "$ROOT"/opt/site-torch/torch/lib "$ROOT"/opt/site-torch/torch.libs 2>/dev/null | grep -qi cuda; then
    echo "ERROR: the aarch64 torch wheel is a CUDA build"; exit 1
  fi
  # Bytecode, compiled here once: the emulated python cannot write it (under `qemu -L` a directory
  # missing from the rootfs, like a new __pycache__, resolves to the host path), so without it every
  # emulated run recompiles the ~700 modules `import torch` loads (import: ~13 s instead of ~7.5 s).
  # .pyc files depend only on the minor version (3.11). A file that does not compile (compileall's
  # non-zero exit) is only compiled at import time: not an error.
  if python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    "${NICE[@]}" python3 -m compileall -q -j0 -s "$ROOT" "$ROOT/opt/site-torch" >/dev/null || true
  else
    echo "note: host python3 is not 3.11; the emulated torch import will compile from source each run"
  fi
  step "smoke test: emulated Cortex-A53 (ARMv8.0, the oldest core we emulate) runs torch"
  env -i PATH=/usr/bin:/bin OMP_NUM_THREADS=1 PYTHONPATH=/opt/site:/opt/site-torch \
    qemu-aarch64 -cpu cortex-a53 -L "$ROOT" "$ROOT/usr/bin/python3.11" -c '
import torch, safetensors.torch
print("torch", torch.__version__, torch.nn.Conv2d(1, 2, 3)(torch.ones(1, 1, 5, 5)).shape)'
  rm -f "$STAMPS"/torch-wheels-* ; mark "$TORCH_STAMP"
fi

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
