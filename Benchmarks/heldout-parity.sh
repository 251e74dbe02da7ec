#!/usr/bin/env bash
# Parity on clips the tests never saw: generates the held-out set with Fixtures/make_heldout.sh
# (fresh sentences, other voices and speeds, some noisy; Coqui STT 1.4.0's transcripts in
# reference.json), transcribes the same files with swift-deepspeech, and counts identical
# transcripts. Needs the reference engines (../shared/peers/fetch.sh) and espeak-ng + sox.
#
# With --stream, both engines are fed 320 ms chunks through their streaming APIs (Coqui via
# peer.py --stream 320, ours via `deepspeech --stream 320 --json`) and a clip counts as
# identical only if every intermediate transcript and the final one are.
#
#   Benchmarks/heldout-parity.sh [DIR] [--stream]        default DIR: /tmp/ds-heldout
set -euo pipefail
cd "$(dirname "$0")/.."
dir=/tmp/ds-heldout
stream=
for a in "$@"; do
  case "$a" in --stream) stream=1 ;; *) dir=$a ;; esac
done
peer=${PEER:-/work/shared/peers/peer.py}
peers_dir=${DS_PEERS_DIR:-$HOME/.cache/ds-peers}
[ -f "$dir/reference.json" ] || Fixtures/make_heldout.sh "$dir" >&2
swift build -c release --product deepspeech >&2
if [ -n "$stream" ]; then
  if [ ! -f "$dir/reference-stream320.jsonl" ]; then
    python3 "$peer" --peers-dir "$peers_dir" --stream 320 "$dir"/ho-*.wav 2>/dev/null > "$dir/reference-stream320.jsonl"
  fi
  .build/release/deepspeech --audio "$dir" --stream 320 --json --candidate_transcripts 1 > "$dir/swift-deepspeech-stream320.jsonl"
else
  .build/release/deepspeech --audio "$dir" --json --candidate_transcripts 1 > "$dir/swift-deepspeech.jsonl"
fi
python3 - "$dir" "$stream" <<'PY'
import json, os, sys
d, stream = sys.argv[1], sys.argv[2] == "1"
def text(o): return o["transcripts"][0]["text"] if o["transcripts"] else ""
if stream:
    ref = {}
    for line in open(os.path.join(d, "reference-stream320.jsonl"), encoding="utf-8"):
        o = json.loads(line)
        ref[os.path.basename(o["file"])] = (o["intermediate"], o["text"])
    ours = {}
    for line in open(os.path.join(d, "swift-deepspeech-stream320.jsonl"), encoding="utf-8"):
        o = json.loads(line)
        ours[os.path.basename(o["file"])] = (o["intermediate"], text(o))
    same = partial_same = partial_total = 0
    for clip in sorted(ref):
        (ri, rt), (oi, ot) = ref[clip], ours.get(clip, ([], None))
        k = sum(a == b for a, b in zip(ri, oi))
        partial_same += k
        partial_total += len(ri)
        ok = ri == oi and rt == ot
        same += ok
        print(f"{'same' if ok else 'DIFF'}  {clip}  {k}/{len(ri)} intermediate  coqui: {rt!r}" + ("" if ok else f"  ours: {ot!r}"))
    print(f"held-out streaming parity (320 ms chunks): {same}/{len(ref)} clips with every intermediate and the final "
          f"transcript identical to Coqui STT 1.4.0 ({100.0 * same / len(ref):.1f}%); {partial_same}/{partial_total} intermediate transcripts")
else:
    ref = json.load(open(os.path.join(d, "reference.json"), encoding="utf-8"))
    ours = {}
    for line in open(os.path.join(d, "swift-deepspeech.jsonl"), encoding="utf-8"):
        o = json.loads(line)
        ours[os.path.basename(o["file"])] = text(o)
    same = 0
    for clip in sorted(ref):
        ok = ours.get(clip) == ref[clip]
        same += ok
        print(f"{'same' if ok else 'DIFF'}  {clip}  coqui: {ref[clip]!r}" + ("" if ok else f"  ours: {ours.get(clip)!r}"))
    print(f"held-out parity: {same}/{len(ref)} transcripts identical to Coqui STT 1.4.0 ({100.0 * same / len(ref):.1f}%)")
PY
