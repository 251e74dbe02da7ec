#!/usr/bin/env python3
"""Records Coqui STT 1.4.0's streaming API on the fixture clips, through its C API, into
Fixtures/reference/peers/stt-streaming.json (beam width from the model = 500, no scorer).

Per clip, three runs of one stream each:

  "chunks320"   FeedAudioContent in 320 ms chunks (5120 samples; the last one shorter); after every
                chunk IntermediateDecode -> "intermediate" (one text per chunk). After chunk
                `metadata_after` (the middle one) also IntermediateDecodeWithMetadata(3) ->
                "intermediate_metadata". Then FinishStreamWithMetadata(3) -> "final".
  "flush"       the same 320 ms chunks, but after every 3rd chunk (index 2, 5, 8, ...)
                IntermediateDecodeWithMetadataFlushBuffers(3) instead of IntermediateDecode; every
                chunk's best text -> "intermediate", the flushing decodes' candidates ->
                "flushed_metadata" ({chunk index: candidates}); then FinishStreamWithMetadata(3).
  "irregular"   (hy-01, hy-05, hy-08 only) chunk sizes cycling through IRREGULAR samples, 0 and 1
                included; IntermediateDecode after every feed; FinishStreamWithMetadata(3).

Candidates are [{confidence, text, tokens: [{text, timestep, start_time}]}] as peer.py writes them.

Usage: python3 Fixtures/record_streaming.py        (env DS_PEERS_DIR, PEER_PY; system python3)
"""
import ctypes, importlib.util, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
peer_path = os.environ.get("PEER_PY", "/work/shared/peers/peer.py")
spec = importlib.util.spec_from_file_location("peer", peer_path)
peer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(peer)

IRREGULAR = [1, 0, 7, 160, 513, 4801, 2, 1024, 319, 321]
CLIPS = [f"hy-{i:02d}.wav" for i in range(1, 13)] + ["long-hy.wav"]
IRREGULAR_CLIPS = ["hy-01.wav", "hy-05.wav", "hy-08.wav"]


def main():
    peers_dir = peer.HERE
    f = peer.load("stt", peers_dir)
    f("IntermediateDecodeFlushBuffers").restype = ctypes.c_void_p
    f("IntermediateDecodeWithMetadataFlushBuffers").restype = ctypes.POINTER(peer.Metadata)
    model = ctypes.c_void_p()
    peer.check(f, f("CreateModel")(os.path.join(peers_dir, "armspeech.tflite").encode(), ctypes.byref(model)),
               "CreateModel")
    rate = f("GetModelSampleRate")(model)
    version = peer.take_string(f, f("Version")())
    chunk = rate * 320 // 1000

    def new_stream():
        s = ctypes.c_void_p()
        peer.check(f, f("CreateStream")(model, ctypes.byref(s)), "CreateStream")
        return s

    out = {}
    for name in CLIPS:
        pcm = peer.read_wav(os.path.join(HERE, "clips", name), rate)
        buf = (ctypes.c_short * len(pcm)).from_buffer(pcm)
        offsets = list(range(0, len(pcm), chunk))
        rec = {"engine": version, "samples": len(pcm), "chunk_samples": chunk}

        # 1. 320 ms chunks, plain intermediate decodes.
        s, inter, middle, meta_mid = new_stream(), [], len(offsets) // 2, None
        for i, off in enumerate(offsets):
            n = min(chunk, len(pcm) - off)
            f("FeedAudioContent")(s, ctypes.byref(buf, 2 * off), n)
            inter.append(peer.take_string(f, f("IntermediateDecode")(s)))
            if i == middle:
                meta_mid = peer.candidates(f, f("IntermediateDecodeWithMetadata")(s, 3))
        rec["chunks320"] = {"intermediate": inter, "metadata_after": middle, "intermediate_metadata": meta_mid,
                            "final": peer.candidates(f, f("FinishStreamWithMetadata")(s, 3))}

        # 2. 320 ms chunks, a flushing decode after every third chunk.
        s, inter, flushed = new_stream(), [], {}
        for i, off in enumerate(offsets):
            n = min(chunk, len(pcm) - off)
            f("FeedAudioContent")(s, ctypes.byref(buf, 2 * off), n)
            if i % 3 == 2:
                cands = peer.candidates(f, f("IntermediateDecodeWithMetadataFlushBuffers")(s, 3))
                flushed[str(i)] = cands
                inter.append(cands[0]["text"] if cands else "")
            else:
                inter.append(peer.take_string(f, f("IntermediateDecode")(s)))
        rec["flush"] = {"every": 3, "intermediate": inter, "flushed_metadata": flushed,
                        "final": peer.candidates(f, f("FinishStreamWithMetadata")(s, 3))}

        # 3. Irregular chunk sizes.
        if name in IRREGULAR_CLIPS:
            s, inter, sizes, off, k = new_stream(), [], [], 0, 0
            while off < len(pcm):
                n = min(IRREGULAR[k % len(IRREGULAR)], len(pcm) - off)
                f("FeedAudioContent")(s, ctypes.byref(buf, 2 * off), n)
                sizes.append(n)
                inter.append(peer.take_string(f, f("IntermediateDecode")(s)))
                off += n
                k += 1
            rec["irregular"] = {"sizes": IRREGULAR, "intermediate": inter,
                                "final": peer.candidates(f, f("FinishStreamWithMetadata")(s, 3))}
        out[name] = rec
        print(f"{name}: {len(offsets)} chunks, final {rec['chunks320']['final'][0]['text']!r}", file=sys.stderr)

    f("FreeModel")(model)
    path = os.path.join(HERE, "reference", "peers", "stt-streaming.json")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("{\n")
        fh.write(",\n".join(json.dumps(k, ensure_ascii=False) + ": " +
                            json.dumps(v, ensure_ascii=False, separators=(",", ":")) for k, v in out.items()))
        fh.write("\n}\n")
    print(f"wrote {path}: {len(out)} clips", file=sys.stderr)


if __name__ == "__main__":
    main()
