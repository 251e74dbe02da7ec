#!/usr/bin/env python3
"""Reference features from TensorFlow's own kernels (tensorflow-cpu, tf.raw_ops), computed on each
WHOLE clip in one call, the way DeepSpeech/Coqui training computes them
(util/feeding.py audio_to_features):

  x    = int16 / 32768, shape [N, 1] float32
  spec = tf.raw_ops.AudioSpectrogram(input=x, window_size=512, stride=320, magnitude_squared=True)
  mfcc = tf.raw_ops.Mfcc(spectrogram=spec, sample_rate=16000, upper_frequency_limit=8000,
                         lower_frequency_limit=20, filterbank_channel_count=40, dct_coefficient_count=26)

Frames: 1 + (N - 512) // 320, no padding, the tail is dropped (unlike the native client, which adds
one zero-padded tail frame: see record_litert.py).

Writes under Fixtures/reference/tf/:
  <clip>.spectrogram-first8.npy  [8, 257] float32, the first 8 spectrogram frames
  <clip>.mfcc.npy                [frames, 26] float32
  summary.json                   frames per clip; max |TF MFCC - LiteRT MFCC| over the common frames
                                 (LiteRT frames from reference/litert/<clip>.mfcc.npy, when present)

Usage: record_tf_features.py [--clips hy-01.wav ...]
"""
import argparse
import json
import os
import wave

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CLIPS = ["hy-01.wav", "hy-02.wav", "hy-03.wav", "hy-04.wav", "noise-2s.wav"]


def read_wav16(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def features(pcm):
    x = (pcm.astype(np.float32) * np.float32(1.0 / 32768)).reshape(-1, 1)
    spec = tf.raw_ops.AudioSpectrogram(input=tf.constant(x), window_size=512, stride=320, magnitude_squared=True)
    mfcc = tf.raw_ops.Mfcc(spectrogram=spec, sample_rate=tf.constant(16000, tf.int32), upper_frequency_limit=8000.0,
                           lower_frequency_limit=20.0, filterbank_channel_count=40, dct_coefficient_count=26)
    return spec.numpy()[0], mfcc.numpy()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", default=DEFAULT_CLIPS)
    ap.add_argument("--clips-dir", default=os.path.join(HERE, "clips"))
    ap.add_argument("--out", default=os.path.join(HERE, "reference", "tf"))
    ap.add_argument("--litert", default=os.path.join(HERE, "reference", "litert"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    print(f"tensorflow {tf.__version__}, numpy {np.__version__}")
    summary = {}
    for clip in a.clips:
        pcm = read_wav16(os.path.join(a.clips_dir, clip))
        spec, mfcc = features(pcm)
        n = 1 + (len(pcm) - 512) // 320
        assert spec.shape == (n, 257) and mfcc.shape == (n, 26), (spec.shape, mfcc.shape, n)
        stem = clip[:-4]
        np.save(os.path.join(a.out, f"{stem}.spectrogram-first8.npy"), np.ascontiguousarray(spec[:8], "<f4"))
        np.save(os.path.join(a.out, f"{stem}.mfcc.npy"), np.ascontiguousarray(mfcc, "<f4"))
        rec = {"samples": int(len(pcm)), "frames": int(n)}
        lit = os.path.join(a.litert, f"{stem}.mfcc.npy")
        msg = ""
        if os.path.exists(lit):
            lm = np.load(lit)
            # LiteRT has one more frame: the zero-padded tail; the first n frames are the same windows
            assert lm.shape[0] == n + 1, (lm.shape, n)
            d = np.abs(lm[:n] - mfcc)
            rec.update({"litert_frames": int(lm.shape[0]), "max_abs_diff_vs_litert": float(d.max()),
                        "frames_bit_identical_vs_litert": int((d.max(axis=1) == 0).sum()),
                        "max_abs_diff_vs_litert_per_coeff": [float(v) for v in d.max(axis=0)]})
            msg = f"; vs LiteRT (first {n} frames): max |diff| {d.max():.3g}, {rec['frames_bit_identical_vs_litert']}/{n} frames bit-identical"
        summary[clip] = rec
        print(f"{clip}: {len(pcm)} samples -> {n} frames{msg}")
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump({"tensorflow": tf.__version__, "numpy": np.__version__, "clips": summary}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
