#!/usr/bin/env bash
# Parity on clips the tests never saw: generates the held-out set with Fixtures/make_heldout.sh
# (fresh sentences, other voices and speeds, some noisy; Coqui STT 1.4.0's transcripts in
# reference.json), transcribes the same files with swift-deepspeech, and counts identical
# transcripts. Needs the reference engines (../shared/peers/fetch.sh) and espeak-ng + sox.
#
#   Benchmarks/heldout-parity.sh [DIR]        default DIR: /tmp/ds-heldout
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/ds-heldout}
[ -f "$dir/reference.json" ] || Fixtures/make_heldout.sh "$dir" >&2
swift build -c release --product deepspeech >&2
.build/release/deepspeech --audio "$dir" --json --candidate_transcripts 1 > "$dir/swift-deepspeech.jsonl"
python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
ref = json.load(open(os.path.join(d, "reference.json"), encoding="utf-8"))
ours = {}
for line in open(os.path.join(d, "swift-deepspeech.jsonl"), encoding="utf-8"):
    o = json.loads(line)
    ours[os.path.basename(o["file"])] = o["transcripts"][0]["text"] if o["transcripts"] else ""
same = 0
for clip in sorted(ref):
    ok = ours.get(clip) == ref[clip]
    same += ok
    print(f"{'same' if ok else 'DIFF'}  {clip}  coqui: {ref[clip]!r}" + ("" if ok else f"  ours: {ours.get(clip)!r}"))
print(f"held-out parity: {same}/{len(ref)} transcripts identical to Coqui STT 1.4.0 ({100.0 * same / len(ref):.1f}%)")
PY
