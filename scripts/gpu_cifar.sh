#!/usr/bin/env bash
# The CIFAR-10 GPU figures of issue 15 in one run (for a session lent a GPU), within a time budget.
#
#   NAS_DATA_DIR=DIR bash scripts/gpu_cifar.sh OUTDIR     # on the GPU machine (see scripts/device_pack.sh)
#   SMOKE=1 DEVICE=cpu NAS_DATA_DIR=../shared/data bash scripts/gpu_cifar.sh /tmp/out   # tiny, to test it
#
# Steps (each logged; a failing step does not stop the others), all within BUDGET_MINUTES (9: one
# device command may run 10 minutes):
#   ratio_cifar   one-at-a-time vs stacked CNN populations (scripts/bench_training.py --task cifar10)
#   reference     the fixed-wiring reference's time to 90 % and 93 % test accuracy and its flip-TTA
#                 gain (scripts/bench_cifar.py), stopped after REFERENCE_MINUTES (3)
#   search        `nas search --task cifar10` at its defaults (or SEARCH_ARGS), its --time-limit the
#                 budget left; run the script again with the same WORK_DIR (same machine) to resume
# The work lives in WORK_DIR (/tmp/gpu_cifar.work); OUTDIR gets at most 8 files, as the device tool
# brings back: summary.txt, ratio_cifar.json, reference.json, report.md, final.csv, best_graph.png
# and work.tar.gz (every log and the whole search folder: its ledger resumes the search elsewhere).
set -u
out="${1:?usage: gpu_cifar.sh OUTDIR}"
work="${WORK_DIR:-/tmp/gpu_cifar.work}"
for dir in "$out" "$work"; do
  mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ] || { echo "gpu_cifar.sh: cannot write to $dir" >&2; exit 1; }
done
here="$(cd "$(dirname "$0")" && pwd)"
device="${DEVICE:-cuda}"
budget="${BUDGET_MINUTES:-9}"
started=$(date +%s)
if [ -n "${SMOKE:-}" ]; then
  ratio=(--n 2 --epochs 1 --train-subset 256)
  reference=(--quick)
  read -r -a search <<<"${SEARCH_ARGS:---quick --population 2 --survivors 2 --generations 1 --final-top 1 --epochs 1 --final-epochs 1}"
else
  ratio=(--n 16 --epochs 1 --train-subset 10000)
  reference=(--epochs 30 --width 4 --nodes 32)
  read -r -a search <<<"${SEARCH_ARGS:-}"
fi
step() {  # step NAME COMMAND...: run, log, never stop the others
  local name="$1"; shift
  echo "== $name ($(( $(date +%s) - started )) s in): $*" | tee -a "$out/summary.txt"
  if "$@" >"$work/$name.log" 2>&1; then tail -n 4 "$work/$name.log" >>"$out/summary.txt"; else echo "FAILED ($?)" >>"$out/summary.txt"; fi
}
minutes_left() {  # the budget left, less half a minute for packing the results
  python3 -c "import sys; print(max(0.5, round(float(sys.argv[1]) - (float(sys.argv[2]) + 30) / 60, 2)))" \
    "$budget" "$(( $(date +%s) - started ))"
}
resume=()
if [ ! -f "$work/search/config.json" ]; then  # the benchmarks once; later calls only continue the search
  if command -v nvidia-smi >/dev/null; then nvidia-smi -L >>"$out/summary.txt" 2>&1; fi
  step ratio_cifar python3 "$here/bench_training.py" --task cifar10 --device "$device" "${ratio[@]}" \
    --json "$out/ratio_cifar.json"
  step reference python3 "$here/bench_cifar.py" --device "$device" "${reference[@]}" \
    --max-minutes "${REFERENCE_MINUTES:-3}" --json "$out/reference.json"
else
  resume=(--resume)
fi
step search python3 -m nas search --task cifar10 --device "$device" --allow-partial-data --out "$work/search" \
  --time-limit "$(minutes_left)" --no-progress "${resume[@]}" "${search[@]}"
for f in report.md final.csv best_graph.png; do
  [ -f "$work/search/$f" ] && cp "$work/search/$f" "$out/$f"
done
tar -C "$(dirname "$work")" -czf "$out/work.tar.gz.tmp" "$(basename "$work")" && mv "$out/work.tar.gz.tmp" "$out/work.tar.gz"
echo "== done in $(( $(date +%s) - started )) s" >>"$out/summary.txt"
cat "$out/summary.txt"
