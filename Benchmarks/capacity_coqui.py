"""Coqui STT 1.4 (or DeepSpeech 0.9.3) counterpart of CapacityBenchmark: N threads, each with its
own model and stream (the reference's streams are not meant to share one model across threads),
feed the clip repeated to --seconds of audio in 320 ms chunks as fast as they go, with an
intermediate decode after every chunk. ctypes releases the GIL during each C call, so the
threads run in parallel. Prints one JSON object like CapacityBenchmark --json.

  python3 Benchmarks/capacity_coqui.py [--engine stt|deepspeech] [--streams N] [--seconds S] [--chunk-ms MS] [--model M] [AUDIO]
"""
import argparse, ctypes, json, os, resource, sys, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers"))
import peer  # noqa: E402  (../shared/peers/peer.py: the reference engines' C API)

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--engine", choices=["stt", "deepspeech"], default="stt")
ap.add_argument("--peers-dir", default=peer.HERE)
ap.add_argument("--model", default=None)
ap.add_argument("--streams", type=int, default=2)
ap.add_argument("--seconds", type=float, default=30)
ap.add_argument("--chunk-ms", type=int, default=320)
ap.add_argument("audio", nargs="?", default="Fixtures/clips/long-hy.wav")
a = ap.parse_args()

f = peer.load(a.engine, a.peers_dir)
model_path = (a.model or os.path.join(a.peers_dir, "armspeech.tflite")).encode()
models = []
for _ in range(a.streams):
    m = ctypes.c_void_p()
    peer.check(f, f("CreateModel")(model_path, ctypes.byref(m)), "CreateModel")
    models.append(m)
rate = f("GetModelSampleRate")(models[0])
pcm = peer.read_wav(a.audio, rate)
step = rate * a.chunk_ms // 1000
chunks = int(a.seconds * 1000) // a.chunk_ms
# The clip repeated past the longest stream (streams start at different places in it).
repeated = pcm * (2 + chunks * step // len(pcm))
buffer = (ctypes.c_short * len(repeated)).from_buffer(repeated)
latencies, lock = [], threading.Lock()


def run(index):
    stream = ctypes.c_void_p()
    peer.check(f, f("CreateStream")(models[index], ctypes.byref(stream)), "CreateStream")
    start = index * len(pcm) // a.streams
    mine = []
    for k in range(chunks):
        t0 = time.perf_counter()
        f("FeedAudioContent")(stream, ctypes.byref(buffer, 2 * (start + k * step)), step)
        peer.take_string(f, f("IntermediateDecode")(stream))
        mine.append((time.perf_counter() - t0) * 1000)
    peer.take_string(f, f("FinishStream")(stream))
    with lock:
        latencies.extend(mine)


f("FinishStream").restype = ctypes.c_void_p
threads = [threading.Thread(target=run, args=(i,)) for i in range(a.streams)]
t0 = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - t0
latencies.sort()
pct = lambda p: latencies[min(len(latencies) - 1, int(len(latencies) * p))]
audio = a.streams * chunks * step / rate
print(json.dumps({"engine": peer.take_string(f, f("Version")()), "streams": a.streams, "audio_seconds": audio,
                  "wall_seconds": wall, "audio_seconds_per_second": audio / wall, "chunk_p50_ms": pct(0.5),
                  "chunk_p99_ms": pct(0.99), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
                 sort_keys=True))
