#!/usr/bin/env python3
"""Records what KenLM's own `query` says for every language model in ../shared/data/kenlm
(ARPA files and build_binary outputs of all model types) on a fixed set of sentences, into
Fixtures/reference/kenlm/query.json.

KenLM comes from the PyPI source distribution `kenlm==0.3.0`, built with CMake against Debian's
Boost (never a run-time dependency of the product):

    apt-get install cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev \
        libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev
    pip download --no-deps --no-binary :all: kenlm==0.3.0     # kenlm-0.3.0.tar.gz
    tar xzf kenlm-0.3.0.tar.gz && cmake -S kenlm-0.3.0 -B kenlm-build -DCMAKE_BUILD_TYPE=Release
    make -C kenlm-build -j2 query build_binary lmplz
    python3 Fixtures/record_kenlm.py --kenlm kenlm-build/bin

Also the KenLM models inside the two DeepSpeech scorer packages of ../shared/data/deepspeech-smoke-test
(keys "scorer:<file>"), on 100 seeded sentences of their vocabulary's words.

Sentences: every word of words.txt alone; KenLM's model_test continuation sentence; the toy
models' words; and 150 sentences of 1-12 words drawn (seeded) from those words plus two
out-of-vocabulary words. query wraps each in <s> … </s>.

Output: {model file: {"type": first line of query's stderr, "sentences": [{"text", "words":
[[word, vocab id, ngram length, log10 prob]], "total", "oov"}]}}.
"""
import argparse, json, os, random, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("DS_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))


def sentences(words):
    out = [[w] for w in words]
    out.append("looking on a little the biarritz not_found more .".split())
    out += [["a", "b", "a"], ["b", "a", "a", "b"], ["a"], ["b", "b", "a", "</s>"]]
    rng = random.Random(20261201)
    pool = words + ["a", "b", "not_found", "zzz"]
    for _ in range(150):
        out.append([rng.choice(pool) for _ in range(rng.randint(1, 12))])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kenlm", required=True, help="folder with KenLM's query binary")
    a = ap.parse_args()
    kenlm_dir = os.path.join(DATA, "kenlm")
    words = [w.strip() for w in open(os.path.join(kenlm_dir, "words.txt"), encoding="utf-8") if w.strip()]
    sents = sentences(words)
    text = "".join(" ".join(s) + "\n" for s in sents)
    result = {}
    for name in sorted(os.listdir(kenlm_dir)):
        if not (name.endswith(".bin") or name.endswith(".arpa")):
            continue
        p = subprocess.run([os.path.join(a.kenlm, "query"), os.path.join(kenlm_dir, name)],
                           input=text, capture_output=True, text=True, check=True)
        lines = [l for l in p.stdout.splitlines() if "Total:" in l]
        assert len(lines) == len(sents), (name, len(lines), len(sents))
        recs = []
        for s, line in zip(sents, lines):
            body, total = line.split("Total:")
            toks = []
            for tok in body.split("\t"):
                tok = tok.strip()
                if not tok:
                    continue
                m = re.match(r"^(.*)=(\d+) (\d+) (\S+)$", tok)
                toks.append([m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))])
            tot = re.match(r"\s*(\S+) OOV: (\d+)", total)
            recs.append({"text": " ".join(s), "words": toks, "total": float(tot.group(1)), "oov": int(tot.group(2))})
        kind = (p.stderr.strip().splitlines() or [""])[0]
        result[name] = {"type": kind, "sentences": recs}
        print(f"{name}: {kind or 'ARPA'}; {len(recs)} sentences", file=sys.stderr)
    # The two scorer packages: query reads the KenLM model at their start. Sentences of words
    # from their vocabularies (seeded), plus one out-of-vocabulary word.
    smoke = os.path.join(DATA, "deepspeech-smoke-test")
    for name, vocab in [("pruned_lm.scorer", "vocab.pruned.txt"), ("pruned_lm.bytes.scorer", "vocab.pruned.bytes.txt")]:
        tokens = sorted(set(open(os.path.join(smoke, vocab), encoding="utf-8").read().split()))
        rng = random.Random(name)
        scorer_sents = [[rng.choice(tokens) for _ in range(rng.randint(1, 10))] for _ in range(100)] + [["zzzz"]]
        p = subprocess.run([os.path.join(a.kenlm, "query"), os.path.join(smoke, name)],
                           input="".join(" ".join(s) + "\n" for s in scorer_sents), capture_output=True, text=True, check=True)
        lines = [l for l in p.stdout.splitlines() if "Total:" in l]
        recs = []
        for s, line in zip(scorer_sents, lines):
            body, total = line.split("Total:")
            toks = [list(re.match(r"^(.*)=(\d+) (\d+) (\S+)$", t.strip()).groups()) for t in body.split("\t") if t.strip()]
            toks = [[w, int(i), int(n), float(pr)] for w, i, n, pr in toks]
            tot = re.match(r"\s*(\S+) OOV: (\d+)", total)
            recs.append({"text": " ".join(s), "words": toks, "total": float(tot.group(1)), "oov": int(tot.group(2))})
        result["scorer:" + name] = {"type": (p.stderr.strip().splitlines() or [""])[0], "sentences": recs}
        print(f"{name}: {len(recs)} sentences", file=sys.stderr)
    out = os.path.join(HERE, "reference", "kenlm")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "query.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {os.path.join(out, 'query.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
