"""One training step of the date translator, numpygam vs PyTorch CPU, same process.

    python benchmarks/bench_train.py

The default model of `python -m numpygam train` (Bahdanau attention, additive
score, batch 64): forward, loss, backward, clipping and an Adam step, against
the same model rebuilt from PyTorch ops (tests/torch_seq2seq.py) with the same
weights and batches.  Target: at most 1.0x PyTorch's time (issue 22).
"""
import numpy as np
import torch

from numpygam.train import TrainConfig, Trainer, sample_batch
from timing import from_tests, median_seconds, report_row

Seq2Seq = from_tests("torch_seq2seq").Seq2Seq


def main():
    config = TrainConfig()
    ours = Trainer(config)
    c = config
    theirs = Seq2Seq(len(ours.src_vocab), len(ours.tgt_vocab), c.emb_dim, c.enc_hidden,
                     c.dec_hidden, c.attention, c.score, c.attn_dim).float()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.model.state_dict().items()})
    optimizer = torch.optim.Adam(theirs.parameters(), lr=c.lr)
    batches = [sample_batch(ours.train_pairs, c, step, ours.src_vocab, ours.tgt_vocab)
               for step in range(8)]
    counter = {"i": 0}

    def torch_step():
        batch = batches[counter["i"] % len(batches)]
        counter["i"] += 1
        optimizer.zero_grad()
        theirs.loss(batch).backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), c.clip)
        optimizer.step()

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    print(f"training step: {c.attention} attention, {c.score} score, batch {c.batch_size}, "
          f"emb {c.emb_dim}, encoder {c.enc_hidden}x2, decoder {c.dec_hidden}, float32")
    t_ours = median_seconds(ours.train_step, repeats=15)
    t_theirs = median_seconds(torch_step, repeats=15)
    print(report_row("train step", t_ours, t_theirs))
    print("target: ratio <= 1.0x")


if __name__ == "__main__":
    main()
