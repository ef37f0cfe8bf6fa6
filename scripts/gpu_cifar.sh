#!/usr/bin/env bash
# The CIFAR-10 GPU figures of issue 15 in one run (for a session lent a GPU).
#
#   NAS_DATA_DIR=DIR bash scripts/gpu_cifar.sh OUTDIR     # on the GPU machine
#   SMOKE=1 DEVICE=cpu NAS_DATA_DIR=../shared/data bash scripts/gpu_cifar.sh /tmp/out   # tiny, to test it
#
# Steps (each logged to OUTDIR; a failing step does not stop the others):
#   ratio_cifar   one-at-a-time vs stacked CNN populations (scripts/bench_training.py --task cifar10)
#   reference     the fixed-wiring reference's time to 90 % and 93 % test accuracy (scripts/bench_cifar.py)
#   search        `nas search --task cifar10` at its defaults, in slices of --time-limit minutes:
#                 run the script again with the same OUTDIR and the search resumes
# The data: the five CIFAR-10 training batches are 150 MB, more than one transfer to the device
# machine carries, so carry them in two or three calls (e.g. data_batch_1..3, then 4..5 and the
# test batch) into one ignored folder and point NAS_DATA_DIR at it.
set -u
out="${1:?usage: gpu_cifar.sh OUTDIR}"
mkdir -p "$out" && [ -w "$out" ] || { echo "gpu_cifar.sh: cannot write to $out" >&2; exit 1; }
here="$(cd "$(dirname "$0")" && pwd)"
device="${DEVICE:-cuda}"
slice="${SLICE_MINUTES:-8}"
if [ -n "${SMOKE:-}" ]; then
  ratio=(--n 2 --epochs 1 --train-subset 256)
  reference=(--quick)
  search=(--quick --population 2 --survivors 2 --generations 1 --final-top 1 --epochs 1 --final-epochs 1)
else
  ratio=(--n 32 --epochs 1 --train-subset 10000)
  reference=(--epochs 30 --width 4 --nodes 32)
  search=()
fi
step() {  # step NAME COMMAND...: run, log, never stop the others
  local name="$1"; shift
  echo "== $name: $*" | tee -a "$out/summary.txt"
  if "$@" >"$out/$name.log" 2>&1; then tail -n 3 "$out/$name.log" >>"$out/summary.txt"; else echo "FAILED ($?)" >>"$out/summary.txt"; fi
}
if [ ! -f "$out/search/config.json" ]; then  # the benchmarks once; later calls only continue the search
  step ratio_cifar python "$here/bench_training.py" --task cifar10 --device "$device" "${ratio[@]}" \
    --json "$out/ratio_cifar.json"
  step reference python "$here/bench_cifar.py" --device "$device" "${reference[@]}" --json "$out/reference.json"
  step search nas search --task cifar10 --device "$device" --allow-partial-data --out "$out/search" \
    --time-limit "$slice" --no-progress "${search[@]}"
else
  step search nas search --task cifar10 --device "$device" --allow-partial-data --out "$out/search" \
    --time-limit "$slice" --no-progress --resume "${search[@]}"
fi
cat "$out/summary.txt"
