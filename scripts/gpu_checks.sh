#!/usr/bin/env bash
# The GPU figures docs/benchmarks.md still lacks, in one run (for a session lent a GPU).
#
#   bash scripts/gpu_checks.sh OUTDIR            # on the GPU machine, data in $NAS_DATA_DIR
#   SMOKE=1 DEVICE=cpu bash scripts/gpu_checks.sh /tmp/out   # the same steps, tiny, to test the script
#
# Each step writes its log (and JSON figures where the script has them) to OUTDIR and goes on if
# one fails; the step-cost fits come first because the population plans depend on them.
set -u
out="${1:?usage: gpu_checks.sh OUTDIR}"
mkdir -p "$out" && [ -w "$out" ] || { echo "gpu_checks.sh: cannot write to $out" >&2; exit 1; }
here="$(cd "$(dirname "$0")" && pwd)"
device="${DEVICE:-cuda}"
if [ -n "${SMOKE:-}" ]; then
  n_ff=4; n_rnn=3; subset=(--train-subset 256); fit=(--fit-samples 3 --repeats 1)
else
  n_ff=256; n_rnn=64; subset=(); fit=()
fi
step() {  # step NAME COMMAND...: run, log, never stop the others
  local name="$1"; shift
  echo "== $name: $*" | tee -a "$out/summary.txt"
  if "$@" >"$out/$name.log" 2>&1; then tail -n 3 "$out/$name.log" >>"$out/summary.txt"; else echo "FAILED ($?)" >>"$out/summary.txt"; fi
}
step grouping_ff python3 "$here/bench_grouping.py" --device "$device" --n "$n_ff" --fit "${fit[@]}"
step grouping_rnn python3 "$here/bench_grouping.py" --task reber --device "$device" --n "$n_rnn" --fit "${fit[@]}"
step ratio_mnist python3 "$here/bench_training.py" --device "$device" --n "$n_ff" --epochs 1 "${subset[@]}" \
  --target-epochs 1 --json "$out/ratio_mnist.json"
step ratio_reber python3 "$here/bench_training.py" --task reber --device "$device" --n "$n_rnn" --epochs 1 \
  "${subset[@]}" --json "$out/ratio_reber.json"
# The paper's Reber study (nas priors evaluate --preset stier2021-reber): 4 cells x 2 priors x 100
# graphs x 2 seeds at the paper's budget, streamed to a resumable ledger. Past the per-command
# limit, run the same line again with --resume; the report comes at the end.
if [ -n "${SMOKE:-}" ]; then
  study_args=(--per-prior 2 --epochs 1 --train train_subset=256 --train val_subset=128 --train test_subset=256)
else
  study_args=()
fi
resume=(); [ -f "$out/stier2021-reber/study.json" ] && resume=(--resume)
step study_stier2021_reber python3 -m nas priors evaluate --preset stier2021-reber --seeds 2 --device "$device" \
  --out "$out/stier2021-reber" --no-progress "${study_args[@]}" "${resume[@]}"
cat "$out/summary.txt"
