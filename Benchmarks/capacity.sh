#!/usr/bin/env bash
# Server capacity on the same cores: N live streams at once (320 ms chunks, an intermediate
# decode after each), swift-deepspeech (one shared model, CapacityBenchmark) against Coqui STT
# 1.4.0 (one model and stream per thread, Benchmarks/capacity_coqui.py through
# ../shared/peers/peer.py), both pinned to the same CPUs, in one run. Prints a Markdown table.
#
#   Benchmarks/capacity.sh [CPUS] [SECONDS] [STREAMS...]     defaults: 0,1  30  1 2 4 8
set -euo pipefail
cd "$(dirname "$0")/.."
cpus=${1:-0,1}
seconds=${2:-30}
shift $(( $# > 2 ? 2 : $# ))
counts=("$@"); [ ${#counts[@]} -gt 0 ] || counts=(1 2 4 8)
peers_dir=${DS_PEERS_DIR:-$HOME/.cache/ds-peers}
swift build -c release --product CapacityBenchmark >&2
[ -f Weights/armspeech.tflite ] || Weights/fetch-default-model.sh >&2
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), pinned to $cpus; $seconds s of audio per stream"
echo
echo "| streams | swift-deepspeech: audio s/s, chunk p50 / p99, RSS | Coqui STT 1.4: audio s/s, chunk p50 / p99, RSS | capacity ratio |"
echo "| --- | --- | --- | --- |"
for n in "${counts[@]}"; do
  ours=$(taskset -c "$cpus" .build/release/CapacityBenchmark --streams "$n" --seconds "$seconds" --model Weights/armspeech.tflite --json)
  coqui=$(taskset -c "$cpus" python3 Benchmarks/capacity_coqui.py --peers-dir "$peers_dir" --model Weights/armspeech.tflite --streams "$n" --seconds "$seconds" 2>/dev/null)
  python3 - "$n" "$ours" "$coqui" <<'PY'
import json, sys
n, o, c = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
cell = lambda r: f"{r['audio_seconds_per_second']:.1f}, {r['chunk_p50_ms']:.0f} / {r['chunk_p99_ms']:.0f} ms, {r['peak_rss_mb']:.0f} MB"
print(f"| {n} | {cell(o)} | {cell(c)} | {o['audio_seconds_per_second'] / c['audio_seconds_per_second']:.2f}x |")
PY
done
