#!/usr/bin/env bash
# Records what the reference engines say for every 16 kHz clip, through their C APIs
# (/work/shared/peers/peer.py), into Fixtures/reference/peers/:
#
#   stt-beam500-c3.json        Coqui STT 1.4.0, beam width from model metadata (500), 3 candidates
#   stt-beam1-c3.json          Coqui STT 1.4.0, --beam-width 1, 3 candidates
#   deepspeech-beam500-c3.json Mozilla DeepSpeech 0.9.3, beam width from metadata (500), 3 candidates
#   deepspeech-beam1-c3.json   Mozilla DeepSpeech 0.9.3, --beam-width 1, 3 candidates
#   stt-converted-formats.json Coqui STT 1.4.0, beam 500, 3 candidates, on sox-converted 16 kHz mono
#                              16-bit copies of hy-01-44k-stereo-float.wav and hy-02-8k.wav
#
# Each file is one JSON object keyed by clip file name; each value is peer.py's record without
# "file" (absolute path) and "seconds" (timing): {engine, text, audio_seconds, candidates:
# [{confidence, text, tokens: [{text, timestep, start_time}]}]}. No scorer (no language model).
#
# Usage: Fixtures/record_peers.sh            (env: PEER=path/to/peer.py, DS_PEERS_DIR=...)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
clips=$here/clips
out=$here/reference/peers
peer=${PEER:-/work/shared/peers/peer.py}
peers_dir=${DS_PEERS_DIR:-$HOME/.cache/ds-peers}
mkdir -p "$out"
[ -f "$peers_dir/armspeech.tflite" ] || { echo "record_peers: no $peers_dir/armspeech.tflite (run /work/shared/peers/fetch.sh)" >&2; exit 1; }

wavs=()
for i in $(seq -w 1 12); do wavs+=("$clips/hy-$i.wav"); done
wavs+=("$clips/long-hy.wav")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# collect OUT.json  < JSON lines from peer.py ; optional env NOTE is added to every record
collect() {
  python3 -c '
import json, os, sys
out, note = sys.argv[1], os.environ.get("NOTE")
recs = {}
for line in sys.stdin:
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    name = os.path.basename(r.pop("file"))
    r.pop("seconds", None)
    if note:
        r["converted_with"] = note.replace("IN", name)
    recs[name] = r
with open(out, "w", encoding="utf-8") as f:
    f.write("{\n")
    f.write(",\n".join(json.dumps(k, ensure_ascii=False) + ": " + json.dumps(v, ensure_ascii=False, separators=(",", ":")) for k, v in recs.items()))
    f.write("\n}\n")
print(f"wrote {out}: {len(recs)} clips", file=sys.stderr)
' "$1"
}

run_peer() { # out-name, peer args...
  local name=$1; shift
  echo "+ python3 $peer --peers-dir $peers_dir $* <${#wavs[@]} clips>  > $out/$name" >&2
  python3 "$peer" --peers-dir "$peers_dir" "$@" "${wavs[@]}" 2>"$tmp/stderr" | collect "$out/$name"
  grep -v -E '^(TensorFlow|DeepSpeech|Coqui STT|INFO: Created TensorFlow Lite XNNPACK)' "$tmp/stderr" >&2 || true
}

run_peer stt-beam500-c3.json --engine stt --candidates 3
run_peer stt-beam1-c3.json --engine stt --beam-width 1 --candidates 3
run_peer deepspeech-beam500-c3.json --engine deepspeech --candidates 3
run_peer deepspeech-beam1-c3.json --engine deepspeech --beam-width 1 --candidates 3

# The two other-format clips, converted to what the engines accept.
conv=$tmp/conv
mkdir -p "$conv"
for f in hy-01-44k-stereo-float.wav hy-02-8k.wav; do
  echo "+ sox -D $clips/$f -r 16000 -c 1 -b 16 -e signed-integer $conv/$f" >&2
  sox -D "$clips/$f" -r 16000 -c 1 -b 16 -e signed-integer "$conv/$f"
done
echo "+ python3 $peer --engine stt --candidates 3 <converted clips> > $out/stt-converted-formats.json" >&2
python3 "$peer" --peers-dir "$peers_dir" --engine stt --candidates 3 "$conv/hy-01-44k-stereo-float.wav" "$conv/hy-02-8k.wav" 2>/dev/null |
  NOTE="sox -D IN -r 16000 -c 1 -b 16 -e signed-integer IN.16k.wav (sox 14.4.2, no dither), then Coqui STT 1.4.0 beam 500" \
  collect "$out/stt-converted-formats.json"

python3 - "$out" <<'EOF'
import json, os, sys
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    print(f"== {name}")
    for clip, r in json.load(open(os.path.join(d, name), encoding="utf-8")).items():
        print(f"  {clip:28s} {r['text']}")
EOF
