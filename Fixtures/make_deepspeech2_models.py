#!/usr/bin/env python3
"""Small DeepSpeech2 checkpoints as deepspeech.pytorch writes them, plus reference outputs.

Writes (next to this script):
  models/deepspeech2/ds2-bilstm.v2.pth            v2.0 layout, LEGACY (non-zip) torch.save format
  models/deepspeech2/ds2-bilstm.v21.pth           V2.1 layout, zip format (folder = file stem)
  models/deepspeech2/ds2-{bilstm,bigru,unilstm-lookahead,unigru-lookahead}.ckpt
                                                  V3 PyTorch Lightning 1.1.8 layout, zip via BytesIO
  models/deepspeech2/ds2-bigru.half.ckpt          the bigru weights as float16 (HalfStorage)
  models/deepspeech2/evil-reduce-system.pth       zip whose data.pkl REDUCEs `posix system`
  models/deepspeech2/evil-legacy.pth              legacy format, REDUCE of `builtins eval`
  models/deepspeech2/evil-inst.pkl                protocol-0 pickle using INST and OBJ
  models/deepspeech2/truncated.ckpt               first 60 % of ds2-bigru.ckpt
  reference/deepspeech2/<frontend>.<clip>.spect.npy      [161, T] float32, frontend v20 / v21 / v3
  reference/deepspeech2/<model-file-stem>.<clip>.probs.npy [T', 29] float32 softmax
  reference/deepspeech2/ds2-bilstm.hy-01.layers/*.npy    intermediate activations (V3 ckpt, v3 front end)
  reference/deepspeech2/ds2-unilstm-lookahead.hy-01.layers/*.npy
  reference/deepspeech2/summary.json

The module tree is written here from the facts in shared/docs/checkpoint-formats.md section 1
(same structure and state_dict keys as deepspeech.pytorch's DeepSpeech); pytorch-lightning,
hydra and librosa are not needed: what they write is mimicked (fake `deepspeech_pytorch.*` and
`hydra_configs.*` modules hold dataclasses/enums whose pickle GLOBAL names match the originals).

Deterministic: weights come from numpy's PCG64 with fixed seeds, torch runs single-threaded, the
legacy writer uses seeded pseudo-pointer storage keys instead of real C pointers. Re-running
rewrites byte-identical files.

Usage: Fixtures/.venv-torch/bin/python Fixtures/make_deepspeech2_models.py
"""
import copy
import enum
import hashlib
import io
import json
import math
import os
import pickle
import pickletools
import struct
import sys
import tempfile
import types
import wave
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import omegaconf
from omegaconf import MISSING, OmegaConf

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models", "deepspeech2")
REF = os.path.join(HERE, "reference", "deepspeech2")
CLIPS = os.path.join(HERE, "clips")
REF_CLIPS = ["hy-01", "hy-05"]
CALIB_CLIPS = ["hy-02", "hy-03"]        # used only to pick BatchNorm statistics / weight scales
LABELS = ["_", "'"] + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + [" "]
PWNED = "/tmp/swift-deepspeech-pwned"
EVIL_CMD = "touch " + PWNED

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# --------------------------------------------------------------------------------------------
# 1. The DeepSpeech2 module tree (written from the doc's description, not copied)
# --------------------------------------------------------------------------------------------

class SequenceWise(nn.Module):
    """Applies `module` to a T x N x H tensor as (T*N) x H rows."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        t, n = x.shape[0], x.shape[1]
        return self.module(x.reshape(t * n, -1)).reshape(t, n, -1)


class MaskConv(nn.Module):
    """Runs the conv stack, zeroing time steps >= length after every module (B x C x F x T)."""

    def __init__(self, seq_module):
        super().__init__()
        self.seq_module = seq_module

    def forward(self, x, lengths, taps=None):
        for i, m in enumerate(self.seq_module):
            x = m(x)
            steps = torch.arange(x.shape[3]).view(1, 1, 1, -1)
            x = x.masked_fill(steps >= lengths.view(-1, 1, 1, 1), 0)
            if taps is not None:
                taps[f"conv.{i}"] = x
        return x


class BatchRNN(nn.Module):
    def __init__(self, input_size, hidden, rnn_type, bidirectional, batch_norm):
        super().__init__()
        self.bidirectional = bidirectional
        self.batch_norm = SequenceWise(nn.BatchNorm1d(input_size)) if batch_norm else None
        self.rnn = rnn_type(input_size=input_size, hidden_size=hidden, bidirectional=bidirectional, bias=True)
        self.capture = None   # calibration hook: stores the RNN's input when set to a list

    def forward(self, x, lengths):
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        if self.capture is not None:
            self.capture.append(x.detach().clone())
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths)
        y, _ = self.rnn(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y)
        if self.bidirectional:   # T x N x 2H -> T x N x H, the two directions SUMMED
            y = y.view(y.shape[0], y.shape[1], 2, -1).sum(2)
        return y


class Lookahead(nn.Module):
    """Depthwise Conv1d over time, input right-padded with context-1 zeros (T x N x H)."""

    def __init__(self, features, context):
        super().__init__()
        self.context = context
        self.conv = nn.Conv1d(features, features, kernel_size=context, stride=1, groups=features,
                              padding=0, bias=False)

    def forward(self, x):
        x = x.permute(1, 2, 0)                                   # N x H x T
        x = self.conv(F.pad(x, (0, self.context - 1), value=0.0))
        return x.permute(2, 0, 1).contiguous()                   # T x N x H


class DeepSpeech2(nn.Module):
    def __init__(self, rnn_type, hidden, layers, bidirectional, context, labels, sample_rate=16000,
                 window_size=0.02):
        super().__init__()
        self.bidirectional = bidirectional
        self.conv = MaskConv(nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=(41, 11), stride=(2, 2), padding=(20, 5)),
            nn.BatchNorm2d(32),
            nn.Hardtanh(0, 20),
            nn.Conv2d(32, 32, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5)),
            nn.BatchNorm2d(32),
            nn.Hardtanh(0, 20),
        ))
        f = int(math.floor(sample_rate * window_size / 2) + 1)   # 161
        f = (f + 2 * 20 - 41) // 2 + 1                           # 81
        f = (f + 2 * 10 - 21) // 2 + 1                           # 41
        rnn_in = 32 * f                                          # 1312
        self.rnns = nn.Sequential(
            BatchRNN(rnn_in, hidden, rnn_type, bidirectional, batch_norm=False),
            *[BatchRNN(hidden, hidden, rnn_type, bidirectional, batch_norm=True) for _ in range(layers - 1)])
        self.lookahead = None if bidirectional else nn.Sequential(Lookahead(hidden, context), nn.Hardtanh(0, 20))
        self.fc = nn.Sequential(SequenceWise(nn.Sequential(nn.BatchNorm1d(hidden),
                                                           nn.Linear(hidden, len(labels), bias=False))))

    @staticmethod
    def output_lengths(lengths):
        # conv1: time kernel 11, stride 2, pad 5; conv2: kernel 11, stride 1, pad 5
        lengths = (lengths + 2 * 5 - 10 - 1) // 2 + 1
        return (lengths + 2 * 5 - 10 - 1) // 1 + 1

    def forward(self, x, lengths, taps=None):
        out_lengths = self.output_lengths(lengths)
        x = self.conv(x, out_lengths, taps)
        b, c, fr, t = x.shape
        x = x.view(b, c * fr, t).permute(2, 0, 1).contiguous()  # T x N x 1312, index = c*41 + f
        for i, rnn in enumerate(self.rnns):
            x = rnn(x, out_lengths)
            if taps is not None:
                taps[f"rnn{i}"] = x
        if self.lookahead is not None:
            x = self.lookahead(x)
            if taps is not None:
                taps["lookahead"] = x
        x = self.fc(x)
        if taps is not None:
            taps["logits"] = x
        x = x.transpose(0, 1)                                    # N x T x C
        return (x if self.training else F.softmax(x, dim=-1)), out_lengths


VARIANTS = {
    "ds2-bilstm": dict(rnn="lstm", hidden=32, layers=3, bidirectional=True, context=None, seed=1101),
    "ds2-bigru": dict(rnn="gru", hidden=24, layers=2, bidirectional=True, context=None, seed=1102),
    "ds2-unilstm-lookahead": dict(rnn="lstm", hidden=32, layers=2, bidirectional=False, context=4, seed=1103),
    "ds2-unigru-lookahead": dict(rnn="gru", hidden=24, layers=2, bidirectional=False, context=3, seed=1104),
}
RNN_CLASSES = {"lstm": nn.LSTM, "gru": nn.GRU}


def build(spec):
    return DeepSpeech2(RNN_CLASSES[spec["rnn"]], spec["hidden"], spec["layers"], spec["bidirectional"],
                       spec["context"], LABELS)


# --------------------------------------------------------------------------------------------
# 2. Audio and spectrogram front ends (librosa < 0.10 defaults, reimplemented in numpy)
# --------------------------------------------------------------------------------------------

FRONT_ENDS = {
    # name: (hamming kind, int16 divisor, description)
    "v20": ("symmetric", 32767.0, "v2.0: scipy.signal.hamming (symmetric, N-1), int16/32767"),
    "v21": ("periodic", 32767.0, "V2.1: 'hamming' string -> periodic (N), int16/32767"),
    "v3": ("periodic", 32768.0, "V3.0: 'hamming' string -> periodic (N), torchaudio int16/32768"),
}
N_FFT = 320
HOP = 160


def read_wav(name):
    with wave.open(os.path.join(CLIPS, name + ".wav")) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 16000
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def hamming(kind, n=N_FFT):
    k = np.arange(n, dtype=np.float64)
    denom = n - 1 if kind == "symmetric" else n
    return 0.54 - 0.46 * np.cos(2.0 * np.pi * k / denom)


def stft_mag_numpy(y, window):
    """|STFT|, center=True with reflect padding, n_fft = win = 320, hop 160 -> [161, 1 + N//160]."""
    yp = np.pad(y, N_FFT // 2, mode="reflect")
    frames = 1 + (len(yp) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.fft.rfft(yp[idx] * window[None, :], n=N_FFT, axis=1)
    return np.abs(spec).T


def spectrogram(samples, front_end):
    kind, divisor, _ = FRONT_ENDS[front_end]
    y = samples.astype(np.float64) / divisor
    s = np.log1p(stft_mag_numpy(y, hamming(kind)))
    s = (s - s.mean()) / s.std(ddof=1)     # per utterance, whole F x T matrix, unbiased std
    return s


def stft_checks(samples):
    """numpy vs torch.stft (float64), and the float32 torch pipeline vs the float64 reference."""
    out = {}
    for fe, (kind, divisor, _) in FRONT_ENDS.items():
        y = samples.astype(np.float64) / divisor
        w = hamming(kind)
        a = stft_mag_numpy(y, w)
        b = torch.stft(torch.from_numpy(y), n_fft=N_FFT, hop_length=HOP, win_length=N_FFT,
                       window=torch.from_numpy(w), center=True, pad_mode="reflect",
                       return_complex=True).abs().numpy()
        ref = spectrogram(samples, fe)
        y32 = torch.from_numpy((samples.astype(np.float32) / np.float32(divisor)))
        m32 = torch.stft(y32, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT,
                         window=torch.from_numpy(w.astype(np.float32)), center=True, pad_mode="reflect",
                         return_complex=True).abs()
        s32 = torch.log1p(m32)
        s32 = (s32 - s32.mean()) / s32.std()
        out[fe] = {
            "numpy_vs_torch_stft_f64_max_abs_mag_diff": float(np.max(np.abs(a - b))),
            "f32_torch_pipeline_vs_f64_reference_max_abs_diff": float(np.max(np.abs(s32.numpy() - ref))),
        }
    # sanity: the two hamming kinds really differ
    out["symmetric_vs_periodic_window_max_diff"] = float(np.max(np.abs(hamming("symmetric") - hamming("periodic"))))
    return out


# --------------------------------------------------------------------------------------------
# 3. Seeded weights with calibrated (but perturbed) BatchNorm statistics
# --------------------------------------------------------------------------------------------

def run(model, spect, taps=None):
    x = torch.from_numpy(np.ascontiguousarray(spect, dtype=np.float32)).view(1, 1, spect.shape[0], spect.shape[1])
    with torch.no_grad():
        probs, _ = model(x, torch.tensor([spect.shape[1]], dtype=torch.int64), taps)
    return probs[0]


def capture_input(model, module, spects):
    got = []
    h = module.register_forward_pre_hook(lambda m, inp: got.append(inp[0].detach().clone()))
    for s in spects:
        run(model, s)
    h.remove()
    return got


def capture_rnn_input(model, batch_rnn, spects):
    batch_rnn.capture = []
    for s in spects:
        run(model, s)
    got, batch_rnn.capture = batch_rnn.capture, None
    return torch.cat([g.reshape(-1, g.shape[-1]) for g in got], 0)


def set_bn(bn, x, rng, channel_dim):
    """running stats = statistics of x perturbed; weight/bias random; num_batches_tracked non-zero."""
    c = bn.num_features
    xs = x.transpose(0, channel_dim).reshape(c, -1).double()
    mean, var = xs.mean(1).numpy(), xs.var(1).numpy() + 1e-3
    with torch.no_grad():
        bn.running_mean.copy_(torch.from_numpy(mean + 0.3 * np.sqrt(var) * rng.standard_normal(c)))
        bn.running_var.copy_(torch.from_numpy(var * np.exp(rng.uniform(-0.5, 0.5, c))))
        bn.weight.copy_(torch.from_numpy(rng.uniform(0.6, 1.6, c)))
        bn.bias.copy_(torch.from_numpy(rng.uniform(-0.3, 0.6, c)))
        bn.num_batches_tracked.fill_(int(rng.integers(1000, 50000)))


def normal_(t, rng, std, mean=0.0):
    with torch.no_grad():
        t.copy_(torch.from_numpy(rng.normal(mean, std, tuple(t.shape))))


def uniform_(t, rng, lo, hi):
    with torch.no_grad():
        t.copy_(torch.from_numpy(rng.uniform(lo, hi, tuple(t.shape))))


def init_weights(model, spec, calib_spects):
    rng = np.random.default_rng(spec["seed"])
    model.eval()
    seq = model.conv.seq_module
    normal_(seq[0].weight, rng, 1.0 / math.sqrt(41 * 11))
    uniform_(seq[0].bias, rng, -0.1, 0.1)
    normal_(seq[3].weight, rng, 1.0 / math.sqrt(32 * 21 * 11))
    uniform_(seq[3].bias, rng, -0.1, 0.1)
    for br in model.rnns:
        for name, p in br.rnn.named_parameters():
            if name.startswith("weight_ih"):
                normal_(p, rng, 1.0 / math.sqrt(p.shape[1]))          # rescaled below
            elif name.startswith("weight_hh"):
                normal_(p, rng, 0.9 / math.sqrt(p.shape[1]))
            else:
                uniform_(p, rng, -0.4, 0.4)
    if model.lookahead is not None:
        uniform_(model.lookahead[0].conv.weight, rng, -0.4, 1.0)
    h = spec["hidden"]
    normal_(model.fc[0].module[1].weight, rng, 2.2 / math.sqrt(h))
    # Calibrate in forward order, each step seeing the already calibrated earlier layers.
    for bn in (seq[1], seq[4]):
        set_bn(bn, torch.cat([g.permute(1, 0, 2, 3).reshape(bn.num_features, -1).T
                              for g in capture_input(model, bn, calib_spects)], 0), rng, 1)
    for br in model.rnns:
        if br.batch_norm is not None:
            bn = br.batch_norm.module
            set_bn(bn, torch.cat(capture_input(model, bn, calib_spects), 0), rng, 1)
        x = capture_rnn_input(model, br, calib_spects)
        rms = float(x.double().pow(2).mean().sqrt())
        for name, p in br.rnn.named_parameters():
            if name.startswith("weight_ih"):
                with torch.no_grad():
                    p.mul_(1.0 / rms)
    bn = model.fc[0].module[0]
    set_bn(bn, torch.cat(capture_input(model, bn, calib_spects), 0), rng, 1)


def flatten_rnn_storage(model):
    """Makes every rnn's parameters views into one flat buffer, as cuDNN's flatten_parameters does on
    a GPU (layer0 w_ih, w_hh, b_ih, b_hh, then _reverse, ...). The saved storages then hold several
    tensors at different storage offsets."""
    for br in model.rnns:
        params = [getattr(br.rnn, n) for n in br.rnn._flat_weights_names]
        flat = torch.empty(sum(p.numel() for p in params), dtype=torch.float32)
        off = 0
        for p in params:
            n = p.numel()
            flat[off:off + n].copy_(p.detach().reshape(-1))
            p.data = flat[off:off + n].view_as(p)
            off += n


# --------------------------------------------------------------------------------------------
# 4. Mimics of the classes deepspeech.pytorch / Lightning / hydra pickle by name
# --------------------------------------------------------------------------------------------

def fake_module(name):
    if name not in sys.modules:
        sys.modules[name] = types.ModuleType(name)
    return sys.modules[name]


TC = "deepspeech_pytorch.configs.train_config"
ENUMS = "deepspeech_pytorch.enums"


def make_v21_namespace():
    """deepspeech.pytorch V2.1 (tag 4cb209a): RNNType values are strings."""
    ns = {}

    class DistributedBackend(enum.Enum):
        gloo = "gloo"
        mpi = "mpi"
        nccl = "nccl"

    class SpectrogramWindow(enum.Enum):
        hamming = "hamming"
        hann = "hann"
        blackman = "blackman"
        bartlett = "bartlett"

    class RNNType(enum.Enum):
        lstm = "lstm"
        rnn = "rnn"
        gru = "gru"

    @dataclass
    class TrainingConfig:
        no_cuda: bool = False
        finetune: bool = False
        seed: int = 123456
        dist_backend: DistributedBackend = DistributedBackend.nccl
        epochs: int = 70

    @dataclass
    class SpectConfig:
        sample_rate: int = 16000
        window_size: float = .02
        window_stride: float = .01
        window: SpectrogramWindow = SpectrogramWindow.hamming

    @dataclass
    class AugmentationConfig:
        speed_volume_perturb: bool = False
        spec_augment: bool = False
        noise_dir: str = ""
        noise_prob: float = 0.4
        noise_min: float = 0.0
        noise_max: float = 0.5

    @dataclass
    class DataConfig:
        train_manifest: str = "data/train_manifest.csv"
        val_manifest: str = "data/val_manifest.csv"
        batch_size: int = 20
        num_workers: int = 4
        labels_path: str = "labels.json"
        spect: SpectConfig = field(default_factory=SpectConfig)
        augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)

    @dataclass
    class BiDirectionalConfig:
        rnn_type: RNNType = RNNType.lstm
        hidden_size: int = 1024
        hidden_layers: int = 5

    @dataclass
    class UniDirectionalConfig(BiDirectionalConfig):
        lookahead_context: int = 20

    @dataclass
    class OptimConfig:
        learning_rate: float = 3e-4
        learning_anneal: float = 1.1
        weight_decay: float = 1e-5
        max_norm: float = 400

    @dataclass
    class SGDConfig(OptimConfig):
        momentum: float = 0.9

    @dataclass
    class CheckpointConfig:
        continue_from: str = ""
        checkpoint: bool = True
        checkpoint_per_iteration: int = 0
        save_n_recent_models: int = 10
        best_val_model_name: str = "deepspeech_final.pth"
        load_auto_checkpoint: bool = False

    @dataclass
    class FileCheckpointConfig(CheckpointConfig):
        save_folder: str = "models/"

    @dataclass
    class VisualizationConfig:
        id: str = "DeepSpeech training"
        visdom: bool = False
        tensorboard: bool = False
        log_dir: str = "visualize/deepspeech_final"
        log_params: bool = False

    @dataclass
    class ApexConfig:
        opt_level: str = "O1"
        loss_scale: int = 1

    @dataclass
    class DeepSpeechConfig:          # hydra 1.0 drops `defaults` from the composed config
        optim: Any = MISSING
        model: Any = MISSING
        checkpointing: Any = MISSING
        training: TrainingConfig = field(default_factory=TrainingConfig)
        data: DataConfig = field(default_factory=DataConfig)
        augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
        apex: ApexConfig = field(default_factory=ApexConfig)
        visualization: VisualizationConfig = field(default_factory=VisualizationConfig)

    for c in (DistributedBackend, SpectrogramWindow, RNNType):
        ns[(ENUMS, c.__name__)] = c
    for c in (TrainingConfig, SpectConfig, AugmentationConfig, DataConfig, BiDirectionalConfig,
              UniDirectionalConfig, OptimConfig, SGDConfig, CheckpointConfig, FileCheckpointConfig,
              VisualizationConfig, ApexConfig, DeepSpeechConfig):
        ns[(TC, c.__name__)] = c
    return ns


def make_v3_namespace():
    """deepspeech.pytorch V3.0 (tag 709df90) + hydra-lightning configs + PL 1.1.8 checkpoint class."""
    ns = {}

    class SpectrogramWindow(enum.Enum):
        hamming = "hamming"
        hann = "hann"
        blackman = "blackman"
        bartlett = "bartlett"

    class RNNType(enum.Enum):
        lstm = nn.LSTM
        rnn = nn.RNN
        gru = nn.GRU

    @dataclass
    class ModelCheckpointConf:       # hydra_configs.pytorch_lightning.callbacks (subset of fields)
        _target_: str = "pytorch_lightning.callbacks.ModelCheckpoint"
        filepath: Any = None
        monitor: Any = None
        verbose: bool = False
        save_last: Any = None
        save_top_k: Any = 1
        save_weights_only: bool = False
        mode: str = "auto"
        period: int = 1
        prefix: str = ""
        dirpath: Any = None
        filename: Any = None

    @dataclass
    class TrainerConf:               # hydra_configs.pytorch_lightning.trainer (subset of fields)
        _target_: str = "pytorch_lightning.trainer.Trainer"
        logger: Any = True
        checkpoint_callback: bool = True
        callbacks: Any = None
        default_root_dir: Any = None
        gradient_clip_val: float = 0
        num_nodes: int = 1
        gpus: Any = None
        max_epochs: int = 1000
        min_epochs: int = 1
        accumulate_grad_batches: Any = 1
        precision: int = 32
        accelerator: Any = None
        plugins: Any = None
        resume_from_checkpoint: Any = None
        deterministic: bool = False

    @dataclass
    class SpectConfig:
        sample_rate: int = 16000
        window_size: float = .02
        window_stride: float = .01
        window: SpectrogramWindow = SpectrogramWindow.hamming

    @dataclass
    class AugmentationConfig:
        speed_volume_perturb: bool = False
        spec_augment: bool = False
        noise_dir: str = ""
        noise_prob: float = 0.4
        noise_min: float = 0.0
        noise_max: float = 0.5

    @dataclass
    class DataConfig:
        train_path: str = "data/train_manifest.csv"
        val_path: str = "data/val_manifest.csv"
        batch_size: int = 64
        num_workers: int = 4
        labels_path: str = "labels.json"
        spect: SpectConfig = field(default_factory=SpectConfig)
        augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)

    @dataclass
    class BiDirectionalConfig:
        rnn_type: RNNType = RNNType.lstm
        hidden_size: int = 1024
        hidden_layers: int = 5

    @dataclass
    class UniDirectionalConfig(BiDirectionalConfig):
        lookahead_context: int = 20

    @dataclass
    class OptimConfig:
        learning_rate: float = 1.5e-4
        learning_anneal: float = 0.99
        weight_decay: float = 1e-5

    @dataclass
    class AdamConfig(OptimConfig):
        eps: float = 1e-8
        betas: tuple = (0.9, 0.999)

    @dataclass
    class DeepSpeechTrainerConf(TrainerConf):
        callbacks: Any = MISSING

    @dataclass
    class DeepSpeechConfig:          # hydra 1.0 drops `defaults` from the composed config
        optim: Any = MISSING
        model: Any = MISSING
        checkpoint: Any = MISSING
        trainer: DeepSpeechTrainerConf = field(default_factory=DeepSpeechTrainerConf)
        data: DataConfig = field(default_factory=DataConfig)
        augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
        seed: int = 123456
        load_auto_checkpoint: bool = False

    class CheckpointHandler:         # deepspeech_pytorch.checkpoint (a ModelCheckpoint subclass)
        pass

    for c in (SpectrogramWindow, RNNType):
        ns[(ENUMS, c.__name__)] = c
    ns[("hydra_configs.pytorch_lightning.callbacks", "ModelCheckpointConf")] = ModelCheckpointConf
    ns[("hydra_configs.pytorch_lightning.trainer", "TrainerConf")] = TrainerConf
    for c in (SpectConfig, AugmentationConfig, DataConfig, BiDirectionalConfig, UniDirectionalConfig,
              OptimConfig, AdamConfig, DeepSpeechTrainerConf, DeepSpeechConfig):
        ns[(TC, c.__name__)] = c
    ns[("deepspeech_pytorch.checkpoint", "CheckpointHandler")] = CheckpointHandler
    return ns


class Namespace:
    """The V2.1 and V3 classes share module and class names, so each is installed only while used."""

    def __init__(self, table):
        self.table = table
        for (mod, name), cls in table.items():
            cls.__module__ = mod
            cls.__qualname__ = name

    def __enter__(self):
        for (mod, name), cls in self.table.items():
            parts = mod.split(".")
            for i in range(1, len(parts) + 1):
                fake_module(".".join(parts[:i]))
            setattr(sys.modules[mod], name, cls)
        return self

    def __exit__(self, *exc):
        for (mod, name), _ in self.table.items():
            delattr(sys.modules[mod], name)

    def __getitem__(self, name):
        for (_, n), cls in self.table.items():
            if n == name:
                return cls
        raise KeyError(name)


V21 = Namespace(make_v21_namespace())
V3 = Namespace(make_v3_namespace())


def v21_root_config(spec):
    ns = V21
    cfg = OmegaConf.structured(ns["DeepSpeechConfig"])
    cfg.optim = OmegaConf.structured(ns["SGDConfig"])
    rnn_type = ns["RNNType"][spec["rnn"]]
    if spec["bidirectional"]:
        cfg.model = OmegaConf.structured(ns["BiDirectionalConfig"](rnn_type, spec["hidden"], spec["layers"]))
    else:
        cfg.model = OmegaConf.structured(ns["UniDirectionalConfig"](rnn_type, spec["hidden"], spec["layers"],
                                                                    spec["context"]))
    cfg.checkpointing = OmegaConf.structured(ns["FileCheckpointConfig"])
    cfg.data.train_manifest = "data/an4_train_manifest.csv"
    cfg.data.val_manifest = "data/an4_val_manifest.csv"
    cfg.training.epochs = 70
    return cfg


def v3_root_config(spec, precision=32):
    ns = V3
    cfg = OmegaConf.structured(ns["DeepSpeechConfig"])
    cfg.optim = OmegaConf.structured(ns["AdamConfig"])
    rnn_type = ns["RNNType"][spec["rnn"]]
    if spec["bidirectional"]:
        cfg.model = OmegaConf.structured(ns["BiDirectionalConfig"](rnn_type, spec["hidden"], spec["layers"]))
    else:
        cfg.model = OmegaConf.structured(ns["UniDirectionalConfig"](rnn_type, spec["hidden"], spec["layers"],
                                                                    spec["context"]))
    cfg.checkpoint = OmegaConf.structured(ns["ModelCheckpointConf"](save_top_k=1, monitor="wer", verbose=True))
    # configs/an4.yaml overrides
    cfg.data.train_path = "data/an4_train_manifest.json"
    cfg.data.val_path = "data/an4_val_manifest.json"
    cfg.data.batch_size = 8
    cfg.data.num_workers = 8
    cfg.trainer.max_epochs = 70
    cfg.trainer.gpus = 1
    cfg.trainer.precision = precision
    cfg.trainer.gradient_clip_val = 400.0
    cfg.trainer.accelerator = "ddp"
    cfg.trainer.plugins = "ddp_sharded"
    cfg.trainer.checkpoint_callback = True
    return cfg


# --------------------------------------------------------------------------------------------
# 5. Writers
# --------------------------------------------------------------------------------------------

class location_as:
    """torch.save records location_tag(storage); pretend the storages lived on a GPU."""

    def __init__(self, tag):
        self.tag = tag

    def __enter__(self):
        self.saved = torch.serialization.location_tag
        if self.tag is not None:
            # a real GPU tag is built per call ("cuda:" + index), so it is not memoised in the pickle
            torch.serialization.location_tag = lambda storage: self.tag.encode().decode()

    def __exit__(self, *exc):
        torch.serialization.location_tag = self.saved


def save_zip(obj, name, via_buffer, location=None):
    """torch.save zip format, returned as bytes. via_buffer=True writes through BytesIO (zip folder
    `archive/`, as Lightning's atomic_save does); otherwise torch.save gets a path named `name`, so
    the zip folder is that name's stem, as when deepspeech.pytorch saved a .pth to a path."""
    with location_as(location):
        if via_buffer:
            buf = io.BytesIO()
            torch.save(obj, buf)
            return buf.getvalue()
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, name)
            torch.save(obj, p)
            with open(p, "rb") as f:
                return f.read()


def zip_like_torch(entries, zip64_eocd=True):
    """Writes (name, bytes) entries exactly as torch's PyTorchStreamWriter (miniz) lays out a zip:
    STORED, flags 0x0808 (data descriptor + UTF-8), zero CRC/sizes in the local header, an 'FB'
    extra field padding every payload to a 64-byte file offset, a PK\\x07\\x08 data descriptor
    after each payload, a central directory without extra fields, versions and DOS time 0, and
    (torch 2.x, even for tiny archives) a Zip64 end-of-central-directory record + locator before
    the classic end record."""
    out, central = bytearray(), bytearray()
    for name, payload in entries:
        nb = name.encode()
        offset = len(out)
        start = offset + 30 + len(nb) + 4
        pad = (-start) % 64
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zipfile.crc32(payload) & 0xFFFFFFFF
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(nb), len(extra)) + nb + extra
        out += payload
        out += struct.pack("<IIII", 0x08074B50, crc, len(payload), len(payload))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, 0, 0, 0, crc, len(payload),
                               len(payload), len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd_offset = len(out)
    out += central
    if zip64_eocd:
        z64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x2D, 0, 0, len(entries), len(entries),
                           len(central), cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)


ZIP_WRITER_CHECKS = []     # sizes of the torch archives zip_like_torch reproduced byte for byte
NEWER_RECORDS = (".format_version", ".storage_alignment", "byteorder", ".data/serialization_id")


def torch17_layout(data):
    """The same archive without the records newer torch versions add (torch 1.7, which wrote the
    released V3 checkpoints in January 2021, wrote only data.pkl, data/N and version) and without
    the Zip64 end records (miniz writes them only when asked or needed; whether torch 1.7 asked is
    not verified here: this variant exists so that readers are tested on both endings)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        entries = [(i.filename, z.read(i)) for i in z.infolist()]
    assert zip_like_torch(entries) == data, "zip_like_torch does not reproduce torch's writer"
    ZIP_WRITER_CHECKS.append(len(data))
    prefix = entries[0][0].split("/")[0] + "/"
    return zip_like_torch([(n, b) for n, b in entries if n[len(prefix):] not in NEWER_RECORDS], zip64_eocd=False)


def legacy_bytes(obj, location="cpu", key_seed=0, fix_imports=True):
    """The torch <= 1.5 non-zip format, byte for byte as torch's _legacy_save writes it, except that
    the storage keys (C pointers there) are seeded pseudo-pointers so the file is reproducible."""
    rng = np.random.default_rng(key_seed)
    base = 94_000_000_000_000 + int(rng.integers(0, 10**9)) * 64      # 14 digits, like x86-64 heap pointers
    keys, storages = {}, {}

    def persistent_id(o):
        if isinstance(o, type) and issubclass(o, nn.Module):
            raise TypeError("no module classes in these fixtures")
        if isinstance(o, torch.storage.TypedStorage):
            untyped = o._untyped_storage
            if untyped._cdata not in keys:
                keys[untyped._cdata] = str(base + int(rng.integers(1, 2**20)) * 4096 + len(keys) * 64)
                assert keys[untyped._cdata] not in storages
                storages[keys[untyped._cdata]] = (untyped, o.dtype)
            # torch builds a fresh key string on every reference (str(storage._cdata)), so repeated keys
            # are written out again instead of memo GETs; str(int(...)) keeps that behaviour
            return ("storage", getattr(torch, o._pickle_storage_type()), str(int(keys[untyped._cdata])),
                    location if location == "cpu" else location.encode().decode(),
                    o._size(), None)
        return None

    class LegacyPickler(pickle.Pickler):
        def persistent_id(self, o):
            return persistent_id(o)

    f = io.BytesIO()
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
    pickle.dump(1001, f, protocol=2)
    pickle.dump(sys_info, f, protocol=2)
    LegacyPickler(f, protocol=2, fix_imports=fix_imports).dump(obj)
    order = sorted(storages.keys())
    pickle.dump(order, f, protocol=2)
    for k in order:
        untyped, dtype = storages[k]
        raw = torch.empty(0, dtype=torch.uint8).set_(untyped).numpy().tobytes()
        elem = torch.empty(0, dtype=dtype).element_size()
        f.write(struct.pack("<q", len(raw) // elem))
        f.write(raw)
    return f.getvalue()


def opcode_names(stream, count):
    """Opcode names (no arguments) of `count` consecutive pickles, and the offset after them."""
    names, pos = [], 0
    for _ in range(count):
        for op, arg, p in pickletools.genops(io.BytesIO(stream[pos:])):
            names.append(op.name)
            end = p
        pos += end + 1
    return names, pos


def check_legacy_writer(obj):
    """Compare our legacy writer with torch's own _legacy_save on the same object: identical opcode
    sequences (keys differ) and identical raw storage section length."""
    ours = legacy_bytes(obj, key_seed=123)
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    theirs = buf.getvalue()
    a, pa = opcode_names(ours, 5)
    b, pb = opcode_names(theirs, 5)
    back = torch.load(io.BytesIO(ours), weights_only=True)
    same_values = all(torch.equal(back["state_dict"][k], v) for k, v in obj["state_dict"].items())
    return {"opcode_sequences_equal": a == b, "raw_section_bytes_ours": len(ours) - pa,
            "raw_section_bytes_torch": len(theirs) - pb, "torch_load_roundtrip_equal": same_values}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# 6. Checkpoint contents
# --------------------------------------------------------------------------------------------

def param_list(model):
    return [p for p in model.parameters()]


def sgd_state(model, rng, lr, max_numel=1024, nesterov=True):
    """optimizer.state_dict() of a momentum SGD, momentum buffers only for small parameters (size)."""
    params = param_list(model)
    state = {}
    for i, p in enumerate(params):
        if p.numel() <= max_numel:
            state[i] = {"momentum_buffer": torch.from_numpy(rng.normal(0, 1e-3, tuple(p.shape)).astype(np.float32))}
    return {"state": state, "param_groups": [{"lr": lr, "momentum": 0.9, "dampening": 0, "weight_decay": 1e-5,
                                              "nesterov": nesterov, "params": list(range(len(params)))}]}


def adamw_state(model, rng, lr, step, max_numel=1024):
    """AdamW state_dict as torch 1.7 wrote it (int step), exp_avg/exp_avg_sq only for small params."""
    params = param_list(model)
    state = {}
    for i, p in enumerate(params):
        if p.numel() <= max_numel:
            state[i] = {"step": step,
                        "exp_avg": torch.from_numpy(rng.normal(0, 1e-3, tuple(p.shape)).astype(np.float32)),
                        "exp_avg_sq": torch.from_numpy(rng.uniform(0, 1e-6, tuple(p.shape)).astype(np.float32))}
    return {"state": state, "param_groups": [{"lr": lr, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 1e-05,
                                              "amsgrad": False, "initial_lr": 0.00015,
                                              "params": list(range(len(params)))}]}


def v20_package(model, spec, rng):
    epochs = 70
    loss = torch.zeros(epochs)
    wer = torch.zeros(epochs)
    cer = torch.zeros(epochs)
    for e in range(13):
        loss[e] = 180.0 * math.exp(-0.2 * e) + 10.0
        wer[e] = 95.0 * math.exp(-0.1 * e) + 20.0
        cer[e] = 60.0 * math.exp(-0.1 * e) + 8.0
    return {
        "version": "0.0.1",
        "hidden_size": spec["hidden"],
        "hidden_layers": spec["layers"],
        "rnn_type": spec["rnn"],
        "audio_conf": {"sample_rate": 16000, "window_size": 0.02, "window_stride": 0.01, "window": "hamming",
                       "noise_dir": None, "noise_prob": 0.4, "noise_levels": (0.0, 0.5)},
        "labels": "".join(LABELS),
        "state_dict": model.state_dict(),
        "bidirectional": spec["bidirectional"],
        "optim_dict": sgd_state(model, rng, 3e-4 / 1.1 ** 13),
        "avg_loss": 21.734375,
        "epoch": 13,
        "loss_results": loss,
        "cer_results": cer,
        "wer_results": wer,
    }


def v21_package(model, spec, rng):
    cfg = v21_root_config(spec)
    epochs = 70
    results = {k: torch.zeros(epochs) for k in ("loss_results", "wer_results", "cer_results")}
    for e in range(9):
        results["loss_results"][e] = 150.0 * math.exp(-0.25 * e) + 12.0
        results["wer_results"][e] = 90.0 * math.exp(-0.12 * e) + 22.0
        results["cer_results"][e] = 55.0 * math.exp(-0.12 * e) + 9.0
    model_dict = {
        "hidden_size": spec["hidden"],
        "hidden_layers": spec["layers"],
        "rnn_type": spec["rnn"],
        "audio_conf": cfg.data.spect,          # a child DictConfig: its _parent is the whole config
        "labels": list(LABELS),
        "state_dict": model.state_dict(),
        "bidirectional": spec["bidirectional"],
    }
    training = {
        "optim_dict": sgd_state(model, rng, 3e-4 / 1.1 ** 9),
        "amp": OrderedDict([("loss_scaler0", {"loss_scale": 1.0, "unskipped": 1431})]),
        "avg_loss": 24.59375,
        "best_wer": torch.tensor(31.25),
        "epoch": 9,
        "iteration": None,
    }
    return {**model_dict, **training, **results}


def v3_checkpoint(model, spec, rng, precision=32, amp_state=False):
    cfg = v3_root_config(spec, precision)
    epoch, step = 12, 12 * 118
    ckpt = {
        "epoch": epoch,
        "global_step": step,
        "pytorch-lightning_version": "1.1.8",
        "callbacks": {V3["CheckpointHandler"]: {
            "monitor": "wer",
            "best_model_score": torch.tensor(31.8125),
            "best_model_path": "/home/user/deepspeech.pytorch/outputs/2021-01-30/14-02-11/"
                               "lightning_logs/version_0/checkpoints/epoch=11-step=1415.ckpt",
            "current_score": torch.tensor(32.5),
            "dirpath": "/home/user/deepspeech.pytorch/outputs/2021-01-30/14-02-11/lightning_logs/version_0/checkpoints",
        }},
        "optimizer_states": [adamw_state(model, rng, 0.00015 * 0.99 ** epoch, step)],
        "lr_schedulers": [{"gamma": 0.99, "base_lrs": [0.00015], "last_epoch": epoch, "_step_count": epoch + 1,
                           "_get_lr_called_within_step": False, "_last_lr": [0.00015 * 0.99 ** epoch]}],
    }
    if amp_state:
        ckpt["native_amp_scaling_state"] = {"scale": 32768.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                            "growth_interval": 2000, "_growth_tracker": 117}
    ckpt["state_dict"] = model.state_dict()
    ckpt["hparams_name"] = "kwargs"
    # DeepSpeech.__init__(labels, model_cfg, precision, optim_cfg, spect_cfg) -> save_hyperparameters()
    ckpt["hyper_parameters"] = {
        "labels": list(LABELS),
        "model_cfg": cfg.model,                # child DictConfigs: each _parent is the whole config
        "precision": cfg.trainer.precision,
        "optim_cfg": cfg.optim,
        "spect_cfg": cfg.data.spect,
    }
    return ckpt


# --------------------------------------------------------------------------------------------
# 7. Reading a file back and rebuilding the model from what it says
# --------------------------------------------------------------------------------------------

def model_from_file(path, kind):
    if kind == "v20":
        pkg = torch.load(path, map_location="cpu", weights_only=True)
        spec = dict(rnn=pkg["rnn_type"], hidden=pkg["hidden_size"], layers=pkg["hidden_layers"],
                    bidirectional=pkg["bidirectional"], context=None)
        assert pkg["labels"] == "".join(LABELS)
        sd = pkg["state_dict"]
    elif kind == "v21":
        with V21:
            pkg = torch.load(path, map_location="cpu", weights_only=False)
        spec = dict(rnn=pkg["rnn_type"], hidden=pkg["hidden_size"], layers=pkg["hidden_layers"],
                    bidirectional=pkg["bidirectional"], context=None)
        assert pkg["labels"] == LABELS and pkg["audio_conf"].window.value == "hamming"
        sd = pkg["state_dict"]
    else:
        with V3:
            pkg = torch.load(path, map_location="cpu", weights_only=False)
            mc = pkg["hyper_parameters"]["model_cfg"]
            bidir = OmegaConf.get_type(mc) is V3["BiDirectionalConfig"]
            spec = dict(rnn={nn.LSTM: "lstm", nn.GRU: "gru"}[mc.rnn_type.value], hidden=mc.hidden_size,
                        layers=mc.hidden_layers, bidirectional=bidir,
                        context=None if bidir else mc.lookahead_context)
            sc = pkg["hyper_parameters"]["spect_cfg"]
            assert (sc.sample_rate, sc.window_size, sc.window_stride, sc.window.value) == (16000, 0.02, 0.01, "hamming")
        assert pkg["hyper_parameters"]["labels"] == LABELS
        sd = pkg["state_dict"]
    model = build(spec)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    model.eval()
    dtypes = sorted({str(v.dtype) for v in sd.values()})
    return model, spec, dtypes


# --------------------------------------------------------------------------------------------
# 8. Malicious and broken files (nothing here is ever unpickled by pickle)
# --------------------------------------------------------------------------------------------

class _Reduce:
    """Pickles as REDUCE(fn, args). Pickling only records fn's module and name; nothing is called."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def evil_files(bigru_ckpt_bytes):
    out = {}
    small = OrderedDict([("fc.0.module.1.weight", torch.arange(29 * 4, dtype=torch.float32).view(29, 4) / 100.0)])
    # (a) zip torch format, data.pkl REDUCEs posix.system
    obj = {"hidden_size": 4, "state_dict": small, "payload": _Reduce(os.system, (EVIL_CMD,))}
    buf = io.BytesIO()
    torch.save(obj, buf)
    out["evil-reduce-system.pth"] = buf.getvalue()
    # (b) legacy format, REDUCE of builtins.eval (fix_imports=False keeps the py3 module name)
    obj = {"hidden_size": 4, "state_dict": small,
           "payload": _Reduce(eval, ("__import__('os').system(%r)" % EVIL_CMD,))}
    out["evil-legacy.pth"] = legacy_bytes(obj, key_seed=7, fix_imports=False)
    # (c) protocol-0 pickle: a list built with INST (os system) and OBJ (posix system)
    out["evil-inst.pkl"] = (
        b"(lp0\n"
        b"(S'" + EVIL_CMD.encode() + b"'\np1\nios\nsystem\np2\na"
        b"(cposix\nsystem\np3\ng1\nop4\na."
    )
    # (d) truncated checkpoint
    out["truncated.ckpt"] = bigru_ckpt_bytes[: int(len(bigru_ckpt_bytes) * 0.6)]
    return out


def pickle_of(data):
    """The main pickle of a torch file (zip: */data.pkl; legacy: the 4th pickle; raw pickle: itself)."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            name = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            return z.read(name)
    if data[:2] == b"\x80\x02":
        _, pos = opcode_names(data, 3)
        return data[pos:]
    return data


def globals_in(pkl):
    """GLOBAL / INST names of a pickle, found with pickletools (which never executes anything)."""
    found = []
    for op, arg, _ in pickletools.genops(io.BytesIO(pkl)):
        if op.name in ("GLOBAL", "INST") and arg not in found:
            found.append(arg)
    return found


def opcodes_in(pkl):
    return sorted({op.name for op, _, _ in pickletools.genops(io.BytesIO(pkl))})


# --------------------------------------------------------------------------------------------
# 9. Main
# --------------------------------------------------------------------------------------------

def greedy(probs):
    idx = probs.argmax(1)
    text, prev = [], -1
    for i in idx:
        if i != prev and i != 0:
            text.append(LABELS[i])
        prev = i
    return "".join(text), idx


def main():
    os.makedirs(MODELS, exist_ok=True)
    os.makedirs(REF, exist_ok=True)
    pwned_before = os.path.exists(PWNED)
    written = []

    def write(path, data):
        with open(path, "wb") as f:
            f.write(data)
        written.append(path)

    def save_npy(path, arr):
        bio = io.BytesIO()
        np.save(bio, np.ascontiguousarray(arr, dtype="<f4"))
        write(path, bio.getvalue())

    samples = {c: read_wav(c) for c in REF_CLIPS + CALIB_CLIPS}
    spects = {(fe, c): spectrogram(samples[c], fe) for fe in FRONT_ENDS for c in samples}
    checks = {"stft": {c: stft_checks(samples[c]) for c in REF_CLIPS}}
    for fe in FRONT_ENDS:
        for c in REF_CLIPS:
            save_npy(os.path.join(REF, f"{fe}.{c}.spect.npy"), spects[(fe, c)])

    models = {}
    for name, spec in VARIANTS.items():
        m = build(spec)
        init_weights(m, spec, [spects[("v3", c)] for c in CALIB_CLIPS])
        m.eval()
        models[name] = m

    files = {}   # file name -> (bytes, kind, front end, variant, notes)

    # v2.0 legacy .pth (GPU-trained look: flat RNN storages, location cuda:0)
    spec = VARIANTS["ds2-bilstm"]
    m = copy.deepcopy(models["ds2-bilstm"])
    flatten_rnn_storage(m)
    pkg = v20_package(m, spec, np.random.default_rng(2001))
    checks["legacy_writer_vs_torch_legacy_save"] = check_legacy_writer(pkg)
    files["ds2-bilstm.v2.pth"] = (legacy_bytes(pkg, location="cuda:0", key_seed=2002), "v20", "ds2-bilstm",
                                  {"format": "legacy (non-zip) torch.save, protocol 2", "layout": "deepspeech.pytorch v2.0",
                                   "storage_location": "cuda:0", "rnn_weights_share_one_storage_per_layer": True})

    # V2.1 zip .pth saved to a path (zip folder = file stem), CPU storages, one storage per tensor
    with V21:
        pkg = v21_package(models["ds2-bilstm"], spec, np.random.default_rng(2101))
        data = save_zip(pkg, "ds2-bilstm.v21.pth", via_buffer=False)
    files["ds2-bilstm.v21.pth"] = (data, "v21", "ds2-bilstm",
                                   {"format": "zip torch.save to a path (folder = file stem), all records torch 2.13 writes", "layout": "deepspeech.pytorch V2.1",
                                    "storage_location": "cpu", "rnn_weights_share_one_storage_per_layer": False})

    # V3 Lightning checkpoints
    v3_plan = [("ds2-bilstm", "cuda:0", True), ("ds2-bigru", "cuda:0", True),
               ("ds2-unilstm-lookahead", "cpu", False), ("ds2-unigru-lookahead", "cuda:0", True)]
    for i, (name, loc, flat) in enumerate(v3_plan):
        m = copy.deepcopy(models[name])
        if flat:
            flatten_rnn_storage(m)
        with V3:
            ck = v3_checkpoint(m, VARIANTS[name], np.random.default_rng(3000 + i))
            data = torch17_layout(save_zip(ck, name + ".ckpt", via_buffer=True, location=loc))
        files[name + ".ckpt"] = (data, "v3", name,
                                 {"format": "zip torch.save through BytesIO (folder archive/), records as torch 1.7 wrote them: "
                                            "data.pkl, data/N, version only (no .format_version, .storage_alignment, "
                                            "byteorder, .data/serialization_id)",
                                  "layout": "PyTorch Lightning 1.1.8 / deepspeech.pytorch V3.0",
                                  "storage_location": loc, "rnn_weights_share_one_storage_per_layer": flat})
    checks["zip_like_torch_reproduced_torch_archives_byte_for_byte"] = len(ZIP_WRITER_CHECKS)
    # float16 copy of the bigru checkpoint
    m = copy.deepcopy(models["ds2-bigru"]).half()
    with V3:
        ck = v3_checkpoint(m, VARIANTS["ds2-bigru"], np.random.default_rng(3100), precision=16, amp_state=True)
        data = save_zip(ck, "ds2-bigru.half.ckpt", via_buffer=True, location="cpu")
    files["ds2-bigru.half.ckpt"] = (data, "v3", "ds2-bigru",
                                    {"format": "zip torch.save through BytesIO (folder archive/), all records torch 2.13 writes",
                                     "layout": "PyTorch Lightning 1.1.8 / deepspeech.pytorch V3.0, precision 16 hparam, "
                                               "native_amp_scaling_state",
                                     "storage_location": "cpu", "rnn_weights_share_one_storage_per_layer": False,
                                     "weights": "HalfStorage (model.half()); num_batches_tracked stays int64; "
                                                "probs computed in float32 after converting the loaded half weights"})

    for fname, (data, *_rest) in files.items():
        write(os.path.join(MODELS, fname), data)

    # reference outputs, computed from the files as written (read back, model rebuilt from them)
    summary = {"generator": "Fixtures/make_deepspeech2_models.py", "torch": torch.__version__,
               "numpy": np.__version__, "omegaconf": omegaconf.__version__, "labels": LABELS,
               "front_ends": {k: v[2] for k, v in FRONT_ENDS.items()},
               "clips": {c: {"samples": int(len(samples[c])), "frames": spects[("v3", c)].shape[1],
                             "steps": (spects[("v3", c)].shape[1] - 1) // 2 + 1} for c in REF_CLIPS},
               "models": {}, "malicious": {}, "checks": checks}
    checks["reload_vs_in_memory_max_abs_prob_diff"] = {}
    for fname, (data, fe, variant, notes) in files.items():
        path = os.path.join(MODELS, fname)
        model, spec, dtypes = model_from_file(path, fe)
        stem = fname[: -len(".ckpt")] if fname.endswith(".ckpt") else fname[: -len(".pth")]
        entry = {"file": fname, "bytes": len(data), "sha256": sha256(data), "front_end": fe, "variant": variant,
                 "written_with_torch": torch.__version__, "hyperparameters": spec, "state_dict_dtypes": dtypes,
                 "state_dict_keys": len(model.state_dict()),
                 "parameters": int(sum(p.numel() for p in model.parameters())), **notes, "clips": {}}
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                entry["zip_entries"] = z.namelist()
        entry["pickle_globals"] = globals_in(pickle_of(data))
        for c in REF_CLIPS:
            probs = run(model, spects[(fe, c)]).numpy()
            ref_probs = run(models[variant], spects[(fe, c)]).numpy()
            checks["reload_vs_in_memory_max_abs_prob_diff"][f"{fname}:{c}"] = float(np.max(np.abs(probs - ref_probs)))
            save_npy(os.path.join(REF, f"{stem}.{c}.probs.npy"), probs)
            text, idx = greedy(probs)
            entry["clips"][c] = {"frames": spects[(fe, c)].shape[1], "steps": int(probs.shape[0]),
                                 "greedy_text": text, "greedy_length": len(text),
                                 "distinct_argmax_labels": int(len(set(idx.tolist()))),
                                 "blank_argmax_frames": int((idx == 0).sum()),
                                 "mean_max_prob": float(probs.max(1).mean()),
                                 "frames_max_prob_over_0.99": int((probs.max(1) > 0.99).sum())}
        summary["models"][fname] = entry

    # intermediate activations (V3 checkpoints, v3 front end, hy-01)
    for fname, taps_keep in (("ds2-bilstm.ckpt", None), ("ds2-unilstm-lookahead.ckpt", ("rnn0", "rnn1", "lookahead", "logits"))):
        model, spec, _ = model_from_file(os.path.join(MODELS, fname), "v3")
        taps = {}
        run(model, spects[("v3", "hy-01")], taps)
        d = os.path.join(REF, fname[: -len(".ckpt")] + ".hy-01.layers")
        os.makedirs(d, exist_ok=True)
        layers = {}
        if taps_keep is None:
            layers["conv1"] = taps["conv.2"][0]          # after Conv2d+BN+Hardtanh #1  [32, 81, T']
            layers["conv"] = taps["conv.5"][0]           # after the whole conv stack   [32, 41, T']
        for i in range(spec["layers"]):
            layers[f"rnn{i}"] = taps[f"rnn{i}"][:, 0]    # [T', H], directions summed
        if "lookahead" in taps:
            layers["lookahead"] = taps["lookahead"][:, 0]  # after Lookahead + Hardtanh [T', H]
        layers["logits"] = taps["logits"][:, 0]          # fc output before softmax     [T', 29]
        # the doc's formulas, in numpy, on the dumped activations
        sd = {k: v.double().numpy() for k, v in model.state_dict().items()}
        last = layers[f"rnn{spec['layers'] - 1}"].double().numpy()
        if "lookahead" in layers:
            w = sd["lookahead.0.conv.weight"][:, 0, :]                 # [H, context]
            ctx = w.shape[1]
            xp = np.concatenate([last, np.zeros((ctx - 1, last.shape[1]))], 0)
            la = np.clip(sum(w[:, k][None, :] * xp[k:k + len(last)] for k in range(ctx)), 0, 20)
            checks.setdefault("numpy_formulas_vs_torch_max_abs_diff", {})[fname + ":lookahead"] = \
                float(np.max(np.abs(la - layers["lookahead"].double().numpy())))
            last = la
        bn = {k: sd["fc.0.module.0." + k] for k in ("weight", "bias", "running_mean", "running_var")}
        xn = (last - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-5) * bn["weight"] + bn["bias"]
        logits = xn @ sd["fc.0.module.1.weight"].T
        checks.setdefault("numpy_formulas_vs_torch_max_abs_diff", {})[fname + ":fc"] = \
            float(np.max(np.abs(logits - layers["logits"].double().numpy())))
        summary["models"][fname]["layers_hy-01"] = {}
        for k, v in layers.items():
            save_npy(os.path.join(d, k + ".npy"), v.numpy())
            summary["models"][fname]["layers_hy-01"][k] = list(v.shape)

    # malicious / broken files
    evil = evil_files(files["ds2-bigru.ckpt"][0])
    for fname, data in evil.items():
        write(os.path.join(MODELS, fname), data)
        info = {"bytes": len(data), "sha256": sha256(data)}
        if fname != "truncated.ckpt":
            pkl = pickle_of(data)
            info["pickle_globals_and_insts"] = globals_in(pkl)
            info["opcodes"] = opcodes_in(pkl)
            try:   # torch's restricted unpickler must refuse without executing anything
                torch.load(io.BytesIO(data), weights_only=True)
                info["torch_weights_only_load"] = "LOADED (unexpected)"
            except Exception as e:  # noqa: BLE001
                info["torch_weights_only_load"] = "refused: " + type(e).__name__
        else:
            info["truncated_from"] = "ds2-bigru.ckpt"
            info["fraction"] = 0.6
            try:
                zipfile.ZipFile(io.BytesIO(data))
                info["python_zipfile"] = "opened (unexpected)"
            except zipfile.BadZipFile as e:
                info["python_zipfile"] = "BadZipFile: " + str(e)
        summary["malicious"][fname] = info
    assert os.path.exists(PWNED) == pwned_before, "a malicious payload ran!"
    checks["pwned_marker_absent_after_run"] = not os.path.exists(PWNED)

    write(os.path.join(REF, "summary.json"), (json.dumps(summary, indent=1, ensure_ascii=False) + "\n").encode())

    total = 0
    for p in written:
        total += os.path.getsize(p) if p.startswith(MODELS) else 0
        print(f"{os.path.getsize(p):>10}  {os.path.relpath(p, HERE)}")
    print(f"models/deepspeech2 total: {total} bytes")
    print(json.dumps(checks, indent=1))


if __name__ == "__main__":
    main()
