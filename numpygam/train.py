"""Training the encoder-decoder: the main job of `python -m numpygam train`.

A step: sample a batch (its own seed, so a resumed run sees the same batches),
teacher-forced loss, backward, gradient-norm clipping, Adam with a warm-up +
cosine learning rate.  Checkpoints (.npz) hold the model, Adam's moments, the
step and the configuration, so that resuming gives the same next step.
"""
import dataclasses
import json
import os
import time
from dataclasses import dataclass

import numpy as np

from . import nn, optim
from .data import copy_task, date_task, make_batch
from .plots import attention_heatmap

TASKS = ("dates", "copy", "reverse")


@dataclass
class TrainConfig:
    task: str = "dates"
    steps: int = 1500
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 100
    clip: float = 1.0
    seed: int = 0
    attention: str = "bahdanau"
    score: str = "additive"
    window: str = "global"
    context: str = "attention"
    D: int = 3
    emb_dim: int = 32
    enc_hidden: int = 64
    dec_hidden: int = 128
    attn_dim: int = 64
    train_size: int = 40000
    eval_every: int = 500
    heldout_limit: int = 1000
    min_len: int = 3      # copy / reverse: lengths of the digit strings
    max_len: int = 8
    dtype: str = "float32"


def load_task(config):
    """(train pairs, held-out pairs, source vocab, target vocab, longest target)."""
    if config.task == "dates":
        train, heldout, src_vocab, tgt_vocab = date_task(config.train_size, seed=config.seed)
        return train, heldout[:config.heldout_limit], src_vocab, tgt_vocab, 10
    if config.task in ("copy", "reverse"):
        reverse = config.task == "reverse"
        pairs, vocab = copy_task(config.train_size, config.seed, reverse, config.min_len,
                                 config.max_len)
        heldout, _ = copy_task(500, 10_000, reverse, config.min_len, config.max_len)
        return pairs, heldout, vocab, vocab, config.max_len
    raise ValueError(f"task must be one of {TASKS}, got {config.task!r}")


def build_model(config, src_vocab, tgt_vocab, max_src_len=40):
    nn.manual_seed(config.seed)
    return nn.Seq2Seq(len(src_vocab), len(tgt_vocab), config.emb_dim, config.enc_hidden,
                      config.dec_hidden, config.attention, config.score, config.window, config.D,
                      config.attn_dim, max_src_len=max_src_len, context=config.context,
                      dtype=np.dtype(config.dtype).type)


def sample_batch(pairs, config, step, src_vocab, tgt_vocab):
    """The batch of `step`: drawn with its own seed (config.seed, step)."""
    rng = np.random.default_rng([config.seed, step])
    return make_batch([pairs[i] for i in rng.integers(0, len(pairs), config.batch_size)],
                      src_vocab, tgt_vocab)


class Trainer:
    """Holds the model, the optimiser and the step; train_step() does one update."""

    def __init__(self, config):
        self.config = config
        self.train_pairs, self.heldout, self.src_vocab, self.tgt_vocab, self.max_out = \
            load_task(config)
        self.model = build_model(config, self.src_vocab, self.tgt_vocab)
        self.criterion = nn.SequenceLoss(self.model)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config.lr)
        self.step = 0

    def train_step(self):
        """One update; returns the batch's loss before it."""
        c = self.config
        batch = sample_batch(self.train_pairs, c, self.step, self.src_vocab, self.tgt_vocab)
        self.model.train()
        self.model.zero_grad()
        loss = float(self.criterion(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out,
                                    np.random.default_rng([c.seed, self.step, 1])))
        self.criterion.backward()
        optim.clip_grad_norm_(self.model.parameters(), c.clip)
        self.optimizer.lr = optim.warmup_cosine(self.step, c.steps, c.lr, c.warmup)
        self.optimizer.step()
        self.step += 1
        return loss

    def evaluate(self, pairs=None, batch_size=250):
        """Exact-match accuracy of greedy decoding on pairs (default: the held-out set)."""
        pairs = self.heldout if pairs is None else pairs
        self.model.eval()
        correct = 0
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            batch = make_batch(chunk, self.src_vocab, self.tgt_vocab)
            tokens, _ = self.model.greedy(batch.src, batch.src_lengths, self.max_out + 1)
            correct += sum(self.tgt_vocab.decode(row) == target
                           for row, (_, target) in zip(tokens, chunk))
        return correct / len(pairs)

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
        return out, weights[:len(out) + 1]

    # -- checkpoints ----------------------------------------------------------------
    def save(self, path):
        arrays = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"adam.{k}": v for k, v in self.optimizer.state_dict().items()})
        np.savez(path, step=np.array(self.step),
                 config=np.array(json.dumps(dataclasses.asdict(self.config))), **arrays)
        return path

    @classmethod
    def load(cls, path):
        with np.load(path) as data:
            trainer = cls(TrainConfig(**json.loads(str(data["config"]))))
            trainer.model.load_state_dict({k[6:]: data[k] for k in data.files
                                           if k.startswith("model.")})
            trainer.optimizer.load_state_dict({k[5:]: data[k] for k in data.files
                                               if k.startswith("adam.")})
            trainer.step = int(data["step"])
        return trainer


def progress_line(step, total, loss, accuracy, seconds, width=24):
    done = int(width * step / total)
    return (f"step {step:>5}/{total} [{'#' * done}{'.' * (width - done)}] "
            f"loss {loss:.4f}  token acc {accuracy:6.1%}  {seconds:6.1f}s")


def train(config, run_dir, out=print, resume=None):
    """Train, evaluate, plot; returns (trainer, held-out exact-match accuracy)."""
    os.makedirs(run_dir, exist_ok=True)
    trainer = Trainer.load(resume) if resume else Trainer(config)
    config = trainer.config
    out(f"run folder: {run_dir}")
    out(f"task {config.task}: {len(trainer.train_pairs)} training pairs, "
        f"{len(trainer.heldout)} held out; {config.attention} attention, {config.score} score, "
        f"{config.window} window; {sum(p.data.size for p in trainer.model.parameters())} parameters")
    start, smoothed = time.time(), None
    while trainer.step < config.steps:
        loss = trainer.train_step()
        smoothed = loss if smoothed is None else 0.95 * smoothed + 0.05 * loss
        if trainer.step % 50 == 0 or trainer.step == config.steps:
            out(progress_line(trainer.step, config.steps, smoothed,
                              trainer.criterion.token_accuracy, time.time() - start))
        if trainer.step % config.eval_every == 0 or trainer.step == config.steps:
            acc = trainer.evaluate()
            out(f"  held-out exact match after {trainer.step} steps: {acc:.1%}")
            trainer.save(os.path.join(run_dir, "checkpoint.npz"))
    accuracy = trainer.evaluate()
    out(f"held-out exact-match accuracy: {accuracy:.2%} ({len(trainer.heldout)} examples, "
        f"{time.time() - start:.0f}s)")
    for i, (src, _) in enumerate(trainer.heldout[:4]):
        text, weights = trainer.translate(src)
        path = attention_heatmap(weights, src, text, os.path.join(run_dir, f"attention_{i}.png"))
        out(f"  {src!r} -> {text!r}   heatmap: {path}")
    return trainer, accuracy


def latest_checkpoint(root="runs"):
    """The checkpoint of the most recent run folder under root, or None."""
    if not os.path.isdir(root):
        return None
    found = [os.path.join(root, d, "checkpoint.npz") for d in os.listdir(root)]
    found = [p for p in found if os.path.exists(p)]
    return max(found, key=os.path.getmtime) if found else None

