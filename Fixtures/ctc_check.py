#!/usr/bin/env python3
"""Cross-check of the LiteRT probabilities against the reference engines' transcripts.

A line-by-line Python port of Coqui STT 1.4.0's CTC prefix beam search WITHOUT a scorer
(native_client/ctcdecode/ctc_beam_search_decoder.cpp DecoderState::next/decode and path_trie.cpp,
tag v1.4.0), with the native client's settings: cutoff_prob 1.0, cutoff_top_n 40 (which, with 41
classes, only sorts the classes by probability; nothing is cut). Arithmetic on the scores is done in
float32 like the C++ (float fields, float log_sum_exp); the probabilities are the float32 LiteRT
`logits` values widened to double, then cast back to float as get_pruned_emissions does.

It decodes Fixtures/reference/litert/<clip>.probs.npy and compares text, token timesteps and
confidence with Fixtures/reference/peers/{stt,deepspeech}-beam<B>-c3.json (whichever exist). If the LiteRT probabilities equal what
libstt computed, the results match exactly (up to float ties); a mismatch points at the numerics
(e.g. libstt's XNNPACK build) or the streaming reproduction.

Usage: ctc_check.py [--beam 1] [--beam 500] [--clips hy-01.wav ...] [--json OUT]
"""
import argparse
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
F = np.float32
NEG = F(-np.finfo(np.float32).max)       # -NUM_FLT_INF
FLT_MIN = F(np.finfo(np.float32).tiny)  # NUM_FLT_MIN


def lse(x, y):
    if x <= NEG:
        return y
    if y <= NEG:
        return x
    m = max(x, y)
    return F(np.log(F(np.exp(F(x - m)) + np.exp(F(y - m))))) + m


class Node:
    __slots__ = ("char", "parent", "children", "exists", "b_prev", "nb_prev", "b_cur", "nb_cur",
                 "score", "timesteps", "prev_ts", "new_ts")

    def __init__(self, char=-1, parent=None):
        self.char, self.parent, self.children, self.exists = char, parent, [], True
        self.b_prev = self.nb_prev = self.b_cur = self.nb_cur = self.score = NEG
        self.timesteps, self.prev_ts, self.new_ts = (), None, None

    def get_path_trie(self, c):
        for ch, node in self.children:
            if ch == c:
                if not node.exists:
                    node.exists = True
                    node.b_prev = node.nb_prev = node.b_cur = node.nb_cur = NEG
                return node
        node = Node(c, self)
        self.children.append((c, node))
        return node

    def iterate_to_vec(self, out):
        for _, child in list(self.children):
            child.iterate_to_vec(out)
        if self.exists:
            self.b_prev, self.nb_prev = self.b_cur, self.nb_cur
            self.b_cur = self.nb_cur = NEG
            self.score = lse(self.b_prev, self.nb_prev)
            if self.prev_ts is not None:
                self.timesteps = self.prev_ts + (self.new_ts,)
            self.prev_ts = None
            out.append(self)

    def remove(self):
        self.exists = False
        if not self.children:
            p = self.parent
            for k, (ch, _) in enumerate(p.children):
                if ch == self.char:
                    del p.children[k]
                    break
            if not p.children and not p.exists:
                p.remove()

    def path(self):
        out, n = [], self
        while n is not None and n.char != -1:
            out.append(n.char)
            n = n.parent
        return out[::-1]


def sort_key(n):  # prefix_compare: score descending, then smaller character
    return (-float(n.score), n.char)


def decode(probs, beam, num_results=3, cutoff_top_n=40):
    n_classes = probs.shape[1]
    blank = n_classes - 1
    root = Node()
    root.score = root.b_prev = F(0.0)
    prefixes = [root]
    start = False
    for t in range(probs.shape[0]):
        prob = probs[t].astype(np.float64)
        if prob[blank] < 0.999:
            start = True
        if not start:
            continue
        pf = prob.astype(np.float32)
        order = list(range(n_classes))
        if cutoff_top_n < n_classes:
            order.sort(key=lambda i: -float(pf[i]))  # std::sort by prob desc (ties: unspecified)
        lps = [(i, F(np.log(F(pf[i] + FLT_MIN)))) for i in order]
        for c, lp in lps:
            for prefix in prefixes[:beam]:
                if prefix.score == NEG:
                    continue
                if c == blank:
                    log_p = F(lp + prefix.score)
                    if prefix.nb_cur < log_p:
                        prefix.prev_ts = None
                    prefix.b_cur = lse(prefix.b_cur, log_p)
                    continue
                if c == prefix.char:
                    log_p = F(lp + prefix.nb_prev)
                    if prefix.nb_cur < log_p:
                        prefix.prev_ts = None
                    prefix.nb_cur = lse(prefix.nb_cur, log_p)
                new = prefix.get_path_trie(c)
                log_p = NEG
                if c == prefix.char and prefix.b_prev > NEG:
                    log_p = F(lp + prefix.b_prev)
                elif c != prefix.char:
                    log_p = F(lp + prefix.score)
                if new.nb_cur < log_p:
                    new.prev_ts = prefix.timesteps
                    new.new_ts = t
                new.nb_cur = lse(new.nb_cur, log_p)
        prefixes = []
        root.iterate_to_vec(prefixes)
        if len(prefixes) > beam:
            prefixes.sort(key=sort_key)  # nth_element: which of equal scores survive is unspecified
            for p in prefixes[beam:]:
                p.remove()
            prefixes = prefixes[:beam]
    best = sorted(prefixes, key=sort_key)[:num_results]
    return [{"tokens": p.path(), "timesteps": list(p.timesteps), "confidence": float(p.score)} for p in best]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beam", type=int, action="append")
    ap.add_argument("--clips", nargs="*")
    ap.add_argument("--litert", default=os.path.join(HERE, "reference", "litert"))
    ap.add_argument("--peers", default=os.path.join(HERE, "reference", "peers"))
    ap.add_argument("--json", help="write the comparison here")
    a = ap.parse_args()
    info = json.load(open(os.path.join(a.litert, "model-info.json"), encoding="utf-8"))
    labels = info["metadata"]["alphabet"]
    clips = a.clips or sorted(f[:-len(".probs.npy")] + ".wav" for f in os.listdir(a.litert) if f.endswith(".probs.npy"))
    report = {}
    for beam in a.beam or [1]:
        peers = {}
        for engine in ("stt", "deepspeech"):
            p = os.path.join(a.peers, f"{engine}-beam{beam}-c3.json")
            if os.path.exists(p):
                peers[engine] = json.load(open(p, encoding="utf-8"))
        print(f"== beam {beam}: Python port of the STT 1.4 decoder on LiteRT probs vs {', '.join(peers)}")
        for clip in clips:
            probs = np.load(os.path.join(a.litert, clip[:-4] + ".probs.npy"))
            mine = decode(probs, beam)
            for engine, peer in peers.items():
                if clip not in peer:
                    continue
                ref = peer[clip]["candidates"]
                rows = []
                for k in range(min(len(mine), len(ref))):
                    text = "".join(labels[i] for i in mine[k]["tokens"])
                    rows.append({"candidate": k, "text_equal": text == ref[k]["text"],
                                 "timesteps_equal": mine[k]["timesteps"] == [tok["timestep"] for tok in ref[k]["tokens"]],
                                 "confidence": mine[k]["confidence"], "peer_confidence": ref[k]["confidence"],
                                 "confidence_diff": mine[k]["confidence"] - ref[k]["confidence"],
                                 "text": text, "peer_text": ref[k]["text"]})
                report.setdefault(f"beam{beam}", {}).setdefault(engine, {})[clip] = rows
                r0 = rows[0]
                flag = "OK  " if r0["text_equal"] and r0["timesteps_equal"] else "DIFF"
                print(f"  {flag} {engine:10s} {clip:12s} top-1 text {'=' if r0['text_equal'] else '!='} "
                      f"timesteps {'=' if r0['timesteps_equal'] else '!='} confidence {r0['confidence']:.4f} vs "
                      f"{r0['peer_confidence']:.4f} (diff {r0['confidence_diff']:+.2e}); "
                      f"top-{len(rows)} texts equal: {sum(r['text_equal'] for r in rows)}/{len(rows)}", flush=True)
                if not r0["text_equal"]:
                    print(f"       python: {r0['text']}\n       {engine}: {r0['peer_text']}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(report, f, ensure_ascii=False, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
