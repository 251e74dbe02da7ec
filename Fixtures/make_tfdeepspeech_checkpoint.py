#!/usr/bin/env python3
"""A small TfDeepSpeech-style TF v1 training checkpoint and TensorFlow's own outputs for it.

TfDeepSpeech is the DeepSpeech port of Rafiki / SINGA-Auto
(nginyc/rafiki and nusdbsystem/singa-auto, examples/models/speech_recognition/TfDeepSpeech.py;
/work/shared/docs/checkpoint-formats.md section 4.2). Its graph differs from DeepSpeech 0.9's:

  * the LSTM is `tf.contrib.rnn.LSTMBlockFusedCell(n_hidden, reuse=reuse)` called without a name or
    an enclosing variable scope, so its variables take the layer's default name `lstm_fused_cell`:
    `lstm_fused_cell/kernel` [n_input_lstm + n_hidden, 4 n_hidden] and `lstm_fused_cell/bias`
    [4 n_hidden]; gate blocks [i, ci (j), f, o]; rows x then h;
  * the cell's forget_bias is the default **1.0**, added by the BlockLSTM kernel at run time to the
    f block (columns / bias entries 2n..3n-1) and not stored in the weights;
  * dense layers `layer_1`..`layer_3`, `layer_5`, `layer_6` with `weights` [in, out] and `bias`,
    clipped ReLU (20) on 1, 2, 3, 5, linear 6; n_input 26, n_context 9 (19 x 26 = 494 inputs);
  * the training checkpoint (train(): `tf.train.Saver(max_to_keep=3)` over every global variable,
    Saver V2 bundle) holds the weights, Adam's slots `<var>/Adam`, `<var>/Adam_1`, Adam's
    `beta1_power`, `beta2_power` and `global_step` (int64); the learning rate is a Python float
    (a knob), so there is no `learning_rate` variable, unlike DeepSpeech 0.9's checkpoints.

Writes
  Fixtures/models/tensorflow/tfdeepspeech-h64.ckpt.index, .data-00000-of-00001
      n_hidden 64, 41 classes, seed 20250964; weights drawn and calibrated like
      make_tensorflow_models.py's (same gains; layer_6/bias calibrated on hy-01 with forget_bias 1.0)
  Fixtures/reference/tensorflow/tfdeepspeech-h64.<clip>.probs.npy   [steps, 41], hy-01 and hy-05
      TensorFlow (BlockLSTM, forget_bias 1.0) on reference/litert/<clip>.mfcc.npy, native-client
      windows and 16-step batches with the LSTM state carried, the graph's variables restored from
      the checkpoint by tf.train.Saver
  Fixtures/reference/tensorflow/summary.json   key "tfdeepspeech" (the other keys are kept)

Usage: Fixtures/.venv/bin/python Fixtures/make_tfdeepspeech_checkpoint.py
Deterministic: fixed seeds, single-threaded sessions, oneDNN off (a rerun rewrites identical files).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tensorflow_models as mt  # noqa: E402  (sets TF_ENABLE_ONEDNN_OPTS=0 before importing TF)

import json  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tfv1 = mt.tfv1

NAME = "tfdeepspeech-h64"
N_HIDDEN, SEED = 64, 20250964
FORGET_BIAS = 1.0  # LSTMBlockFusedCell's default, applied by the kernel, not stored
LSTM = "lstm_fused_cell"  # LSTMBlockFusedCell's default layer name
CLIPS = ["hy-01", "hy-05"]
TRAIN_STEP = 1234  # global_step stored in the checkpoint
LEARNING_RATE = 1e-4  # the `learning_rate` knob: a Python float in TfDeepSpeech, not a variable
DUMP_STEPS = 32

# create_model's order: dense() creates bias before weights; the LSTM between layer_3 and layer_5
MODEL_VARIABLES = ["layer_1/bias", "layer_1/weights", "layer_2/bias", "layer_2/weights",
                   "layer_3/bias", "layer_3/weights", LSTM + "/kernel", LSTM + "/bias",
                   "layer_5/bias", "layer_5/weights", "layer_6/bias", "layer_6/weights"]
EXPECTED_CHECKPOINT = sorted(["beta1_power", "beta2_power", "global_step"] + MODEL_VARIABLES
                             + [v + "/Adam" for v in MODEL_VARIABLES]
                             + [v + "/Adam_1" for v in MODEL_VARIABLES])

SOURCES = {
    "TfDeepSpeech.py": "nusdbsystem/singa-auto 66a092e3 and nginyc/rafiki 272f38fb, "
                       "examples/models/speech_recognition/TfDeepSpeech.py",
    "LSTMBlockFusedCell": "tensorflow/contrib/rnn/python/ops/lstm_ops.py: __init__(num_units, forget_bias=1.0, "
                          "..., name='lstm_fused_cell'); build(): add_variable('kernel', [input_size + num_units, "
                          "4 num_units]), add_variable('bias', [4 num_units]); _call_cell: gen_rnn_ops.block_lstm("
                          "forget_bias=self._forget_bias, cell_clip=-1, use_peephole=False); BlockLSTM doc: "
                          "xh = [x, h_prev]; [i, ci, f, o] = xh * w + b; f = f + forget_bias",
}


# ------------------------------------------------------------------------------------------
# Weights and the float64 reference


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_numpy(kernel, bias, xs, n, forget_bias, c0=None, h0=None):
    """LSTMBlockFusedCell / BlockLSTM without peepholes or clipping, float64:
    z = [x, h] @ kernel + bias; i, j, f, o = split(z, 4); f += forget_bias."""
    kernel, bias = kernel.astype(np.float64), bias.astype(np.float64)
    c = np.zeros(n) if c0 is None else np.asarray(c0, np.float64).reshape(n)
    h = np.zeros(n) if h0 is None else np.asarray(h0, np.float64).reshape(n)
    hs = []
    for x in np.asarray(xs, np.float64):
        z = np.concatenate([x, h]) @ kernel + bias
        i, j, f, o = np.split(z, 4)
        c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return c, h, np.array(hs)


def numpy_forward(w, steps, forget_bias=FORGET_BIAS):
    x = steps.reshape(len(steps), mt.N_FLAT).astype(np.float64)

    def dense(x, name, relu=True):
        y = x @ w[name + "/weights"].astype(np.float64) + w[name + "/bias"].astype(np.float64)
        return np.minimum(np.maximum(y, 0.0), mt.RELU_CLIP) if relu else y

    l3 = dense(dense(dense(x, "layer_1"), "layer_2"), "layer_3")
    _, _, hs = lstm_numpy(w[LSTM + "/kernel"], w[LSTM + "/bias"], l3, N_HIDDEN, forget_bias)
    l6 = dense(dense(hs, "layer_5"), "layer_6", relu=False)
    e = np.exp(l6 - l6.max(axis=1, keepdims=True))
    return {"layer_3": l3, "lstm_h": hs, "raw_logits": l6, "probs": e / e.sum(axis=1, keepdims=True)}


def make_weights(n_classes):
    """The same recipe as make_tensorflow_models.make_weights (gains, per-MFCC row scale of layer_1,
    layer_6/bias calibration on hy-01 with the blank favoured), with TfDeepSpeech's names, and the
    calibration run with the run-time forget bias 1.0."""
    r = np.random.RandomState(SEED)
    n = N_HIDDEN
    w = {}

    def normal(shape, std):
        return (r.standard_normal(shape) * std).astype(np.float32)

    row_scale = np.tile(mt.FEATURE_SCALE, mt.N_WINDOW)[:, None]
    w["layer_1/weights"] = (r.standard_normal((mt.N_FLAT, n)) * row_scale
                            * mt.GAIN["layer_1"] / np.sqrt(mt.N_FLAT)).astype(np.float32)
    w["layer_1/bias"] = normal(n, 1.0)
    for name in ("layer_2", "layer_3"):
        w[name + "/weights"] = normal((n, n), mt.GAIN[name] / np.sqrt(n))
        w[name + "/bias"] = normal(n, 1.0)
    w[LSTM + "/kernel"] = normal((2 * n, 4 * n), mt.GAIN["lstm"] / np.sqrt(2 * n))
    w[LSTM + "/bias"] = normal(4 * n, 0.5)
    w["layer_5/weights"] = normal((n, n), mt.GAIN["layer_5"] / np.sqrt(n))
    w["layer_5/bias"] = normal(n, 1.0)
    w["layer_6/weights"] = normal((n, n_classes), mt.GAIN["layer_6"] / np.sqrt(n))
    w["layer_6/bias"] = normal(n_classes, 0.25)
    mfcc = np.load(os.path.join(mt.LITERT, mt.CALIBRATION_CLIP + ".mfcc.npy"))
    logits = numpy_forward(w, mt.windows(mfcc))["raw_logits"] - w["layer_6/bias"]
    bias = w["layer_6/bias"] - logits.mean(axis=0)
    bias[-1] += mt.BLANK_OFFSET
    w["layer_6/bias"] = bias.astype(np.float32)
    return {k: w[k] for k in MODEL_VARIABLES}


# ------------------------------------------------------------------------------------------
# The training checkpoint


def write_checkpoint(weights, prefix):
    """Variables created as TfDeepSpeech.train() creates them (tf.get_variable on /cpu:0, reference
    variables), AdamOptimizer(learning_rate float, 0.9, 0.999, 1e-8).apply_gradients with
    get_or_create_global_step(), then tf.train.Saver() (V2, one shard). Slot values are seeded
    random; beta1_power / beta2_power are beta^(step + 1), their values after `step` updates."""
    r = np.random.RandomState(SEED + 1)
    graph = tf.Graph()
    with graph.as_default():
        variables = []
        for name in MODEL_VARIABLES:
            with tf.device("/cpu:0"):
                v = tfv1.get_variable(name, shape=weights[name].shape, dtype=tf.float32,
                                      initializer=tfv1.zeros_initializer(), use_resource=False)
            assert v.op.name == name and v.op.type == "VariableV2", (v.op.name, v.op.type)
            variables.append(v)
        loss = tf.add_n([tf.reduce_sum(tf.square(v)) for v in variables])
        optimizer = tfv1.train.AdamOptimizer(learning_rate=LEARNING_RATE, beta1=0.9, beta2=0.999, epsilon=1e-8)
        grads = optimizer.compute_gradients(loss, var_list=variables)
        global_step = tfv1.train.get_or_create_global_step()
        optimizer.apply_gradients(grads, global_step=global_step)
        all_vars = tfv1.global_variables()
        names = sorted(v.op.name for v in all_vars)
        assert names == EXPECTED_CHECKPOINT, sorted(set(names) ^ set(EXPECTED_CHECKPOINT))
        saver = tfv1.train.Saver(write_version=tfv1.train.SaverDef.V2, sharded=False)
        values = {}
        with tfv1.Session(graph=graph, config=mt.session_config()) as sess:
            sess.run(tfv1.global_variables_initializer())
            for v in sorted(all_vars, key=lambda v: v.op.name):
                name = v.op.name
                if name in weights:
                    val = weights[name]
                elif name.endswith("/Adam"):
                    val = (r.standard_normal(v.shape) * 1e-3).astype(np.float32)
                elif name.endswith("/Adam_1"):
                    val = (np.abs(r.standard_normal(v.shape)) * 1e-6).astype(np.float32)
                elif name == "beta1_power":
                    val = np.float32(0.9 ** (TRAIN_STEP + 1))
                elif name == "beta2_power":
                    val = np.float32(0.999 ** (TRAIN_STEP + 1))
                elif name == "global_step":
                    val = np.int64(TRAIN_STEP)
                else:
                    raise AssertionError("unexpected variable " + name)
                v.load(val, sess)
                values[name] = np.asarray(val)
            tmp = tempfile.mkdtemp(dir=mt.WORK)
            saver.save(sess, os.path.join(tmp, "train"), write_meta_graph=False, write_state=False)
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.move(os.path.join(tmp, "train" + suffix), prefix + suffix)
    shutil.rmtree(tmp)
    return values


# ------------------------------------------------------------------------------------------
# The inference graph, variables restored from the checkpoint


class Model:
    """create_inference_graph(batch_size=1) of TfDeepSpeech with the steps dimension left dynamic,
    previous_state_c/h fed (there they are variables assigned from new_state_c/h), variables
    restored from the checkpoint by name. The LSTM is LSTMBlockFusedCell.call/_call_cell: one
    BlockLSTM op (forget_bias 1.0, cell_clip -1, no peepholes: zero wci/wcf/wco), outputs past
    input_lengths masked to 0, final state gathered at input_lengths."""

    def __init__(self, prefix, n_classes):
        n = N_HIDDEN
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.input_node = tfv1.placeholder(tf.float32, [1, None, mt.N_WINDOW, mt.N_INPUT], "input_node")
            self.input_lengths = tfv1.placeholder(tf.int32, [1], "input_lengths")
            self.prev_c = tfv1.placeholder(tf.float32, [1, n], "previous_state_c")
            self.prev_h = tfv1.placeholder(tf.float32, [1, n], "previous_state_h")
            self.mfcc = tfv1.placeholder(tf.float32, [1, None, mt.N_INPUT], "mfcc")
            variables = {}

            def variable(name, shape):
                with tf.device("/cpu:0"):
                    v = tfv1.get_variable(name, shape=shape, dtype=tf.float32, use_resource=False)
                variables[v.op.name] = v
                return v

            def dense(name, x, units, relu=True):
                with tfv1.variable_scope(name):
                    bias = variable("bias", [units])
                    weights = variable("weights", [int(x.shape[-1]), units])
                out = tf.nn.bias_add(tf.matmul(x, weights), bias)
                return tf.minimum(tf.nn.relu(out), mt.RELU_CLIP) if relu else out

            x = tf.reshape(tf.transpose(self.input_node, [1, 0, 2, 3]), [-1, mt.N_FLAT])
            self.layer_3 = dense("layer_3", dense("layer_2", dense("layer_1", x, n), n), n)
            seq = tf.reshape(self.layer_3, [-1, 1, n])
            with tfv1.variable_scope(LSTM):
                kernel = variable("kernel", [2 * n, 4 * n])
                bias = variable("bias", [4 * n])
                time_len = tf.shape(seq)[0]
                max_len = tf.cast(tf.reduce_max(self.input_lengths), tf.int64)
                zeros = tf.zeros([n], tf.float32)
                cell = tf.raw_ops.BlockLSTM(seq_len_max=max_len, x=seq, cs_prev=self.prev_c, h_prev=self.prev_h,
                                            w=kernel, wci=zeros, wcf=zeros, wco=zeros, b=bias,
                                            forget_bias=FORGET_BIAS, cell_clip=-1.0, use_peephole=False)
                mask = tf.transpose(tf.sequence_mask(self.input_lengths, time_len, dtype=tf.float32), [1, 0])
                outputs = cell.h * tf.tile(tf.expand_dims(mask, -1), [1, 1, n])
                index = tf.stack([self.input_lengths, tf.range(1)], axis=1)
                self.new_c = tf.gather_nd(tf.concat([tf.expand_dims(self.prev_c, 0), cell.cs], 0), index)
                self.new_h = tf.gather_nd(tf.concat([tf.expand_dims(self.prev_h, 0), outputs], 0), index)
            self.lstm_h = tf.reshape(outputs, [-1, n])
            layer_6 = dense("layer_6", dense("layer_5", self.lstm_h, n), n_classes, relu=False)
            raw_logits = tf.reshape(layer_6, [-1, 1, n_classes], name="raw_logits")
            self.logits = tf.nn.softmax(raw_logits, name="logits")
            # create_overlapping_windows: conv1d with an identity filter, padding SAME
            eye = tf.constant(np.eye(mt.N_FLAT).reshape(mt.N_WINDOW, mt.N_INPUT, mt.N_FLAT), tf.float32)
            self.windows = tf.reshape(tf.nn.conv1d(self.mfcc, eye, stride=1, padding="SAME"),
                                      [1, -1, mt.N_WINDOW, mt.N_INPUT])
            assert sorted(variables) == sorted(MODEL_VARIABLES), sorted(variables)
            saver = tfv1.train.Saver(variables)
            self.sess = tfv1.Session(graph=self.graph, config=mt.session_config())
            saver.restore(self.sess, prefix)

    def run(self, steps, batch=mt.N_STEPS, dump_steps=0):
        """16-step batches (zero-padded last batch, input_lengths = real steps), state carried."""
        c = np.zeros((1, N_HIDDEN), np.float32)
        h = np.zeros((1, N_HIDDEN), np.float32)
        probs, l3s, hs = [], [], []
        for b0 in range(0, len(steps), batch):
            chunk = steps[b0:b0 + batch]
            k = len(chunk)
            node = np.zeros((1, batch, mt.N_WINDOW, mt.N_INPUT), np.float32)
            node[0, :k] = chunk
            p, c, h, l3, lh = self.sess.run(
                [self.logits, self.new_c, self.new_h, self.layer_3, self.lstm_h],
                {self.input_node: node, self.input_lengths: np.array([k], np.int32),
                 self.prev_c: c, self.prev_h: h})
            probs.append(p.reshape(batch, -1)[:k])
            if b0 < dump_steps:
                l3s.append(l3[:k])
                hs.append(lh[:k])
        dumps = {"layer_3": np.concatenate(l3s)[:dump_steps], "lstm_h": np.concatenate(hs)[:dump_steps]} \
            if dump_steps else {}
        return np.concatenate(probs), dumps

    def tf_windows(self, mfcc):
        return self.sess.run(self.windows, {self.mfcc: mfcc[None].astype(np.float32)})[0]

    def close(self):
        self.sess.close()


# ------------------------------------------------------------------------------------------


def main():
    t0 = time.time()
    for d in (mt.MODELS, mt.REF, mt.WORK):
        os.makedirs(d, exist_ok=True)
    labels = mt.labels_from_model_info()["metadata"]["alphabet"]
    n_classes = len(labels) + 1
    weights = make_weights(n_classes)

    prefix = os.path.join(mt.MODELS, NAME + ".ckpt")
    values = write_checkpoint(weights, prefix)
    written = [prefix + ".index", prefix + ".data-00000-of-00001"]
    reader = tf.train.load_checkpoint(prefix)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    assert sorted(shapes) == EXPECTED_CHECKPOINT, sorted(shapes)
    for name, val in values.items():
        assert np.array_equal(reader.get_tensor(name), val), name

    checks = {}
    model = Model(prefix, n_classes)
    clips = {}
    worst = worst_whole = 0.0
    for clip in CLIPS:
        mfcc = np.load(os.path.join(mt.LITERT, clip + ".mfcc.npy"))
        steps = mt.windows(mfcc)
        tf_steps = model.tf_windows(mfcc)
        assert np.array_equal(tf_steps, steps), clip
        probs, dumps = model.run(steps, dump_steps=DUMP_STEPS if clip == "hy-01" else 0)
        path = os.path.join(mt.REF, "%s.%s.probs.npy" % (NAME, clip))
        mt.save_npy(path, probs)
        written.append(path)
        ref = numpy_forward(weights, steps)
        diff = float(np.abs(probs - ref["probs"]).max())
        worst = max(worst, diff)
        # TfDeepSpeech's predict(): the whole utterance in one batch, zero initial state
        whole, _ = model.run(steps, batch=len(steps))
        worst_whole = max(worst_whole, float(np.abs(whole - probs).max()))
        # without the run-time forget bias (a DeepSpeech 0.9 reader that ignores it)
        no_fb = numpy_forward(weights, steps, forget_bias=0.0)["probs"]
        checks["probs max abs diff vs numpy float64 with forget_bias 0 (%s): what ignoring it costs" % clip] = \
            float(np.abs(probs - no_fb).max())
        checks["argmax agreement with forget_bias 0 (%s)" % clip] = \
            float((probs.argmax(1) == no_fb.argmax(1)).mean())
        if dumps:
            kernel, bias = weights[LSTM + "/kernel"], weights[LSTM + "/bias"]
            _, _, hs = lstm_numpy(kernel, bias, dumps["layer_3"], N_HIDDEN, FORGET_BIAS)
            checks["BlockLSTM h vs numpy LSTM (forget_bias 1.0) on TF's layer_3 (hy-01, 32 steps)"] = \
                float(np.abs(dumps["lstm_h"] - hs).max())
            _, _, hs0 = lstm_numpy(kernel, bias, dumps["layer_3"], N_HIDDEN, 0.0)
            checks["BlockLSTM h vs numpy LSTM with forget_bias 0 (hy-01, 32 steps)"] = \
                float(np.abs(dumps["lstm_h"] - hs0).max())
            folded = bias.astype(np.float64).copy()
            folded[2 * N_HIDDEN:3 * N_HIDDEN] += FORGET_BIAS
            _, _, hsf = lstm_numpy(kernel, folded, dumps["layer_3"], N_HIDDEN, 0.0)
            checks["forget_bias folded into bias[2n:3n], forget_bias 0, vs BlockLSTM h (hy-01, 32 steps)"] = \
                float(np.abs(dumps["lstm_h"] - hsf).max())
            # the same folding through make_tensorflow_models' DeepSpeech 0.9 numpy forward (whole clip)
            ds = {k: v for k, v in weights.items() if not k.startswith(LSTM)}
            ds[mt.LSTM_PREFIX + "/kernel"] = kernel
            ds[mt.LSTM_PREFIX + "/bias"] = folded
            checks["DeepSpeech 0.9 numpy forward with folded bias vs this forward (hy-01 probs)"] = \
                float(np.abs(mt.numpy_forward(ds, steps, N_HIDDEN)["probs"] - ref["probs"]).max())
        text, best = mt.greedy(probs, labels)
        clips[clip] = {
            "steps": int(len(probs)), "greedy_text": text,
            "nonblank_steps": int((best != n_classes - 1).sum()),
            "distinct_argmax": int(len(set(best.tolist()))),
            "max_prob_min": float(probs.max(axis=1).min()), "max_prob_max": float(probs.max(axis=1).max()),
            "argmax": ",".join(str(int(b)) for b in best)}
    model.close()
    checks["probs max abs diff vs numpy float64 with forget_bias 1.0 (all clips)"] = worst
    checks["16-step batches with carried state vs one whole-utterance batch (TfDeepSpeech.predict), max abs diff"] = \
        worst_whole
    checks["conv1d identity-filter windows (create_overlapping_windows) equal the native-client windows"] = True
    checks["checkpoint read back with tf.train.load_checkpoint: every tensor equal"] = True
    checks["graph variables restored from the checkpoint by tf.train.Saver (names and shapes)"] = True
    assert worst < 1e-5, worst
    assert worst_whole < 1e-5, worst_whole
    assert checks["BlockLSTM h vs numpy LSTM (forget_bias 1.0) on TF's layer_3 (hy-01, 32 steps)"] < 1e-5
    assert checks["BlockLSTM h vs numpy LSTM with forget_bias 0 (hy-01, 32 steps)"] > 1e-2

    entry = {
        "format": "TfDeepSpeech (Rafiki / SINGA-Auto) training checkpoint, tf.train.Saver V2 bundle, one shard",
        "sources": SOURCES,
        "n_hidden": N_HIDDEN, "n_cell": N_HIDDEN, "n_classes": n_classes, "n_input": mt.N_INPUT,
        "n_context": mt.N_CONTEXT, "n_steps": mt.N_STEPS, "relu_clip": mt.RELU_CLIP, "seed": SEED,
        "adam_slot_seed": SEED + 1, "global_step": TRAIN_STEP,
        "lstm": {"variables": [LSTM + "/kernel", LSTM + "/bias"], "gate_blocks": "i, ci (j), f, o",
                 "kernel_rows": "x (n_hidden) then h (n_hidden)", "forget_bias": FORGET_BIAS,
                 "forget_bias_applies_to": "pre-activation columns / bias entries [2n, 3n) (the f block), "
                                           "added at run time by BlockLSTM; not in the checkpoint",
                 "cell_clip": None, "peepholes": False},
        "weight_gains": mt.GAIN, "feature_scale": "as make_tensorflow_models.py (c0 0.01, c1-c6 0.2, c7-c25 0.5)",
        "layer_6_bias": "N(0, 0.25) minus each class's mean raw logit over %s (float64 numpy, forget_bias 1.0), "
                        "blank +%.1f" % (mt.CALIBRATION_CLIP, mt.BLANK_OFFSET),
        "checkpoint": {k: {"dtype": dtypes[k].name, "shape": list(shapes[k])} for k in EXPECTED_CHECKPOINT},
        "beta_powers": "beta1_power = float32(0.9^(global_step+1)), beta2_power = float32(0.999^(global_step+1))",
        "not_in_checkpoint": ["learning_rate (a Python float knob)", "previous_state_c/h (inference graph only)"],
        "run": "input_node [1,16,19,26] native-client windows, 16-step batches, last zero-padded with "
               "input_lengths = real steps, previous_state_c/h carried from new_state_c/h",
        "files": {}, "clips": clips, "checks": checks}
    for p in written:
        entry["files"][os.path.basename(p)] = {"bytes": os.path.getsize(p), "sha256": mt.sha256(p)}

    summary_path = os.path.join(mt.REF, "summary.json")
    with open(summary_path, encoding="utf-8") as f:
        summary = json.load(f)
    summary["tfdeepspeech"] = {"command": "Fixtures/.venv/bin/python Fixtures/make_tfdeepspeech_checkpoint.py",
                               "models": {NAME: entry}}
    with open(summary_path, "w", encoding="utf-8") as f:
        f.write(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    print("writing:")
    for p in written + [summary_path]:
        mt.describe(p)
    for k, v in checks.items():
        print("  %-100s %s" % (k, v))
    for clip, c in clips.items():
        print("  %s: %d steps, %d non-blank, %d distinct argmax, max prob %.3f..%.3f, greedy %r"
              % (clip, c["steps"], c["nonblank_steps"], c["distinct_argmax"], c["max_prob_min"],
                 c["max_prob_max"], c["greedy_text"]))
    print("done in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    sys.exit(main())
