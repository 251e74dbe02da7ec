#!/usr/bin/env python3
"""Small TensorFlow-format DeepSpeech models (frozen .pb, .pbmm, v1 checkpoints) and TensorFlow's
own outputs for them, so that the Swift TensorFlow readers can be tested without TensorFlow.

The graph is the DeepSpeech 0.9 `.pb` export (create_inference_graph, LSTMBlockFusedCell variant),
built here from the facts in /work/shared/docs/deepspeech-pipeline.md (sections 1, 3, 4.6-4.8),
in tf.compat.v1 graph mode with reference (VariableV2) variables, then frozen:

  input_samples [512] -> ExpandDims -> AudioSpectrogram(512, 320, power) -> Mfcc(26) -> Reshape -> mfccs
  input_node [1,16,19,26] -> transpose [1,0,2,3] -> reshape [-1,494]
    -> layer_1, layer_2, layer_3: min(relu(x @ weights + bias), 20)
    -> reshape [-1,1,n_hidden] -> BlockLSTM (kernel [n_hidden+n_cell, 4 n_cell], gates i,j,f,o,
       forget_bias 0, no peepholes, no cell clip; seq_len_max = max(input_lengths); outputs past
       input_lengths masked to 0; final state gathered at input_lengths)
       previous_state_c/h [1,n_cell] in, new_state_c/h out
    -> reshape [-1,n_cell] -> layer_5 (clipped ReLU) -> layer_6 (linear) -> raw_logits [-1,1,n_classes]
    -> softmax -> logits
  metadata_version / sample_rate / feature_win_len / feature_win_step / beam_width (int32 [1]),
  metadata_alphabet / metadata_language (string [1])

Variables keep the DeepSpeech names (layer_N/bias, layer_N/weights,
cudnn_lstm/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/{kernel,bias}), so after freezing
they are Const nodes with those names, read through `<name>/read` Identity nodes.

Writes Fixtures/models/tensorflow/ (see its README.md) and Fixtures/reference/tensorflow/:
  <model>.<clip>.probs.npy          [steps, 41] TF softmax per step (native-client windowing and
                                    16-step batches, state carried; ds-h64 and ds-h128-c96 on
                                    hy-01, hy-05, hy-09)
  ds-h64.hy-01.<layer>.npy          first 32 steps of layer_1, layer_3, lstm_h, raw_logits
  armspeech-pb.<clip>.probs.npy     the released model re-exported as .pb (hy-01..hy-03)
  summary.json                      hyper-parameters, seeds, sha256s, checks, greedy paths

and the non-committed Fixtures/.work/armspeech.pb (~190 MB).

Usage: Fixtures/.venv/bin/python Fixtures/make_tensorflow_models.py [--skip-armspeech] [--tflite PATH]
Deterministic: fixed seeds, single-threaded TF sessions, oneDNN off, deterministic protobuf
serialization.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # plain Eigen kernels: reproducible float results

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402

import cramjam  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.framework import tensor_shape_pb2  # noqa: E402
from tensorflow.core.util import memmapped_file_system_pb2 as mmfs_pb2  # noqa: E402

tfv1 = tf.compat.v1
tfv1.disable_eager_execution()

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models", "tensorflow")
REF = os.path.join(HERE, "reference", "tensorflow")
LITERT = os.path.join(HERE, "reference", "litert")
WORK = os.path.join(HERE, ".work")
REPO = os.path.dirname(HERE)

N_STEPS, N_CONTEXT, N_INPUT = 16, 9, 26
N_WINDOW = 2 * N_CONTEXT + 1
N_FLAT = N_WINDOW * N_INPUT  # 494
RELU_CLIP = 20.0
AUDIO_WIN, AUDIO_STEP, SAMPLE_RATE = 512, 320, 16000
LSTM_SCOPE = "cudnn_lstm/rnn/multi_rnn_cell/cell_0"
LSTM_CELL = "cudnn_compatible_lstm_cell"
LSTM_PREFIX = LSTM_SCOPE + "/" + LSTM_CELL
MEMMAPPED_PREFIX = "memmapped_package://"
MEMMAPPED_GRAPHDEF = MEMMAPPED_PREFIX + "."
MIN_CONVERSION_BYTES = 10000  # convert_graphdef_memmapped_format's default
PB_OUTPUTS = ["logits", "new_state_c", "new_state_h", "mfccs"]

SMALL_MODELS = {
    # name: (n_hidden, n_cell, seed)
    "ds-h64": (64, 64, 20240964),
    "ds-h128-c96": (128, 96, 20241296),
}
REF_CLIPS = ["hy-01", "hy-05", "hy-09"]
ARMSPEECH_CLIPS = ["hy-01", "hy-02", "hy-03"]
LAYER_DUMP_STEPS = 32

# Weight scales (chosen once by looking at activations on hy-01): about half of every clipped-ReLU
# layer is 0, a few % sit at the clip 20, the LSTM gates are not saturated, and the softmax max
# ranges from ~0.1 to ~0.99 with 20-40 different argmax classes per clip, blank among them.
FEATURE_SCALE = np.array([0.01] + [0.2] * 6 + [0.5] * 19)  # per MFCC coefficient (c0 is ~100x larger)
GAIN = {"layer_1": 25.0, "layer_2": 1.6, "layer_3": 1.6, "lstm": 0.3, "layer_5": 20.0, "layer_6": 1.2}
CALIBRATION_CLIP, BLANK_OFFSET = "hy-01", 3.0  # layer_6/bias: see make_weights


# ------------------------------------------------------------------------------------------
# Small helpers


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_npy(path, arr):
    arr = np.ascontiguousarray(arr, dtype="<f4")
    np.save(path, arr)
    return arr


def read_wav16(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def session_config():
    return tfv1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def labels_from_model_info():
    with open(os.path.join(LITERT, "model-info.json"), encoding="utf-8") as f:
        info = json.load(f)
    return info


def serialize_alphabet(labels):
    """native_client/alphabet.cc layout (little-endian): uint16 count, then per label
    uint16 index, uint16 byte length, UTF-8 bytes; indices 0..N-1 in order (STT 1.x order)."""
    out = bytearray(struct.pack("<H", len(labels)))
    for i, label in enumerate(labels):
        b = label.encode("utf-8")
        out += struct.pack("<HH", i, len(b)) + b
    return bytes(out)


def greedy(probs, labels):
    blank = probs.shape[1] - 1
    best = probs.argmax(axis=1)
    out, prev = [], -1
    for k in best:
        if k != prev and k != blank:
            out.append(labels[k])
        prev = k
    return "".join(out), best


def windows(mfcc):
    """Native-client time steps: 9 zero frames before and after, step t = frames t-9..t+9."""
    z = np.zeros((N_CONTEXT, N_INPUT), np.float32)
    padded = np.concatenate([z, mfcc.astype(np.float32), z])
    return np.stack([padded[t:t + N_WINDOW] for t in range(len(mfcc))])


# ------------------------------------------------------------------------------------------
# Weights


def make_weights(seed, n_hidden, n_cell, n_classes):
    """Seeded random weights, keyed by DeepSpeech variable name, float32, [in, out] layout."""
    r = np.random.RandomState(seed)
    w = {}

    def normal(shape, std):
        return (r.standard_normal(shape) * std).astype(np.float32)

    row_scale = np.tile(FEATURE_SCALE, N_WINDOW)[:, None]  # frame-major rows: index k*26 + c
    w["layer_1/weights"] = (r.standard_normal((N_FLAT, n_hidden)) * row_scale
                            * GAIN["layer_1"] / np.sqrt(N_FLAT)).astype(np.float32)
    w["layer_1/bias"] = normal(n_hidden, 1.0)
    for name in ("layer_2", "layer_3"):
        w[name + "/weights"] = normal((n_hidden, n_hidden), GAIN[name] / np.sqrt(n_hidden))
        w[name + "/bias"] = normal(n_hidden, 1.0)
    w[LSTM_PREFIX + "/kernel"] = normal((n_hidden + n_cell, 4 * n_cell),
                                        GAIN["lstm"] / np.sqrt(n_hidden + n_cell))
    w[LSTM_PREFIX + "/bias"] = normal(4 * n_cell, 0.5)
    w["layer_5/weights"] = normal((n_cell, n_hidden), GAIN["layer_5"] / np.sqrt(n_cell))
    w["layer_5/bias"] = normal(n_hidden, 1.0)
    w["layer_6/weights"] = normal((n_hidden, n_classes), GAIN["layer_6"] / np.sqrt(n_hidden))
    w["layer_6/bias"] = normal(n_classes, 0.25)
    # Calibrate layer_6/bias on hy-01 so that no class dominates by a constant offset: subtract each
    # class's mean logit over the clip, then favour the blank (last class) by BLANK_OFFSET.
    mfcc = np.load(os.path.join(LITERT, CALIBRATION_CLIP + ".mfcc.npy"))
    logits = numpy_forward(w, windows(mfcc), n_cell)["raw_logits"] - w["layer_6/bias"]
    bias = w["layer_6/bias"] - logits.mean(axis=0)
    bias[-1] += BLANK_OFFSET
    w["layer_6/bias"] = bias.astype(np.float32)
    return w


def numpy_forward(w, steps, n_cell, c0=None, h0=None):
    """float64 reference of the acoustic model on [T,19,26] windows (one utterance, no batching:
    the LSTM is causal, so this equals the batched run with carried state)."""
    x = steps.reshape(len(steps), N_FLAT).astype(np.float64)

    def dense(x, name, relu=True):
        y = x @ w[name + "/weights"].astype(np.float64) + w[name + "/bias"].astype(np.float64)
        return np.minimum(np.maximum(y, 0.0), RELU_CLIP) if relu else y

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    l1 = dense(x, "layer_1")
    l3 = dense(dense(l1, "layer_2"), "layer_3")
    c, h, hs = lstm_numpy(w, l3, n_cell, c0, h0)
    l5 = dense(hs, "layer_5")
    l6 = dense(l5, "layer_6", relu=False)
    e = np.exp(l6 - l6.max(axis=1, keepdims=True))
    return {"layer_1": l1, "layer_3": l3, "lstm_h": hs, "raw_logits": l6,
            "probs": e / e.sum(axis=1, keepdims=True), "c": c, "h": h}


def lstm_numpy(w, xs, n_cell, c0=None, h0=None):
    kernel = w[LSTM_PREFIX + "/kernel"].astype(np.float64)
    bias = w[LSTM_PREFIX + "/bias"].astype(np.float64)
    c = np.zeros(n_cell) if c0 is None else np.asarray(c0, np.float64).reshape(n_cell)
    h = np.zeros(n_cell) if h0 is None else np.asarray(h0, np.float64).reshape(n_cell)
    hs = []
    for x in np.asarray(xs, np.float64):
        z = np.concatenate([x, h]) @ kernel + bias
        i, j, f, o = np.split(z, 4)
        c = 1.0 / (1.0 + np.exp(-f)) * c + 1.0 / (1.0 + np.exp(-i)) * np.tanh(j)
        h = 1.0 / (1.0 + np.exp(-o)) * np.tanh(c)
        hs.append(h)
    return c, h, np.array(hs)


# ------------------------------------------------------------------------------------------
# The DeepSpeech inference graph


class GraphBuilder:
    """Builds the export graph in a fresh tf.Graph; variables are loaded from `weights` and frozen."""

    def __init__(self, weights, n_hidden, n_cell, n_classes):
        self.weights, self.n_hidden, self.n_cell, self.n_classes = weights, n_hidden, n_cell, n_classes
        self.variables = []  # (variable, name)
        self.tensor_names = {}

    def variable(self, name, shape):
        full = tfv1.get_variable_scope().name + "/" + name
        value = self.weights[full]
        assert tuple(value.shape) == tuple(shape), (full, value.shape, shape)
        with tf.device("/cpu:0"):  # DeepSpeech's variable_on_cpu
            v = tfv1.get_variable(name, shape=shape, dtype=tf.float32,
                                  initializer=tfv1.zeros_initializer(), use_resource=False)
        assert v.op.name == full and v.op.type == "VariableV2", (v.op.name, v.op.type)
        self.variables.append((v, full))
        return v

    def dense(self, name, x, units, relu=True):
        with tfv1.variable_scope(name):
            bias = self.variable("bias", [units])
            weights = self.variable("weights", [int(x.shape[-1]), units])
        out = tf.nn.bias_add(tf.matmul(x, weights), bias)
        if relu:
            out = tf.minimum(tf.nn.relu(out), RELU_CLIP)
        return out

    def lstm(self, x, seq_length, state_c, state_h):
        """LSTMBlockFusedCell semantics with the BlockLSTM op, time-major x [T, 1, n_hidden]."""
        n_cell = self.n_cell
        with tfv1.variable_scope(LSTM_SCOPE):
            with tfv1.variable_scope(LSTM_CELL):
                kernel = self.variable("kernel", [self.n_hidden + n_cell, 4 * n_cell])
                bias = self.variable("bias", [4 * n_cell])
                time_len = tf.shape(x)[0]
                max_len = tf.cast(tf.reduce_max(seq_length), tf.int64)
                no_peephole = tf.zeros([n_cell], dtype=tf.float32)
                cell = tf.raw_ops.BlockLSTM(
                    seq_len_max=max_len, x=x, cs_prev=state_c, h_prev=state_h, w=kernel,
                    wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=bias,
                    forget_bias=0.0, cell_clip=-1.0, use_peephole=False, name="BlockLSTM")
                # outputs past the sequence length are zeroed; final state = state at seq_length
                mask = tf.transpose(tf.sequence_mask(seq_length, time_len, dtype=tf.float32), [1, 0])
                mask = tf.tile(tf.expand_dims(mask, -1), [1, 1, n_cell])
                outputs = cell.h * mask
                all_c = tf.concat([tf.expand_dims(state_c, 0), cell.cs], 0)
                all_h = tf.concat([tf.expand_dims(state_h, 0), outputs], 0)
                index = tf.stack([seq_length, tf.range(tf.shape(state_c)[0])], axis=1)
                final_c = tf.gather_nd(all_c, index)
                final_h = tf.gather_nd(all_h, index)
        return outputs, final_c, final_h

    def build(self, metadata, mfcc=True):
        """metadata: list of (name, python value) in graph order; returns the output node names."""
        graph = tf.Graph()
        with graph.as_default():
            outputs = list(PB_OUTPUTS if mfcc else PB_OUTPUTS[:3])
            if mfcc:
                input_samples = tfv1.placeholder(tf.float32, [AUDIO_WIN], name="input_samples")
                samples = tf.expand_dims(input_samples, -1)
                spectrogram = tf.raw_ops.AudioSpectrogram(input=samples, window_size=AUDIO_WIN,
                                                          stride=AUDIO_STEP, magnitude_squared=True)
                mfccs = tf.raw_ops.Mfcc(spectrogram=spectrogram, sample_rate=SAMPLE_RATE,
                                        upper_frequency_limit=SAMPLE_RATE / 2, lower_frequency_limit=20.0,
                                        filterbank_channel_count=40, dct_coefficient_count=N_INPUT)
                mfccs = tf.reshape(mfccs, [-1, N_INPUT])
                tf.identity(mfccs, name="mfccs")
            input_node = tfv1.placeholder(tf.float32, [1, N_STEPS, N_WINDOW, N_INPUT], name="input_node")
            seq_length = tfv1.placeholder(tf.int32, [1], name="input_lengths")
            state_c = tfv1.placeholder(tf.float32, [1, self.n_cell], name="previous_state_c")
            state_h = tfv1.placeholder(tf.float32, [1, self.n_cell], name="previous_state_h")

            x = tf.transpose(input_node, [1, 0, 2, 3])
            x = tf.reshape(x, [-1, N_FLAT])
            layer_1 = self.dense("layer_1", x, self.n_hidden)
            layer_2 = self.dense("layer_2", layer_1, self.n_hidden)
            layer_3 = self.dense("layer_3", layer_2, self.n_hidden)
            rnn_in = tf.reshape(layer_3, [-1, 1, self.n_hidden])
            rnn_out, final_c, final_h = self.lstm(rnn_in, seq_length, state_c, state_h)
            rnn_out = tf.reshape(rnn_out, [-1, self.n_cell])
            layer_5 = self.dense("layer_5", rnn_out, self.n_hidden)
            layer_6 = self.dense("layer_6", layer_5, self.n_classes, relu=False)
            raw_logits = tf.reshape(layer_6, [-1, 1, self.n_classes], name="raw_logits")
            tf.nn.softmax(raw_logits, name="logits")
            tf.identity(final_c, name="new_state_c")
            tf.identity(final_h, name="new_state_h")
            self.tensor_names = {"layer_1": layer_1.name, "layer_3": layer_3.name,
                                 "lstm_h": rnn_out.name, "raw_logits": raw_logits.name}
            for name, value in metadata:
                tf.constant([value], name=name)
                outputs.append(name)
            graph_def = self.freeze(graph, outputs)
        return graph_def

    def freeze(self, graph, outputs):
        with tfv1.Session(graph=graph, config=session_config()) as sess:
            for v, name in self.variables:
                v.load(self.weights[name], sess)
            frozen = tfv1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), outputs)
        return tfv1.graph_util.extract_sub_graph(frozen, outputs)


def metadata_values(alphabet, language, version=6, beam_width=500, old=False):
    if old:  # DeepSpeech 0.6-like: no alphabet, no beam width, no language
        return [("metadata_version", version), ("metadata_sample_rate", SAMPLE_RATE),
                ("metadata_feature_win_len", 32), ("metadata_feature_win_step", 20)]
    meta = [("metadata_version", version), ("metadata_sample_rate", SAMPLE_RATE),
            ("metadata_feature_win_len", 32), ("metadata_feature_win_step", 20),
            ("metadata_beam_width", beam_width), ("metadata_alphabet", alphabet)]
    if language is not None:
        meta.append(("metadata_language", language))
    return meta


def serialize_graph(graph_def):
    return graph_def.SerializeToString(deterministic=True)


def op_counts(graph_def):
    counts = {}
    for n in graph_def.node:
        counts[n.op] = counts.get(n.op, 0) + 1
    return dict(sorted(counts.items()))


def load_graph(graph_def):
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    return graph


def read_graph_def(path):
    gd = tfv1.GraphDef()
    with open(path, "rb") as f:
        gd.ParseFromString(f.read())
    return gd


class Runner:
    """Runs a frozen graph like DeepSpeech 0.9's TF backend (tfmodelstate.cc): 16-step batches,
    zero-padded final batch with input_lengths = real steps, LSTM state carried."""

    def __init__(self, graph_def, n_cell):
        self.graph = load_graph(graph_def)
        self.sess = tfv1.Session(graph=self.graph, config=session_config())
        self.n_cell = n_cell

    def close(self):
        self.sess.close()

    def run(self, mfcc, extra=None, extra_steps=0):
        steps = windows(mfcc)
        c = np.zeros((1, self.n_cell), np.float32)
        h = np.zeros((1, self.n_cell), np.float32)
        probs, dumps = [], {k: [] for k in (extra or {})}
        for b0 in range(0, len(steps), N_STEPS):
            chunk = steps[b0:b0 + N_STEPS]
            n = len(chunk)
            node = np.zeros((1, N_STEPS, N_WINDOW, N_INPUT), np.float32)
            node[0, :n] = chunk
            fetches = ["logits:0", "new_state_c:0", "new_state_h:0"]
            want = extra if (extra and b0 < extra_steps) else {}
            fetches += [want[k] for k in want]
            out = self.sess.run(fetches, {"input_node:0": node, "input_lengths:0": np.array([n], np.int32),
                                          "previous_state_c:0": c, "previous_state_h:0": h})
            probs.append(out[0].reshape(N_STEPS, -1)[:n])
            c, h = out[1], out[2]
            for k, v in zip(want, out[3:]):
                dumps[k].append(v.reshape(N_STEPS, -1)[:n])
        probs = np.concatenate(probs)
        dumps = {k: np.concatenate(v)[:extra_steps] for k, v in dumps.items() if v}
        return probs, dumps

    def mfcc(self, window):
        return self.sess.run("mfccs:0", {"input_samples:0": window})


# ------------------------------------------------------------------------------------------
# .pbmm (MemmappedFileSystem), written the way convert_graphdef_memmapped_format does


def sanitize_region(name, used):
    s = "".join(c if (c.isascii() and (c.isalnum() or c in "_.")) else "_" for c in name)
    while s in used:
        s += "_"
    used.add(s)
    return s


POD_DTYPES = {tf.float32.as_datatype_enum, tf.float64.as_datatype_enum, tf.int32.as_datatype_enum,
              tf.uint8.as_datatype_enum, tf.int16.as_datatype_enum, tf.int8.as_datatype_enum,
              tf.int64.as_datatype_enum, tf.bool.as_datatype_enum, tf.uint16.as_datatype_enum,
              tf.float16.as_datatype_enum, tf.bfloat16.as_datatype_enum, tf.uint32.as_datatype_enum,
              tf.uint64.as_datatype_enum, tf.complex64.as_datatype_enum, tf.complex128.as_datatype_enum}


def write_pbmm(graph_def, path, alignment=64, with_length=True, min_bytes=MIN_CONVERSION_BYTES):
    """Const nodes of POD dtype with >= min_bytes bytes become ImmutableConst {dtype, shape,
    memory_region_name}; their raw bytes go first, each zero-padded to `alignment`; then the
    GraphDef region `memmapped_package://.` (unaligned), the directory proto, and the u64 LE
    directory offset. with_length=False writes the TF 1.x directory (no `length` fields)."""
    gd = tfv1.GraphDef()
    gd.CopyFrom(graph_def)
    out = bytearray()
    directory = mmfs_pb2.MemmappedFileSystemDirectory()
    used, regions = set(), []

    def add(name, data):
        e = directory.element.add()
        e.offset = len(out)
        e.name = name
        if with_length:
            e.length = len(data)
        out.extend(data)

    for node in gd.node:
        if node.op != "Const":
            continue
        tp = node.attr["value"].tensor
        if tp.dtype not in POD_DTYPES:
            continue
        arr = tf.make_ndarray(tp)
        if arr.nbytes < min_bytes:
            continue
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        region = MEMMAPPED_PREFIX + sanitize_region(node.name, used)
        out.extend(b"\0" * ((-len(out)) % alignment))
        add(region, data)
        dtype, shape = tp.dtype, tensor_shape_pb2.TensorShapeProto()
        shape.CopyFrom(tp.tensor_shape)
        node.op = "ImmutableConst"
        node.ClearField("attr")
        node.attr["dtype"].type = dtype
        node.attr["shape"].shape.CopyFrom(shape)
        node.attr["memory_region_name"].s = region.encode()
        regions.append({"node": node.name, "region": region, "offset": directory.element[-1].offset,
                        "bytes": len(data)})
    add(MEMMAPPED_GRAPHDEF, serialize_graph(gd))
    dir_offset = len(out)
    out.extend(directory.SerializeToString(deterministic=True))
    out.extend(struct.pack("<Q", dir_offset))
    write_bytes(path, bytes(out))
    return regions, dir_offset


def read_pbmm(path):
    """Parses a .pbmm back: returns (GraphDef with ImmutableConst, {region name: bytes}, elements)."""
    with open(path, "rb") as f:
        data = f.read()
    dir_offset = struct.unpack("<Q", data[-8:])[0]
    directory = mmfs_pb2.MemmappedFileSystemDirectory()
    directory.ParseFromString(data[dir_offset:-8])
    elems = list(directory.element)
    regions = {}
    for k, e in enumerate(elems):
        end = elems[k + 1].offset if k + 1 < len(elems) else dir_offset
        length = e.length if e.length else end - e.offset
        assert e.offset + length <= end
        regions[e.name] = data[e.offset:e.offset + length]
    gd = tfv1.GraphDef()
    gd.ParseFromString(regions[MEMMAPPED_GRAPHDEF])
    return gd, regions, elems


def pbmm_as_tf_graph(path, tmpdir):
    """The .pbmm's GraphDef with every ImmutableConst pointed at a file holding its region, so that
    TensorFlow's own ImmutableConst kernel (default Env: memory-maps a file) loads the tensors."""
    gd, regions, elems = read_pbmm(path)
    for node in gd.node:
        if node.op == "ImmutableConst":
            region = node.attr["memory_region_name"].s.decode()
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
            shape = [d.size for d in node.attr["shape"].shape.dim]
            nbytes = int(np.prod(shape)) * dtype.size
            file = os.path.join(tmpdir, region[len(MEMMAPPED_PREFIX):])
            write_bytes(file, regions[region][:nbytes])
            node.attr["memory_region_name"].s = file.encode()
    return gd, elems


# ------------------------------------------------------------------------------------------
# Tensor bundle checkpoint + LevelDB-style table (for the snappy rewrite)

MASK_DELTA = 0xA282EAD8
TABLE_MAGIC = 0xDB4775248B80FB57


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + MASK_DELTA) & 0xFFFFFFFF


def get_varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def put_varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def block_entries(block):
    nres = struct.unpack("<I", block[-4:])[0]
    limit = len(block) - 4 - 4 * nres
    pos, key, out = 0, b"", []
    while pos < limit:
        shared, pos = get_varint(block, pos)
        non_shared, pos = get_varint(block, pos)
        vlen, pos = get_varint(block, pos)
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def build_block(entries, restart_interval):
    out, restarts, last = bytearray(), [], b""
    for k, (key, value) in enumerate(entries):
        if k % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(last), len(key)) and last[shared] == key[shared]:
                shared += 1
        out += put_varint(shared) + put_varint(len(key) - shared) + put_varint(len(value))
        out += key[shared:] + value
        last = key
    restarts = restarts or [0]
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def read_table(data):
    """Returns (entries, blocks info); checks every trailer CRC; decodes snappy blocks."""
    footer = data[-48:]
    assert struct.unpack("<Q", footer[40:48])[0] == TABLE_MAGIC
    pos = 0
    mi_off, pos = get_varint(footer, pos)
    mi_size, pos = get_varint(footer, pos)
    ix_off, pos = get_varint(footer, pos)
    ix_size, pos = get_varint(footer, pos)
    info = []

    def block(off, size, what):
        contents = data[off:off + size]
        btype = data[off + size]
        crc = struct.unpack("<I", data[off + size + 1:off + size + 5])[0]
        assert crc == masked_crc(contents + bytes([btype])), (what, off)
        raw = cramjam.snappy.decompress_raw(contents).read() if btype == 1 else contents
        assert btype in (0, 1)
        info.append({"block": what, "offset": off, "stored_bytes": size, "raw_bytes": len(raw),
                     "compression": btype})
        return bytes(raw)

    index = block_entries(block(ix_off, ix_size, "index"))
    metaindex = block(mi_off, mi_size, "metaindex")
    entries = []
    for k, (_, handle) in enumerate(index):
        off, p = get_varint(handle, 0)
        size, p = get_varint(handle, p)
        entries += block_entries(block(off, size, "data %d" % k))
    return entries, index, metaindex, info


def rewrite_table_snappy(data):
    """The same table with every block stored as old TensorFlow's table builder did with
    kSnappyCompression: a block is kept compressed (trailer type 1) when snappy saves at least
    1/8 of it, else stored raw (type 0); trailer CRC = masked CRC32C(stored bytes + type byte)."""
    _, index, metaindex, _ = read_table(data)
    out = bytearray()
    kinds = []

    def write_block(raw, what):
        compressed = bytes(cramjam.snappy.compress_raw(raw))
        if len(compressed) < len(raw) - len(raw) // 8:
            stored, btype = compressed, 1
        else:
            stored, btype = raw, 0
        handle = put_varint(len(out)) + put_varint(len(stored))
        out.extend(stored)
        out.append(btype)
        out.extend(struct.pack("<I", masked_crc(stored + bytes([btype]))))
        kinds.append({"block": what, "raw_bytes": len(raw), "stored_bytes": len(stored),
                      "compression": btype})
        return handle

    new_index = []
    for k, (key, handle) in enumerate(index):
        off, p = get_varint(handle, 0)
        size, p = get_varint(handle, p)
        raw = data[off:off + size]
        assert data[off + size] == 0, "expected an uncompressed source table"
        new_index.append((key, write_block(raw, "data %d" % k)))
    mi_handle = write_block(metaindex, "metaindex")
    ix_handle = write_block(build_block(new_index, 1), "index")
    footer = (mi_handle + ix_handle).ljust(40, b"\0") + struct.pack("<Q", TABLE_MAGIC)
    out.extend(footer)
    return bytes(out), kinds


def write_checkpoint(weights, prefix, seed):
    """A DeepSpeech-style training checkpoint (Saver V2): the weights, their Adam slots (seeded
    random, distinct from the weights), beta1_power, beta2_power, global_step, learning_rate."""
    r = np.random.RandomState(seed + 1)
    step = 12345
    graph = tf.Graph()
    with graph.as_default():
        variables = {}
        for name in weights:  # same creation order as the inference graph
            with tf.device("/cpu:0"):
                variables[name] = tfv1.get_variable(name, shape=weights[name].shape, dtype=tf.float32,
                                                    initializer=tfv1.zeros_initializer(), use_resource=False)
        global_step = tfv1.train.get_or_create_global_step()
        lr = tfv1.get_variable("learning_rate", initializer=np.float32(1e-4), trainable=False,
                               use_resource=False)
        loss = tf.add_n([tf.reduce_sum(tf.square(v)) for v in variables.values()])
        tfv1.train.AdamOptimizer(lr, beta1=0.9, beta2=0.999, epsilon=1e-8).minimize(
            loss, global_step=global_step, var_list=list(variables.values()))
        all_vars = tfv1.global_variables()
        saver = tfv1.train.Saver(all_vars, write_version=tfv1.train.SaverDef.V2, sharded=False)
        with tfv1.Session(graph=graph, config=session_config()) as sess:
            sess.run(tfv1.global_variables_initializer())
            values = {}
            for v in all_vars:
                name = v.op.name
                if name in weights:
                    val = weights[name]
                elif name.endswith("/Adam"):
                    val = (r.standard_normal(v.shape) * 1e-3).astype(np.float32)
                elif name.endswith("/Adam_1"):
                    val = (np.abs(r.standard_normal(v.shape)) * 1e-6).astype(np.float32)
                elif name == "beta1_power":
                    val = np.float32(0.9 ** step)
                elif name == "beta2_power":
                    val = np.float32(0.999 ** step)
                elif name == "global_step":
                    val = np.int64(step)
                elif name == "learning_rate":
                    val = np.float32(1e-4)
                else:
                    raise AssertionError("unexpected variable " + name)
                v.load(val, sess)
                values[name] = np.asarray(val)
            tmp = tempfile.mkdtemp(dir=WORK)
            saver.save(sess, os.path.join(tmp, "ckpt"), write_meta_graph=False, write_state=False)
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.move(os.path.join(tmp, "ckpt" + suffix), prefix + suffix)
    shutil.rmtree(tmp)
    return values


# ------------------------------------------------------------------------------------------
# The released model (armspeech.tflite) re-exported as .pb


def find_tflite(path):
    for p in [path, os.path.join(REPO, "Weights", "armspeech.tflite"),
              os.path.expanduser("~/.cache/ds-peers/armspeech.tflite")]:
        if p and os.path.exists(p):
            return p
    script = os.path.join(REPO, "Weights", "fetch-default-model.sh")
    print("fetching the model with", script, flush=True)
    import subprocess
    subprocess.run(["bash", script], check=True, cwd=REPO)
    p = os.path.join(REPO, "Weights", "armspeech.tflite")
    assert os.path.exists(p), p
    return p


def tflite_string(buf):
    """TFLite string tensor: int32 count, int32 offsets[count+1], bytes."""
    count = struct.unpack("<i", buf[:4])[0]
    offs = struct.unpack("<%di" % (count + 1), buf[4:8 + 4 * count])
    return [bytes(buf[offs[k]:offs[k + 1]]) for k in range(count)]


def armspeech_weights(path):
    """Dequantized float32 weights ([in, out]) and float biases of the six FULLY_CONNECTED weight
    tensors, keyed by DeepSpeech variable name; plus the model's metadata values."""
    from ai_edge_litert import schema_py_generated as S
    data = open(path, "rb").read()
    model = S.Model.GetRootAs(data, 0)
    sg = model.Subgraphs(0)
    names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}

    def opname(op):
        code = model.OperatorCodes(op.OpcodeIndex())
        return names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]

    def tensor_bytes(i):
        return model.Buffers(sg.Tensors(i).Buffer()).DataAsNumpy()

    weights, layers = {}, {}
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        kind = opname(op)
        if kind == "FULLY_CONNECTED":
            wi, bi = op.Inputs(1), op.Inputs(2)
            t = sg.Tensors(wi)
            wname = t.Name().decode()
            if wname.startswith("layer_"):
                var = wname.split("/")[0]
            elif LSTM_CELL + "/kernel" in wname:
                var = LSTM_PREFIX
            else:
                raise AssertionError(wname)
            assert t.Type() == S.TensorType.INT8, wname
            scale = t.Quantization().ScaleAsNumpy()
            zero = t.Quantization().ZeroPointAsNumpy()
            assert len(scale) == 1 and (not isinstance(zero, np.ndarray) or not zero.any())
            shape = tuple(t.ShapeAsNumpy())
            q = tensor_bytes(wi).view(np.int8).reshape(shape)
            w = (np.float32(scale[0]) * q.astype(np.float32)).T.copy()  # [out,in] -> [in,out]
            bt = sg.Tensors(bi)
            assert bt.Type() == S.TensorType.FLOAT32
            b = tensor_bytes(bi).view("<f4").copy()
            wkey = var + ("/kernel" if var == LSTM_PREFIX else "/weights")
            if wkey in weights:  # the LSTM kernel is shared by the 16 unrolled steps
                assert np.array_equal(weights[wkey], w) and np.array_equal(weights[var + "/bias"], b)
                continue
            weights[wkey], weights[var + "/bias"] = w, b
            layers[var] = {"weights_tensor": wname, "shape_out_in": [int(d) for d in shape], "scale": float(scale[0]),
                           "bias_tensor": sg.Tensors(bi).Name().decode()}
    meta = {}
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        out = sg.Tensors(op.Outputs(0)).Name().decode()
        if opname(op) == "RESHAPE" and out.startswith("metadata_"):
            t = sg.Tensors(op.Inputs(0))
            raw = tensor_bytes(op.Inputs(0))
            if t.Type() == S.TensorType.STRING:
                (meta[out],) = tflite_string(raw.tobytes())
            else:
                assert t.Type() == S.TensorType.INT32
                (meta[out],) = raw.view("<i4").tolist()
    return weights, layers, meta, hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------


def describe(path):
    size = os.path.getsize(path)
    print("  %-60s %10d bytes" % (os.path.relpath(path, REPO), size))
    return size


def make_small_models(labels, alphabet_bytes, summary):
    n_classes = len(labels) + 1
    written = []
    runners = {}
    for model, (n_hidden, n_cell, seed) in SMALL_MODELS.items():
        t0 = time.time()
        weights = make_weights(seed, n_hidden, n_cell, n_classes)
        builder = GraphBuilder(weights, n_hidden, n_cell, n_classes)
        graph_def = builder.build(metadata_values(alphabet_bytes, b"hy"))
        pb = os.path.join(MODELS, model + ".pb")
        write_bytes(pb, serialize_graph(graph_def))
        written.append(pb)
        entry = {"n_hidden": n_hidden, "n_cell": n_cell, "n_classes": n_classes, "n_input": N_INPUT,
                 "n_context": N_CONTEXT, "n_steps": N_STEPS, "relu_clip": RELU_CLIP, "seed": seed,
                 "weight_gains": GAIN, "feature_scale": "rows of layer_1/weights scaled per MFCC "
                 "coefficient: c0 0.01, c1-c6 0.2, c7-c25 0.5",
                 "layer_6_bias": "N(0, 0.25) minus each class's mean raw logit over %s (float64 numpy), "
                 "blank +%.1f" % (CALIBRATION_CLIP, BLANK_OFFSET),
                 "weights": {k: list(v.shape) for k, v in weights.items()},
                 "tensor_names": builder.tensor_names, "op_counts": op_counts(graph_def),
                 "files": {}, "clips": {}, "checks": {}}

        # TF on the frozen graph as written; numpy float64 check
        runner = Runner(read_graph_def(pb), n_cell)
        runners[model] = runner
        worst = 0.0
        for clip in REF_CLIPS:
            mfcc = np.load(os.path.join(LITERT, clip + ".mfcc.npy"))
            dump = builder.tensor_names if (model == "ds-h64" and clip == "hy-01") else None
            probs, layers = runner.run(mfcc, dump, LAYER_DUMP_STEPS)
            save_npy(os.path.join(REF, "%s.%s.probs.npy" % (model, clip)), probs)
            written.append(os.path.join(REF, "%s.%s.probs.npy" % (model, clip)))
            for name, arr in layers.items():
                p = os.path.join(REF, "%s.%s.%s.npy" % (model, clip, name))
                save_npy(p, arr)
                written.append(p)
            ref = numpy_forward(weights, windows(mfcc), n_cell)
            diff = float(np.abs(probs - ref["probs"]).max())
            worst = max(worst, diff)
            for name, arr in layers.items():
                entry["checks"]["%s max abs diff vs numpy float64 (%s, first %d steps)" % (name, clip, len(arr))] = \
                    float(np.abs(arr - ref[name][:len(arr)]).max())
            if layers:
                # the LSTM alone: numpy LSTM fed TF's own layer_3 output
                _, _, hs = lstm_numpy(weights, layers["layer_3"], n_cell)
                entry["checks"]["BlockLSTM h vs numpy LSTM on TF's layer_3 (hy-01, 32 steps)"] = \
                    float(np.abs(layers["lstm_h"] - hs).max())
            text, best = greedy(probs, labels)
            entry["clips"][clip] = {
                "steps": int(len(probs)), "greedy_text": text,
                "nonblank_steps": int((best != n_classes - 1).sum()),
                "distinct_argmax": int(len(set(best.tolist()))),
                "max_prob_min": float(probs.max(axis=1).min()), "max_prob_max": float(probs.max(axis=1).max()),
                "argmax": ",".join(str(int(b)) for b in best)}
        entry["checks"]["probs max abs diff vs numpy float64 (all clips)"] = worst
        assert worst < 1e-5, worst
        if model == "ds-h64":
            # the MFCC subgraph: TF kernels are bit-exact with LiteRT's (reference/tf/summary.json)
            pcm = read_wav16(os.path.join(HERE, "clips", "hy-01.wav")).astype(np.float32) * np.float32(1 / 32768)
            ref_mfcc = np.load(os.path.join(LITERT, "hy-01.mfcc.npy"))
            got = np.concatenate([runner.mfcc(pcm[k * AUDIO_STEP:k * AUDIO_STEP + AUDIO_WIN]) for k in range(3)])
            entry["checks"]["mfccs subgraph vs reference/litert/hy-01.mfcc.npy frames 0-2 max abs diff"] = \
                float(np.abs(got - ref_mfcc[:3]).max())

            extra = make_h64_variants(graph_def, weights, builder, runner, labels, entry, written, seed)
            entry.update(extra)
        for p in written:
            if os.path.basename(p).startswith(model + "."):
                entry["files"][os.path.basename(p)] = {"bytes": os.path.getsize(p), "sha256": sha256(p)}
        print("  %s: built, frozen and checked in %.1f s" % (model, time.time() - t0))
        summary["models"][model] = entry
    for r in runners.values():
        r.close()
    return written


def make_h64_variants(graph_def, weights, builder, runner, labels, entry, written, seed):
    extra = {}
    mfcc = np.load(os.path.join(LITERT, "hy-01.mfcc.npy"))
    pb_probs, _ = runner.run(mfcc)

    # .pbmm, new and old directory layouts
    pbmm_info = {}
    # the old file also converts every tensor of >= 100 bytes (--min_conversion_tensor_size=100), so
    # that it holds regions whose size is not a multiple of the alignment (layer_6/bias, 164 bytes):
    # there the padding lands between regions and offset differences include it
    for name, alignment, with_length, min_bytes in (("ds-h64.pbmm", 64, True, MIN_CONVERSION_BYTES),
                                                    ("ds-h64.old.pbmm", 32, False, 100)):
        path = os.path.join(MODELS, name)
        regions, dir_offset = write_pbmm(graph_def, path, alignment, with_length, min_bytes)
        written.append(path)
        tmp = tempfile.mkdtemp(dir=WORK)
        gd, elems = pbmm_as_tf_graph(path, tmp)
        r = Runner(gd, builder.n_cell)
        probs, _ = r.run(mfcc)
        r.close()
        shutil.rmtree(tmp)
        pbmm_info[name] = {
            "alignment": alignment, "directory_has_length": with_length, "directory_offset": dir_offset,
            "min_conversion_tensor_size": min_bytes,
            "elements": [{"name": e.name, "offset": e.offset, "length": e.length} for e in elems],
            "immutable_const_nodes": [{"node": x["node"], "bytes": x["bytes"]} for x in regions],
            "tf_immutableconst_probs_equal_pb_hy01": bool(np.array_equal(probs, pb_probs))}
        assert np.array_equal(probs, pb_probs), name
    extra["pbmm"] = pbmm_info

    # training checkpoint (plain index) and the snappy-block rewrite of its index
    prefix = os.path.join(MODELS, "ds-h64.ckpt")
    values = write_checkpoint(weights, prefix, seed)
    written += [prefix + ".index", prefix + ".data-00000-of-00001"]
    reader = tf.train.load_checkpoint(prefix)
    stored = reader.get_variable_to_shape_map()
    assert set(stored) == set(values), sorted(set(stored) ^ set(values))
    for name, val in values.items():
        assert np.array_equal(reader.get_tensor(name), val), name
    index_data = open(prefix + ".index", "rb").read()
    entries, _, _, plain_blocks = read_table(index_data)
    snappy_data, blocks = rewrite_table_snappy(index_data)
    assert any(b["compression"] == 1 for b in blocks), blocks
    sprefix = os.path.join(MODELS, "ds-h64.snappy.ckpt")
    write_bytes(sprefix + ".index", snappy_data)
    shutil.copyfile(prefix + ".data-00000-of-00001", sprefix + ".data-00000-of-00001")
    written += [sprefix + ".index", sprefix + ".data-00000-of-00001"]
    back, _, _, back_blocks = read_table(snappy_data)  # decompress + CRC check
    assert back == entries
    tf_snappy = "not tried"
    try:
        sreader = tf.train.load_checkpoint(sprefix)
        for name, val in values.items():
            assert np.array_equal(sreader.get_tensor(name), val), name
        tf_snappy = "TensorFlow 2.15 reads it: every tensor equal"
    except Exception as e:  # noqa: BLE001 (a build without snappy support)
        tf_snappy = "TensorFlow 2.15 could not read it: %s" % str(e).splitlines()[0]
    extra["checkpoint"] = {
        "variables": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in sorted(values.items())},
        "global_step": int(values["global_step"]), "adam_slot_seed": seed + 1,
        "index_entries": len(entries), "plain_index_blocks": plain_blocks,
        "snappy_index_blocks": blocks, "snappy_index_decoded_equal": True, "snappy_index_tf_read": tf_snappy}

    # DeepSpeech 0.6-like export: no alphabet / beam width / language, metadata_version 3
    old = GraphBuilder(weights, builder.n_hidden, builder.n_cell, builder.n_classes)
    old_gd = old.build(metadata_values(None, None, version=3, old=True))
    path = os.path.join(MODELS, "ds-old-nometadata.pb")
    write_bytes(path, serialize_graph(old_gd))
    written.append(path)
    r = Runner(read_graph_def(path), builder.n_cell)
    old_probs, _ = r.run(mfcc)
    r.close()
    assert np.array_equal(old_probs, pb_probs)
    extra["old_nometadata"] = {"metadata": [n for n, _ in metadata_values(None, None, 3, old=True)],
                               "metadata_version": 3, "probs_equal_ds_h64_hy01": True,
                               "sha256": sha256(path), "bytes": os.path.getsize(path),
                               "op_counts": op_counts(old_gd)}
    return extra


def make_armspeech(tflite, labels, summary):
    t0 = time.time()
    weights, layers, meta, tflite_sha = armspeech_weights(tflite)
    n_hidden = weights["layer_1/weights"].shape[1]
    n_cell = weights[LSTM_PREFIX + "/kernel"].shape[1] // 4
    n_classes = weights["layer_6/weights"].shape[1]
    info = labels_from_model_info()["metadata"]
    assert meta["metadata_alphabet"].hex() == info["alphabet_serialized_hex"]
    assert meta["metadata_version"] == info["version"] and meta["metadata_beam_width"] == info["beam_width"]
    order = ["metadata_version", "metadata_sample_rate", "metadata_feature_win_len",
             "metadata_feature_win_step", "metadata_beam_width", "metadata_alphabet", "metadata_language"]
    # the weights as LiteRT itself holds them (int8 tensor x its scale, transposed)
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_path=tflite, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = {d["name"]: d for d in it.get_tensor_details()}
    for var, layer in layers.items():
        d = details[layer["weights_tensor"]]
        key = var + ("/kernel" if var == LSTM_PREFIX else "/weights")
        q = it.get_tensor(d["index"]).astype(np.float32)
        assert np.array_equal(weights[key], (np.float32(d["quantization"][0]) * q).T), var
        assert np.array_equal(weights[var + "/bias"], it.get_tensor(details[layer["bias_tensor"]]["index"])), var
    del it
    builder = GraphBuilder(weights, n_hidden, n_cell, n_classes)
    graph_def = builder.build([(k, meta[k]) for k in order if k in meta])
    os.makedirs(WORK, exist_ok=True)
    pb = os.path.join(WORK, "armspeech.pb")
    data = serialize_graph(graph_def)
    write_bytes(pb, data)
    del graph_def, data
    t_export = time.time() - t0
    t1 = time.time()
    runner = Runner(read_graph_def(pb), n_cell)
    clips = {}
    for clip in ARMSPEECH_CLIPS:
        mfcc = np.load(os.path.join(LITERT, clip + ".mfcc.npy"))
        probs, _ = runner.run(mfcc)
        out = os.path.join(REF, "armspeech-pb.%s.probs.npy" % clip)
        save_npy(out, probs)
        describe(out)
        lite = np.load(os.path.join(LITERT, clip + ".probs.npy"))
        text, best = greedy(probs, labels)
        lite_text, lite_best = greedy(lite, labels)
        clips[clip] = {"steps": int(len(probs)), "greedy_text": text, "litert_hybrid_greedy_text": lite_text,
                       "max_abs_diff_vs_litert_hybrid_probs": float(np.abs(probs - lite).max()),
                       "argmax_agreement_vs_litert": float((best == lite_best).mean())}
    runner.close()
    t_run = time.time() - t1
    # the frozen graph against a float64 numpy forward pass with the same weights (hy-01)
    mfcc = np.load(os.path.join(LITERT, "hy-01.mfcc.npy"))
    numpy_probs = numpy_forward(weights, windows(mfcc), n_cell)["probs"]
    tf_probs = np.load(os.path.join(REF, "armspeech-pb.hy-01.probs.npy"))
    numpy_diff = float(np.abs(numpy_probs - tf_probs).max())
    assert numpy_diff < 1e-5, numpy_diff
    summary["armspeech_pb"] = {
        "path": "Fixtures/.work/armspeech.pb (not committed)", "bytes": os.path.getsize(pb), "sha256": sha256(pb),
        "source_tflite_sha256": tflite_sha, "n_hidden": n_hidden, "n_cell": n_cell, "n_classes": n_classes,
        "dequantization": "float32(scale) * int8, transposed from [out,in] to [in,out]; biases as stored",
        "layers": layers,
        "metadata": {k: (v.decode("utf-8") if isinstance(v, bytes) and k != "metadata_alphabet" else
                         (v.hex() if isinstance(v, bytes) else v)) for k, v in meta.items()},
        "op_counts": op_counts(read_graph_def(pb)), "clips": clips,
        "checks": {"hy-01 probs max abs diff vs numpy float64 with the same weights": numpy_diff,
                   "weights and biases equal LiteRT's tensors (int8 x scale, transposed)": True},
        "note": "the .pb is float32 throughout; LiteRT runs the hybrid int8 FULLY_CONNECTED, which quantizes "
                "each input row to int8 at run time, so the two differ by up to a few tenths in probability "
                "and in some greedy characters; compare a float (dequantized) .tflite path with these files"}
    print("  %-60s %10d bytes (not committed; export %.1f s, TF run %.1f s)"
          % (os.path.relpath(pb, REPO), os.path.getsize(pb), t_export, t_run))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-armspeech", action="store_true", help="skip the 190 MB re-export of armspeech.tflite")
    ap.add_argument("--tflite", help="armspeech.tflite (default: Weights/ or ~/.cache/ds-peers/)")
    args = ap.parse_args()
    for d in (MODELS, REF, WORK):
        os.makedirs(d, exist_ok=True)
    info = labels_from_model_info()
    labels = info["metadata"]["alphabet"]
    alphabet_bytes = serialize_alphabet(labels)
    assert alphabet_bytes.hex() == info["metadata"]["alphabet_serialized_hex"]

    summary_path = os.path.join(REF, "summary.json")
    previous = {}
    try:
        with open(summary_path, encoding="utf-8") as f:
            previous = json.load(f)
    except (OSError, ValueError):
        pass
    summary = {"tensorflow": tf.__version__, "numpy": np.__version__, "cramjam": cramjam.__version__,
               "command": "Fixtures/.venv/bin/python Fixtures/make_tensorflow_models.py",
               "windowing": "native client: 9 zero frames before/after, step t = frames t-9..t+9 "
                            "(frame-major [19,26]); batches of 16 steps, final batch zero-padded with "
                            "input_lengths = real steps; previous_state_c/h carried from new_state_c/h",
               "alphabet_serialized_hex": alphabet_bytes.hex(), "models": {}}
    print("writing:")
    written = make_small_models(labels, alphabet_bytes, summary)
    for p in written:
        describe(p)
    if args.skip_armspeech:
        if "armspeech_pb" in previous:
            summary["armspeech_pb"] = previous["armspeech_pb"]  # keep the last full run's record
    else:
        make_armspeech(find_tflite(args.tflite), labels, summary)
    if "tfdeepspeech" in previous:  # written by make_tfdeepspeech_checkpoint.py; kept as it is
        summary["tfdeepspeech"] = previous["tfdeepspeech"]
    text = json.dumps(summary, indent=1, ensure_ascii=False) + "\n"
    with open(summary_path, "w", encoding="utf-8") as f:
        f.write(text)
    describe(summary_path)
    total = sum(os.path.getsize(os.path.join(d, f)) for d in (MODELS, REF) for f in os.listdir(d))
    print("committed directories total: %d bytes" % total)


if __name__ == "__main__":
    sys.exit(main())
