#!/usr/bin/env python3
"""Builds a DeepSpeech 0.6-style language model pair from the fixture ARPA (Fixtures/lm/hy-3gram.arpa).

DeepSpeech 0.6.x shipped two files instead of a .scorer package (v0.6.1 native_client/ctcdecode/scorer.cpp):
  lm.binary  KenLM binary built WITHOUT -v, so it stores its vocabulary strings
             (v0.6.1 data/lm/generate_lm.py: build_binary -a 255 -q 8 trie)
  trie       int32 'TRIE' (bytes "EIRT"), int32 FILE_VERSION = 5, uint8 is_utf8_mode, then an
             OpenFST ConstFst<StdArc> written with FstWriteOptions.align = true into a fresh file,
             so alignment is relative to the trie file's start (9 + 65 header bytes pad to 80).
generate_trie (v0.6.1 native_client/generate_trie.cpp) made the graph from the KenLM binary's
own vocabulary strings (config.enumerate_vocab), skipping <s>, </s>, <unk>: each word's alphabet
labels + 1 then the space label + 1 (alphabet mode; UTF-8 mode only with a 255-label alphabet).
DeepSpeech 0.6's generate_trie binary is not available here, so this script writes the trie the
same way make_scorer.py writes a scorer's vocabulary (its const_fst: a deterministic trie-shaped
acceptor, arcs sorted by label; generate_trie also minimised the graph, which changes state
numbering but not the words it accepts).

Writes Fixtures/lm/hy-3gram.v06.binary and Fixtures/lm/hy-3gram.v06.trie.

    python3 Fixtures/make_legacy_trie.py --kenlm KENLM_BUILD/bin     (KenLM 0.3.0, as make_scorer.py)
"""
import argparse, os, struct, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_scorer import ALPHABET, const_fst   # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = b"EIRT"            # 'TRIE' as a little-endian multi-character int32
FILE_VERSION = 5


def kenlm_vocabulary(binary):
    """The vocabulary strings a KenLM binary built without -v stores at its end, in id order."""
    data = open(binary, "rb").read()
    assert data.startswith(b"mmap lm http://kheafield.com/code format version 5\n\0"), "not a KenLM binary"
    order = data[88]
    assert data[100] == 1, "built with -v: no vocabulary strings (DeepSpeech 0.6 needed them)"
    unigrams = struct.unpack_from("<Q", data, 108)[0]
    assert 1 <= order <= 6
    # The strings are the last thing in the file, each NUL-terminated; count from the end.
    pieces = data.split(b"\0")
    assert pieces[-1] == b""
    return [p.decode("utf-8") for p in pieces[-1 - unigrams:-1]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kenlm", required=True, help="folder with KenLM's build_binary")
    a = ap.parse_args()
    lm_dir = os.path.join(HERE, "lm")
    arpa = os.path.join(lm_dir, "hy-3gram.arpa")
    binary = os.path.join(lm_dir, "hy-3gram.v06.binary")
    subprocess.run([os.path.join(a.kenlm, "build_binary"), "-a", "255", "-q", "8", "trie", arpa, binary],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    vocabulary = kenlm_vocabulary(binary)
    words = sorted(w for w in vocabulary if w not in ("<s>", "</s>", "<unk>")
                   and all(ch in ALPHABET for ch in w))        # generate_trie skipped words it could not spell
    utf8_mode = False                                          # the Armenian alphabet has 41 labels, not 255
    header = MAGIC + struct.pack("<i", FILE_VERSION) + struct.pack("<B", utf8_mode)
    fst, n_states, n_arcs = const_fst(words, len(header))
    trie = os.path.join(lm_dir, "hy-3gram.v06.trie")
    open(trie, "wb").write(header + fst)
    print(f"{binary}: {os.path.getsize(binary)} bytes, {len(vocabulary)} vocabulary strings; "
          f"{trie}: {len(words)} words, FST {n_states} states / {n_arcs} arcs, {os.path.getsize(trie)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
