#!/usr/bin/env python3
"""Builds Fixtures/lm/hy.reference.scorer with Coqui STT 1.4.0's own scorer code.

generate_scorer_package (the reference packaging tool) is not among the engines fetched by
../shared/peers/fetch.sh, but the PyPI wheel coqui_stt_ctcdecoder==1.4.0 holds the same
Scorer class (native_client/ctcdecode/scorer.cpp, compiled with its KenLM and OpenFST 1.6.7).
This script repeats coqui-ai/STT v1.4.0 native_client/generate_scorer_package.cpp's
create_package() call for call:

    Alphabet.init(alphabet.txt); scorer.set_alphabet(alphabet)           (l.62-68)
    scorer.set_utf8_mode(false)                                          (l.70)
    scorer.reset_params(default_alpha, default_beta)   (floats)          (l.71)
    scorer.load_lm_filepath(lm.binary) == STT_ERR_SCORER_NO_TRIE         (l.72-78)
    scorer.fill_dictionary(words)  (unordered_set read with `fin >> word`, l.28-41, 79)
    copy lm.binary to the package, then save_dictionary(package, true)   (l.81-92)

The SWIG wrapper has no typemap for fill_dictionary's `const std::unordered_set<std::string>&`
(swigwrapper.i includes std_vector/std_unordered_map only), so that one call goes through a
ten-line C++ shim, compiled here with g++ and linked against the wheel's _swigwrapper .so:
it reads the vocabulary file as generate_scorer_package does and calls the wheel's exported
Scorer::fill_dictionary on the very Scorer object the Python wrapper holds. Everything else is
the wrapper's own methods.

Inputs are make_scorer.py's: Fixtures/lm/hy-3gram.arpa -> `build_binary -a 255 -q 8 -v trie`,
the vocabulary = the distinct words of Fixtures/lm/corpus-hy.normalised.txt (sorted, one a line),
the armspeech alphabet (Fixtures/reference/litert/model-info.json; label 0 = space), alpha 0.93,
beta 1.18 (hy.scorer's defaults).

    python3.10 -m venv Fixtures/.venv-ctcdecoder
    Fixtures/.venv-ctcdecoder/bin/pip install -r Fixtures/requirements-ctcdecoder.txt
    Fixtures/.venv-ctcdecoder/bin/python Fixtures/make_reference_scorer.py --kenlm KENLM_BUILD/bin \\
        [--record]      # also run Coqui STT 1.4.0 / DeepSpeech 0.9.3 with it (system python3 + peer.py)

Writes Fixtures/lm/hy.reference.scorer; with --record also
Fixtures/reference/peers/stt-reference-scorer.json (Coqui STT 1.4.0 and DeepSpeech 0.9.3 with
the reference package, beam 500, 3 candidates, the package's alpha/beta; and DeepSpeech 0.9.3 with
hy.scorer, which stt-scorer.json lacks). --workdir keeps lm.binary, vocab.txt and
alphabet.txt (the inputs for `deepspeech scorer build`).
"""
import argparse, ctypes, json, os, shutil, struct, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.environ.get("PEER", "/work/shared/peers/peer.py")
PEERS_DIR = os.environ.get("DS_PEERS_DIR", os.path.expanduser("~/.cache/ds-peers"))
ALPHA, BETA = 0.93, 1.18

# swigwrapper.i declares %shared_ptr(Scorer): the wrapper's `this` points at a std::shared_ptr<Scorer>.
# (The order of the words does not matter: a shuffled vocab.txt gives the same package bytes.)
SHIM = r"""
#include <fstream>
#include <memory>
#include <string>
#include <unordered_set>
class Scorer { public: void fill_dictionary(const std::unordered_set<std::string>& vocabulary); };
// generate_scorer_package.cpp l.28-41: whitespace-separated words into an unordered_set.
extern "C" long fill_dictionary_from_file(void* swig_shared_ptr, const char* vocab_path) {
    std::unordered_set<std::string> words;
    std::ifstream fin(vocab_path);
    if (!fin) return -1;
    std::string word;
    while (fin >> word) words.insert(word);
    static_cast<std::shared_ptr<Scorer>*>(swig_shared_ptr)->get()->fill_dictionary(words);
    return (long)words.size();
}
"""


def alphabet_labels():
    info = json.load(open(os.path.join(HERE, "reference", "litert", "model-info.json"), encoding="utf-8"))
    labels = info["metadata"]["alphabet"]
    assert labels[0] == " " and len(labels) == 40, labels
    return labels


def build(kenlm, work, out_path):
    import coqui_stt_ctcdecoder as ctc
    assert ctc.__version__ == "1.4.0", ctc.__version__
    lm_dir = os.path.join(HERE, "lm")
    binary = os.path.join(work, "lm.binary")
    subprocess.run([os.path.join(kenlm, "build_binary"), "-a", "255", "-q", "8", "-v", "trie",
                    os.path.join(lm_dir, "hy-3gram.arpa"), binary],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    sentences = open(os.path.join(lm_dir, "corpus-hy.normalised.txt"), encoding="utf-8").read().split("\n")
    words = sorted({w for s in sentences for w in s.split()})
    vocab = os.path.join(work, "vocab.txt")
    open(vocab, "w", encoding="utf-8").write("\n".join(words) + "\n")
    alphabet = os.path.join(work, "alphabet.txt")      # the space label is a line with one space
    open(alphabet, "w", encoding="utf-8").write("".join(label + "\n" for label in alphabet_labels()))

    wrapper = ctc.swigwrapper._swigwrapper.__file__
    shim_src, shim = os.path.join(work, "fill_dictionary_shim.cpp"), os.path.join(work, "fill_dictionary_shim.so")
    open(shim_src, "w").write(SHIM)
    subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", shim, shim_src, wrapper], check=True)
    lib = ctypes.CDLL(shim)
    lib.fill_dictionary_from_file.restype = ctypes.c_long
    lib.fill_dictionary_from_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

    scorer = ctc.Scorer()
    scorer.set_alphabet(ctc.Alphabet(alphabet))
    scorer.set_utf8_mode(False)
    scorer.reset_params(ALPHA, BETA)
    err = scorer.load_lm_filepath(binary.encode())
    assert err == ctc.STT_ERR_SCORER_NO_TRIE, hex(err)
    n = lib.fill_dictionary_from_file(int(scorer.this), vocab.encode())
    assert n == len(words), (n, len(words))
    shutil.copyfile(binary, out_path)
    assert scorer.save_dictionary(out_path.encode(), True)
    check = ctc.Scorer(ALPHA, BETA, out_path, ctc.Alphabet(alphabet))    # loads back in the wheel
    assert not check.is_utf8_mode() and check.get_max_order() == 3
    print(f"{out_path}: {len(words)} words, {os.path.getsize(out_path)} bytes (KenLM binary {os.path.getsize(binary)})",
          file=sys.stderr)


def read_package(path):
    """(bytes, offset of the FST header's start/numstates/numarcs, start, final flags, arcs per state)."""
    b = open(path, "rb").read()
    p = b.index(b"EIRT") + 25 + 4                        # after the FST magic
    for _ in range(2):                                   # "const", "standard"
        p += 4 + struct.unpack_from("<i", b, p)[0]
    counts = p + 16                                      # version, flags, properties, then these
    start, ns, na = struct.unpack_from("<qqq", b, counts)
    p = counts + 24 + (-(counts + 24)) % 16
    states = [struct.unpack_from("<fIIII", b, p + 20 * i) for i in range(ns)]
    p += 20 * ns + (-(p + 20 * ns)) % 16
    arcs = [struct.unpack_from("<iifi", b, p + 16 * i) for i in range(na)]
    out = [[(a[0], a[3]) for a in arcs[s[1]:s[1] + s[2]]] for s in states]
    return b, counts, start, [s[0] != float("inf") for s in states], out


def openfst_minimize(final, out):
    """OpenFST 1.6.7 AcceptorMinimize on an acyclic acceptor, step by step (minimize.h:
    AcyclicMinimizer Initialize/Refine, MergeStates, Connect, ArcUniqueMapper; partition.h: Add
    puts an element at the head of its class, the head is the class's representative).
    Returns the states kept (old ids, in order) and their arcs in new ids."""
    n = len(final)
    height = [0] * n                                     # trie numbered breadth-first: children > parent
    for s in reversed(range(n)):
        height[s] = max([height[t] + 1 for _, t in out[s]], default=0)
    lists, cls = [[] for _ in range(max(height) + 1)], [0] * n
    def add(s, c):
        lists[c].insert(0, s)
        cls[s] = c
    for s in range(n):
        add(s, height[s])
    for h in range(len(lists)):                          # only the height classes, lowest first
        members = list(lists[h])
        key = lambda s: (not final[s], len(out[s]), tuple((l, cls[t]) for l, t in out[s]))
        eq = {key(members[0]): h}
        for s in members[1:]:
            if key(s) not in eq:
                lists.append([])
                eq[key(s)] = len(lists) - 1
        for s in members:
            if eq[key(s)] != cls[s]:
                lists[cls[s]].remove(s)
                add(s, eq[key(s)])
    rep = [l[0] for l in lists]
    keep = sorted(rep)                                   # Connect keeps the order of the survivors
    new = {r: i for i, r in enumerate(keep)}
    arcs = [sorted({(l, new[rep[cls[t]]]) for m in lists[cls[r]] for l, t in out[m]}) for r in keep]
    return keep, arcs


def compare(ours_path, ref_path):
    """Where our package (a breadth-first trie) and the reference (OpenFST-minimised) differ."""
    ob, oc, ostart, ofinal, oout = read_package(ours_path)
    rb, rc, rstart, rfinal, rout = read_package(ref_path)
    print(f"{os.path.basename(ours_path)} {len(ob)} bytes, {os.path.basename(ref_path)} {len(rb)} bytes; "
          f"identical: {ob == rb}", file=sys.stderr)
    print(f"  identical up to the FST's start/numstates/numarcs at byte {oc} (KenLM model, EIRT header, "
          f"FST type/version/flags/properties): {ob[:oc] == rb[:oc]}", file=sys.stderr)
    print(f"  graphs: ours {len(ofinal)} states / {sum(map(len, oout))} arcs, reference {len(rfinal)} / "
          f"{sum(map(len, rout))}", file=sys.stderr)
    keep, arcs = openfst_minimize(ofinal, oout)
    same = rstart == 0 and keep[0] == 0 and [ofinal[r] for r in keep] == rfinal and arcs == rout
    print(f"  OpenFST's acyclic minimisation replayed on our trie gives the reference graph, state for state: "
          f"{same}", file=sys.stderr)
    return ob[:oc] == rb[:oc] and same


def peer(engine, args, clips):
    out = subprocess.run(["python3", PEER, "--engine", engine, "--peers-dir", PEERS_DIR] + args + clips,
                         capture_output=True, text=True, check=True).stdout
    recs = {}
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            name = os.path.basename(r.pop("file"))
            r.pop("seconds", None)
            recs[name] = r
    return recs


def record(scorer):
    clips = [os.path.join(HERE, "clips", f"hy-{i:02d}.wav") for i in range(1, 13)]
    args = ["--scorer", scorer, "--beam-width", "500", "--candidates", "3"]
    ours = ["--scorer", os.path.join(HERE, "lm", "hy.scorer")] + args[2:]
    # stt-scorer.json holds Coqui STT with hy.scorer; DeepSpeech 0.9.3 with it is recorded here.
    rec = {"scorer": "Fixtures/lm/hy.reference.scorer", "beam_width": 500, "candidates": 3,
           "stt": peer("stt", args, clips), "deepspeech": peer("deepspeech", args, clips),
           "deepspeech_hy_scorer": peer("deepspeech", ours, clips)}
    out = os.path.join(HERE, "reference", "peers", "stt-reference-scorer.json")
    json.dump(rec, open(out, "w", encoding="utf-8"), ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {out}", file=sys.stderr)
    recorded = json.load(open(os.path.join(HERE, "reference", "peers", "stt-scorer.json"), encoding="utf-8"))["default"]
    same = sum(rec["stt"][n]["candidates"] == recorded[n]["candidates"] for n in recorded)
    print(f"Coqui STT 1.4.0, candidates equal to those with hy.scorer on {same}/{len(recorded)} clips", file=sys.stderr)
    same = sum(rec["deepspeech"][n]["candidates"] == rec["deepspeech_hy_scorer"][n]["candidates"] for n in recorded)
    print(f"DeepSpeech 0.9.3, candidates equal to those with hy.scorer on {same}/{len(recorded)} clips", file=sys.stderr)
    for n, r in rec["stt"].items():
        print(f"  {n}: stt {r['text']}  |  deepspeech {rec['deepspeech'][n]['text']}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kenlm", required=True, help="KenLM 0.3.0 build/bin (build_binary)")
    ap.add_argument("--output", default=os.path.join(HERE, "lm", "hy.reference.scorer"))
    ap.add_argument("--workdir", help="keep lm.binary, vocab.txt, alphabet.txt here")
    ap.add_argument("--record", action="store_true", help="also record the peers' transcripts with the package")
    ap.add_argument("--compare", default=os.path.join(HERE, "lm", "hy.scorer"),
                    help="our package built from the same inputs, to compare with (default: lm/hy.scorer)")
    a = ap.parse_args()
    if a.workdir:
        os.makedirs(a.workdir, exist_ok=True)
        build(a.kenlm, a.workdir, a.output)
    else:
        with tempfile.TemporaryDirectory() as work:
            build(a.kenlm, work, a.output)
    compare(a.compare, a.output)
    if a.record:
        record(a.output)


if __name__ == "__main__":
    main()
