#!/usr/bin/env python3
"""Reference activations from the real model run by LiteRT (ai-edge-litert), fed exactly the way
the Coqui STT 1.4.0 native client feeds it (native_client/stt.cc StreamingState +
tflitemodelstate.cc, tag v1.4.0):

  * int16 -> float32 as sample * (1.0f / 32768)
  * audio buffer of 512 samples; each time it is full: one MFCC frame from the model's MFCC
    subgraph (input_samples [512] -> mfccs [1,26]), then drop the first 320 samples
  * at finish: one more MFCC frame of the remaining partial buffer (192..511 samples), zero-padded
    to 512 (STT 1.4 copy_vector_to_tensor(samples, input_samples_idx_, audio_win_len_))
  * MFCC buffer pre-filled with 9 zero frames; every 19 frames -> one time step [19,26], shift 1
  * at finish: 9 more zero frames (future context of the last frames)
  * time steps batched 16 at a time into input_node [1,16,19,26] with previous_state_c/h [1,2048]
    carried from new_state_c/h; the final partial batch is zero-padded, only its first n rows of
    `logits` are read
  * `logits` [16,41] holds softmax probabilities (the graph applies SOFTMAX to BiasAdd_4)

Interpreter: ai_edge_litert Interpreter with OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES (no
XNNPACK; TFLite builtin kernels: hybrid int8 FULLY_CONNECTED v3 = symmetric per-row input
quantization) and experimental_preserve_all_tensors=True (to read intermediate tensors).

MFCC frames are computed with a copy of the model cut down to its MFCC subgraph (the operators
that `mfccs` depends on, found backwards from `mfccs` like the native client's mfcc_exec_plan_;
same tensors, same constant buffers, same custom-op options), because the Python interpreter
cannot run a partial execution plan and the full graph costs ~90 ms per window. The script checks
that the cut model gives bit-identical MFCCs to the full model on a few windows.

Writes (float32 little-endian .npy) under Fixtures/reference/litert/:
  <clip>.mfcc.npy            [frames, 26] every MFCC frame the model computed, tail frame included,
                             zero context frames excluded (not kept for long-hy.wav: size)
  <clip>.probs.npy           [steps, 41] softmax output per time step (steps == frames); clips:
                             hy-01..hy-12, long-hy, noise-2s
  layers/hy-01.*.npy         per-layer activations for the first 32 time steps (2 batches)
  model-info.json            metadata values, alphabet, geometry, every FULLY_CONNECTED op
  summary.json               per clip: frames, greedy-argmax transcript of the probs

Usage: record_litert.py [MODEL] [--clips DIR] [--out DIR] [--compare-xnnpack]
"""
import argparse
import glob
import hashlib
import json
import os
import sys
import wave

import flatbuffers
import numpy as np
from flatbuffers import flexbuffers
from ai_edge_litert import schema_py_generated as S
from ai_edge_litert.interpreter import Interpreter, OpResolverType

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.expanduser("~/.cache/ds-peers/armspeech.tflite")
N_LAYER_STEPS = 32  # per-layer dump for hy-01: the first 2 batches
MFCC_NOT_SAVED = {"long-hy.wav"}  # repository size: only its probabilities are kept


def read_wav16(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def save(path, arr):
    arr = np.ascontiguousarray(arr, dtype="<f4")
    np.save(path, arr)
    return arr


# ------------------------------------------------------------------------------------------
# Model structure (flatbuffer) helpers


def builtin_names():
    return {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}


def load_model_t(data):
    return S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))


def op_name(model_t, op):
    code = model_t.operatorCodes[op.opcodeIndex]
    b = max(code.builtinCode, code.deprecatedBuiltinCode)
    if b == S.BuiltinOperator.CUSTOM:
        return code.customCode.decode()
    return builtin_names()[b]


def tname(sg, i):
    return sg.tensors[i].name.decode()


def mfcc_only_model(model_t, data):
    """Model bytes holding only the operators `mfccs` depends on (backward BFS from `mfccs`)."""
    sg = model_t.subgraphs[0]
    by_name = {tname(sg, i): i for i in range(len(sg.tensors))}
    producer = {o: k for k, op in enumerate(sg.operators) for o in op.outputs}
    need, stack = set(), [by_name["mfccs"]]
    while stack:
        t = stack.pop()
        if t in producer and producer[t] not in need:
            need.add(producer[t])
            stack.extend(i for i in sg.operators[producer[t]].inputs if i >= 0)
    ops = [sg.operators[k] for k in sorted(need)]
    used = sorted({i for op in ops for i in list(op.inputs) + list(op.outputs) if i >= 0})
    remap = {old: new for new, old in enumerate(used)}
    m2 = load_model_t(data)  # fresh copy to mutate
    sg2 = m2.subgraphs[0]
    buffers = [S.BufferT()]
    tensors = []
    for old in used:
        t = sg2.tensors[old]
        src = model_t.buffers[t.buffer]
        if src.data is not None and len(src.data):
            b = S.BufferT()
            b.data = src.data
            buffers.append(b)
            t.buffer = len(buffers) - 1
        else:
            t.buffer = 0
        tensors.append(t)
    new_ops = []
    for k in sorted(need):
        op = sg2.operators[k]
        op.inputs = [remap[i] if i >= 0 else -1 for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
        new_ops.append(op)
    sg2.tensors, sg2.operators = tensors, new_ops
    sg2.inputs = [remap[by_name["input_samples"]]]
    sg2.outputs = [remap[by_name["mfccs"]]]
    m2.subgraphs, m2.buffers = [sg2], buffers
    m2.metadata, m2.signatureDefs, m2.metadataBuffer = None, None, None
    b = flatbuffers.Builder(1 << 16)
    b.Finish(m2.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output()), [op_name(model_t, sg.operators[k]) for k in sorted(need)]


def decode_alphabet(blob):
    """uint16 count, then per entry uint16 index, uint16 byte length, UTF-8 bytes (little-endian)."""
    count = int.from_bytes(blob[0:2], "little")
    pos, labels = 2, {}
    for _ in range(count):
        idx = int.from_bytes(blob[pos:pos + 2], "little")
        n = int.from_bytes(blob[pos + 2:pos + 4], "little")
        labels[idx] = blob[pos + 4:pos + 4 + n].decode("utf-8")
        pos += 4 + n
    assert pos == len(blob), (pos, len(blob))
    assert sorted(labels) == list(range(count))
    return [labels[i] for i in range(count)], count


# ------------------------------------------------------------------------------------------
# The native-client streaming reproduction


class Engine:
    def __init__(self, model_path, resolver=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                 preserve=True, threads=1):
        with open(model_path, "rb") as f:
            self.data = f.read()
        self.model_t = load_model_t(self.data)
        self.it = Interpreter(model_content=self.data, experimental_op_resolver_type=resolver,
                              experimental_preserve_all_tensors=preserve, num_threads=threads)
        self.it.allocate_tensors()
        self.tensors = {d["name"]: d for d in self.it.get_tensor_details()}
        ins = {d["name"]: d for d in self.it.get_input_details()}
        outs = {d["name"]: d for d in self.it.get_output_details()}
        self.ins, self.outs = ins, outs
        self.idx = {n: ins[n]["index"] for n in ("input_node", "previous_state_c", "previous_state_h", "input_samples")}
        self.idx.update({n: outs[n]["index"] for n in ("logits", "new_state_c", "new_state_h", "mfccs")})
        _, self.n_steps, ctx_w, self.n_features = ins["input_node"]["shape"]
        self.n_context = (ctx_w - 1) // 2
        self.state_size = ins["previous_state_c"]["shape"][1]
        self.n_classes = outs["logits"]["shape"][1]
        mdata, self.mfcc_ops = mfcc_only_model(self.model_t, self.data)
        self.mit = Interpreter(model_content=mdata,
                               experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.mit.allocate_tensors()
        self.m_in = self.mit.get_input_details()[0]["index"]
        self.m_out = self.mit.get_output_details()[0]["index"]
        self.it.invoke()  # run once so the metadata outputs are filled in
        self.meta = {n[len("metadata_"):]: self.it.get_tensor(d["index"]) for n, d in outs.items() if n.startswith("metadata_")}
        self.sample_rate = int(self.meta["sample_rate"][0])
        self.win = int(self.sample_rate * (int(self.meta["feature_win_len"][0]) / 1000.0))
        self.step = int(self.sample_rate * (int(self.meta["feature_win_step"][0]) / 1000.0))

    def mfcc(self, window, full_model=False):
        buf = np.zeros(self.win, np.float32)  # zero-pad a partial window
        buf[:len(window)] = window
        if full_model:
            self.it.set_tensor(self.idx["input_samples"], buf)
            self.it.invoke()
            return self.it.get_tensor(self.idx["mfccs"]).reshape(-1).copy()
        self.mit.set_tensor(self.m_in, buf)
        self.mit.invoke()
        return self.mit.get_tensor(self.m_out).reshape(-1).copy()

    def features(self, pcm):
        """All MFCC frames of the stream, in order (full windows, then the flushed tail)."""
        x = pcm.astype(np.float32) * np.float32(1.0 / (1 << 15))
        frames, pos = [], 0
        while len(x) - pos >= self.win:  # feedAudioContent: a full 512-sample buffer
            frames.append(self.mfcc(x[pos:pos + self.win]))
            pos += self.step                # shift_buffer_left(audio_win_step_)
        frames.append(self.mfcc(x[pos:]))   # flushBuffers: the partial buffer, zero-padded
        return np.stack(frames)

    def windows(self, mfcc):
        """The 19-frame time steps: 9 zero frames before, 9 after (pushMfccBuffer)."""
        z = np.zeros((self.n_context, self.n_features), np.float32)
        padded = np.concatenate([z, mfcc, z])
        w = 2 * self.n_context + 1
        return np.stack([padded[t:t + w] for t in range(len(mfcc))])

    def acoustic(self, steps, on_batch=None):
        c = np.zeros((1, self.state_size), np.float32)
        h = np.zeros((1, self.state_size), np.float32)
        probs = []
        for b0 in range(0, len(steps), self.n_steps):
            chunk = steps[b0:b0 + self.n_steps]
            n = len(chunk)
            node = np.zeros((1, self.n_steps, 2 * self.n_context + 1, self.n_features), np.float32)
            node[0, :n] = chunk                                     # partial batch: zero-padded
            self.it.set_tensor(self.idx["input_node"], node)
            self.it.set_tensor(self.idx["previous_state_c"], c)
            self.it.set_tensor(self.idx["previous_state_h"], h)
            self.it.invoke()
            probs.append(self.it.get_tensor(self.idx["logits"])[:n].copy())  # first n rows only
            c = self.it.get_tensor(self.idx["new_state_c"]).copy()
            h = self.it.get_tensor(self.idx["new_state_h"]).copy()
            if on_batch is not None:
                on_batch(b0 // self.n_steps, n)
        return np.concatenate(probs)


def greedy(probs, labels):
    blank = probs.shape[1] - 1
    best = probs.argmax(axis=1)
    out, prev = [], -1
    for k in best:
        if k != prev and k != blank:
            out.append(labels[k])
        prev = k
    return "".join(out)


# ------------------------------------------------------------------------------------------
# Per-layer tensors


def layer_tensors(eng):
    """Names of the tensors holding each layer's output, found from the op graph."""
    m, sg = eng.model_t, eng.model_t.subgraphs[0]
    ops = sg.operators
    consumers = {}
    for k, op in enumerate(ops):
        for i in op.inputs:
            consumers.setdefault(i, []).append(k)
    found, lstm_c = {}, []
    for k, op in enumerate(ops):
        name = op_name(m, op)
        if name == "FULLY_CONNECTED":
            w = tname(sg, op.inputs[1])
            if w.startswith("layer_"):
                layer = w.split("/")[0]
                out = op.outputs[0]
                mins = [c for c in consumers.get(out, []) if op_name(m, ops[c]) == "MINIMUM"]
                found[layer] = tname(sg, ops[mins[0]].outputs[0]) if mins else tname(sg, out)
                if layer == "layer_5":  # its input is the concatenation of the LSTM outputs h_t
                    found["lstm_h"] = tname(sg, op.inputs[0])
        elif name == "ADD" and "lstm_cell" in tname(sg, op.outputs[0]) or (
                name == "ADD" and tname(sg, op.outputs[0]) == "new_state_c"):
            lstm_c.append(tname(sg, op.outputs[0]))
    # layer_6 has no clip: its FC output is the raw logits; SOFTMAX turns it into `logits`.
    assert len(lstm_c) == eng.n_steps, lstm_c
    return {
        "layer_1": found["layer_1"], "layer_2": found["layer_2"], "layer_3": found["layer_3"],
        "lstm_h": found["lstm_h"], "lstm_c": lstm_c, "layer_5": found["layer_5"],
        "layer_6": found["layer_6"], "probs": "logits",
        "new_state_c": "new_state_c", "new_state_h": "new_state_h",
    }


def model_info(eng, model_path):
    m, sg = eng.model_t, eng.model_t.subgraphs[0]
    labels, count = decode_alphabet(bytes(eng.meta["alphabet"][0]))
    info = {
        "model_file": os.path.basename(model_path),
        "model_sha256": hashlib.sha256(eng.data).hexdigest(),
        "model_bytes": len(eng.data),
        "tflite_schema_version": m.version,
        "description": m.description.decode() if m.description else None,
        "metadata": {
            "version": int(eng.meta["version"][0]),
            "sample_rate": int(eng.meta["sample_rate"][0]),
            "feature_win_len": int(eng.meta["feature_win_len"][0]),
            "feature_win_step": int(eng.meta["feature_win_step"][0]),
            "beam_width": int(eng.meta["beam_width"][0]),
            "alphabet_serialized_hex": bytes(eng.meta["alphabet"][0]).hex(),
            "alphabet_size": count,
            "alphabet": labels,
            "language": bytes(eng.meta["language"][0]).decode("utf-8") if "language" in eng.meta else None,
        },
        "audio_win_len": eng.win, "audio_win_step": eng.step,
        "n_steps": int(eng.n_steps), "n_context": int(eng.n_context), "n_features": int(eng.n_features),
        "n_hidden": int(eng.state_size), "n_classes": int(eng.n_classes), "blank_index": int(eng.n_classes) - 1,
        "inputs": {d["name"]: [int(x) for x in d["shape"]] for d in eng.it.get_input_details()},
        "outputs": {d["name"]: [int(x) for x in d["shape"]] for d in eng.it.get_output_details()},
        "mfcc_subgraph_ops": eng.mfcc_ops,
    }
    counts, fcs, customs, metadata_consts = {}, [], [], {}
    acts = {v: k for k, v in vars(S.ActivationFunctionType).items() if not k.startswith("_")}
    for k, op in enumerate(sg.operators):
        name = op_name(m, op)
        counts[name] = counts.get(name, 0) + 1
        code = m.operatorCodes[op.opcodeIndex]
        if name == "FULLY_CONNECTED":
            w = sg.tensors[op.inputs[1]]
            q = w.quantization
            opts = op.builtinOptions
            fcs.append({
                "op_index": k, "op_version": code.version,
                "input": tname(sg, op.inputs[0]),
                "weights": w.name.decode(), "weights_shape": [int(x) for x in w.shape],
                "weights_dtype": {S.TensorType.INT8: "int8", S.TensorType.FLOAT32: "float32"}.get(w.type, w.type),
                "weights_scale": [float(s) for s in q.scale] if q is not None and q.scale is not None else None,
                "weights_zero_point": [int(z) for z in q.zeroPoint] if q is not None and q.zeroPoint is not None else None,
                "bias": tname(sg, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None,
                "output": tname(sg, op.outputs[0]),
                "fused_activation": acts.get(opts.fusedActivationFunction),
                "keep_num_dims": bool(opts.keepNumDims),
                "asymmetric_quantize_inputs": bool(opts.asymmetricQuantizeInputs),
                "weights_format": int(opts.weightsFormat),
            })
        elif code.builtinCode == S.BuiltinOperator.CUSTOM or code.deprecatedBuiltinCode == S.BuiltinOperator.CUSTOM:
            co = bytes(op.customOptions) if op.customOptions is not None else b""
            customs.append({"op_index": k, "name": name, "version": code.version,
                            "options": flexbuffers.Loads(co) if co else None,
                            "inputs": [tname(sg, i) for i in op.inputs], "outputs": [tname(sg, i) for i in op.outputs]})
        elif name == "RESHAPE" and tname(sg, op.outputs[0]).startswith("metadata_"):
            metadata_consts[tname(sg, op.outputs[0])] = tname(sg, op.inputs[0])
    info["op_counts"] = dict(sorted(counts.items()))
    info["fully_connected"] = fcs
    info["custom_ops"] = customs
    info["metadata_const_tensors"] = metadata_consts
    info["relu_clip"] = {tname(sg, op.outputs[0]): float(eng.it.get_tensor(eng.tensors[tname(sg, op.inputs[1])]["index"]))
                         for op in sg.operators if op_name(m, op) == "MINIMUM"}
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=DEFAULT_MODEL)
    ap.add_argument("--clips", default=os.path.join(HERE, "clips"))
    ap.add_argument("--out", default=os.path.join(HERE, "reference", "litert"))
    ap.add_argument("--peers", default=os.path.join(HERE, "reference", "peers"))
    ap.add_argument("--compare-xnnpack", action="store_true",
                    help="also run the probabilities with LiteRT's default delegates (XNNPACK) and report the difference")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "layers"), exist_ok=True)

    print(f"model {a.model}")
    eng = Engine(a.model, threads=a.threads)
    info = model_info(eng, a.model)
    labels = info["metadata"]["alphabet"]
    print(f"  metadata: { {k: v for k, v in info['metadata'].items() if k not in ('alphabet', 'alphabet_serialized_hex')} }")
    print(f"  alphabet ({len(labels)}): {''.join(labels)!r}; blank = class {info['blank_index']}")
    print(f"  window {eng.win} step {eng.step}; input_node {info['inputs']['input_node']}; n_hidden {eng.state_size}; n_classes {eng.n_classes}")
    print(f"  mfcc subgraph ops: {eng.mfcc_ops}")
    with open(os.path.join(a.out, "model-info.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, ensure_ascii=False, indent=1)
        f.write("\n")

    clips = sorted(glob.glob(os.path.join(a.clips, "hy-[0-9][0-9].wav"))) + [
        os.path.join(a.clips, "long-hy.wav"), os.path.join(a.clips, "noise-2s.wav")]
    peers = {}
    for name in ("stt-beam500-c3.json", "stt-beam1-c3.json"):
        p = os.path.join(a.peers, name)
        peers[name] = json.load(open(p, encoding="utf-8")) if os.path.exists(p) else {}

    # The cut-down MFCC model must agree bit for bit with the full model.
    pcm = read_wav16(clips[0])
    x = pcm.astype(np.float32) * np.float32(1.0 / (1 << 15))
    for start, n in ((0, eng.win), (eng.step, eng.win), (5 * eng.step, 300)):
        a1, a2 = eng.mfcc(x[start:start + n]), eng.mfcc(x[start:start + n], full_model=True)
        assert np.array_equal(a1, a2), ("MFCC subgraph copy disagrees with the full model", start, n)
    print("  check: MFCC-only model == full model on 3 windows (bit-exact)")

    summary, all_mfcc = {}, {}
    for path in clips:
        clip = os.path.basename(path)
        pcm = read_wav16(path)
        mfcc = eng.features(pcm)
        all_mfcc[clip] = mfcc
        steps = eng.windows(mfcc)
        layer_dump = None
        if clip == "hy-01.wav":
            names = layer_tensors(eng)
            layer_dump = {k: [] for k in names}

            def grab(batch, n):
                if batch * eng.n_steps >= N_LAYER_STEPS:
                    return
                for key, tn in names.items():
                    if key == "lstm_c":
                        v = np.concatenate([eng.it.get_tensor(eng.tensors[t]["index"]) for t in tn])
                    else:
                        v = eng.it.get_tensor(eng.tensors[tn]["index"])
                    layer_dump[key].append(np.array(v, np.float32).reshape(-1, v.shape[-1])[:n] if key not in ("new_state_c", "new_state_h") else np.array(v, np.float32))
            probs = eng.acoustic(steps, grab)
        else:
            probs = eng.acoustic(steps)
        assert probs.shape == (len(mfcc), eng.n_classes)
        if clip in MFCC_NOT_SAVED:
            stale = os.path.join(a.out, f"{clip[:-4]}.mfcc.npy")
            if os.path.exists(stale):
                os.remove(stale)
        else:
            save(os.path.join(a.out, f"{clip[:-4]}.mfcc.npy"), mfcc)
        save(os.path.join(a.out, f"{clip[:-4]}.probs.npy"), probs)
        g = greedy(probs, labels)
        rec = {"samples": int(len(pcm)), "frames": int(len(mfcc)), "steps": int(len(probs)), "greedy": g}
        for name, d in peers.items():
            if clip in d:
                rec[name[:-5]] = d[clip]["text"]
        summary[clip] = rec
        print(f"{clip}: {len(pcm)} samples -> {len(mfcc)} frames/steps")
        print(f"    litert greedy : {g}")
        for name in peers:
            if clip in peers[name]:
                print(f"    {name[:-5]:15s}: {peers[name][clip]['text']}")

        if layer_dump is not None:
            ldir = os.path.join(a.out, "layers")
            save(os.path.join(ldir, "hy-01.input_node.npy"), steps[:N_LAYER_STEPS])
            print(f"  layers of hy-01, first {N_LAYER_STEPS} steps -> {ldir}")
            print(f"    input_node           [{N_LAYER_STEPS},19,26]  the windows fed to `input_node` (2 batches of 16)")
            for key, tn in names.items():
                if key in ("new_state_c", "new_state_h"):
                    arr = layer_dump[key][0]  # after batch 1 (the first 16 steps)
                else:
                    arr = np.concatenate(layer_dump[key])[:N_LAYER_STEPS]
                save(os.path.join(ldir, f"hy-01.{key}.npy"), arr)
                shown = f"{tn[0]} .. {tn[-1]} (the {len(tn)} ADD outputs c_t in op order)" if isinstance(tn, list) else tn
                print(f"    {key:20s} {list(arr.shape)}  tensor {shown}")
            np.testing.assert_array_equal(np.concatenate(layer_dump["probs"])[:N_LAYER_STEPS], probs[:N_LAYER_STEPS])
            # self-consistency of what was picked
            lh, lc = np.concatenate(layer_dump["lstm_h"]), np.concatenate(layer_dump["lstm_c"])
            np.testing.assert_array_equal(lh[eng.n_steps - 1], layer_dump["new_state_h"][0][0])
            np.testing.assert_array_equal(lc[eng.n_steps - 1], layer_dump["new_state_c"][0][0])
            l6 = np.concatenate(layer_dump["layer_6"]).astype(np.float64)
            sm = np.exp(l6 - l6.max(1, keepdims=True))
            sm /= sm.sum(1, keepdims=True)
            assert np.abs(sm - probs[:N_LAYER_STEPS]).max() < 1e-5
            print("    check: lstm_h[15]/lstm_c[15] == new_state_h/c after batch 1; softmax(layer_6) == probs")
            info["layer_tensors"] = {k: v for k, v in names.items()}

    with open(os.path.join(a.out, "model-info.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, ensure_ascii=False, indent=1)
        f.write("\n")

    if a.compare_xnnpack:
        print("comparing with the default-delegate (XNNPACK) interpreter:")
        x_eng = Engine(a.model, resolver=OpResolverType.AUTO, preserve=False, threads=a.threads)
        for path in clips:
            clip = os.path.basename(path)
            mfcc = all_mfcc[clip]
            p_ref = np.load(os.path.join(a.out, f"{clip[:-4]}.probs.npy"))
            p_x = x_eng.acoustic(x_eng.windows(mfcc))
            summary[clip]["xnnpack_max_abs_prob_diff"] = float(np.abs(p_x - p_ref).max())
            summary[clip]["xnnpack_greedy"] = greedy(p_x, labels)
            print(f"  {clip}: max |dprob| {summary[clip]['xnnpack_max_abs_prob_diff']:.3g}, greedy equal: {summary[clip]['xnnpack_greedy'] == summary[clip]['greedy']}")

    with open(os.path.join(a.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
