#!/usr/bin/env bash
# Builds the libFuzzer binary (AddressSanitizer + libFuzzer) and runs every target for a given
# time with seed corpora from the fixtures and a dictionary per format, then prints a table of
# executions and findings per target. Inputs that crash, leak, run over 1 s or allocate over
# 512 MB are written to Fuzz/findings/<target>/.
#
#   Fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60, every target
#   targets: audio model lm alphabet multipart wyoming
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(audio model lm alphabet multipart wyoming)
scratch=.build-fuzz
(cd Fuzz && swift build -c release --scratch-path "../$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library) >&2
fuzzer=$(cd Fuzz && swift build -c release --scratch-path "../$scratch" --show-bin-path)/deepspeech-fuzz
corpus=$scratch/corpus

seed() {  # target: fill $corpus/target with seeds once
  local t=$1 dir=$corpus/$1
  [ -d "$dir" ] && return 0
  mkdir -p "$dir"
  case $t in
    audio)
      if command -v sox >/dev/null; then
        for spec in "-b 16 -e signed" "-b 8 -e unsigned" "-b 24 -e signed" "-b 32 -e float" "-b 16 -e signed -c 2"; do
          sox -n -r 16000 $spec "$dir/seed-${spec// /_}.wav" synth 0.05 sine 440 2>/dev/null || true
        done
        sox -n -r 16000 -b 16 "$dir/seed.flac" synth 0.05 sine 440 2>/dev/null || true
      fi
      head -c 4096 Fixtures/clips/hy-01.wav > "$dir/hy-01-head.wav" ;;
    model)
      cp Fixtures/models/tensorflow/ds-h64.pb Fixtures/models/tensorflow/ds-h64.pbmm Fixtures/models/tensorflow/ds-h64.ckpt.index \
         Fixtures/models/deepspeech2/evil-legacy.pth Fixtures/models/deepspeech2/evil-reduce-system.pth "$dir/"
      head -c 65536 Weights/armspeech.tflite > "$dir/armspeech-head.tflite" 2>/dev/null || true ;;
    lm)
      cp Fixtures/lm/hy.scorer Fixtures/lm/hy-chars.utf8.scorer Fixtures/lm/hy-3gram.v06.binary "$dir/"
      printf '\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-1.0\t<s>\t-0.5\n-0.5\t</s>\n-0.7\tab\t-0.3\n\n\\2-grams:\n-0.2\t<s> ab\n\n\\end\\\n' > "$dir/tiny.arpa" ;;
    alphabet)
      printf '# alphabet\n \na\nb\n\\#\n' > "$dir/a.txt"; printf ' \nա\nբ\n' > "$dir/b.txt" ;;
    multipart)
      printf -- '--fuzzbound\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--fuzzbound\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--fuzzbound--\r\n' > "$dir/form" ;;
    wyoming)
      printf '{"type": "describe"}\n{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, "payload_length": 4}\n\001\002\003\004{"type": "audio-stop", "data_length": 2}\n{}' > "$dir/events" ;;
  esac
}

echo "| target | seconds | executions | exec/s | findings |"
echo "| --- | --- | --- | --- | --- |"
status=0
for t in "${targets[@]}"; do
  seed "$t"
  findings=Fuzz/findings/$t
  mkdir -p "$findings"
  log=$scratch/fuzz-$t.log
  set +e
  FUZZ_TARGET=$t "$fuzzer" "$corpus/$t" -dict="Fuzz/dictionaries/$t.dict" -max_total_time="$seconds" -timeout=1 \
      -rss_limit_mb=512 -malloc_limit_mb=512 -max_len=262144 -artifact_prefix="$findings/" -print_final_stats=1 > "$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(( runs / (seconds > 0 ? seconds : 1) ))
  found=$(find "$findings" -type f | wc -l)
  echo "| $t | $seconds | $runs | $rate | $found |"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then status=1; echo "  $t: see $log and $findings" >&2; fi
done
exit $status
