#!/usr/bin/env python3
"""Helper of Benchmarks/heldout-checkpoints.sh: held-out TensorFlow and DeepSpeech2 checkpoints
(sizes and seeds the tests never saw), the frameworks' own probabilities on held-out clips, and
the comparison with what swift-deepspeech dumped.

Subcommands (WORK is the script's work folder, Fixtures/.work/heldout-checkpoints):

  make-tf  WORK   (Fixtures/.venv, TensorFlow 2.15)  DeepSpeech graphs n_hidden/n_cell 200/200 and
                  160/120 as .pb, .pbmm and a Saver V2 checkpoint, built with the functions of
                  Fixtures/make_tensorflow_models.py (imported as they are: make_weights,
                  GraphBuilder, metadata_values, write_pbmm, write_checkpoint, ...)
  make-ds2 WORK   (Fixtures/.venv-torch, torch 2.13) four DeepSpeech2 variants built with the
                  module tree, weight initialisation and writers of Fixtures/make_deepspeech2_models.py,
                  saved as V3 .ckpt / v2.0 legacy .pth / V2.1 zip .pth; torch's probabilities (float32,
                  with layer outputs, and float64) on the clips from each file READ BACK with torch.load
  ref-tf   WORK   (Fixtures/.venv) TensorFlow's probabilities (and layer outputs) on the MFCC frames
                  our engine dumped, for each file format: the .pb as a GraphDef, the .pbmm through
                  TensorFlow's own ImmutableConst kernel, the checkpoint through tf.train.load_checkpoint;
                  and the float64 numpy forward pass of the fixture script on those weights
  compare  WORK [f64|f32]   (any Python with numpy) the table; exit status 1 if a .dsmodel transcribes
                  differently or a max |dp| exceeds TOLERANCE, measured against the framework's model
                  in float64 (f64, default) or also against its float32 run (f32)

Why float64 by default: torch's own float32 run is off its float64 result by up to 1.4e-5 on these
models (more than the tolerance; ours is within 4e-6 of float64), so a float32-only gate would fail
on the reference's rounding, not on ours. Both are printed; `compare WORK f32` gates on both.

Nothing in Fixtures/ is changed. One addition at run time only: make_deepspeech2_models.RNN_CLASSES
gets "rnn": nn.RNN (its dict has only lstm and gru; the module tree itself takes any torch RNN
class), and the read-back (`load_ds2`) is this file's own because the fixture's model_from_file
knows neither nn.RNN nor a lookahead in a v2.0 package.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "Fixtures")
TOLERANCE = 1e-5

# Clips of Fixtures/make_heldout.sh: six to compare on (clean, noisy, padded with silence), two
# others only to calibrate the DeepSpeech2 BatchNorm statistics.
CLIPS = ["ho-02", "ho-03", "ho-04", "ho-08", "ho-12", "ho-17"]
CALIB_CLIPS = ["ho-05", "ho-10"]

# TensorFlow DeepSpeech: name -> (n_hidden, n_cell, seed); the committed ones are ds-h64 (64/64,
# seed 20240964) and ds-h128-c96 (128/96, seed 20241296).
TF_MODELS = {
    "ds-ho-h200-c200": (200, 200, 20250200),
    "ds-ho-h160-c120": (160, 120, 20250160),
}
TF_FORMATS = ["pb", "pbmm", "ckpt"]

# DeepSpeech2: name -> spec (the fixture's VARIANTS keys) + how to save it. The committed ones are
# seeds 1101-1104, H 24/32, 2-3 layers, lookahead 3/4, lstm/gru only.
DS2_MODELS = {
    "ds2-ho-bigru-h48x4": dict(rnn="gru", hidden=48, layers=4, bidirectional=True, context=None, seed=5201,
                               save="v3", location="cuda:0", flat=True),
    "ds2-ho-unilstm-h40x3-la6": dict(rnn="lstm", hidden=40, layers=3, bidirectional=False, context=6, seed=5202,
                                     save="v20", location="cuda:0", flat=True),
    "ds2-ho-bilstm-h64x2": dict(rnn="lstm", hidden=64, layers=2, bidirectional=True, context=None, seed=5203,
                                save="v21", location="cpu", flat=False),
    "ds2-ho-unirnn-h36x3-la5": dict(rnn="rnn", hidden=36, layers=3, bidirectional=False, context=5, seed=5204,
                                    save="v3", location="cpu", flat=False),
}
DS2_FILE = {"v3": (".ckpt", "V3 .ckpt"), "v20": (".v2.pth", "v2.0 legacy .pth"), "v21": (".v21.pth", "V2.1 zip .pth")}


def read_wav16(path):
    import wave
    with wave.open(path, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(arr, dtype="<f4"))


def save_npy64(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(arr, dtype="<f8"))


def rows_path(work):
    return os.path.join(work, "models.tsv")


def append_rows(work, rows):
    """models.tsv: id, family, format label, path (relative to the repository), needs --alphabet."""
    path = rows_path(work)
    with open(path, "a", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")


def read_rows(work):
    with open(rows_path(work), encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


# ------------------------------------------------------------------------------------------
# TensorFlow


def tf_module():
    sys.path.insert(0, FIXTURES)
    import make_tensorflow_models as mt  # noqa: E402  (builds nothing on import; main() is guarded)
    return mt


def tf_labels(work, mt):
    labels = mt.labels_from_model_info()["metadata"]["alphabet"]
    with open(os.path.join(work, "alphabet.txt"), encoding="utf-8") as f:
        from_cli = [line for line in f.read().split("\n") if line != ""]
    assert from_cli == labels, "alphabet.txt (from `deepspeech inspect --json`) differs from model-info.json"
    return labels


def make_tf(work):
    import time
    mt = tf_module()
    labels = tf_labels(work, mt)
    alphabet_bytes = mt.serialize_alphabet(labels)
    n_classes = len(labels) + 1
    out = os.path.join(work, "models")
    os.makedirs(out, exist_ok=True)
    rows = []
    for name, (n_hidden, n_cell, seed) in TF_MODELS.items():
        t0 = time.time()
        weights = mt.make_weights(seed, n_hidden, n_cell, n_classes)
        builder = mt.GraphBuilder(weights, n_hidden, n_cell, n_classes)
        graph_def = builder.build(mt.metadata_values(alphabet_bytes, b"hy"))
        pb = os.path.join(out, name + ".pb")
        mt.write_bytes(pb, mt.serialize_graph(graph_def))
        pbmm = os.path.join(out, name + ".pbmm")
        mt.write_pbmm(graph_def, pbmm)
        prefix = os.path.join(out, name + ".ckpt")
        mt.write_checkpoint(weights, prefix, seed)
        rel = lambda p: os.path.relpath(p, REPO)  # noqa: E731
        rows += [(name + ".pb", "tf", ".pb", rel(pb), "0"),
                 (name + ".pbmm", "tf", ".pbmm", rel(pbmm), "0"),
                 (name + ".ckpt", "tf", "checkpoint", rel(prefix + ".index"), "1")]
        print("  %s: n_hidden %d, n_cell %d, seed %d: .pb %d B, .pbmm %d B, checkpoint %d+%d B (%.1f s)" % (
            name, n_hidden, n_cell, seed, os.path.getsize(pb), os.path.getsize(pbmm),
            os.path.getsize(prefix + ".index"), os.path.getsize(prefix + ".data-00000-of-00001"), time.time() - t0))
    append_rows(work, rows)


def graph_weights(gd, tf, regions=None):
    """The DeepSpeech weight constants of a frozen GraphDef (Const, or ImmutableConst read from the
    .pbmm's regions), keyed by variable name."""
    mt = tf_module()
    out = {}
    for node in gd.node:
        if not (node.name.endswith("/weights") or node.name.endswith("/bias") or node.name.endswith("/kernel")):
            continue
        if node.op == "Const":
            out[node.name] = tf.make_ndarray(node.attr["value"].tensor)
        elif node.op == "ImmutableConst":
            shape = [d.size for d in node.attr["shape"].shape.dim]
            raw = regions[node.attr["memory_region_name"].s.decode()]
            out[node.name] = np.frombuffer(raw[:4 * int(np.prod(shape))], "<f4").reshape(shape)
    assert mt.LSTM_PREFIX + "/kernel" in out, sorted(out)
    return out


def ref_tf(work):
    import shutil
    import tempfile
    import tensorflow as tf
    mt = tf_module()
    labels = tf_labels(work, mt)
    alphabet_bytes = mt.serialize_alphabet(labels)
    n_classes = len(labels) + 1
    mfcc_check = {}
    for name, (n_hidden, n_cell, _seed) in TF_MODELS.items():
        models = os.path.join(work, "models")
        pb = os.path.join(models, name + ".pb")
        pb_gd = mt.read_graph_def(pb)
        # the checkpoint as TensorFlow reads it; the graph rebuilt from those values
        reader = tf.train.load_checkpoint(os.path.join(models, name + ".ckpt"))
        names = [n for n in reader.get_variable_to_shape_map() if not (n.endswith("/Adam") or n.endswith("/Adam_1"))
                 and n.split("/")[0] in ("layer_1", "layer_2", "layer_3", "layer_5", "layer_6", "cudnn_lstm")]
        ck_weights = {n: reader.get_tensor(n) for n in names}
        builder = mt.GraphBuilder(ck_weights, n_hidden, n_cell, n_classes)
        ck_gd = builder.build(mt.metadata_values(alphabet_bytes, b"hy"))
        tmp = tempfile.mkdtemp(dir=work)
        pbmm_gd, _ = mt.pbmm_as_tf_graph(os.path.join(models, name + ".pbmm"), tmp)
        graphs = {"pb": pb_gd, "pbmm": pbmm_gd, "ckpt": ck_gd}
        # the float64 reference uses the checkpoint's values; the .pb's and .pbmm's constants must be them
        pbmm_raw, regions, _ = mt.read_pbmm(os.path.join(models, name + ".pbmm"))
        for label, held in (("pb", graph_weights(pb_gd, tf)), ("pbmm", graph_weights(pbmm_raw, tf, regions))):
            assert sorted(held) == sorted(ck_weights), (label, sorted(set(held) ^ set(ck_weights)))
            for n, v in ck_weights.items():
                assert np.array_equal(held[n], v), (label, n)
        for fmt in TF_FORMATS:
            runner = mt.Runner(graphs[fmt], n_cell)
            mid = "%s.%s" % (name, fmt)
            for clip in CLIPS:
                ours = os.path.join(work, "dumps", mid, clip)
                mfcc = np.load(os.path.join(ours, "mfcc.npy"))
                probs, layers = runner.run(mfcc, builder.tensor_names, len(mfcc))
                save_npy(os.path.join(work, "ref", mid, clip + ".probs.npy"), probs)
                # float64: the fixture script's numpy forward pass of the same graph (one utterance; the
                # LSTM is causal, so it equals the 16-step batches with carried state)
                ref64 = mt.numpy_forward(ck_weights, mt.windows(mfcc), n_cell)["probs"]
                save_npy64(os.path.join(work, "ref", mid, clip + ".probs64.npy"), ref64)
                for k, v in layers.items():
                    save_npy(os.path.join(work, "ref", mid, "%s.%s.npy" % (clip, k)), v)
                if fmt == "pb":
                    # the MFCC front end too (not part of the gate): TF's own mfccs subgraph on our
                    # windows (512 samples every 320, the last one zero-padded, as the native client)
                    pcm = read_wav16(os.path.join(work, "clips", clip + ".wav")).astype(np.float32) * np.float32(1 / 32768)
                    got = []
                    for k in range(len(mfcc)):
                        w = np.zeros(mt.AUDIO_WIN, np.float32)
                        seg = pcm[k * mt.AUDIO_STEP:k * mt.AUDIO_STEP + mt.AUDIO_WIN]
                        w[:len(seg)] = seg
                        got.append(runner.mfcc(w))
                    mfcc_check["%s/%s" % (name, clip)] = float(np.abs(np.concatenate(got) - mfcc).max())
            runner.close()
        shutil.rmtree(tmp)
        print("  %s: TensorFlow probabilities for .pb, .pbmm (ImmutableConst), checkpoint on %d clips" % (name, len(CLIPS)))
    with open(os.path.join(work, "ref", "tf-mfcc-check.json"), "w") as f:
        json.dump(mfcc_check, f, indent=1)


# ------------------------------------------------------------------------------------------
# DeepSpeech2 (deepspeech.pytorch)


def ds2_module():
    sys.path.insert(0, FIXTURES)
    import make_deepspeech2_models as md  # noqa: E402  (main() is guarded)
    import torch.nn as nn
    md.RNN_CLASSES.setdefault("rnn", nn.RNN)
    return md


def load_ds2(md, path, save):
    """Reads a file back with torch.load and rebuilds the model from what it says (the direction from
    the package / config type, the lookahead context from its weight, as deepspeech.pytorch v2.0 did
    not store it)."""
    import torch
    import torch.nn as nn
    from omegaconf import OmegaConf
    if save == "v20":
        pkg = torch.load(path, map_location="cpu", weights_only=True)
        rnn, hidden, layers, bidir = pkg["rnn_type"], pkg["hidden_size"], pkg["hidden_layers"], pkg["bidirectional"]
        assert pkg["labels"] == "".join(md.LABELS)
    elif save == "v21":
        with md.V21:
            pkg = torch.load(path, map_location="cpu", weights_only=False)
        rnn, hidden, layers, bidir = pkg["rnn_type"], pkg["hidden_size"], pkg["hidden_layers"], pkg["bidirectional"]
        assert pkg["labels"] == md.LABELS and pkg["audio_conf"].window.value == "hamming"
    else:
        with md.V3:
            pkg = torch.load(path, map_location="cpu", weights_only=False)
            mc = pkg["hyper_parameters"]["model_cfg"]
            bidir = OmegaConf.get_type(mc) is md.V3["BiDirectionalConfig"]
            rnn = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}[mc.rnn_type.value]
            hidden, layers = mc.hidden_size, mc.hidden_layers
            if not bidir:
                assert mc.lookahead_context == pkg["state_dict"]["lookahead.0.conv.weight"].shape[2]
        assert pkg["hyper_parameters"]["labels"] == md.LABELS
    sd = pkg["state_dict"]
    context = None if bidir else int(sd["lookahead.0.conv.weight"].shape[2])
    spec = dict(rnn=rnn, hidden=hidden, layers=layers, bidirectional=bidir, context=context)
    model = md.build(spec)
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model, spec


def make_ds2(work):
    import copy
    import time
    import torch
    md = ds2_module()
    out = os.path.join(work, "models")
    os.makedirs(out, exist_ok=True)
    clip_dir = os.path.join(work, "clips")
    samples = {c: read_wav16(os.path.join(clip_dir, c + ".wav")) for c in CLIPS + CALIB_CLIPS}
    rows, notes = [], {}
    for name, spec in DS2_MODELS.items():
        t0 = time.time()
        model = md.build(spec)
        md.init_weights(model, spec, [md.spectrogram(samples[c], "v3") for c in CALIB_CLIPS])
        model.eval()
        m = copy.deepcopy(model)
        if spec["flat"]:
            md.flatten_rnn_storage(m)
        ext, label = DS2_FILE[spec["save"]]
        path = os.path.join(out, name + ext)
        rng = np.random.default_rng(spec["seed"] + 1000)
        if spec["save"] == "v20":
            data = md.legacy_bytes(md.v20_package(m, spec, rng), location=spec["location"], key_seed=spec["seed"])
        elif spec["save"] == "v21":
            with md.V21:
                data = md.save_zip(md.v21_package(m, spec, rng), os.path.basename(path), via_buffer=False)
        else:
            with md.V3:
                data = md.torch17_layout(md.save_zip(md.v3_checkpoint(m, spec, rng), os.path.basename(path),
                                                     via_buffer=True, location=spec["location"]))
        with open(path, "wb") as f:
            f.write(data)
        back, back_spec = load_ds2(md, path, spec["save"])
        assert all(back_spec[key] == spec[key] for key in back_spec), (back_spec, spec)
        fe = spec["save"]   # front end of that generation: v20 / v21 / v3
        back64 = copy.deepcopy(back).double()
        worst_reload = 0.0
        for clip in CLIPS:
            s = md.spectrogram(samples[clip], fe)            # float64 numpy, librosa < 0.10 semantics
            taps = {}
            probs = md.run(back, s, taps).numpy()            # float32 torch on the file read back
            with torch.no_grad():                            # and in float64, same spectrogram
                p64, _ = back64(torch.from_numpy(s).view(1, 1, *s.shape), torch.tensor([s.shape[1]]))
            save_npy64(os.path.join(work, "ref", name, clip + ".probs64.npy"), p64[0].numpy())
            worst_reload = max(worst_reload, float(np.abs(probs - md.run(model, s).numpy()).max()))
            d = os.path.join(work, "ref", name)
            save_npy(os.path.join(d, clip + ".probs.npy"), probs)
            save_npy(os.path.join(d, clip + ".spectrogram.npy"), s.T)                       # [T, 161]
            save_npy(os.path.join(d, clip + ".conv_1.npy"), taps["conv.2"][0].permute(2, 0, 1).numpy())
            save_npy(os.path.join(d, clip + ".conv_2.npy"), taps["conv.5"][0].permute(2, 0, 1).numpy())
            for i in range(spec["layers"]):
                save_npy(os.path.join(d, "%s.rnn_%d.npy" % (clip, i)), taps["rnn%d" % i][:, 0].numpy())
            if "lookahead" in taps:
                save_npy(os.path.join(d, clip + ".lookahead.npy"), taps["lookahead"][:, 0].numpy())
            save_npy(os.path.join(d, clip + ".logits.npy"), taps["logits"][:, 0].numpy())
        assert worst_reload == 0.0, (name, worst_reload)
        rows.append((name, "ds2", label, os.path.relpath(path, REPO), "0"))
        notes[name] = {k: v for k, v in spec.items()}
        print("  %s: %s %s H %d x %d%s, seed %d, %s, %d B; read back with torch.load, probabilities on %d clips (%.1f s)" % (
            name, "bidirectional" if spec["bidirectional"] else "unidirectional", spec["rnn"], spec["hidden"],
            spec["layers"], "" if spec["bidirectional"] else ", lookahead %d" % spec["context"], spec["seed"],
            label, len(data), len(CLIPS), time.time() - t0))
    append_rows(work, rows)
    with open(os.path.join(work, "ref", "ds2-specs.json"), "w") as f:
        json.dump({"torch": torch.__version__, "models": notes}, f, indent=1)


# ------------------------------------------------------------------------------------------
# Comparison


def transcripts(path):
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("{"):
                o = json.loads(line)
                out[os.path.basename(o["file"]).rsplit(".", 1)[0]] = o["transcripts"][0]["text"] if o["transcripts"] else ""
    return out


def stage_diffs(work, mid, ref_id, family):
    """max |d| per stage over the clips, ours (dumps/mid) vs the framework's (ref/ref_id)."""
    if family == "tf":
        pairs = [("layer_1", "layer_1"), ("layer_3", "layer_3"), ("lstm_h", "lstm_h"), ("layer_6", "raw_logits")]
    else:
        n = len([f for f in os.listdir(os.path.join(work, "ref", ref_id)) if f.startswith(CLIPS[0] + ".rnn_")])
        pairs = [("spectrogram", "spectrogram"), ("conv_1", "conv_1"), ("conv_2", "conv_2")] + \
                [("rnn_%d" % i, "rnn_%d" % i) for i in range(n)] + [("lookahead", "lookahead"), ("logits", "logits")]
    out = []
    for ours_name, ref_name in pairs:
        worst, scale = 0.0, 0.0
        for clip in CLIPS:
            a_path = os.path.join(work, "dumps", mid, clip, ours_name + ".npy")
            b_path = os.path.join(work, "ref", ref_id, "%s.%s.npy" % (clip, ref_name))
            if not (os.path.exists(a_path) and os.path.exists(b_path)):
                break
            a, b = np.load(a_path), np.load(b_path)
            a = a.reshape(b.shape)
            worst = max(worst, float(np.abs(a.astype(np.float64) - b).max()))
            scale = max(scale, float(np.abs(b).max()))
        else:
            out.append("%s %.1e (max |x| %.3g)" % (ours_name, worst, scale))
    return out


def probabilities_order(dump_dir):
    """'blank-last' when the dump says the blank column was moved last (every model since
    swift-deepspeech a9791fb), else 'model' (DeepSpeech2 dumps before it: the model's class order)."""
    with open(os.path.join(dump_dir, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    (desc,) = [s["description"] for s in index["stages"] if s["name"] == "probabilities"]
    return "blank-last" if "moved last" in desc else "model"


def load_ours(work, sub, clip, family):
    d_dir = os.path.join(work, "dumps", sub, clip)
    ours = np.load(os.path.join(d_dir, "probabilities.npy")).astype(np.float64)
    order = probabilities_order(d_dir)
    if family == "ds2" and order == "blank-last":   # back to the model's class order (blank "_" is class 0)
        ours = np.concatenate([ours[:, -1:], ours[:, :-1]], 1)
    return ours, order


def compare(work, gate="f64"):
    """gate f64 (default): max |dp| vs the framework's model in float64 <= TOLERANCE; gate f32: vs
    the framework's own float32 run as well. Both are always printed."""
    rows = read_rows(work)
    mfcc_check = {}
    p = os.path.join(work, "ref", "tf-mfcc-check.json")
    if os.path.exists(p):
        with open(p) as f:
            mfcc_check = json.load(f)

    table, failed, details, orders = [], [], [], set()
    ours_by_model = {}   # TF: base model -> {clip: [probs per format]}: the formats must agree exactly
    for mid, family, fmt, _path, _alpha in rows:
        worst = {(ref, kind): 0.0 for ref in ("f32", "f64") for kind in ("file", "dsmodel")}
        fw32_vs_64 = 0.0
        where = ""
        clips = same_tx = total_tx = argmax_same = steps = 0
        for clip in CLIPS:
            refs = {"f32": np.load(os.path.join(work, "ref", mid, clip + ".probs.npy")).astype(np.float64),
                    "f64": np.load(os.path.join(work, "ref", mid, clip + ".probs64.npy"))}
            fw32_vs_64 = max(fw32_vs_64, float(np.abs(refs["f32"] - refs["f64"]).max()))
            for kind, sub in (("file", mid), ("dsmodel", mid + ".dsmodel")):
                ours, order = load_ours(work, sub, clip, family)
                if family == "ds2":
                    orders.add(order)
                for r, ref in refs.items():
                    d = float(np.abs(ours - ref).max()) if ours.shape == ref.shape else float("inf")
                    if d > worst[(r, kind)]:
                        worst[(r, kind)] = d
                        if (r, kind) == (gate, "file"):
                            where = clip if ours.shape == ref.shape else "%s (shape %s vs %s)" % (clip, ours.shape, ref.shape)
                if kind == "file" and ours.shape == refs["f32"].shape:
                    argmax_same += int((ours.argmax(1) == refs["f32"].argmax(1)).sum())
                    steps += len(ours)
                    if family == "tf":
                        ours_by_model.setdefault(mid.rsplit(".", 1)[0], {}).setdefault(clip, []).append(ours)
            clips += 1
            for beam in ("beam1", "beam500"):
                a = transcripts(os.path.join(work, "transcripts", "%s.%s.jsonl" % (mid, beam)))
                b = transcripts(os.path.join(work, "transcripts", "%s.dsmodel.%s.jsonl" % (mid, beam)))
                total_tx += 1
                same_tx += clip in a and a.get(clip) == b.get(clip)
        gated = [("f64", "file"), ("f64", "dsmodel")] + ([("f32", "file"), ("f32", "dsmodel")] if gate == "f32" else [])
        ok = all(worst[g] <= TOLERANCE for g in gated) and same_tx == total_tx
        if not ok:
            failed.append(mid)
        table.append((mid, fmt, clips, worst[("f64", "file")], worst[("f64", "dsmodel")], worst[("f32", "file")],
                      worst[("f32", "dsmodel")], fw32_vs_64, "%d/%d" % (same_tx, total_tx),
                      "%d/%d" % (argmax_same, steps), "ok" if ok else "FAIL"))
        details.append((mid, where, stage_diffs(work, mid, mid, family)))

    w = max(len(r[0]) for r in table)
    print()
    print("Held-out checkpoints: swift-deepspeech's probabilities vs the framework's, tolerance %.0e on max |dp| "
          "vs the %s reference%s" % (TOLERANCE, "float64" if gate == "f64" else "float64 and the float32",
                                     "" if gate == "f64" else "s"))
    print()
    head = ("model", "format", "clips", "f64: file", ".dsmodel", "fw f32: file", ".dsmodel", "fw f32 vs f64",
            "txt file=.dsmodel", "argmax = fw", "")
    fmt_row = "%-" + str(w) + "s  %-16s  %5s  %9s  %8s  %12s  %8s  %13s  %17s  %11s  %s"
    print(fmt_row % head)
    print(fmt_row % tuple("-" * len(h) for h in head))
    for r in table:
        print(fmt_row % (r[0], r[1], r[2], "%.2e" % r[3], "%.2e" % r[4], "%.2e" % r[5], "%.2e" % r[6], "%.2e" % r[7],
                         r[8], r[9], r[10]))
    print()
    print("Columns: max |dp| over every step and class of the %d clips (%s), ours (the file, and its" % (len(CLIPS), ", ".join(CLIPS)))
    print("`deepspeech convert` .dsmodel) vs  f64: the framework's model in float64 (DeepSpeech2: torch .double() on")
    print("the float64 spectrogram; TensorFlow: the fixture script's float64 numpy forward pass of the graph, on the")
    print("weights TensorFlow reads from the checkpoint, equal to the .pb's and .pbmm's constants)  and  fw f32: the")
    print("framework's own float32 run (torch 2.13 on the float64 spectrogram cast to float32, as")
    print("Fixtures/make_deepspeech2_models.py does; TensorFlow 2.15 on our MFCC frames, per file format).")
    print("fw f32 vs f64: the framework's own float32 rounding error, for scale. txt file=.dsmodel: beam-1 and")
    print("beam-500 transcripts (`deepspeech --model M --audio DIR --json`) equal for M and its .dsmodel, per clip.")
    print("argmax = fw (information only): steps whose most probable class is the float32 framework's. (Beam width 1")
    print("is not argmax decoding in the DeepSpeech decoder, so beam-1 text is not compared with a greedy text.)")
    if orders:
        print("DeepSpeech2 probabilities.npy order in our dumps: %s (compared in the model's class order)."
              % ", ".join(sorted(orders)))
    for base, per_clip in sorted(ours_by_model.items()):
        same = all(all(np.array_equal(v[0], x) for x in v[1:]) for v in per_clip.values())

        def fw(fmt, clip):
            return np.load(os.path.join(work, "ref", "%s.%s" % (base, fmt), clip + ".probs.npy"))
        tf_pbmm = max(float(np.abs(fw("pb", c) - fw("pbmm", c)).max()) for c in CLIPS)
        tf_ckpt = max(float(np.abs(fw("pb", c) - fw("ckpt", c)).max()) for c in CLIPS)
        print("%s: our probabilities %s across .pb/.pbmm/checkpoint; TensorFlow's own .pbmm (ImmutableConst) vs .pb "
              "max |dp| %.2e, checkpoint vs .pb %.2e" % (base, "bit-identical" if same else "DIFFER", tf_pbmm, tf_ckpt))
    print()
    print("per stage, max |d| over the clips, ours vs the float32 framework (information only):")
    for mid, where, stages in details:
        print("  %-*s (worst gated clip %s) %s" % (w, mid, where or "-", "; ".join(stages)))
    if mfcc_check:
        print("TensorFlow's own mfccs subgraph vs our MFCC frames (not in the gate): max |d| %.2e over %d model/clip pairs"
              % (max(mfcc_check.values()), len(mfcc_check)))
    print()
    if failed:
        print("FAILED (tolerance %.0e on max |dp| vs the %s reference%s, identical transcripts): %s" % (
            TOLERANCE, "float64" if gate == "f64" else "float64 and float32", "" if gate == "f64" else "s", ", ".join(failed)))
        return 1
    print("PASSED: %d model files and their .dsmodel conversions within %.0e of the framework's float64 model%s on %d "
          "held-out clips" % (len(table), TOLERANCE, "" if gate == "f64" else " and its float32 run", len(CLIPS)))
    return 0


def main():
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("make-tf", "make-ds2", "ref-tf", "compare", "clips"):
        print(__doc__)
        return 2
    cmd, work = sys.argv[1], os.path.abspath(sys.argv[2])
    if cmd == "clips":
        print(" ".join(CLIPS + CALIB_CLIPS))
        return 0
    if cmd == "compare":
        gate = sys.argv[3] if len(sys.argv) == 4 else "f64"
        assert gate in ("f32", "f64"), gate
        return compare(work, gate)
    return {"make-tf": make_tf, "make-ds2": make_ds2, "ref-tf": ref_tf, "compare": compare}[cmd](work) or 0


if __name__ == "__main__":
    sys.exit(main())
