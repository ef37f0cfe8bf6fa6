#!/usr/bin/env bash
# Packs what the GPU run of scripts/gpu_cifar.sh needs on the device machine, and unpacks it there.
# The device machine has no internet; its image has torch, scikit-learn, networkx, scipy, pandas,
# matplotlib, tqdm and click but not deap, optuna or skops; one call carries at most 64 MiB, and
# the CIFAR-10 batches are 150 MB (108 MB as xz with a vertical delta filter: two calls).
#
#   bash scripts/device_pack.sh [DATA_DIR]     # here: DATA_DIR holds cifar10/ (default ../shared/data)
#
# writes, into ignored folders of the checkout,
#   .devdata/a/cifar10.part, .devdata/b/cifar10.part   the two halves of one .tar.xz of the batches
#   .whl/                                                CPython 3.12 x86-64 wheels of what is missing
#
# Then, on the device, two calls one right after the other (a machine goes back 30 s after a call):
#   1. carry [".devdata/a", ".whl"]:  bash scripts/device_pack.sh --receive a
#   2. carry [".devdata/b"]:          bash scripts/device_pack.sh --receive b && \
#        PYTHONPATH=/tmp/site:$PWD NAS_DATA_DIR=/tmp/nas-data bash scripts/gpu_cifar.sh "$OUT"
# (--receive a installs the wheels into /tmp/site and keeps the first half in /tmp/nas-parts;
# --receive b joins the halves and unpacks them into /tmp/nas-data, where the loader checks every
# batch's SHA-256.)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
parts=/tmp/nas-parts

if [ "${1:-}" = "--receive" ]; then
  case "${2:-}" in
    a)
      mkdir -p "$parts" && cp "$root/.devdata/a/cifar10.part" "$parts/a"
      python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        "$root"/.whl/*.whl
      PYTHONPATH=/tmp/site:$root python3 -c "import deap, optuna, skops, nas; print('imports: ok')"
      ;;
    b)
      [ -f "$parts/a" ] || { echo "device_pack.sh: $parts/a is missing (run --receive a first, on the same machine)" >&2; exit 1; }
      mkdir -p /tmp/nas-data
      cat "$parts/a" "$root/.devdata/b/cifar10.part" | python3 -c "
import sys, tarfile
with tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz') as archive:
    archive.extractall(sys.argv[1], filter='data')" /tmp/nas-data
      ls -l /tmp/nas-data/cifar10/cifar-10-batches-bin
      ;;
    *) echo "device_pack.sh: --receive takes a or b, got '${2:-}'" >&2; exit 2 ;;
  esac
  exit 0
fi

data="${1:-$root/../shared/data}"
batches="$data/cifar10/cifar-10-batches-bin"
for f in data_batch_{1..5}.bin test_batch.bin batches.meta.txt; do
  [ -f "$batches/$f" ] || { echo "device_pack.sh: expected $batches/$f (the CIFAR-10 binary batches), not found" >&2; exit 1; }
done
mkdir -p "$root/.devdata/a" "$root/.devdata/b" "$root/.whl"
archive="$root/.devdata/cifar10.tar.xz"
tar -C "$data" -cf - cifar10 | xz -T2 --delta=dist=32 --lzma2=preset=6 >"$archive.tmp"
mv "$archive.tmp" "$archive"
half=$(( ($(stat -c %s "$archive") + 1) / 2 ))
head -c "$half" "$archive" >"$root/.devdata/a/cifar10.part"
tail -c +$((half + 1)) "$archive" >"$root/.devdata/b/cifar10.part"
rm "$archive"
# Pinned to what the tests pass with here; deap needs moocore (and it cffi, pycparser, platformdirs).
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$root/.whl" deap==1.4.4 moocore==0.3.2 cffi==2.0.0 pycparser platformdirs optuna==5.1.0 alembic==1.20.1 \
  sqlalchemy==2.1.9 mako==1.4.3 colorlog==6.12.0 skops==0.16.0 prettytable==3.19.0 wcwidth==0.7.0
du -sh "$root/.devdata/a" "$root/.devdata/b" "$root/.whl"
