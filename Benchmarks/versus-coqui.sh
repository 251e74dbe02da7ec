#!/usr/bin/env bash
# Whole-process time and peak RSS of swift-deepspeech and Coqui STT 1.4.0 on the same model
# and audio, each pinned to CPU 0 (`taskset -c 0`), without and with a scorer, in one run.
# The reference engine runs through ../shared/peers/peer.py (fetch it with
# ../shared/peers/fetch.sh); its process includes the Python interpreter that drives the C API.
#
#   Benchmarks/versus-coqui.sh [AUDIO] [SCORER]
#       defaults: Fixtures/clips/long-hy.wav (54.8 s), Fixtures/lm/hy.scorer
set -euo pipefail
cd "$(dirname "$0")/.."
audio=${1:-Fixtures/clips/long-hy.wav}
scorer=${2:-Fixtures/lm/hy.scorer}
peer=${PEER:-../shared/peers/peer.py}
peers_dir=${DS_PEERS_DIR:-$HOME/.cache/ds-peers}
model=Weights/armspeech.tflite
swift build -c release --product deepspeech >&2
[ -f "$model" ] || Weights/fetch-default-model.sh >&2
seconds=$(soxi -D "$audio" 2>/dev/null || python3 -c "import wave,sys; w=wave.open(sys.argv[1]); print(w.getnframes()/w.getframerate())" "$audio")

measure() {  # label, command...: prints "label wall_s rss_mb" and keeps stdout in /tmp/bench.$label
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o /tmp/bench.time taskset -c 0 "$@" > "/tmp/bench.$label" 2>/dev/null
  read -r wall rss < /tmp/bench.time
  echo "$label $wall $((rss / 1024))"
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); swift-deepspeech $(.build/release/deepspeech --verbose --audio Fixtures/clips/hy-01.wav 2>&1 >/dev/null | grep -o 'int8 kernel [a-z0-9]*')"
echo "audio: $audio ($seconds s); model: $model"
for mode in plain scorer; do
  extra=(); peer_extra=()
  if [ "$mode" = scorer ]; then extra=(--scorer "$scorer"); peer_extra=(--scorer "$scorer"); fi
  read -r _ ours_wall ours_rss < <(measure "ours-$mode" .build/release/deepspeech --model "$model" "${extra[@]}" --audio "$audio")
  read -r _ coqui_wall coqui_rss < <(measure "coqui-$mode" python3 "$peer" --peers-dir "$peers_dir" --model "$model" "${peer_extra[@]}" "$audio")
  same=$(python3 - "$mode" <<'PY'
import json, sys
mode = sys.argv[1]
ours = open(f"/tmp/bench.ours-{mode}", encoding="utf-8").read().strip()
coqui = json.loads(open(f"/tmp/bench.coqui-{mode}", encoding="utf-8").read().splitlines()[0])["text"].strip()
print("yes" if ours == coqui else "NO")
PY
)
  python3 - "$mode" "$seconds" "$ours_wall" "$ours_rss" "$coqui_wall" "$coqui_rss" "$same" <<'PY'
import sys
mode, audio, ow, orss, cw, crss, same = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5]), sys.argv[6], sys.argv[7]
label = "with scorer" if mode == "scorer" else "no scorer"
print(f"| {label} | {ow:.2f} s (RTF {ow/audio:.3f}), {orss} MB | {cw:.2f} s (RTF {cw/audio:.3f}), {crss} MB | {ow/cw:.2f}x | {same} |")
PY
done
