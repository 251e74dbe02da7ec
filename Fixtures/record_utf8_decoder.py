#!/usr/bin/env python3
"""Records Coqui STT 1.4.0's CTC beam search in UTF-8 (bytes output) mode.

No byte-output acoustic model exists, so the inputs are seeded synthetic probability matrices
[T, 256] (labels 0..254 = bytes 1..255, blank = 255) that spell English words of the smoke-test
vocabulary as UTF-8 bytes, with noise: most mass on the right byte, some on its neighbours and on
the blank, a floor on every class, and a few frames where two bytes (or a byte and the blank) tie
exactly. One matrix also spells multi-byte UTF-8 (é, ü, ï) and one has sharp peaks (0.9+) on
spaces and é: pruned_lm.bytes.scorer is English (its dictionary graph holds only a-z and '), so
Coqui's PathTrie drops every prefix that would add a space or a multi-byte lead byte; no
candidate holds either, and these cases test that pruning rather than multi-byte scoring.

Decoder: the PyPI wheel coqui_stt_ctcdecoder==1.4.0 (Coqui STT v1.4.0 native_client/ctcdecode),
called through its SWIG function ctc_beam_search_decoder(probs, UTF8Alphabet, beam, cutoff_prob
1.0, cutoff_top_n 40, scorer, hot_words, num_results 3) with the float32 probabilities widened to
double (as the native client does). The scorer is /work/shared/data/deepspeech-smoke-test/
pruned_lm.bytes.scorer read by Scorer::init_from_filepath (its default alpha/beta), or with
reset_params(0.5, 1.0); beams 16 and 100; one run with a hot word.

Armenian cases (names utf8-hy-*): every Armenian letter is 2 bytes in UTF-8. They use
Fixtures/lm/hy-chars.utf8.scorer, a character-level package built here (--build-hy-scorer) with
Coqui's own Scorer in UTF-8 mode: in UTF-8 mode Scorer::split_labels_into_scored_units /
make_ngram split a prefix into codepoints and is_scoring_boundary fires at every completed
codepoint, so each codepoint is an LM "word", the space included (the codepoint " "). KenLM
cannot hold " " as a token (ARPA words are whitespace-delimited), so vocab.Index(" ") is <unk>
and get_log_cond_prob returns OOV_SCORE for any n-gram holding a space; the LM text is therefore
each sentence of Fixtures/lm/corpus-hy.normalised.txt as its non-space characters separated by
spaces (the words run together: that is the context the decoder sees between spaces), estimated
with `lmplz -o 3 --discount_fallback` and `build_binary -a 255 -q 8 -v trie`. The dictionary
holds the corpus's distinct characters (what generate_scorer_package --force_bytes_output_mode
would read with `fin >> word`) plus " " itself, inserted through the fill_dictionary shim (a
vocabulary file cannot carry it), so that the PathTrie does not prune spaces and the OOV path is
exercised. Package: set_utf8_mode(True), UTF8Alphabet, reset_params(0.93, 1.18),
load_lm_filepath, fill_dictionary, save_dictionary (generate_scorer_package's create_package).

    Fixtures/.venv-ctcdecoder/bin/python Fixtures/record_utf8_decoder.py [--build-hy-scorer KENLM_BIN]

Writes Fixtures/reference/ctcdecoder/<name>.npy (float32 [T, 256]) and utf8-cases.json
(and with --build-hy-scorer first Fixtures/lm/hy-chars.utf8.scorer).
"""
import ctypes, json, os, shutil, subprocess, sys, tempfile
import numpy as np
import coqui_stt_ctcdecoder as ctc
from coqui_stt_ctcdecoder import swigwrapper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "reference", "ctcdecoder")
SCORER = os.environ.get("BYTES_SCORER", "/work/shared/data/deepspeech-smoke-test/pruned_lm.bytes.scorer")
CLASSES, BLANK = 256, 255

# name: (seed, text, tie frames: how many frames where the target ties a confusable byte)
MATRICES = {
    "utf8-spot-word": (11, "spot word", 2),
    "utf8-heavy-bell": (12, "heavy bell moss", 3),
    "utf8-mad-mill": (13, "mad mill party", 5),
    "utf8-multibyte": (14, "café über naïve", 3),
    # sharp peaks (the target byte gets 0.9-0.99): spaces and é the decoder must still drop
    "utf8-confident": (15, "it is née", 0),
}
SHARP = {"utf8-confident"}
# Armenian phrases from Fixtures/lm/corpus-hy.normalised.txt, scored with HY_SCORER
HY_MATRICES = {
    "utf8-hy-coffee": (21, "բարև ձեզ", 2),
    "utf8-hy-weather": (22, "եղանակը շատ լավ է", 3),
    "utf8-hy-capital": (23, "երևանը հայաստանի մայրաքաղաքն է", 4),
}
HY_SCORER = os.path.join(HERE, "lm", "hy-chars.utf8.scorer")
HY_ALPHA, HY_BETA = 0.93, 1.18
HY_CONFIGS = [(None, 16, {}), (None, 100, {}), ((0.5, 1.0), 16, {}), ((0.5, 1.0), 100, {})]
SHIM = r"""
#include <memory>
#include <string>
#include <unordered_set>
#include <fstream>
class Scorer { public: void fill_dictionary(const std::unordered_set<std::string>& vocabulary); };
// one word a line (so that " " can be a word)
extern "C" long fill_dictionary_from_lines(void* swig_shared_ptr, const char* vocab_path) {
    std::unordered_set<std::string> words;
    std::ifstream fin(vocab_path);
    if (!fin) return -1;
    std::string word;
    while (std::getline(fin, word)) if (!word.empty()) words.insert(word);
    static_cast<std::shared_ptr<Scorer>*>(swig_shared_ptr)->get()->fill_dictionary(words);
    return (long)words.size();
}
"""
CONFIGS = [  # (alpha/beta or None for the package's, beam, hot words)
    (None, 16, {}), (None, 100, {}), ((0.5, 1.0), 16, {}), ((0.5, 1.0), 100, {}),
]
HOT_WORD = ("l", 3.0)   # in UTF-8 mode every codepoint is a word


def label(byte):
    return byte - 1


def make_probs(seed, text, ties, sharp=False):
    rng = np.random.default_rng(seed)
    data = text.encode("utf-8")
    rows = []  # (kind, byte or None)
    for i, b in enumerate(data):
        # blanks before the byte: required between repeated bytes, none inside a multi-byte codepoint
        inside = b & 0xC0 == 0x80
        need = 1 if i > 0 and data[i - 1] == b else 0
        nblank = 0 if inside else max(need, int(rng.integers(1, 6)))
        rows += [("blank", None)] * nblank
        rows += [("byte", b)] * int(rng.integers(1, 4))
    rows = [("blank", None)] * 5 + rows + [("blank", None)] * 5
    T = len(rows)
    probs = np.empty((T, CLASSES), dtype=np.float64)
    byte_rows = [t for t, r in enumerate(rows) if r[0] == "byte"]
    tie_rows = set(rng.choice(byte_rows, size=min(ties, len(byte_rows)), replace=False).tolist())
    for t, (kind, b) in enumerate(rows):
        p = rng.random(CLASSES) * 1e-3 + 1e-5
        # a handful of random distractors
        for c in rng.choice(CLASSES - 1, size=3, replace=False):
            p[c] += rng.random() * 0.03
        if kind == "blank":
            p[BLANK] += rng.uniform(0.6, 0.95)
            near = label(data[min(len(data) - 1, int(rng.integers(0, len(data))))])
            p[near] += rng.uniform(0.0, 0.15)
        else:
            target = label(b)
            p[target] += rng.uniform(0.45, 0.85) if not sharp else rng.uniform(9.0, 99.0)
            for d in (-1, 1):
                n = target + d
                if 0 <= n < BLANK:
                    p[n] += rng.uniform(0.0, 0.12)
            p[BLANK] += rng.uniform(0.02, 0.25)
        p /= p.sum()
        if t in tie_rows:
            # an exact tie between the target and a confusable byte (or the blank)
            other = BLANK if rng.random() < 0.3 else (label(b) + (1 if rng.random() < 0.5 else -1))
            s = p[label(b)] + p[other]
            p[label(b)] = p[other] = s / 2
        rows_f32 = p.astype(np.float32)
        probs[t] = rows_f32
    return probs.astype(np.float32)


def build_hy_scorer(kenlm):
    sentences = [l for l in open(os.path.join(HERE, "lm", "corpus-hy.normalised.txt"), encoding="utf-8").read().split("\n") if l.strip()]
    chars = sorted({ch for l in sentences for ch in l if not ch.isspace()})
    with tempfile.TemporaryDirectory() as work:
        text = os.path.join(work, "chars.txt")
        with open(text, "w", encoding="utf-8") as f:
            for l in sentences:
                f.write(" ".join(ch for ch in l if not ch.isspace()) + "\n")
        arpa, binary = os.path.join(work, "lm.arpa"), os.path.join(work, "lm.binary")
        with open(text, "rb") as fin, open(arpa, "wb") as fout:
            subprocess.run([os.path.join(kenlm, "lmplz"), "-o", "3", "--discount_fallback"],
                           stdin=fin, stdout=fout, stderr=subprocess.DEVNULL, check=True)
        subprocess.run([os.path.join(kenlm, "build_binary"), "-a", "255", "-q", "8", "-v", "trie", arpa, binary],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        vocab = os.path.join(work, "vocab.txt")
        words = chars + [" "]
        open(vocab, "w", encoding="utf-8").write("".join(w + "\n" for w in words))
        shim_src, shim = os.path.join(work, "shim.cpp"), os.path.join(work, "shim.so")
        open(shim_src, "w").write(SHIM)
        subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", shim, shim_src,
                        ctc.swigwrapper._swigwrapper.__file__], check=True)
        lib = ctypes.CDLL(shim)
        lib.fill_dictionary_from_lines.restype = ctypes.c_long
        lib.fill_dictionary_from_lines.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        alphabet = ctc.UTF8Alphabet()
        scorer = ctc.Scorer()
        scorer.set_alphabet(alphabet)
        scorer.set_utf8_mode(True)
        scorer.reset_params(HY_ALPHA, HY_BETA)
        err = scorer.load_lm_filepath(binary.encode())
        assert err == ctc.STT_ERR_SCORER_NO_TRIE, hex(err)
        n = lib.fill_dictionary_from_lines(int(scorer.this), vocab.encode())
        assert n == len(words), (n, len(words))
        shutil.copyfile(binary, HY_SCORER)
        assert scorer.save_dictionary(HY_SCORER.encode(), True)
    check = swigwrapper.Scorer()
    assert check.init_from_filepath(HY_SCORER.encode(), ctc.UTF8Alphabet()) == 0
    assert check.is_utf8_mode() and check.get_max_order() == 3
    print(f"{HY_SCORER}: {len(chars)} characters + space, {os.path.getsize(HY_SCORER)} bytes", file=sys.stderr)


def text_of(tokens):
    return bytes(t + 1 for t in tokens).decode("utf-8", errors="replace")


def main():
    assert ctc.__version__ == "1.4.0", ctc.__version__
    if len(sys.argv) == 3 and sys.argv[1] == "--build-hy-scorer":
        build_hy_scorer(sys.argv[2])
    os.makedirs(OUT, exist_ok=True)
    alphabet = ctc.UTF8Alphabet()
    assert alphabet.GetSize() == 255
    cases = []
    jobs = [(name, spec, SCORER, list(CONFIGS) + [(None, 100, {HOT_WORD[0]: HOT_WORD[1]})])
            for name, spec in MATRICES.items()]
    jobs += [(name, spec, HY_SCORER, HY_CONFIGS) for name, spec in HY_MATRICES.items()]
    for name, (seed, text, ties), scorer_path, runs in jobs:
        probs = make_probs(seed, text, ties, sharp=name in SHARP)
        np.save(os.path.join(OUT, name + ".npy"), probs)
        wide = probs.astype(np.float64)
        for weights, beam, hot in runs:
            scorer = swigwrapper.Scorer()
            err = scorer.init_from_filepath(scorer_path.encode("utf-8"), alphabet)
            assert err == 0, hex(err)
            assert scorer.is_utf8_mode()
            if weights is not None:
                scorer.reset_params(*weights)
            hot_map = swigwrapper.Map()   # std::unordered_map<std::string, float>: bytes keys
            for word, boost in hot.items():
                hot_map[word.encode("utf-8")] = boost
            results = swigwrapper.ctc_beam_search_decoder(wide, alphabet, beam, 1.0, 40, scorer, hot_map, 3)
            candidates = [{
                "confidence": float(r.confidence),
                "confidence_hex": float(r.confidence).hex(),
                "tokens": [int(x) for x in r.tokens],
                "timesteps": [int(x) for x in r.timesteps],
                "text": text_of([int(x) for x in r.tokens]),
            } for r in results]
            case = {
                "source": name + ".npy", "spelled": text, "frames": int(probs.shape[0]),
                "alpha": float(scorer.alpha), "beta": float(scorer.beta),
                "default_weights": weights is None, "beam_width": beam, "cutoff_top_n": 40,
                "cutoff_prob": 1.0, "num_results": 3, "hot_words": hot, "candidates": candidates,
            }
            if scorer_path != SCORER:   # (the English cases keep their original fields)
                case["scorer"] = "Fixtures/lm/" + os.path.basename(scorer_path)
            cases.append(case)
            print(f"{name} beam {beam} alpha {scorer.alpha:.3f} beta {scorer.beta:.3f} hot {hot}: "
                  + " | ".join(f"{c['text']!r} {c['confidence']:.3f}" for c in candidates))
    doc = {
        "generator": "Fixtures/record_utf8_decoder.py",
        "decoder": f"coqui_stt_ctcdecoder {ctc.__version__} (PyPI wheel), UTF8Alphabet, swigwrapper.ctc_beam_search_decoder",
        "scorer": os.path.basename(SCORER),
        "labels": "label i = byte i+1, blank = 255; probabilities float32 [T, 256], widened to double for the decoder",
        "cases": cases,
    }
    with open(os.path.join(OUT, "utf8-cases.json"), "w", encoding="utf-8") as f:
        # one case a line (small file, readable diffs)
        head = {k: v for k, v in doc.items() if k != "cases"}
        f.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n ]\n}\n")


if __name__ == "__main__":
    main()
