#!/usr/bin/env bash
# Checkpoint import on models the tests never saw. Run by hand (not in CI); ~3-4 min on 2 cores.
#
# 1. Makes held-out models with other sizes and seeds than the committed fixtures, in
#    Fixtures/.work/heldout-checkpoints/ (git-ignored, never committed):
#    - TensorFlow DeepSpeech graphs n_hidden/n_cell 200/200 and 160/120, each as .pb, .pbmm and a
#      Saver V2 checkpoint (Fixtures/make_tensorflow_models.py's functions, TensorFlow 2.15);
#    - deepspeech.pytorch DeepSpeech2: bidirectional GRU H48 x 4 (V3 .ckpt), unidirectional LSTM
#      H40 x 3 lookahead 6 (v2.0 legacy .pth), bidirectional LSTM H64 x 2 (V2.1 zip .pth),
#      unidirectional plain tanh RNN H36 x 3 lookahead 5 (V3 .ckpt)
#      (Fixtures/make_deepspeech2_models.py's modules and writers, torch 2.13).
# 2. Makes held-out clips with Fixtures/make_heldout.sh and uses 6 of them (2 more calibrate the
#    DeepSpeech2 BatchNorm statistics).
# 3. Records the frameworks' probabilities: TensorFlow on the MFCC frames our engine dumped (so the
#    comparison isolates the network), separately for the .pb, the .pbmm (TensorFlow's own
#    ImmutableConst) and the checkpoint (tf.train.load_checkpoint); torch on the whole pipeline,
#    spectrogram included, from each file read back with torch.load.
# 4. Runs swift-deepspeech: `deepspeech inspect --dump` on each model and on its `deepspeech convert`
#    .dsmodel, and `deepspeech --model M --audio CLIPS --json` at beam width 1 and 500 on both.
# 5. Prints the table and exits 1 if any max |dp| exceeds 1e-5 or a .dsmodel transcribes differently.
#    The gate measures max |dp| against the framework's model in float64 (torch .double(); for
#    TensorFlow the fixture script's float64 numpy pass of the same graph): torch's own float32 run
#    is up to 1.4e-5 away from it on these models, so gating on float32 would test torch's rounding.
#    The float32 numbers are printed too; GATE=f32 gates on them as well.
#
# Needs Fixtures/.venv (TensorFlow) and Fixtures/.venv-torch (torch), espeak-ng + sox, and the
# reference engines for make_heldout.sh's reference.json (its clips are written before that step).
#
#   Benchmarks/heldout-checkpoints.sh     env: KEEP_CLIPS=0 regenerates the held-out clips; GATE=f32
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
phase() { echo "+ [$(( $(date +%s) - start )) s] $*" >&2; }
work=Fixtures/.work/heldout-checkpoints
tfpy=Fixtures/.venv/bin/python
torchpy=Fixtures/.venv-torch/bin/python
helper=Benchmarks/heldout_checkpoints.py
bin=$work/bin/deepspeech   # a private copy: other builds may replace .build/release/deepspeech mid-run
for py in "$tfpy" "$torchpy"; do
  [ -x "$py" ] || { echo "missing $py (see Fixtures/README.md)" >&2; exit 2; }
done
export TF_CPP_MIN_LOG_LEVEL=2 OMP_NUM_THREADS=1

# held-out clips (kept between runs unless KEEP_CLIPS=0: make_heldout.sh is deterministic)
if [ "${KEEP_CLIPS:-1}" = 0 ] || [ ! -f "$work/heldout/ho-24.wav" ]; then
  rm -rf "$work/heldout"
  mkdir -p "$work/heldout"
  # the clips are written before the reference engines run; those are not needed here
  Fixtures/make_heldout.sh "$work/heldout" >&2 || [ -f "$work/heldout/ho-24.wav" ]
fi
rm -rf "$work/clips" "$work/eval" "$work/models" "$work/dsmodel" "$work/dumps" "$work/ref" "$work/transcripts" "$work/models.tsv"
mkdir -p "$work/clips" "$work/dsmodel" "$work/dumps" "$work/ref" "$work/transcripts"
for c in $("$tfpy" "$helper" clips "$work"); do cp "$work/heldout/$c.wav" "$work/clips/"; done
eval_clips=$("$tfpy" -c "import sys; sys.path.insert(0, 'Benchmarks'); import heldout_checkpoints as h; print(' '.join(h.CLIPS))")
mkdir -p "$work/eval"
for c in $eval_clips; do cp "$work/clips/$c.wav" "$work/eval/"; done

phase "swift build -c release --product deepspeech"
# other work in the same tree may edit Sources/ during the build ("was modified during the build"): retry
for attempt in 1 2 3 4 5 6; do
  if swift build -c release --product deepspeech > "$work/build.log" 2>&1; then break; fi
  grep -q "modified during the build" "$work/build.log" && [ $attempt -lt 6 ] || { cat "$work/build.log" >&2; exit 2; }
  echo "  sources changed during the build; retrying in 30 s" >&2
  sleep 30
done
tail -1 "$work/build.log" >&2
mkdir -p "$work/bin"
cp .build/release/deepspeech "$bin"
echo "  using $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo ' + uncommitted changes in Sources/')" >&2

# the 40 Armenian labels of the committed .pb fixtures (TensorFlow checkpoints store none)
"$bin" inspect --model Fixtures/models/tensorflow/ds-h64.pb --json |
  "$tfpy" -c 'import json, sys; sys.stdout.write("".join(l + "\n" for l in json.load(sys.stdin)["alphabet"]))' > "$work/alphabet.txt"

phase "making held-out TensorFlow models"
"$tfpy" "$helper" make-tf "$work"
phase "making held-out DeepSpeech2 checkpoints and torch's probabilities"
"$torchpy" "$helper" make-ds2 "$work"

phase "swift-deepspeech: convert, inspect --dump, transcribe"
while IFS=$'\t' read -r id family fmt path needs_alphabet; do
  alpha=()
  [ "$needs_alphabet" = 1 ] && alpha=(--alphabet "$work/alphabet.txt")
  "$bin" convert --model "$path" "${alpha[@]}" --output "$work/dsmodel/$id.dsmodel" 2> "$work/dsmodel/$id.log"
  for m in "$path" "$work/dsmodel/$id.dsmodel"; do
    sub=$id
    a=("${alpha[@]}")
    case "$m" in *.dsmodel) sub=$id.dsmodel; a=() ;; esac
    for c in $eval_clips; do
      "$bin" inspect --model "$m" "${a[@]}" --audio "$work/clips/$c.wav" --dump "$work/dumps/$sub/$c" 2>/dev/null
    done
    "$bin" --model "$m" "${a[@]}" --audio "$work/eval" --json --candidate_transcripts 1 --beam_width 1 > "$work/transcripts/$sub.beam1.jsonl"
    "$bin" --model "$m" "${a[@]}" --audio "$work/eval" --json --candidate_transcripts 1 --beam_width 500 > "$work/transcripts/$sub.beam500.jsonl"
  done
  echo "  $id ($fmt): converted ($(stat -c %s "$work/dsmodel/$id.dsmodel") B), dumped and transcribed" >&2
done < "$work/models.tsv"

phase "TensorFlow's probabilities on our MFCC frames"
"$tfpy" "$helper" ref-tf "$work"

phase "comparing"
rc=0
"$tfpy" "$helper" compare "$work" "${GATE:-f64}" || rc=$?
echo "run time: $(( $(date +%s) - start )) s"
exit $rc
