#!/usr/bin/env bash
# Speed of this engine against PyTorch on a DeepSpeech2 of the RELEASED size, in one run on one
# machine (run by hand, not in CI).
#
# Models (seeded random weights, written once to Fixtures/.work/ds2-speed/, git-ignored):
#   ds2-bilstm-h1024x5          deepspeech.pytorch V3's default BiDirectionalConfig: LSTM, hidden 1024,
#                               5 layers, 29 labels, 16 kHz, 20 ms window / 10 ms step (86.6M parameters)
#   ds2-unilstm-h1024x5-la20    UniDirectionalConfig: the same, unidirectional, lookahead 20 (43.5M)
# built and saved as V3 Lightning .ckpt with the module tree, weight initialisation and writers of
# Fixtures/make_deepspeech2_models.py (see Benchmarks/deepspeech2_speed.py).
#
# Clips: the first 10 s of Fixtures/clips/long-hy.wav and the whole of it (54.8 s).
#
# PyTorch: deepspeech.pytorch's inference pipeline (spectrogram as the fixture script computes it,
#   eval + torch.no_grad forward with softmax, greedy decoding), torch.set_num_threads(1), one
#   warm-up then best of REPEAT, one process per model and clip (peak RSS = getrusage).
# Ours: .build/release/deepspeech --model M --audio CLIP --beam_width 1 --verbose, best of REPEAT
#   runs (the --verbose line splits audio / features / acoustic model / decoding), peak RSS from
#   /usr/bin/time; the converted .dsmodel the same, DSMODEL_REPEAT runs; load time = wall time of
#   `deepspeech inspect --model M`, best of 3.
# Both pinned to core $CORE with taskset when there is one, OPENBLAS/OMP/MKL threads = 1.
# Agreement: max |dp| between torch's probabilities and `deepspeech inspect --dump`'s on the 10 s clip.
#
#   Benchmarks/deepspeech2-speed.sh
#   env: VARIANTS="bilstm unilstm" REPEAT=3 DSMODEL_REPEAT=1 CORE=1 CLIPS="10s 55s" (10s is needed)
#        (OPENBLAS_CORETYPE, if set, is passed through and printed)
# Needs Fixtures/.venv-torch (Fixtures/requirements-torch.txt), sox, /usr/bin/time. About 15 minutes
# on a 2-core Xeon for both variants (model generation adds ~1.5 minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
W=Fixtures/.work/ds2-speed
PY=Fixtures/.venv-torch/bin/python
HELP=Benchmarks/deepspeech2_speed.py
VARIANTS=${VARIANTS:-"bilstm unilstm"}
REPEAT=${REPEAT:-3}
DSMODEL_REPEAT=${DSMODEL_REPEAT:-1}
CORE=${CORE:-1}
CLIPS=${CLIPS:-"10s 55s"}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
started=$(date +%s)
mkdir -p "$W"

PIN=()
if command -v taskset > /dev/null && taskset -c "$CORE" true 2> /dev/null; then PIN=(taskset -c "$CORE"); fi

# the release CLI (another build may hold .build's lock: wait and retry)
for attempt in $(seq 1 30); do
  if swift build -c release --product deepspeech > "$W/build.log" 2>&1; then break; fi
  if [ "$attempt" = 30 ] || ! grep -qi "lock" "$W/build.log"; then cat "$W/build.log" >&2; exit 1; fi
  echo "swift build: waiting for another build's lock ($attempt)" >&2
  sleep 20
done
DS=.build/release/deepspeech

[ -f "$W/clip-10s.wav" ] || sox Fixtures/clips/long-hy.wav "$W/clip-10s.wav" trim 0 10
[ -f "$W/clip-55s.wav" ] || cp Fixtures/clips/long-hy.wav "$W/clip-55s.wav"

# shellcheck disable=SC2086
"$PY" "$HELP" make "$W" $VARIANTS

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

echo
echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|L2 cache|L3 cache|Hypervisor vendor):' | sed 's/^/  /'
echo "  pinned: ${PIN[*]:-no (taskset missing or core $CORE absent)}"
echo "  threads: OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS OMP_NUM_THREADS=$OMP_NUM_THREADS MKL_NUM_THREADS=$MKL_NUM_THREADS, torch.set_num_threads(1)"
echo "  OpenBLAS core our engine gets: $(OPENBLAS_VERBOSE=2 "$DS" --version 2>&1 | sed -n 's/^Core: //p' | head -1)${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}"
echo "  torch: $("$PY" -c 'import torch; print(torch.__version__, "|", torch.backends.cpu.get_cpu_capability(), "| MKL", torch.backends.mkl.is_available(), "| oneDNN", torch.backends.mkldnn.is_available())')"
echo "  $("$DS" --version)"
echo "  repeats: PyTorch 1 warm-up + $REPEAT, ours .ckpt $REPEAT, ours .dsmodel $DSMODEL_REPEAT"

results=$W/results.jsonl
: > "$results"
loads=()
agree=()
for variant in $VARIANTS; do
  name=$("$PY" "$HELP" name "$variant")
  ckpt=$W/$name.ckpt
  dsm=$W/$name.dsmodel
  t0=$(now)
  "$DS" convert --model "$ckpt" --output "$dsm" > "$W/$name.convert.log" 2>&1 || { cat "$W/$name.convert.log" >&2; exit 1; }
  convert_s=$(secs "$t0" "$(now)")
  line="$name: convert $(printf '%.2f' "$convert_s") s; load (deepspeech inspect, best of 3):"
  for m in "$ckpt" "$dsm"; do
    best=
    for _ in 1 2 3; do
      t0=$(now); "${PIN[@]}" "$DS" inspect --model "$m" > /dev/null; t=$(secs "$t0" "$(now)")
      if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    line="$line ${m##*.} $(printf '%.3f' "$best") s ($(du -m "$m" | cut -f1) MB),"
  done
  for clip in $CLIPS; do
    audio=$W/clip-$clip.wav
    echo "-- $name, $clip: PyTorch" >&2
    probs=()
    [ "$clip" = 10s ] && probs=(--probs "$W/$name.torch.10s.probs.npy")
    row=$("${PIN[@]}" "$PY" "$HELP" torch "$ckpt" "$audio" --repeat "$REPEAT" "${probs[@]}")
    echo "$row" >> "$results"
    if [ "$clip" = 10s ]; then
      line="$line PyTorch torch.load + rebuild $("$PY" -c 'import json,sys; print("%.3f s" % json.loads(sys.argv[1])["load_s"])' "$row")"
    fi
    for kind in ckpt dsmodel; do
      m=$W/$name.$kind
      n=$REPEAT; [ "$kind" = dsmodel ] && n=$DSMODEL_REPEAT
      echo "-- $name, $clip: ours .$kind x $n" >&2
      files=()
      for i in $(seq 1 "$n"); do
        base=$W/run.$name.$kind.$clip.$i
        /usr/bin/time -f "%e %M" -o "$base.time" "${PIN[@]}" "$DS" --model "$m" --audio "$audio" --beam_width 1 --verbose \
          > "$base.txt" 2> "$base.stderr" || { cat "$base.stderr" >&2; exit 1; }
        files+=("$base.stderr" "$base.time")
      done
      "$PY" "$HELP" ours "ours .$kind" "$name.ckpt" "clip-$clip.wav" "${files[@]}" >> "$results"
    done
  done
  loads+=("$line")
  rm -rf "$W/$name.dump.10s"
  "${PIN[@]}" "$DS" inspect --model "$ckpt" --audio "$W/clip-10s.wav" --dump "$W/$name.dump.10s" > /dev/null 2>&1
  agree+=("$name, 10 s clip, ours (.ckpt) vs PyTorch: $("$PY" "$HELP" compare "$W/$name.torch.10s.probs.npy" "$W/$name.dump.10s")")
done

echo
echo "== speed (seconds; best of the runs)"
"$PY" "$HELP" table "$results"
echo
echo "== load"
printf '  %s\n' "${loads[@]}"
echo
echo "== agreement (probabilities, blank reordered to the model's class order)"
printf '  %s\n' "${agree[@]}"
echo
echo "rows: $results; run time $(( $(date +%s) - started )) s"
