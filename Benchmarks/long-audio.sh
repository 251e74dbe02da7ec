#!/usr/bin/env bash
# Long audio in constant memory: transcribes a one-minute and a one-hour file with the
# `deepspeech` CLI (block-by-block reading, one stream for the whole file, no --segment) and
# prints each run's wall time and peak RSS (GNU time), pinned to one core.
#
# The files are the 54.8 s fixture clip repeated: 1 min = 60 s of it, 1 h = 66 copies cut to
# 3600 s (sox). Needs sox and /usr/bin/time. Takes about 0.7 x the audio's length.
#
#   Benchmarks/long-audio.sh [DIR] [--segment]     default DIR: /tmp/ds-long
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/ds-long}
shift || true
mkdir -p "$dir"
[ -f "$dir/one-minute.wav" ] || sox -D Fixtures/clips/long-hy.wav "$dir/one-minute.wav" repeat 1 trim 0 60
[ -f "$dir/one-hour.wav" ] || sox -D Fixtures/clips/long-hy.wav "$dir/one-hour.wav" repeat 65 trim 0 3600
swift build -c release --product deepspeech >&2
model=$(ls Weights/armspeech.tflite)
for f in one-minute one-hour; do
  OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "%e %M" -o "$dir/$f.time" taskset -c 0 \
    .build/release/deepspeech --model "$model" --audio "$dir/$f.wav" "$@" > "$dir/$f.txt" 2> "$dir/$f.stderr" || { cat "$dir/$f.stderr" >&2; exit 1; }
  read -r seconds kib < "$dir/$f.time"
  printf '%-10s  audio %6.0f s  wall %7.1f s  RTF %.3f  peak RSS %6.1f MB  transcript %d characters\n' \
    "$f" "$(soxi -D "$dir/$f.wav")" "$seconds" "$(echo "$seconds / $(soxi -D "$dir/$f.wav")" | bc -l)" "$(echo "$kib / 1024" | bc -l)" "$(wc -m < "$dir/$f.txt")"
done
