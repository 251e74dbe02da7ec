#!/usr/bin/env python3
"""Prints the agreement tables quoted in Fixtures/README.md (markdown) from the recorded JSON
files. Standard library only.

Usage: python3 Fixtures/report.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
R = os.path.join(HERE, "reference")


def load(*parts):
    p = os.path.join(R, *parts)
    return json.load(open(p, encoding="utf-8")) if os.path.exists(p) else None


def main():
    manifest = {m["file"]: m for m in json.load(open(os.path.join(HERE, "clips", "manifest.json"), encoding="utf-8"))}
    lit = load("litert", "summary.json") or {}
    peers = {n: load("peers", f"{n}.json") for n in
             ("stt-beam500-c3", "stt-beam1-c3", "deepspeech-beam500-c3", "deepspeech-beam1-c3")}
    checks = {b: load("litert", f"ctc-check-beam{b}.json") for b in (1, 500)}

    print("### Transcripts: peers vs LiteRT greedy\n")
    print("| clip | sentence | STT 1.4 beam 500 | STT 1.4 beam 1 | LiteRT greedy (argmax, collapse, drop blank 40) | greedy == STT beam 1 |")
    print("|---|---|---|---|---|---|")
    for clip, s in lit.items():
        if not clip.startswith("hy-"):
            continue
        b500 = peers["stt-beam500-c3"][clip]["text"]
        b1 = peers["stt-beam1-c3"][clip]["text"]
        print(f"| {clip} | {manifest[clip]['sentence']} | `{b500}` | `{b1}` | `{s['greedy']}` | {'yes' if s['greedy'] == b1 else 'no'} |")
    print()

    print("### Python port of the STT 1.4 decoder run on the LiteRT probabilities\n")
    print("Top-1 text / token timesteps equal to the engine's, and confidence difference (python - engine).\n")
    print("| clip | beam 1 vs STT 1.4 | beam 1 vs DS 0.9.3 | beam 500 vs STT 1.4 | beam 500 vs DS 0.9.3 |")
    print("|---|---|---|---|---|")
    clips = sorted({clip for b in checks.values() if b for per_engine in b.values()
                    for e in per_engine.values() for clip in e})
    for clip in clips:
        cells = []
        for b in (1, 500):
            for eng in ("stt", "deepspeech"):
                rows = (((checks.get(b) or {}).get(f"beam{b}") or {}).get(eng) or {}).get(clip)
                if not rows:
                    cells.append("")
                    continue
                r = rows[0]
                same = "same text+timesteps" if r["text_equal"] and r["timesteps_equal"] else (
                    "same text, other timesteps" if r["text_equal"] else "**different text**")
                cells.append(f"{same}, Δconf {r['confidence_diff']:+.1e}")
        print(f"| {clip} | " + " | ".join(cells) + " |")
    print()

    tf = load("tf", "summary.json")
    if tf:
        print("### MFCC: TensorFlow (tf.raw_ops, whole clip) vs LiteRT (model's Mfcc subgraph, one window at a time)\n")
        print(f"tensorflow {tf['tensorflow']}\n")
        print("| clip | TF frames | LiteRT frames (incl. tail) | max abs diff over the common frames | bit-identical frames |")
        print("|---|---|---|---|---|")
        for clip, s in tf["clips"].items():
            if "max_abs_diff_vs_litert" in s:
                print(f"| {clip} | {s['frames']} | {s['litert_frames']} | {s['max_abs_diff_vs_litert']:.3g} | "
                      f"{s['frames_bit_identical_vs_litert']}/{s['frames']} |")
            else:
                print(f"| {clip} | {s['frames']} | - | - | - |")
        print()

    if any("xnnpack_max_abs_prob_diff" in s for s in lit.values()):
        print("### LiteRT default delegates (XNNPACK) vs builtin kernels\n")
        print("| clip | max abs prob diff | greedy equal |")
        print("|---|---|---|")
        for clip, s in lit.items():
            if "xnnpack_max_abs_prob_diff" in s:
                print(f"| {clip} | {s['xnnpack_max_abs_prob_diff']:.3g} | {'yes' if s['xnnpack_greedy'] == s['greedy'] else 'no'} |")
        print()


if __name__ == "__main__":
    main()
