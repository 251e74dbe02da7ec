#!/usr/bin/env python3
"""Helper of Benchmarks/deepspeech2-speed.sh: DeepSpeech2 of the released size, PyTorch's timings,
the agreement check and the table.

Subcommands (run with Fixtures/.venv-torch/bin/python; `compare` and `table` need only numpy):

  make  DIR [bilstm] [unilstm]   writes DIR/ds2-<variant>-h1024x5.ckpt: deepspeech.pytorch V3's
        default BiDirectionalConfig (LSTM, hidden 1024, 5 layers; 86.6M parameters) and
        UniDirectionalConfig (same, lookahead 20), 29 labels, 16 kHz, 20 ms / 10 ms spectrogram.
        Built, initialised and saved with the functions of Fixtures/make_deepspeech2_models.py
        (imported as they are: build, init_weights -- seeded weights scaled so that activations are
        not degenerate, BatchNorm statistics calibrated on two fixture clips and perturbed --,
        flatten_rnn_storage, v3_checkpoint, save_zip, torch17_layout). Existing files are kept.
  torch MODEL CLIP [--repeat N] [--probs OUT.npy]
        deepspeech.pytorch's inference pipeline on one clip, in this process alone (so that its peak
        RSS is the clip's): read the .ckpt back and rebuild the model (load), read the WAV, the
        spectrogram as the fixture script computes it (librosa < 0.10 semantics in numpy), the model
        in eval mode under torch.no_grad (softmax included, as V3 does in eval), greedy decoding.
        torch.set_num_threads(1). One warm-up, then the best of N (default 3) of each stage and of
        the whole pipeline. Prints one JSON object.
  ours  LABEL MODEL CLIP STDERR TIME [STDERR TIME ...]
        one JSON row from runs of `deepspeech --verbose` (its stderr, and `/usr/bin/time -f '%e %M'`):
        best acoustic / features / decoding / wall time, and the largest peak RSS.
  name  VARIANT   the model file stem of bilstm / unilstm.
  compare TORCH_PROBS.npy DUMP_DIR
        max |dp| between torch's probabilities (blank first) and `deepspeech inspect --dump`'s
        probabilities.npy (blank moved last when index.json says so). Prints one JSON object.
  table RESULTS.jsonl
        the table of the rows the shell script collected.
"""
import json
import re
import os
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "Fixtures")

# deepspeech.pytorch V3.0 deepspeech_pytorch/configs/train_config.py defaults
VARIANTS = {
    "bilstm": dict(rnn="lstm", hidden=1024, layers=5, bidirectional=True, context=None, seed=86601),
    "unilstm": dict(rnn="lstm", hidden=1024, layers=5, bidirectional=False, context=20, seed=86602),
}


def model_name(variant):
    spec = VARIANTS[variant]
    tail = "" if spec["context"] is None else "-la%d" % spec["context"]
    return "ds2-%s-h%dx%d%s" % (variant, spec["hidden"], spec["layers"], tail)


def fixture():
    sys.path.insert(0, FIXTURES)
    import make_deepspeech2_models as md  # noqa: E402  (main() is guarded; sets torch threads to 1)
    return md


def rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux


def read_wav16(path):
    import wave
    with wave.open(path) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 16000, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def make(out, variants):
    import copy
    import torch
    md = fixture()
    os.makedirs(out, exist_ok=True)
    calib = [md.spectrogram(md.read_wav(c), "v3") for c in md.CALIB_CLIPS]
    for variant in variants:
        spec = VARIANTS[variant]
        path = os.path.join(out, model_name(variant) + ".ckpt")
        if os.path.exists(path):
            print("kept    %s (%d bytes)" % (os.path.relpath(path, REPO), os.path.getsize(path)), flush=True)
            continue
        t0 = time.time()
        model = md.build(spec)
        md.init_weights(model, spec, calib)
        model.eval()
        params = sum(p.numel() for p in model.parameters())
        t1 = time.time()
        m = copy.deepcopy(model)
        md.flatten_rnn_storage(m)              # as trained on a GPU (cuDNN flat weights), like the releases
        del model
        with md.V3:
            ck = md.v3_checkpoint(m, spec, np.random.default_rng(spec["seed"] + 1000))
            data = md.torch17_layout(md.save_zip(ck, os.path.basename(path), via_buffer=True, location="cuda:0"))
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        # sanity: the file reads back, and the calibration left activations that are not degenerate
        back, back_spec, _ = md.model_from_file(path, "v3")
        assert all(back_spec[k] == spec[k] for k in back_spec), (back_spec, spec)
        probs = md.run(back, calib[0]).numpy()
        text, idx = md.greedy(probs)
        print("wrote   %s: %d parameters, %d bytes, init %.1f s, save %.1f s; on %s: %d steps, %d distinct "
              "argmax labels, mean max p %.3f, greedy %d characters"
              % (os.path.relpath(path, REPO), params, len(data), t1 - t0, time.time() - t1, md.CALIB_CLIPS[0],
                 probs.shape[0], len(set(idx.tolist())), float(probs.max(1).mean()), len(text)), flush=True)
        del m, ck, data, back


def bench_torch(model_path, clip, repeat, probs_out):
    t_import = time.perf_counter()
    import torch
    md = fixture()
    torch.set_num_threads(1)
    t_import = time.perf_counter() - t_import
    rss_after_import = rss_kib()

    t0 = time.perf_counter()
    model, spec, _ = md.model_from_file(model_path, "v3")   # torch.load + rebuild + load_state_dict, eval()
    load_s = time.perf_counter() - t0
    rss_after_load = rss_kib()

    def once():
        t = [time.perf_counter()]
        samples = read_wav16(clip)                                   # int16
        t.append(time.perf_counter())
        spect = md.spectrogram(samples, "v3")                        # [161, T] float64 (librosa semantics)
        x = torch.from_numpy(np.ascontiguousarray(spect, dtype=np.float32)).view(1, 1, *spect.shape)
        lengths = torch.tensor([spect.shape[1]], dtype=torch.int64)
        t.append(time.perf_counter())
        with torch.no_grad():
            probs, out_lengths = model(x, lengths)                   # eval: softmax included
        t.append(time.perf_counter())
        p = probs[0].numpy()
        text, _ = md.greedy(p)                                       # deepspeech.pytorch GreedyDecoder
        t.append(time.perf_counter())
        return np.diff(t), p, text, spect.shape[1]

    once()                                                           # warm-up
    runs = [once() for _ in range(repeat)]
    stages = np.array([r[0] for r in runs])                          # [repeat, 4]
    best = stages.min(0)
    _, p, text, frames = runs[-1]
    if probs_out:
        np.save(probs_out, p.astype(np.float32))
    audio_s = len(read_wav16(clip)) / 16000.0
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(), "model": os.path.basename(model_path),
        "parameters": int(sum(q.numel() for q in model.parameters())), "clip": os.path.basename(clip),
        "audio_s": audio_s, "frames": int(frames), "steps": int(p.shape[0]),
        "import_s": t_import, "load_s": load_s,
        "audio_read_s": float(best[0]), "features_s": float(best[1]), "acoustic_s": float(best[2]),
        "decoding_s": float(best[3]), "pipeline_s": float(stages.sum(1).min()),
        "total_s": load_s + float(stages.sum(1).min()), "label": "PyTorch %s .ckpt" % torch.__version__.split("+")[0],
        "acoustic_runs_s": [float(v) for v in stages[:, 2]],
        "peak_rss_kib": rss_kib(), "rss_after_import_kib": rss_after_import, "rss_after_load_kib": rss_after_load,
        "transcript_chars": len(text), "repeat": repeat,
    }))


VERBOSE = re.compile(r"([0-9.]+) s of audio in ([0-9.]+) s \(audio ([0-9.]+), features ([0-9.]+), "
                     r"acoustic model ([0-9.]+), decoding ([0-9.]+)\)")


def ours_row(label, model, clip, runs):
    """runs: (stderr file, `/usr/bin/time -f '%e %M'` file) of each run of `deepspeech --verbose`."""
    rows = []
    for err, tim in runs:
        text = open(err, encoding="utf-8", errors="replace").read()
        m = VERBOSE.findall(text)
        assert len(m) == 1, "no single --verbose timing line in %s" % err
        audio, inside, a, f, ac, dec = map(float, m[0])
        wall, kib = open(tim).read().split()[-2:]
        rows.append(dict(audio_s=audio, transcribe_s=inside, load_s=float(wall) - inside, audio_read_s=a, features_s=f, acoustic_s=ac,
                         decoding_s=dec, total_s=float(wall), peak_rss_kib=int(kib)))
    best = {k: min(r[k] for r in rows) for k in rows[0]}
    best["peak_rss_kib"] = max(r["peak_rss_kib"] for r in rows)
    best["audio_s"] = rows[0]["audio_s"]
    print(json.dumps({"engine": "ours", "label": label, "model": model, "clip": clip, "repeat": len(rows),
                      "acoustic_runs_s": [r["acoustic_s"] for r in rows], "total_runs_s": [r["total_s"] for r in rows],
                      **best}))


def compare(torch_probs, dump_dir):
    t = np.load(torch_probs).astype(np.float64)
    ours = np.load(os.path.join(dump_dir, "probabilities.npy")).astype(np.float64)
    with open(os.path.join(dump_dir, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    (desc,) = [s["description"] for s in index["stages"] if s["name"] == "probabilities"]
    blank_last = "moved last" in desc
    if blank_last:                                   # back to the model's order: blank "_" is class 0
        ours = np.concatenate([ours[:, -1:], ours[:, :-1]], 1)
    assert ours.shape == t.shape, (ours.shape, t.shape)
    d = np.abs(ours - t)
    print(json.dumps({"steps": int(t.shape[0]), "classes": int(t.shape[1]), "blank_moved_last_in_dump": blank_last,
                      "max_abs_dp": float(d.max()), "mean_abs_dp": float(d.mean()),
                      "argmax_agree": float((ours.argmax(1) == t.argmax(1)).mean())}))


def table(path):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    torch_rows = {(r["model"], r["clip"]): r for r in rows if r["engine"] == "pytorch"}
    head = ("%-26s %6s  %-22s %9s %8s %9s %7s %9s  %-22s"
            % ("model", "clip s", "engine", "acoustic", "load", "total", "RTF", "peak RSS", "ours/PyTorch (ac, tot)"))
    print(head)
    print("-" * len(head))
    for r in rows:
        base = torch_rows.get((r["model"], r["clip"]))
        ratio = ""
        if r["engine"] != "pytorch" and base:
            ratio = "%.2fx, %.2fx" % (r["acoustic_s"] / base["acoustic_s"], r["total_s"] / base["total_s"])
        print("%-26s %6.1f  %-22s %8.3fs %7.3fs %8.3fs %7.3f %7.0f MB  %-22s"
              % (r["model"].replace(".ckpt", ""), r["audio_s"], r["label"], r["acoustic_s"], r["load_s"], r["total_s"], r["total_s"] / r["audio_s"],
                 r["peak_rss_kib"] / 1024.0, ratio))
    print()
    print("acoustic = PyTorch: model forward incl. softmax (torch.no_grad, eval); ours: the --verbose line's")
    print("           'acoustic model' seconds. Best of the runs.")
    print("total    = PyTorch: load (torch.load + rebuild) + WAV read + spectrogram + forward + greedy decoding,")
    print("           best pipeline run + the load time measured once; ours: wall time of the whole")
    print("           `deepspeech` process (load, audio, features, acoustic model, beam 1 decoding), best run.")
    print("load     = PyTorch: torch.load + rebuild + load_state_dict (python and torch import excluded);")
    print("           ours: process wall time - the --verbose line's transcription time (start, load, output).")
    print("RTF      = total / clip seconds. peak RSS: PyTorch getrusage of its process (python + torch import")
    print("           included); ours /usr/bin/time %M.")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "make":
        make(args[0], args[1:] or ["bilstm"])
    elif cmd == "torch":
        repeat, probs = 3, None
        if "--repeat" in args:
            i = args.index("--repeat")
            repeat = int(args[i + 1])
            del args[i:i + 2]
        if "--probs" in args:
            i = args.index("--probs")
            probs = args[i + 1]
            del args[i:i + 2]
        bench_torch(args[0], args[1], repeat, probs)
    elif cmd == "ours":
        ours_row(args[0], args[1], args[2], list(zip(args[3::2], args[4::2])))
    elif cmd == "compare":
        compare(args[0], args[1])
    elif cmd == "table":
        table(args[0])
    elif cmd == "name":
        print(model_name(args[0]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
