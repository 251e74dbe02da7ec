#!/usr/bin/env bash
# Downloads the default model: the released Coqui STT model "armspeech" 0.1.4 (Armenian,
# DeepSpeech 0.9 architecture, int8 weights, MIT licence) from the Python package registry,
# checks its SHA-256 and stores it as Weights/armspeech.tflite (ignored by git).
#
#   Weights/fetch-default-model.sh [OUTPUT]      default OUTPUT: Weights/armspeech.tflite
#
# Needs python3 with pip (only to download; nothing is installed). Safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/armspeech.tflite}
model_sha=3b834da11f2d0a1a5079b44dd5d5da2b1955dec56474ba11b4c3793e934787bc
sdist_sha=29723aee9b13f59c77970b3087f10552aebaadc1ca2fba42bf81ab397c507d9f

if [ -f "$out" ] && echo "$model_sha  $out" | sha256sum -c --quiet - 2>/dev/null; then
  echo "$out"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-default-model: downloading armspeech 0.1.4 (source distribution, about 21 MB) from PyPI ..." >&2
# The sdist declares Python < 3.11, hence --python-version 3.10; --no-deps because nothing is installed.
python3 -m pip download --no-deps --disable-pip-version-check --progress-bar on \
  --python-version 3.10 --no-binary=:none: -d "$tmp" armspeech==0.1.4 >&2
echo "$sdist_sha  $tmp/armspeech-0.1.4.tar.gz" | sha256sum -c --quiet - >&2 \
  || { echo "fetch-default-model: checksum mismatch for armspeech-0.1.4.tar.gz" >&2; exit 1; }
tar -xzf "$tmp/armspeech-0.1.4.tar.gz" -C "$tmp" armspeech-0.1.4/src/model/model.tflite
echo "$model_sha  $tmp/armspeech-0.1.4/src/model/model.tflite" | sha256sum -c --quiet - >&2 \
  || { echo "fetch-default-model: checksum mismatch for model.tflite" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
mv "$tmp/armspeech-0.1.4/src/model/model.tflite" "$out.part"
mv "$out.part" "$out"
echo "fetch-default-model: stored $out (sha256 $model_sha)" >&2
echo "$out"
