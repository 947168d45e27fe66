"""Training the encoder-decoder: the main job of `python -m numpygam train`.

A step: sample a batch (its own seed, so a resumed run sees the same batches),
teacher-forced loss, backward, gradient-norm clipping, Adam with a warm-up +
cosine learning rate.  Checkpoints (.npz) hold the model, Adam's moments, the
step and the configuration, so that resuming gives the same next step.
train() saves every eval_every steps and at least every CHECKPOINT_SECONDS; Ctrl-C
or SIGTERM finishes the step, saves and stops (TrainingStopped, the one line to print);
a save that fails (a full disk) stops in one line too.  lock_run_folder keeps one run
per folder.  A checkpoint without Adam's moments still loads (to translate), not to resume.
"""
import dataclasses
import errno
import fcntl
import json
import os
import shlex
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from . import nn, optim
from .checkpoint import CheckpointError, load_checkpoint, previous_path, save_checkpoint
from .functional import SCORES
from .functional.scores import Sizes
from .nn.seq2seq import ATTENTIONS, CONTEXTS, WINDOWS
from .plots import attention_heatmap
from .tasks import Vocab, copy_task, date_task, make_batch
from .tasks.dates import CHARS, CHARS_BEFORE_CHINESE, FORMATS, HELDOUT_SEED, labelled_pairs

TASKS = ("dates", "g2p", "copy", "reverse")
PRESETS = ("quick", "full")
# g2p's presets: the options a preset sets when they are not given (quick: minutes on 2
# cores; full: the larger model, a little over an hour)
G2P_PRESETS = {
    "quick": dict(steps=8000, eval_every=2000, heldout_limit=500, emb_dim=32, enc_hidden=96,
                  dec_hidden=192, attn_dim=96, lr=3e-3, warmup=100),
    "full": dict(steps=30000, eval_every=5000, heldout_limit=2000, emb_dim=64,
                 enc_hidden=192, dec_hidden=384, attn_dim=192, lr=2e-3, warmup=500,
                 d_model=128, dim_feedforward=512),
}
MODELS = ("rnn", "transformer")
# --length-groups: 16 already leaves a g2p batch 84% real symbols (benchmarks/README.md);
# far more groups pad no less and only cost the drawing and sorting
MAX_LENGTH_GROUPS = 1024
DTYPES = ("float32", "float64")
# what `train --resume` may change; every other option is fixed by the checkpoint
RESUMABLE = ("steps", "lr", "warmup", "clip", "eval_every", "heldout_limit")


class NonFiniteError(RuntimeError):
    """A loss or gradient that is NaN or infinite: training stops, nothing is saved."""


class TrainingStopped(Exception):
    """Training ended early for a reason outside it (Ctrl-C or SIGTERM, a checkpoint that
    could not be written): str() is the one line to print, status the exit status
    (130 for SIGINT, 143 for SIGTERM, 1 for a failed save)."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


class RunFolderInUse(Exception):
    """Another run holds the run folder's lock; pid: the holder's, as it wrote it (or None)."""

    def __init__(self, run_dir, pid):
        super().__init__(f"{run_dir} is in use by another train run "
                         f"({'pid ' + str(pid) if pid else 'its pid not yet written'}); wait for "
                         f"it to end (or stop it), or give another --out folder")
        self.pid = pid


CHECKPOINT_SECONDS = 60  # train saves at least this often (besides every --eval-every steps)
LOCK_NAME = ".lock"      # a run folder's lock file: fcntl.flock, and the holder's pid inside


def check_config(config):
    """The first problem with the options, as one line naming the option, or None."""
    c = config
    for f in dataclasses.fields(c):
        allowed = f.metadata["choices"]
        if allowed and getattr(c, f.name) not in allowed:
            return f"--{f.name} {getattr(c, f.name)!r}: choose one of {', '.join(allowed)}"
    for name in ("steps", "batch_size", "length_groups", "D", "emb_dim", "enc_hidden",
                 "dec_hidden", "attn_dim",
                 "train_size", "eval_every", "heldout_limit", "min_len", "max_len", "d_model",
                 "nhead", "num_layers", "dim_feedforward"):
        if getattr(c, name) < 1:
            return f"--{name.replace('_', '-')} {getattr(c, name)}: must be at least 1"
    for name in ("warmup", "seed"):
        if getattr(c, name) < 0:
            return f"--{name} {getattr(c, name)}: must be 0 or more"
    for name in ("lr", "clip"):
        if not (np.isfinite(getattr(c, name)) and getattr(c, name) > 0):
            return f"--{name} {getattr(c, name)}: must be a finite number above 0"
    if c.length_groups > MAX_LENGTH_GROUPS:  # each step draws length_groups x batch_size
        return (f"--length-groups {c.length_groups}: at most {MAX_LENGTH_GROUPS} (each step "
                f"draws length-groups x batch-size pairs to sort)")
    if c.max_len < c.min_len:
        return f"--max-len {c.max_len}: must be at least --min-len {c.min_len}"
    for name in ("dropout", "rnn_dropout"):
        if not 0 <= getattr(c, name) < 1:
            return f"--{name.replace('_', '-')} {getattr(c, name)}: must be at least 0 and below 1"
    need, have = estimate_memory(c), available_memory()
    if need > MEMORY_SHARE * have:
        return (f"these sizes need about {need / 2**30:.1f} GiB to train (weights, gradients, "
                f"Adam's moments and one batch's activations); this machine has "
                f"{have / 2**30:.1f} GiB available: choose smaller sizes")
    try:  # the combinations the model itself refuses (a tiny one is built to ask it)
        if c.model == "transformer":
            nn.TransformerTranslator(5, 5, d_model=c.d_model, nhead=c.nhead, num_layers=1,
                                     dim_feedforward=1, dropout=c.dropout, max_len=4)
        else:
            nn.Seq2Seq(5, 5, emb_dim=2, enc_hidden=c.enc_hidden, dec_hidden=c.dec_hidden,
                       attention=c.attention, score=c.score, window=c.window, D=c.D, attn_dim=2,
                       max_src_len=4, context=c.context)
    except ValueError as err:
        return f"these options do not make a model: {err}"
    return None


MEMORY_SHARE = 0.8  # of the available memory, the most a run's estimate may take
MILESTONE = 0.95    # held-out exact match whose first step and training time train reports
MAX_SRC_LEN = 40    # the location score's number of source positions (its W_a's rows)
G2P_BEAM_WORDS = 500  # test words decoded by beam search too (one word at a time: slower)
LONGEST = 40        # characters: the longest source or target of any task, for the estimate


def available_memory():
    """Bytes of memory available now (MemAvailable), or all of it where that is unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def parameter_count(c, src_vocab=64, tgt_vocab=64):
    """The exact number of parameters of the model config c builds (tested against the
    built models), from the sizes alone: nothing is allocated."""
    if c.model == "transformer":
        d, ff, L = c.d_model, c.dim_feedforward, c.num_layers
        encoder_layer = 4 * d * d + 2 * d * ff + 9 * d + ff      # attention, FFN, 2 norms
        decoder_layer = 8 * d * d + 2 * d * ff + 15 * d + ff     # 2 attentions, FFN, 3 norms
        return ((src_vocab + tgt_vocab) * d + L * (encoder_layer + decoder_layer) + 4 * d
                + tgt_vocab * (d + 1))
    E, He, Hd, A = c.emb_dim, c.enc_hidden, c.dec_hidden, c.attn_dim
    K = 2 * He                                                    # a key: both directions
    sizes = Sizes(Dq=Hd, Dk=K, A=A, Tk=MAX_SRC_LEN)
    score = sum(int(np.prod(p.shape(sizes))) for p in SCORES[c.score].params)
    luong = c.attention == "luong"
    return (src_vocab * E + 2 * (3 * He * (E + He) + 6 * He)    # embedding, bi-GRU
            + K * Hd + Hd                                          # bridge
            + score + (A * (Hd + 1) if c.window == "local-p" else 0)  # score, W_p and v_p
            + tgt_vocab * E + 3 * Hd * (E + Hd) + 6 * Hd          # embedding, GRU cell
            + (3 * Hd * Hd + Hd * (K + Hd) if luong else 3 * Hd * K)  # its input; W_c
            + tgt_vocab * ((Hd if luong else Hd + K) + 1))         # output layer


def estimate_memory(c, vocab=64):
    """Bytes a run of config c needs, roughly and from above: every parameter four times
    (weights, gradients, Adam's two moments) and one batch's cached activations, for
    sequences of LONGEST positions (tests/test_safety.py measures a step against it)."""
    T, B = LONGEST, c.batch_size
    size = np.dtype(c.dtype if c.dtype in DTYPES else "float64").itemsize
    if c.model == "transformer":
        d, ff, H = c.d_model, c.dim_feedforward, c.nhead
        per_position = 2 * c.num_layers * (20 * d + 4 * ff + 4 * H * T)
    else:
        per_position = 20 * c.enc_hidden + 30 * c.dec_hidden + 4 * c.attn_dim * T + 4 * vocab
    return float(4 * parameter_count(c, vocab, vocab) + B * T * per_position) * size


def option(default, help, choices=None):
    """A TrainConfig field with the help text (and allowed values) `train --help` shows."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class TrainConfig:
    """Every option of `python -m numpygam train`, with its default and its help."""
    task: str = option("dates", "what to translate: dates, or spelling to sound (g2p) on the "
                                "CMU Pronouncing Dictionary", TASKS)
    preset: str = option("quick", "g2p: the sizes and steps of a quick or a full run (given "
                                  "options win)", PRESETS)
    model: str = option("rnn", "an RNN encoder-decoder with attention, or a Transformer", MODELS)
    steps: int = option(1500, "training steps (batches)")
    batch_size: int = option(64, "pairs per batch")
    length_groups: int = option(1, "draw this many batches' worth of pairs, sort them by "
                                "length and train on one group: batches that pad less")
    lr: float = option(3e-3, "Adam's peak learning rate")
    warmup: int = option(100, "steps of linear warm-up to lr, then a cosine decay to 0")
    clip: float = option(1.0, "the gradient's largest global norm")
    seed: int = option(0, "seed of the weights, the batches and the training data")
    attention: str = option("bahdanau", "rnn: whose decoder (when the query is read)", ATTENTIONS)
    score: str = option("additive", "rnn: the score function", tuple(SCORES))
    window: str = option("global", "rnn: global attention, or Luong's local-m / local-p",
                         WINDOWS)
    context: str = option("attention", "rnn: 'fixed' reads one summary vector: no attention",
                          CONTEXTS)
    D: int = option(3, "rnn, local windows: the half-width D")
    emb_dim: int = option(32, "rnn: embedding size")
    enc_hidden: int = option(64, "rnn: the encoder GRU's size (each direction)")
    dec_hidden: int = option(128, "rnn: the decoder GRU's size")
    attn_dim: int = option(64, "rnn: hidden size A of the concat and additive scores")
    rnn_dropout: float = option(0.0, "rnn: dropout on the embeddings and the output layer's "
                                     "input, in [0, 1) (nn.Seq2Seq)")
    train_size: int = option(40000, "training pairs generated")
    eval_every: int = option(500, "steps between held-out evaluations and checkpoints")
    heldout_limit: int = option(1000, "held-out pairs evaluated")
    min_len: int = option(3, "copy / reverse: the shortest digit string")
    max_len: int = option(8, "copy / reverse: the longest digit string")
    dtype: str = option("float32", "the weights' precision", DTYPES)
    d_model: int = option(64, "transformer: width")
    nhead: int = option(4, "transformer: attention heads")
    num_layers: int = option(2, "transformer: layers in the encoder and in the decoder, each")
    dim_feedforward: int = option(256, "transformer: the feed-forward network's inner width")
    dropout: float = option(0.1, "transformer: dropout probability, in [0, 1)")


class Task(NamedTuple):
    train: list             # (source text, target text) pairs
    heldout: list           # pairs never trained on
    heldout_forms: list     # the input form of each held-out pair (dates), or None
    src_vocab: Vocab
    tgt_vocab: Vocab
    max_out: int            # the longest target, in symbols
    references: dict = None  # g2p: {word: [every pronunciation]}, an output right if any
    split: tuple = None      # g2p: (train, valid, test) words


def load_task(config):
    """The Task that config.task names."""
    if config.task == "dates":
        train, heldout, src_vocab, tgt_vocab = date_task(config.train_size, seed=config.seed)
        n = min(config.heldout_limit, len(heldout))
        forms = [form for *_, form in labelled_pairs(len(heldout), HELDOUT_SEED)]
        return Task(train, heldout[:n], forms[:n], src_vocab, tgt_vocab, 10)
    if config.task in ("copy", "reverse"):
        reverse = config.task == "reverse"
        pairs, vocab = copy_task(config.train_size, config.seed, reverse, config.min_len,
                                 config.max_len)
        heldout, _ = copy_task(500, 10_000, reverse, config.min_len, config.max_len)
        return Task(pairs, heldout[:config.heldout_limit], None, vocab, vocab, config.max_len)
    if config.task == "g2p":
        from .tasks import g2p
        dictionary = g2p.load_cmudict()
        split = g2p.split_words(dictionary)
        letters = sorted({c for w in dictionary for c in w})
        valid = split[1][:config.heldout_limit]
        references = {w: [" ".join(p) for p in dictionary[w]] for w in split[1] + split[2]}
        return Task(g2p.pairs(dictionary, split[0]), [(w, references[w][0]) for w in valid],
                    None, Vocab(letters), Vocab(g2p.PHONES, sep=" "),
                    max(len(p) for prons in dictionary.values() for p in prons), references,
                    split)
    raise ValueError(f"task must be one of {TASKS}, got {config.task!r}")


def build_model(config, src_vocab, tgt_vocab, max_src_len=MAX_SRC_LEN):
    nn.manual_seed(config.seed)
    dtype = np.dtype(config.dtype).type
    if config.model == "transformer":
        return nn.TransformerTranslator(len(src_vocab), len(tgt_vocab), d_model=config.d_model,
                                        nhead=config.nhead, num_layers=config.num_layers,
                                        dim_feedforward=config.dim_feedforward,
                                        dropout=config.dropout, max_len=max(max_src_len, 64),
                                        dtype=dtype)
    return nn.Seq2Seq(len(src_vocab), len(tgt_vocab), emb_dim=config.emb_dim,
                      enc_hidden=config.enc_hidden, dec_hidden=config.dec_hidden,
                      attention=config.attention, score=config.score, window=config.window,
                      D=config.D, attn_dim=config.attn_dim, max_src_len=max_src_len,
                      context=config.context, dropout=config.rnn_dropout, dtype=dtype)


def sample_batch(pairs, config, step, src_vocab, tgt_vocab):
    """The batch of `step`: drawn with its own seed (config.seed, step).

    With --length-groups K above 1, K batches' worth of pairs are drawn, sorted by length
    (the source's, then the target's) and cut into K groups of batch_size; one group,
    chosen at random, is the batch.  Each drawn pair lands in one group and each group is
    as likely, so every pair is as likely to be trained on as with K = 1; but the pairs of
    a batch have like lengths, so it pads, and computes, less: g2p's full model, K = 16,
    54.8 ms a step against 98.0 ms (benchmarks/bench_idioms.py), and the same test WER
    (benchmarks/g2p_table_full.md).
    """
    rng = np.random.default_rng([config.seed, step])
    k, size = config.length_groups, config.batch_size
    drawn = rng.integers(0, len(pairs), size * k)
    if k > 1:
        by_length = np.lexsort(([len(pairs[i][1]) for i in drawn],
                                [len(pairs[i][0]) for i in drawn]))
        group = rng.integers(k)
        drawn = drawn[by_length[group * size:(group + 1) * size]]
    return make_batch([pairs[i] for i in drawn], src_vocab, tgt_vocab)


class Trainer:
    """Holds the model, the optimiser and the step; train_step() does one update."""

    def __init__(self, config):
        self.config = config
        task = load_task(config)
        self.train_pairs, self.heldout, self.heldout_forms = task.train, task.heldout, \
            task.heldout_forms
        self.src_vocab, self.tgt_vocab, self.max_out = task.src_vocab, task.tgt_vocab, task.max_out
        self.references, self.split = task.references, task.split
        self.model = build_model(config, self.src_vocab, self.tgt_vocab)
        self.criterion = nn.SequenceLoss(self.model)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config.lr)
        self.step = 0
        self.has_optimizer_state = True  # False: loaded from a checkpoint without it

    def train_step(self):
        """One update; returns the batch's loss before it."""
        c = self.config
        batch = sample_batch(self.train_pairs, c, self.step, self.src_vocab, self.tgt_vocab)
        self.model.train()
        self.model.zero_grad()
        loss = float(self.criterion(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out,
                                    np.random.default_rng([c.seed, self.step, 1])))
        self.criterion.backward()
        norm = optim.clip_grad_norm_(self.model.parameters(), c.clip)
        if not (np.isfinite(loss) and np.isfinite(norm)):  # before the update: weights stay good
            raise NonFiniteError(f"step {self.step + 1}: the loss is {loss} and the gradient "
                                 f"norm {norm}; training stopped (try a smaller --lr)")
        self.optimizer.lr = optim.warmup_cosine(self.step, c.steps, c.lr, c.warmup)
        self.optimizer.step()
        self.step += 1
        return loss

    def exact_matches(self, pairs=None, batch_size=250):
        """Whether greedy decoding gets each pair exactly right (default: the held-out set)."""
        pairs = self.heldout if pairs is None else pairs
        self.model.eval()
        right = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            batch = make_batch(chunk, self.src_vocab, self.tgt_vocab)
            tokens, _ = self.model.greedy(batch.src, batch.src_lengths, self.max_out + 1)
            for row, (source, target) in zip(tokens, chunk):
                out = self.tgt_vocab.decode(row)
                # g2p: right when it is any of the word's pronunciations
                right.append(out in self.references[source] if self.references else
                             out == target)
        return np.array(right)

    def error_rates(self, words, beam_size=1, batch_size=250):
        """g2p: (WER, PER) on words, greedy (beam_size 1) or by beam search
        (numpygam/tasks/g2p.py defines both)."""
        from .tasks.g2p import error_rates
        outputs = []
        self.model.eval()
        for start in range(0, len(words), batch_size):
            chunk = words[start:start + batch_size]
            if beam_size > 1:
                outputs += [self.translate(w, beam_size)[0] for w in chunk]
                continue
            batch = make_batch([(w, "") for w in chunk], self.src_vocab, self.tgt_vocab)
            tokens, _ = self.model.greedy(batch.src, batch.src_lengths, self.max_out + 1)
            outputs += [self.tgt_vocab.decode(row) for row in tokens]
        return error_rates([self.tgt_vocab.symbols(o) if o else [] for o in outputs],
                           [[tuple(r.split()) for r in self.references[w]] for w in words])

    def evaluate(self, pairs=None):
        """Exact-match accuracy of greedy decoding on pairs (default: the held-out set)."""
        return float(self.exact_matches(pairs).mean())

    def accuracy_by_form(self, right=None):
        """{input form: (right, examples)} over the held-out set, for the dates task;
        right: exact_matches() if already computed."""
        right = self.exact_matches() if right is None else right
        forms = np.array(self.heldout_forms)
        return {form: (int(right[forms == form].sum()), int((forms == form).sum()))
                for form in FORMATS if form in self.heldout_forms}

    def translate(self, text, beam_size=1):
        """(output text, attention weights (len(out) + 1, len(text)))."""
        ids = np.array([self.src_vocab.encode(text)])
        self.model.eval()
        if beam_size > 1:
            tokens, weights = self.model.beam_search(ids[0], len(text), beam_size,
                                                     self.max_out + 1)
        else:
            tokens, weights = self.model.greedy(ids, np.array([len(text)]), self.max_out + 1)
            tokens, weights = tokens[0], weights[0]
        out = self.tgt_vocab.decode(tokens)
        return out, weights[:len(self.tgt_vocab.symbols(out) if out else []) + 1]

    # -- checkpoints ----------------------------------------------------------------
    def save(self, path):
        """Write the checkpoint atomically, keeping the previous one (numpygam/checkpoint.py)."""
        arrays = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        if not all(np.isfinite(v).all() for v in arrays.values()):
            raise NonFiniteError(f"step {self.step}: the weights are not finite; not saved")
        arrays.update({f"adam.{k}": v for k, v in self.optimizer.state_dict().items()})
        return save_checkpoint(path, dict(arrays, step=np.array(self.step), config=np.array(
            json.dumps(dataclasses.asdict(self.config)))))

    @classmethod
    def load(cls, path, need_optimizer=False, **changes):
        """The trainer saved at path (a CheckpointError names the file if it cannot be);
        changes: new values of RESUMABLE options.

        A checkpoint without the optimiser's state (no adam.* arrays) loads with a fresh
        Adam and has_optimizer_state False: enough to translate; need_optimizer=True (what
        resuming needs) refuses it in one line (optimizer_missing)."""
        data = load_checkpoint(path)
        config, step = checkpoint_fields(path, data)
        has_optimizer_state = any(k.startswith("adam.") for k in data)
        if need_optimizer and not has_optimizer_state:
            raise CheckpointError(optimizer_missing(path))
        config = dataclasses.replace(config, **changes)
        problem = check_config(config)
        if problem:
            raise CheckpointError(f"{path}: its options are not ones train accepts ({problem})")
        _refuse_old_date_vocabulary(path, config, data)
        try:
            trainer = cls(config)
            trainer.model.load_state_dict({k[6:]: v for k, v in data.items()
                                           if k.startswith("model.")})
            if has_optimizer_state:
                trainer.optimizer.load_state_dict({k[5:]: v for k, v in data.items()
                                                   if k.startswith("adam.")})
        except (TypeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{path}: not a checkpoint of this version of numpygam "
                                  f"({type(err).__name__}: {err})") from None
        trainer.step = step
        trainer.has_optimizer_state = has_optimizer_state
        return trainer


def optimizer_missing(path):
    """The one line for resuming from a checkpoint that holds no optimiser state."""
    return (f"{path} holds the model but not the optimiser's state (Adam's moments and step "
            f"count, the adam.* arrays), which --resume needs to continue the run; it still "
            f"translates (translate --checkpoint {path}), or train afresh with --out NEW_DIR")


def _refuse_old_date_vocabulary(path, config, data):
    """A dates checkpoint from before the Chinese date forms has a source embedding of
    len(Vocab(CHARS_BEFORE_CHINESE)) rows; its model never saw 年, 月 or 日, so no weights
    can be made up for them: say to retrain, not "not a checkpoint of this version"."""
    if config.task != "dates":
        return
    old, new = len(Vocab(CHARS_BEFORE_CHINESE)), len(Vocab(CHARS))
    for key in ("model.encoder.embedding.weight", "model.src_embedding.weight"):
        if key in data and data[key].ndim == 2 and data[key].shape[0] == old:
            raise CheckpointError(
                f"{path}: trained before the date task read Chinese dates (its input "
                f"vocabulary has {old} symbols, this version's {new}); retrain it: "
                f"python -m numpygam train --out NEW_DIR")


def checkpoint_fields(path, data):
    """(TrainConfig, step) from a checkpoint's arrays, each field checked (its type, its
    range, and the options check train makes) before anything is built from them."""
    step, config = data["step"], data["config"]
    if step.shape != () or step.dtype.kind not in "iu" or int(step) < 0:
        raise CheckpointError(f"{path}: not a checkpoint of this version of numpygam (its "
                              f"step is {step.dtype} {step.shape}, not an integer >= 0)")
    if config.shape != () or config.dtype.kind != "U":
        raise CheckpointError(f"{path}: not a checkpoint of this version of numpygam (its "
                              "config is not text)")
    try:
        given = json.loads(str(config))
    except ValueError:
        given = None
    if not isinstance(given, dict):
        raise CheckpointError(f"{path}: not a checkpoint of this version of numpygam (its "
                              "config is not a JSON object)")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    for name, value in given.items():
        if name not in fields:
            raise CheckpointError(f"{path}: not a checkpoint of this version of numpygam "
                                  f"(unknown option {name!r} in its config)")
        kind = type(fields[name].default)
        ok = isinstance(value, kind) and not isinstance(value, bool) or \
            (kind is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise CheckpointError(f"{path}: not a checkpoint of this version of numpygam (its "
                                  f"option {name} is {value!r}, not a {kind.__name__})")
    config = TrainConfig(**given)
    problem = check_config(config)
    if problem:
        raise CheckpointError(f"{path}: its options are not ones train accepts ({problem})")
    return config, int(step)


def progress_line(step, total, loss, accuracy, seconds, width=24):
    done = int(width * step / total)
    return (f"step {step:>5}/{total} [{'#' * done}{'.' * (width - done)}] "
            f"loss {loss:.4f}  token acc {accuracy:6.1%}  {seconds:6.1f}s")


class _Stop:
    """What _stop_on_signals saw: signum, the first SIGINT/SIGTERM (None before one);
    after_training: True once the last checkpoint is written (a signal then stops at once)."""

    def __init__(self):
        self.signum, self.after_training = None, False
        self.message_after_training = lambda signum: f"stopped ({signal.Signals(signum).name})"


@contextmanager
def _stop_on_signals():
    """While training, SIGINT and SIGTERM only set stop.signum: the step under way, and a
    save under way, finish (a second Ctrl-C changes nothing), and train stops after them,
    saving first.  Once stop.after_training is set, a signal raises TrainingStopped at once.
    The previous handlers come back on leaving; outside the main thread, nothing is
    installed (signals are the main thread's)."""
    stop = _Stop()

    def handler(signum, frame):
        if stop.signum is None:
            stop.signum = signum
        if stop.after_training:
            raise TrainingStopped(stop.message_after_training(signum), 128 + signum)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():  # None: a handler not set from Python (the default)
            signal.signal(s, signal.SIG_DFL if h is None else h)


def _resume_command(run_dir):
    return f"python -m numpygam train --resume {shlex.quote(run_dir)}"


def train(config, run_dir, out=print, resume=None, changes=None):
    """Train, evaluate, plot; returns (trainer, held-out exact-match accuracy).

    resume: a checkpoint to continue from, with `changes` to its RESUMABLE options.
    A non-finite loss or gradient raises NonFiniteError; the last checkpoint stays.
    A checkpoint is saved every config.eval_every steps, and at least every
    CHECKPOINT_SECONDS seconds.  SIGINT or SIGTERM (in the main thread) finishes the step,
    saves and raises TrainingStopped (status 128 + the signal); a save that fails (a full
    disk...) raises TrainingStopped (status 1) saying what was kept.
    """
    with _stop_on_signals() as stop:
        return _train_until_stopped(config, run_dir, out, resume, changes, stop)


def _train_until_stopped(config, run_dir, out, resume, changes, stop):
    began = time.monotonic()  # the first time-based save comes CHECKPOINT_SECONDS after it
    os.makedirs(run_dir, exist_ok=True)
    trainer = (Trainer.load(resume, need_optimizer=True, **(changes or {})) if resume
               else Trainer(config))
    config = trainer.config
    checkpoint = os.path.join(run_dir, "checkpoint.npz")
    # the newest checkpoint that holds this run, its step (None: none yet), and whether this
    # process wrote it
    kept = {"path": resume, "step": trainer.step if resume else None, "new": False}

    def save():
        try:
            trainer.save(checkpoint)
        except OSError as err:
            what = (f"the checkpoint of step {kept['step']} is kept in {kept['path']}; free "
                    f"some space (or fix the folder) and resume with: "
                    f"{_resume_command(os.path.dirname(kept['path']) or '.')}"
                    if kept["path"] and os.path.exists(kept["path"]) else
                    "no checkpoint of this run is kept")
            raise TrainingStopped(
                f"stopped at step {trainer.step} of {config.steps}: could not write the "
                f"checkpoint {checkpoint} ({err.strerror or err}); {what}", 1) from None
        kept.update(path=checkpoint, step=trainer.step, new=True)

    def stopped():
        signum = stop.signum
        if kept["step"] != trainer.step and trainer.step > 0:
            save()
        name = signal.Signals(signum).name
        if kept["path"] is None:
            message = (f"stopped ({name}) at step 0 of {config.steps}, before the first "
                       f"step: nothing to save")
        else:
            message = (f"stopped ({name}) at step {trainer.step} of {config.steps}: "
                       f"{'checkpoint saved to' if kept['new'] else 'its checkpoint is'} "
                       f"{kept['path']}; resume with: "
                       f"{_resume_command(os.path.dirname(kept['path']) or '.')}")
        raise TrainingStopped(message, 128 + signum)

    stop.message_after_training = lambda signum: (
        f"stopped ({signal.Signals(signum).name}) after the last step ({trainer.step} of "
        f"{config.steps}), in the final evaluation: the trained checkpoint is saved to "
        f"{kept['path']}")
    if stop.signum:
        stopped()
    out(f"run folder: {run_dir}")
    if trainer.split:
        from .tasks.g2p import write_split
        out(f"the split by word ({', '.join(str(len(s)) for s in trainer.split)} words): "
            f"{write_split(run_dir, trainer.split)}/{{train,valid,test}}.txt")
    model = (f"Transformer, d_model {config.d_model}, {config.nhead} heads, {config.num_layers}+"
             f"{config.num_layers} layers" if config.model == "transformer" else
             f"{config.attention} attention, {config.score} score, {config.window} window")
    out(f"task {config.task}: {len(trainer.train_pairs)} training pairs, "
        f"{len(trainer.heldout)} held out; {model}; "
        f"{sum(p.data.size for p in trainer.model.parameters())} parameters")
    start, smoothed, training_seconds, reached = time.time(), None, 0.0, None
    last_save = began
    while trainer.step < config.steps:
        if stop.signum:
            stopped()
        step_start = time.perf_counter()
        loss = trainer.train_step()
        training_seconds += time.perf_counter() - step_start
        smoothed = loss if smoothed is None else 0.95 * smoothed + 0.05 * loss
        if trainer.step % 50 == 0 or trainer.step == config.steps:
            out(progress_line(trainer.step, config.steps, smoothed,
                              trainer.criterion.token_accuracy, time.time() - start))
        if trainer.step % config.eval_every == 0 or trainer.step == config.steps:
            acc = trainer.evaluate()
            out(f"  held-out exact match after {trainer.step} steps: {acc:.1%}")
            if acc >= MILESTONE and reached is None:
                reached = (trainer.step, training_seconds)
            save()
            last_save = time.monotonic()
        elif time.monotonic() - last_save >= CHECKPOINT_SECONDS:  # an hour's work is not lost
            save()
            last_save = time.monotonic()
    if stop.signum:  # during the last step: it is saved
        stopped()
    stop.after_training = True  # the checkpoint is written: a signal now stops at once
    right = trainer.exact_matches()
    accuracy = float(right.mean())
    out(f"held-out exact-match accuracy: {accuracy:.2%} ({len(trainer.heldout)} examples, "
        f"{time.time() - start:.0f}s)")
    out(f"first reached {MILESTONE:.0%} held-out exact match at step {reached[0]}, after "
        f"{reached[1]:.1f} s of training (evaluations every {config.eval_every} steps not "
        "counted)" if reached else
        f"did not reach {MILESTONE:.0%} held-out exact match in {trainer.step} steps")
    if trainer.split:
        test = trainer.split[2]
        wer, per = trainer.error_rates(test)
        out(f"test split, greedy: WER {wer:.2%}  PER {per:.2%}  ({len(test)} words)")
        beam_words = test[:G2P_BEAM_WORDS]
        wer, per = trainer.error_rates(beam_words, beam_size=5)
        greedy_wer, greedy_per = trainer.error_rates(beam_words)
        out(f"test split, beam 5: WER {wer:.2%}  PER {per:.2%}  (its first {len(beam_words)} "
            f"words; greedy on the same words: WER {greedy_wer:.2%}  PER {greedy_per:.2%})")
    if trainer.heldout_forms:
        out("held-out exact match by input form:")
        for form, (right, n) in trainer.accuracy_by_form(right).items():
            out(f"  {form:<40} {right:>4}/{n:<4} {right / n:7.1%}")
    for i, (src, _) in enumerate(trainer.heldout[:4]):
        text, weights = trainer.translate(src)
        try:
            path = attention_heatmap(weights, src, text,
                                     os.path.join(run_dir, f"attention_{i}.png"))
        except OSError as err:  # the model is saved: a figure that cannot be written is a note
            out(f"  {src!r} -> {text!r}   (heatmap not written: {err.strerror or err})")
            continue
        out(f"  {src!r} -> {text!r}   heatmap: {path}")
    return trainer, accuracy


@contextmanager
def lock_run_folder(run_dir):
    """Hold run_dir's lock (fcntl.flock on run_dir/.lock, our pid written inside) for the
    duration; RunFolderInUse at once, naming the holder's pid, if another run holds it.
    The kernel releases the lock when the process ends, however it ends (SIGKILL too).
    Where the folder cannot hold a lock (a file system without flock, a lock file that
    cannot be written), the run goes on unlocked: the saves say what goes wrong there."""
    path = os.path.join(run_dir, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunFolderInUse(run_dir, _lock_holder(fd)) from None
            fd_locked = False  # ENOLCK, EOPNOTSUPP...: no locks here
        else:
            fd_locked = True
        if fd_locked:
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError:
                pass  # locked all the same; the pid is only for the message
        yield path if fd_locked else None
    finally:
        os.close(fd)  # releases the lock (the file stays: removing it would race a waiter)


def _lock_holder(fd):
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def loadable_checkpoint(run_dir, skipped=None):
    """run_dir's checkpoint.npz if it loads, else the checkpoint.prev.npz kept beside it,
    else None; the damaged ones are added to the list skipped (messages naming them)."""
    latest = os.path.join(run_dir, "checkpoint.npz")
    for path in (latest, previous_path(latest)):
        if os.path.exists(path):
            try:
                load_checkpoint(path)
                return path
            except CheckpointError as err:
                if skipped is not None:
                    skipped.append(str(err))
    return None


def _checkpoint_time(run_dir):
    """When run_dir's newest checkpoint was written (its file's mtime), or None: the time
    of the checkpoint itself, which translate.png, a note or a copied file beside it do
    not change (the folder's own mtime they do)."""
    latest = os.path.join(run_dir, "checkpoint.npz")
    times = []
    for path in (latest, previous_path(latest)):
        try:
            times.append(os.stat(path).st_mtime_ns)
        except OSError:
            pass
    return max(times) if times else None


def latest_checkpoint(root="runs", skipped=None, task=None):
    """The loadable checkpoint of the run folder under root whose checkpoint was written
    last (of that task, when task is given), or None."""
    if not os.path.isdir(root):
        return None
    runs = [os.path.join(root, d) for d in os.listdir(root)]
    timed = [(_checkpoint_time(r), r) for r in runs if os.path.isdir(r)]
    for _, run in sorted(((t, r) for t, r in timed if t is not None), reverse=True):
        path = loadable_checkpoint(run, skipped)
        if path and (task is None or _task_of(path) == task):
            return path
    return None


def _task_of(path):
    """The task a loadable checkpoint was trained on ("dates" when it does not say)."""
    try:
        return json.loads(str(load_checkpoint(path)["config"])).get("task", "dates")
    except (CheckpointError, ValueError, AttributeError):
        return None

