#!/usr/bin/env bash
# Language-model parity on data the tests never see: builds a 3-gram from the held-out set's
# sentences (Fixtures/make_heldout.sh) with KenLM's lmplz and build_binary, packages it with
# `deepspeech scorer build`, and transcribes the held-out clips with Coqui STT 1.4.0 and
# DeepSpeech 0.9.3 (../shared/peers/peer.py) and with swift-deepspeech, without and with a hot
# word. Prints per clip whether the transcripts are identical, and the counts.
#
#   KENLM=path/to/kenlm/build/bin Benchmarks/heldout-scorer-parity.sh [DIR]     (default /tmp/ds-heldout)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/ds-heldout}
kenlm=${KENLM:?set KENLM to the folder with lmplz and build_binary (see Fixtures/record_kenlm.py)}
peer=${PEER:-/work/shared/peers/peer.py}
peers_dir=${DS_PEERS_DIR:-$HOME/.cache/ds-peers}
[ -f "$dir/manifest.json" ] || Fixtures/make_heldout.sh "$dir" >&2
swift build -c release --product deepspeech >&2
ds=.build/release/deepspeech
model=Weights/armspeech.tflite
python3 - "$dir" > "$dir/lm-corpus.txt" <<'PY'
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("ms", "Fixtures/make_scorer.py"); ms = importlib.util.module_from_spec(spec); spec.loader.exec_module(ms)
for r in json.load(open(sys.argv[1] + "/manifest.json", encoding="utf-8")):
    print(ms.normalise(r["sentence"]))
PY
"$kenlm/lmplz" -o 3 --discount_fallback -S 10% < "$dir/lm-corpus.txt" > "$dir/heldout.arpa" 2>/dev/null
"$kenlm/build_binary" -a 255 -q 8 -v trie "$dir/heldout.arpa" "$dir/heldout.binary" >/dev/null 2>&1
tr ' ' '\n' < "$dir/lm-corpus.txt" | sort -u > "$dir/vocab.txt"
$ds scorer build --lm "$dir/heldout.binary" --vocab "$dir/vocab.txt" --model "$model" --alpha 0.93 --beta 1.18 --output "$dir/heldout.scorer"
hot=$(head -1 "$dir/lm-corpus.txt" | awk '{print $2}')
for run in plain hot; do
  extra=(); ours=()
  if [ $run = hot ]; then extra=(--hot-word "$hot:6"); ours=(--hot_words "$hot:6"); fi
  for engine in stt deepspeech; do
    python3 "$peer" --peers-dir "$peers_dir" --engine $engine --scorer "$dir/heldout.scorer" "${extra[@]}" "$dir"/ho-*.wav 2>/dev/null > "$dir/ref-$engine-$run.jsonl"
  done
  $ds --model "$model" --audio "$dir" --scorer "$dir/heldout.scorer" "${ours[@]}" --json --candidate_transcripts 1 > "$dir/ours-$run.jsonl"
  python3 - "$dir" "$run" "$hot" <<'PY'
import json, os, sys
d, run, hot = sys.argv[1:]
def load(p, key):
    out = {}
    for line in open(p, encoding="utf-8"):
        o = json.loads(line)
        out[os.path.basename(o["file"])] = o["text"] if key == "text" else (o["transcripts"][0]["text"] if o["transcripts"] else "")
    return out
stt, dsp, ours = load(f"{d}/ref-stt-{run}.jsonl", "text"), load(f"{d}/ref-deepspeech-{run}.jsonl", "text"), load(f"{d}/ours-{run}.jsonl", "t")
same = sum(ours[c] == stt[c] for c in stt)
same_ds = sum(ours[c] == dsp[c] for c in dsp)
for c in sorted(stt):
    print(f"{'same' if ours[c] == stt[c] else 'DIFF'}  {c}  coqui: {stt[c]!r}" + ("" if ours[c] == stt[c] else f"  ours: {ours[c]!r}"))
label = "no hot word" if run == "plain" else f"hot word {hot}:6"
print(f"held-out scorer parity ({label}): {same}/{len(stt)} identical to Coqui STT 1.4.0 ({100*same/len(stt):.1f}%), "
      f"{same_ds}/{len(dsp)} to DeepSpeech 0.9.3 (same scorer, built by deepspeech scorer build)")
PY
done
