#!/usr/bin/env python3
"""Generates the Armenian test clips with espeak-ng + sox (standard library only).

Outputs (under Fixtures/clips/, next to this script):
  hy-01.wav .. hy-12.wav       16 kHz mono 16-bit PCM, one sentence each (2-6 s)
  hy-01-44k-stereo-float.wav   hy-01 as 44.1 kHz, 2 channels, 32-bit float WAV
  hy-02-8k.wav                 hy-02 as 8 kHz mono 16-bit PCM
  long-hy.wav                  16 kHz mono 16-bit, 45-60 s: many sentences with 0.4 s pauses
  noise-2s.wav                 16 kHz mono 16-bit, 2 s of seeded uniform white noise (+-8192)
  manifest.json                file, sentence, voice, speed, duration, samples, sample_rate

Deterministic: espeak-ng output is deterministic, every sox call uses -D (no dither), and the
noise comes from random.Random(20240601). Re-running rewrites identical files.

Usage: python3 Fixtures/make_clips.py [--out DIR]
"""
import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import wave

HERE = os.path.dirname(os.path.abspath(__file__))

# (sentence, espeak-ng voice, words per minute). Everyday Eastern Armenian sentences.
CLIPS = [
    ("Բարև ձեզ, ես ուզում եմ մի բաժակ սուրճ։", "hy+m3", 150),            # Hello, I would like a cup of coffee.
    ("Այսօր եղանակը շատ լավ է, արևը պայծառ է։", "hy+f2", 160),           # The weather is very nice today, the sun is bright.
    ("Երեկ ես գնացի շուկա և գնեցի խնձոր ու հաց։", "hy", 170),           # Yesterday I went to the market and bought apples and bread.
    ("Իմ եղբայրը աշխատում է հիվանդանոցում։", "hy+m1", 130),              # My brother works at the hospital.
    ("Խնդրում եմ, փակեք պատուհանը, ցուրտ է։", "hy+f4", 140),             # Please close the window, it is cold.
    ("Մենք վաղը կգնանք Սևան մեր ընկերների հետ։", "hy+m7", 180),          # Tomorrow we will go to Sevan with our friends.
    ("Երևանը Հայաստանի մայրաքաղաքն է։", "hy+f1", 120),                   # Yerevan is the capital of Armenia.
    ("Ժամը քանիսն է, ես ուշանում եմ աշխատանքի։", "hy+m2", 190),          # What time is it, I am late for work.
    ("Երեխաները խաղում են բակում գնդակով։", "hy+f3", 150),               # The children are playing in the yard with a ball.
    ("Մայրիկս պատրաստել է համեղ ընթրիք։", "hy+m5", 135),                 # My mother has made a tasty dinner.
    ("Գրադարանը բացվում է առավոտյան ժամը ինին։", "hy+f5", 165),           # The library opens at nine in the morning.
    ("Շնորհակալություն օգնության համար, մինչ հանդիպում։", "hy+m4", 175),  # Thank you for the help, see you soon.
]

# Sentences read (with one voice) after the twelve above to fill the long clip.
LONG_EXTRA = [
    "Ես ամեն առավոտ քայլում եմ այգում։",                  # I walk in the park every morning.
    "Ավտոբուսը կանգառում է տասը րոպե։",                   # The bus stops at the stop for ten minutes.
    "Մեր տանը երեք սենյակ կա և մեծ պատշգամբ։",           # Our house has three rooms and a big balcony.
]
LONG_VOICE, LONG_SPEED, LONG_PAUSE_S = "hy", 160, 0.4

NOISE_SEED, NOISE_SECONDS, NOISE_AMPLITUDE = 20240601, 2, 8192


def run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def info(path):
    with wave.open(path, "rb") as w:
        return w.getnframes(), w.getframerate(), w.getnchannels(), w.getsampwidth()


def speak(sentence, voice, speed, out16k, tmp):
    raw = os.path.join(tmp, "espeak.wav")
    run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", raw, sentence])
    run(["sox", "-D", raw, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", out16k])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "clips"))
    args = ap.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"make_clips: {tool} not found")
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (sentence, voice, speed) in enumerate(CLIPS, 1):
            name = f"hy-{i:02d}.wav"
            path = os.path.join(args.out, name)
            speak(sentence, voice, speed, path, tmp)
            n, sr, ch, sw = info(path)
            dur = n / sr
            assert sr == 16000 and ch == 1 and sw == 2, (name, sr, ch, sw)
            assert 2.0 <= dur <= 6.0, f"{name}: {dur:.2f} s is outside 2-6 s"
            manifest.append(dict(file=name, sentence=sentence, voice=voice, speed=speed,
                                 duration=round(dur, 4), samples=n, sample_rate=sr, channels=1,
                                 encoding="pcm_s16le"))

        # Other-format copies.
        src = os.path.join(args.out, "hy-01.wav")
        dst = os.path.join(args.out, "hy-01-44k-stereo-float.wav")
        run(["sox", "-D", src, "-r", "44100", "-c", "2", "-e", "floating-point", "-b", "32", dst])
        n, sr, ch, sw = info_any(dst)
        manifest.append(dict(file=os.path.basename(dst), sentence=CLIPS[0][0], voice=CLIPS[0][1],
                             speed=CLIPS[0][2], duration=round(n / sr, 4), samples=n, sample_rate=sr,
                             channels=ch, encoding="float32le (WAVE_FORMAT_IEEE_FLOAT)",
                             derived_from="hy-01.wav",
                             command="sox -D hy-01.wav -r 44100 -c 2 -e floating-point -b 32 hy-01-44k-stereo-float.wav"))
        src = os.path.join(args.out, "hy-02.wav")
        dst = os.path.join(args.out, "hy-02-8k.wav")
        run(["sox", "-D", src, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", dst])
        n, sr, ch, sw = info(dst)
        manifest.append(dict(file=os.path.basename(dst), sentence=CLIPS[1][0], voice=CLIPS[1][1],
                             speed=CLIPS[1][2], duration=round(n / sr, 4), samples=n, sample_rate=sr,
                             channels=ch, encoding="pcm_s16le", derived_from="hy-02.wav",
                             command="sox -D hy-02.wav -r 8000 -c 1 -b 16 -e signed-integer hy-02-8k.wav"))

        # Long clip: 12 test sentences + extras, one voice, 0.4 s silence between sentences.
        sentences = [c[0] for c in CLIPS] + LONG_EXTRA
        parts = []
        silence = os.path.join(tmp, "pause.wav")
        run(["sox", "-D", "-n", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", silence,
             "trim", "0", str(LONG_PAUSE_S)])
        for k, s in enumerate(sentences):
            p = os.path.join(tmp, f"long-{k:02d}.wav")
            speak(s, LONG_VOICE, LONG_SPEED, p, tmp)
            if parts:
                parts.append(silence)
            parts.append(p)
        dst = os.path.join(args.out, "long-hy.wav")
        run(["sox", "-D"] + parts + [dst])
        n, sr, ch, sw = info(dst)
        dur = n / sr
        assert 45.0 <= dur <= 60.0, f"long-hy.wav: {dur:.2f} s is outside 45-60 s"
        manifest.append(dict(file="long-hy.wav", sentence=" ".join(sentences), voice=LONG_VOICE,
                             speed=LONG_SPEED, duration=round(dur, 4), samples=n, sample_rate=sr,
                             channels=1, encoding="pcm_s16le",
                             sentences=sentences, pause_seconds=LONG_PAUSE_S))

    # Seeded white noise (no espeak): uniform int16 in [-8192, 8191].
    rng = random.Random(NOISE_SEED)
    n = 16000 * NOISE_SECONDS
    samples = [rng.randint(-NOISE_AMPLITUDE, NOISE_AMPLITUDE - 1) for _ in range(n)]
    dst = os.path.join(args.out, "noise-2s.wav")
    print(f"+ write {dst} (random.Random({NOISE_SEED}).randint(-{NOISE_AMPLITUDE}, {NOISE_AMPLITUDE - 1}) x {n})")
    with wave.open(dst, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack(f"<{n}h", *samples))
    manifest.append(dict(file="noise-2s.wav", sentence=None, voice=None, speed=None,
                         duration=float(NOISE_SECONDS), samples=n, sample_rate=16000, channels=1,
                         encoding="pcm_s16le",
                         generator=f"python random.Random({NOISE_SEED}).randint(-{NOISE_AMPLITUDE}, {NOISE_AMPLITUDE - 1}) per sample"))

    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for m in manifest:
        print(f"{m['file']:28s} {m['duration']:7.3f} s  {m['sample_rate']} Hz x{m['channels']}  {m['voice']} {m['speed']}")


def info_any(path):
    """(frames, rate, channels, bytes per sample) for any WAV, float ones included (the wave
    module rejects WAVE_FORMAT_IEEE_FLOAT), by walking the RIFF chunks."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    pos, fmt, nbytes = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", data[pos + 8:pos + 24])
        elif cid == b"data":
            nbytes = size
        pos += 8 + size + (size & 1)
    _tag, ch, sr, _br, align, bits = fmt
    return nbytes // align, sr, ch, bits // 8


if __name__ == "__main__":
    main()
