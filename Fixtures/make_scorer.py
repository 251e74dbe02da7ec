#!/usr/bin/env python3
"""Builds the Armenian test scorer and records what Coqui STT 1.4.0 transcribes with it.

1. Normalises Fixtures/lm/corpus-hy.txt (lower case, only the model's alphabet, one sentence a
   line) and builds a 3-gram ARPA with KenLM's lmplz (--discount_fallback: the corpus is
   small), then a binary with build_binary -a 255 -q 8 -v trie, as DeepSpeech's generate_lm.py.
2. Packages it as a scorer (format 6) the way generate_scorer_package does: the KenLM binary,
   "EIRT", version 6, the UTF-8 flag, alpha and beta as doubles, and the vocabulary as an OpenFST
   ConstFst (a deterministic acceptor of each word's labels + 1 followed by the space label + 1,
   arcs sorted by label, states and arcs aligned to 16 bytes of the file). generate_scorer_package
   itself is not among the reference engines fetched by ../shared/peers/fetch.sh.
3. Runs Coqui STT 1.4.0 (../shared/peers/peer.py) with the scorer on the fixture clips: beam
   500, 3 candidates; the same with a hot word; with alpha/beta set explicitly; and streamed in
   320 ms chunks with an intermediate decode after each.

Writes Fixtures/lm/corpus-hy.normalised.txt (lmplz's input), Fixtures/lm/hy-3gram.arpa,
Fixtures/lm/hy-3gram.trie.bin (build_binary -v trie, the reference for KenLMTrieWriter),
Fixtures/lm/hy.scorer and Fixtures/reference/peers/stt-scorer.json.

    python3 Fixtures/make_scorer.py --kenlm KENLM_BUILD/bin     (KenLM as in record_kenlm.py)
"""
import argparse, json, os, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.environ.get("PEER", "/work/shared/peers/peer.py")
PEERS_DIR = os.environ.get("DS_PEERS_DIR", os.path.expanduser("~/.cache/ds-peers"))
ALPHA, BETA = 0.93, 1.18                      # stored as (double)(float), as the reference tool does
# The armspeech model's alphabet (label order), from its metadata: space, then Armenian letters.
ALPHABET = [" "] + list("աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքևօֆ")
FST_PROPERTIES = 0xa5aa5a950001               # as in DeepSpeech's alphabet-mode smoke-test scorer


def normalise(line):
    line = line.lower().replace("՞", "").replace("։", " ").replace(",", " ")
    return " ".join("".join(ch for ch in word if ch in ALPHABET[1:]) for word in line.split()).strip()


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def const_fst(words, base_offset):
    """A trie-shaped deterministic acceptor over label+1 sequences (word labels, then space)."""
    space = ALPHABET.index(" ") + 1
    children, final = [dict()], [False]
    for w in sorted(words):
        s = 0
        for label in [ALPHABET.index(ch) + 1 for ch in w] + [space]:
            if label not in children[s]:
                children.append(dict())
                final.append(False)
                children[s][label] = len(children) - 1
            s = children[s][label]
        final[s] = True
    # Number states breadth-first so arcs point forward.
    order, index = [0], {0: 0}
    for s in order:
        for label in sorted(children[s]):
            t = children[s][label]
            index[t] = len(order)
            order.append(t)
    states, arcs = [], []
    for s in order:
        pos = len(arcs)
        for label in sorted(children[s]):
            arcs.append(struct.pack("<iifi", label, label, 0.0, index[children[s][label]]))
        states.append(struct.pack("<fIIII", 0.0 if final[s] else float("inf"), pos, len(arcs) - pos, 0, 0))

    def string(s):
        return struct.pack("<i", len(s)) + s.encode()

    out = bytearray(struct.pack("<i", 2125659606) + string("const") + string("standard") +
                    struct.pack("<iiQqqq", 1, 4, FST_PROPERTIES, 0, len(states), len(arcs)))
    while (base_offset + len(out)) % 16:
        out.append(0)
    out += b"".join(states)
    while (base_offset + len(out)) % 16:
        out.append(0)
    out += b"".join(arcs)
    return bytes(out), len(states), len(arcs)


def peer(args, clips):
    out = subprocess.run(["python3", PEER, "--peers-dir", PEERS_DIR] + args + clips,
                         capture_output=True, text=True, check=True).stdout
    recs = {}
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            name = os.path.basename(r.pop("file"))
            r.pop("seconds", None)
            recs[name] = r
    return recs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kenlm", required=True)
    a = ap.parse_args()
    lm_dir = os.path.join(HERE, "lm")
    sentences = [normalise(l) for l in open(os.path.join(lm_dir, "corpus-hy.txt"), encoding="utf-8")]
    sentences = [s for s in sentences if s]
    corpus = os.path.join(lm_dir, "corpus-hy.normalised.txt")      # lmplz's input, kept for the tests
    open(corpus, "w", encoding="utf-8").write("\n".join(sentences) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        arpa = os.path.join(lm_dir, "hy-3gram.arpa")
        with open(corpus, "rb") as fin, open(arpa, "wb") as fout:
            subprocess.run([os.path.join(a.kenlm, "lmplz"), "-o", "3", "--discount_fallback", "-S", "10%"],
                           stdin=fin, stdout=fout, stderr=subprocess.DEVNULL, check=True)
        # Reference for KenLMTrieWriter: the plain trie build_binary writes (no -q/-a).
        subprocess.run([os.path.join(a.kenlm, "build_binary"), "-v", "trie", arpa, os.path.join(lm_dir, "hy-3gram.trie.bin")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        binary = os.path.join(tmp, "lm.binary")
        subprocess.run([os.path.join(a.kenlm, "build_binary"), "-a", "255", "-q", "8", "-v", "trie", arpa, binary],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        lm = open(binary, "rb").read()
    words = sorted({w for s in sentences for w in s.split()})
    header = b"EIRT" + struct.pack("<i", 6) + b"\x00" + struct.pack("<dd", f32(ALPHA), f32(BETA))
    fst, n_states, n_arcs = const_fst(words, len(lm) + len(header))
    scorer = os.path.join(lm_dir, "hy.scorer")
    open(scorer, "wb").write(lm + header + fst)
    print(f"{scorer}: {len(words)} words, {len(sentences)} sentences, FST {n_states} states / {n_arcs} arcs, "
          f"{os.path.getsize(scorer)} bytes", file=sys.stderr)

    clips = [os.path.join(HERE, "clips", f"hy-{i:02d}.wav") for i in range(1, 13)]
    hot = "մայրիկս:4"
    record = {
        "scorer": "Fixtures/lm/hy.scorer", "alpha": f32(ALPHA), "beta": f32(BETA), "hot_word": hot,
        "default": peer(["--scorer", scorer, "--candidates", "3"], clips),
        "hot_word_run": peer(["--scorer", scorer, "--candidates", "3", "--hot-word", hot], clips),
        "alpha_beta_run": {"alpha": 0.5, "beta": 2.5,
                           "results": peer(["--scorer", scorer, "--candidates", "3", "--alpha", "0.5", "--beta", "2.5"], clips)},
        # Streaming: 320 ms chunks, IntermediateDecode after each, then FinishStreamWithMetadata(1).
        "stream320": peer(["--scorer", scorer, "--stream", "320"], clips),
    }
    out = os.path.join(HERE, "reference", "peers", "stt-scorer.json")
    json.dump(record, open(out, "w", encoding="utf-8"), ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {out}", file=sys.stderr)
    for name, r in record["default"].items():
        print(f"  {name}: {r['text']}  |  hot: {record['hot_word_run'][name]['text']}", file=sys.stderr)


if __name__ == "__main__":
    main()
