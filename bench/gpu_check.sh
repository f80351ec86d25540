#!/usr/bin/env bash
# Every GPU figure of issue 14 in one run: the first thing to run when a GPU is lent.
#
#   bash bench/gpu_check.sh [--scale full|tiny] [--out DIR]
#
# Parts, each a call of an existing benchmark script with flags (its own JSON + Markdown land in DIR):
#   gansynth   bench/bench_gansynth.py: mel_prog_hires training steps, XLA on/off x float32 / mixed_bfloat16,
#              model FLOPs per step (TF profiler) and MFU against the GPU's peak
#   synthesis  bench/bench_synthesis.py: 4 s notes per wall second, batched (notes and the MIDI path)
#   attention  bench/bench_music_transformer.py: relative attention at L = 2048, blocked, skew, naive and
#              the paper's plain skew (time, peak memory), a 6-layer model's training step at L = 1024
#              (blocked vs skew), and KV-cached generation
#   jsb        bench/jsb_experiment.py: a short paper-scale JSB Chorales run of both Transformers
# then bench/gpu_check_report.py joins them: DIR/gpu_check.json, DIR/gpu_check.md (printed).
#
# Scale (--scale, or GPU_CHECK_SCALE): "full" (default; under 8 minutes on one H100: each part has a
# wall-clock cap, GPU_CHECK_CAP_<PART> seconds, and one cut short is reported as such) or "tiny" (every
# part at toy sizes; runs on a CPU, for the test that keeps this script working).
# Output folder (--out, or GPU_CHECK_OUT): default bench/results/gpu. Python: $PYTHON, else .venv/bin/python,
# else python3. Exit status: 0 when every part finished, 1 otherwise.
set -u -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALE="${GPU_CHECK_SCALE:-full}"
OUT="${GPU_CHECK_OUT:-$ROOT/bench/results/gpu}"
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --scale=*) SCALE="${1#*=}"; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --scale full|tiny, --out DIR)" >&2; exit 2 ;;
  esac
done
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"
else PY=python3; fi

case "$SCALE" in
  full)
    GANSYNTH=(--presets mel_prog_hires --stages 6 --steps 10 --batch 8)
    SYNTHESIS=(--batch_sizes 1,8,32,128 --repeats 5)
    ATTENTION=(--lengths 2048 --naive_cap_gib 32 --events 1024 --repeats 5 --model_cases 1024:1)
    JSB=(--preset both --scale paper --steps 300 --eval_every 300 --max_minutes 1.0 --no_initial_eval --no_progress)
    CAPS=(160 90 120 110)
    ;;
  tiny)
    GANSYNTH=(--presets tiny --stages 0 --steps 2 --batch 4 --xla off)  # XLA compiles take minutes on a CPU
    SYNTHESIS=(--preset tiny --batch_sizes 1,2 --repeats 1 --zoo none)
    ATTENTION=(--lengths 64 --naive_cap_gib 1 --events 8 --repeats 1 --gen_model tiny --model_cases 64:1 --step_model tiny)
    JSB=(--preset both --scale tiny --steps 4 --eval_every 4 --valid_limit 2 --no_initial_eval --no_progress)
    CAPS=(300 300 300 300)
    ;;
  *) echo "gpu_check.sh: scale must be full or tiny, got '$SCALE'" >&2; exit 2 ;;
esac

mkdir -p "$OUT/logs"
OUT="$(cd "$OUT" && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
STATUS="$OUT/parts.tsv"
printf 'part\trc\tseconds\tcap_s\tcommand\n' > "$STATUS"

run_part() {  # name cap script args...
  local name="$1" cap="$2"; shift 2
  local var="GPU_CHECK_CAP_${name^^}"
  cap="${!var:-$cap}"
  echo "== gpu_check: $name (cap ${cap} s): $*" >&2
  local t0=$SECONDS rc=0
  timeout -k 15 "$cap" "$PY" "$@" --out "$OUT" > "$OUT/logs/$name.log" 2>&1 || rc=$?
  local dt=$((SECONDS - t0))
  echo "== gpu_check: $name: exit $rc in ${dt} s (log $OUT/logs/$name.log)" >&2
  [ "$rc" -eq 0 ] || tail -n 5 "$OUT/logs/$name.log" >&2
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$dt" "$cap" "python $*" >> "$STATUS"
}

run_part gansynth "${CAPS[0]}" bench/bench_gansynth.py "${GANSYNTH[@]}"
run_part synthesis "${CAPS[1]}" bench/bench_synthesis.py "${SYNTHESIS[@]}"
run_part attention "${CAPS[2]}" bench/bench_music_transformer.py "${ATTENTION[@]}"
run_part jsb "${CAPS[3]}" bench/jsb_experiment.py "${JSB[@]}"

"$PY" bench/gpu_check_report.py --out "$OUT" --scale "$SCALE"
