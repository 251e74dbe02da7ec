#!/usr/bin/env python3
"""Records what KenLM's lmplz --prune writes, the reference for KneserNeyEstimator's pruning.

1. Fixtures/lm/corpus-hy.normalised.txt (50 Armenian sentences, made by make_scorer.py): lmplz
   -o 3 and -o 4 with --prune 0 0 1, 0 1 1 and 0 1 2, and -o 4 --prune 1 (unigrams too) ->
   Fixtures/lm/hy-<N>gram-prune<T>.arpa.
2. ../shared/data/deepspeech-smoke-test/vocab.txt (DeepSpeech's smoke-test training text, 501
   English lines, 13,343 words; not in this repository): lmplz -o 3 --prune 0 1 2 and -o 4
   --prune 0 1 1 -> Fixtures/lm/en-3gram-prune012.arpa, en-4gram-prune011.arpa.
3. build_binary -v trie of hy-4gram-prune011.arpa and hy-4gram-prune012.arpa (its 4-gram
   section is empty) -> Fixtures/lm/hy-4gram-prune011.trie.bin, hy-4gram-prune012.trie.bin, the
   reference for KenLMTrieWriter on pruned input.

Every lmplz run: `lmplz -o N --discount_fallback -S 10% --prune T...` with the text on stdin.

    python3 Fixtures/make_pruned_lms.py --kenlm KENLM_BUILD/bin   (KenLM 0.3.0 as in record_kenlm.py)
"""
import argparse, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/data"

HY = os.path.join(HERE, "lm", "corpus-hy.normalised.txt")
EN = os.path.join(SHARED, "deepspeech-smoke-test", "vocab.txt")
# (prefix, corpus, order, thresholds)
MODELS = [("hy", HY, n, t) for n in (3, 4) for t in ((0, 0, 1), (0, 1, 1), (0, 1, 2))] + [
    ("hy", HY, 4, (1,)),
    ("en", EN, 3, (0, 1, 2)),
    ("en", EN, 4, (0, 1, 1)),
]
TRIES = ["hy-4gram-prune011", "hy-4gram-prune012"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kenlm", required=True, help="folder with lmplz and build_binary")
    a = ap.parse_args()
    lm_dir = os.path.join(HERE, "lm")
    for prefix, corpus, order, thresholds in MODELS:
        name = f"{prefix}-{order}gram-prune{''.join(map(str, thresholds))}"
        arpa = os.path.join(lm_dir, name + ".arpa")
        with open(corpus, "rb") as fin, open(arpa, "wb") as fout:
            run = subprocess.run([os.path.join(a.kenlm, "lmplz"), "-o", str(order), "--discount_fallback", "-S", "10%",
                                  "--prune"] + [str(t) for t in thresholds],
                                 stdin=fin, stdout=fout, stderr=subprocess.PIPE, text=True, check=True)
        stats = run.stderr.split("Statistics:\n")[1].split("Memory estimate")[0].strip().replace("\n", "; ")
        print(f"{arpa}: {os.path.getsize(arpa)} bytes; kept/all and discounts per order: {stats}", file=sys.stderr)
    for name in TRIES:
        arpa = os.path.join(lm_dir, name + ".arpa")
        subprocess.run([os.path.join(a.kenlm, "build_binary"), "-v", "trie", arpa, os.path.join(lm_dir, name + ".trie.bin")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)


if __name__ == "__main__":
    main()
