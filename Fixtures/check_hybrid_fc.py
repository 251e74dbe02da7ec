#!/usr/bin/env python3
"""Checks that a plain numpy emulation of TFLite's hybrid (int8 weight, float activation)
FULLY_CONNECTED v3 and of the unrolled LSTM reproduces the LiteRT activations stored in
reference/litert/layers/hy-01.*.npy. This is the arithmetic the Swift side has to reproduce:

  per input row:  range = max(|min|, |max|);  q = clamp(round_half_away(x * (127/range)), -127, 127)
                  out = bias + float(int32 dot(W_int8, q)) * ((range / 127) * weight_scale)
  then RELU + MINIMUM(20) for layers 1, 2, 3, 5; nothing for layer 6 and the LSTM gate FC.
  LSTM: z = FC(concat(x_t, h)) ; i, j, f, o = split(z, 4) ; c = sig(f) c + sig(i) tanh(j) ; h = sig(o) tanh(c)

Usage: check_hybrid_fc.py [MODEL]
"""
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/ds-peers/armspeech.tflite")
L = os.path.join(HERE, "reference", "litert", "layers", "hy-01.")
CELL = "cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/"

it = Interpreter(model_path=MODEL, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
it.allocate_tensors()
T = {d["name"]: d for d in it.get_tensor_details()}


def const(name):
    return it.get_tensor(T[name]["index"])


def hybrid_fc(x, wname, bname, relu_clip):
    w = const(wname).astype(np.int32)
    scale = np.float32(T[wname]["quantization"][0])
    b = const(bname)
    out = np.empty((x.shape[0], w.shape[0]), np.float32)
    for r, row in enumerate(x.astype(np.float32)):
        rng = np.float32(max(abs(row.min()), abs(row.max())))
        if rng == 0:
            out[r] = b
            continue
        v = row * (np.float32(127.0) / rng)
        q = np.clip(np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)), -127, 127).astype(np.int32)
        out[r] = b + (w @ q).astype(np.float32) * ((rng / np.float32(127.0)) * scale)
    return np.minimum(np.maximum(out, 0), np.float32(relu_clip)) if relu_clip else out


ok = True
for name, inp, w, b, clip in [
        ("layer_1", np.load(L + "input_node.npy").reshape(32, 494), "layer_1/weights/transpose", "MatMul_bias", 20),
        ("layer_2", np.load(L + "layer_1.npy"), "layer_2/weights/transpose", "MatMul_1_bias", 20),
        ("layer_3", np.load(L + "layer_2.npy"), "layer_3/weights/transpose", "MatMul_2_bias", 20),
        ("layer_5", np.load(L + "lstm_h.npy"), "layer_5/weights/transpose", "MatMul_3_bias", 20),
        ("layer_6", np.load(L + "layer_5.npy"), "layer_6/weights/transpose", "MatMul_4_bias", None)]:
    ref = np.load(L + name + ".npy")
    d = np.abs(hybrid_fc(inp, w, b, clip) - ref).max()
    ok &= d == 0
    print(f"{name}: max |numpy - LiteRT| = {d:.3g}  (max |LiteRT| {np.abs(ref).max():.3g})")

x3, H, C = np.load(L + "layer_3.npy"), np.load(L + "lstm_h.npy"), np.load(L + "lstm_c.npy")
h = np.zeros(2048, np.float32)
c = np.zeros(2048, np.float32)
dh = dc = 0.0
for t in range(32):
    z = hybrid_fc(np.concatenate([x3[t], h])[None], CELL + "kernel/transpose_13", CELL + "MatMul_15_bias", None)[0]
    i, j, f, o = np.split(z, 4)
    sig = lambda v: (1.0 / (1.0 + np.exp(-v.astype(np.float64)))).astype(np.float32)  # noqa: E731
    c_new = sig(f) * c + sig(i) * np.tanh(j)
    h_new = sig(o) * np.tanh(c_new)
    dh, dc = max(dh, float(np.abs(h_new - H[t]).max())), max(dc, float(np.abs(c_new - C[t]).max()))
    h, c = H[t].copy(), C[t].copy()  # continue from LiteRT's state: measures the per-step error
print(f"LSTM, per step from LiteRT's previous state: max |dh| = {dh:.3g}, max |dc| = {dc:.3g}")
print("dense layers bit-exact" if ok else "dense layers NOT bit-exact")
sys.exit(0 if ok else 1)
