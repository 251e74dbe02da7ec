"""Streams a WAV file to `deepspeech serve`'s WebSocket as a live client would, printing each
partial transcript and then the final one.

  pip install websockets==17.4
  python3 examples/websocket_stream.py clip.wav [ws://127.0.0.1:8080/v1/stream]

The WAV must be 16-bit mono (any rate: it is announced in the config message and the server
resamples). Chunks are 320 ms; pass --realtime to send them at the speed of speech.
"""
import json, sys, time, wave

from websockets.sync.client import connect

args = [a for a in sys.argv[1:] if not a.startswith("--")]
if not args:
    sys.exit(__doc__)
url = args[1] if len(args) > 1 else "ws://127.0.0.1:8080/v1/stream"
with wave.open(args[0], "rb") as w:
    if w.getsampwidth() != 2 or w.getnchannels() != 1:
        sys.exit(f"{args[0]}: need 16-bit mono WAV")
    rate, pcm = w.getframerate(), w.readframes(w.getnframes())
step = 2 * rate * 320 // 1000
with connect(url) as ws:
    ws.send(json.dumps({"config": {"sample_rate": rate}}))
    for offset in range(0, len(pcm), step):
        ws.send(pcm[offset:offset + step])
        print("partial:", json.loads(ws.recv())["partial"], flush=True)
        if "--realtime" in sys.argv:
            time.sleep(0.32)
    ws.send(json.dumps({"eof": 1}))
    print("final:", json.loads(ws.recv())["text"])
