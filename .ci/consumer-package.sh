#!/usr/bin/env bash
# Builds a small package that depends on swift-deepspeech by version number
# (`.package(url:from:)`), runs it on a bundled clip and checks that it prints the same
# transcript as this checkout's CLI. This is what a downstream user's build does: SwiftPM
# refuses unsafe flags in remote dependencies, so this fails if any library target gains one.
#
#   .ci/consumer-package.sh        (after `swift build -c release`, which makes the CLI)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
version=0.1.0

# This checkout's package (manifest and sources, as they are now) in a git repository of its
# own, tagged with the version the consumer asks for: works whether or not the checkout is a
# git clone, and never touches its tags.
mkdir -p "$work/swift-deepspeech"
cp -R "$root/Package.swift" "$root/Sources" "$root/Benchmarks" "$root/Tests" "$work/swift-deepspeech/"
(
  cd "$work/swift-deepspeech"
  git init -q
  git add -A
  git -c user.name=ci -c user.email=ci@localhost commit -qm "swift-deepspeech for the consumer check"
  git -c user.name=ci -c user.email=ci@localhost tag -a "$version" -m "$version"
)

mkdir -p "$work/consumer/Sources/Consumer"
sed -e "s|@REPOSITORY@|$work/swift-deepspeech|" -e "s|@VERSION@|$version|" \
  "$root/.ci/consumer/Package.swift.in" > "$work/consumer/Package.swift"
cp "$root/.ci/consumer/Sources/Consumer/main.swift" "$work/consumer/Sources/Consumer/"

echo "consumer: building against swift-deepspeech $version by version number"
(cd "$work/consumer" && swift build -c release --product Consumer 2>&1 | grep -Ev "system-packager|^\[" || true)
[ -x "$work/consumer/.build/release/Consumer" ] || { echo "consumer: build failed"; exit 1; }

model="$root/Weights/armspeech.tflite"
clip="$root/Fixtures/clips/hy-01.wav"
[ -f "$model" ] || "$root/Weights/fetch-default-model.sh"
theirs="$("$work/consumer/.build/release/Consumer" "$model" "$clip")"
ours="$("$root/.build/release/deepspeech" --model "$model" --audio "$clip" 2>/dev/null)"
echo "consumer: \"$theirs\""
if [ "$theirs" != "$ours" ]; then
  echo "consumer: transcript differs from the CLI's: \"$ours\""
  exit 1
fi
echo "consumer: same transcript as the CLI"

# Speed through the library product, against the CLI, on the 54.8 s clip (informational).
long="$root/Fixtures/clips/long-hy.wav"
t0=$(date +%s.%N); "$work/consumer/.build/release/Consumer" "$model" "$long" >/dev/null 2>&1; t1=$(date +%s.%N)
"$root/.build/release/deepspeech" --model "$model" --audio "$long" >/dev/null 2>&1; t2=$(date +%s.%N)
python3 -c "import sys; c, o = float(sys.argv[2]) - float(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print(f'consumer: long-hy.wav in {c:.2f} s through the library product, {o:.2f} s through the CLI (ratio {c / o:.2f})')" "$t0" "$t1" "$t2"
