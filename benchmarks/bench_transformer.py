"""One Transformer training step, numpygam vs PyTorch CPU, same process.

    python benchmarks/bench_transformer.py

The configuration (stated, as the issue asks): nn.Transformer with d_model 128,
4 heads, 2 encoder + 2 decoder layers, feed-forward 512, dropout 0.1, batch
first, float32; a batch of 64 sources of 30 tokens and targets of 11, a causal
target mask and a source padding mask; forward, a sum-of-squares loss, backward
and an Adam step.  The PyTorch model gets the same weights.  Target: at most
1.1x PyTorch's time (issue 22).
"""
import numpy as np
import torch

from numpygam import functional as F
from numpygam import nn, optim
from timing import median_seconds, report_row

B, S, T, E, H, LAYERS, FF = 64, 30, 11, 128, 4, 2, 512


def main():
    rng = np.random.default_rng(0)
    src = rng.standard_normal((B, S, E)).astype(np.float32)
    tgt = rng.standard_normal((B, T, E)).astype(np.float32)
    padding = np.arange(S)[None] >= rng.integers(15, S + 1, B)[:, None]
    causal = ~F.causal_mask(T)  # the nn modules take PyTorch's True = may not attend
    kw = dict(d_model=E, nhead=H, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
              dim_feedforward=FF, dropout=0.1, batch_first=True)
    ours = nn.Transformer(**kw)
    theirs = torch.nn.Transformer(**kw)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    ours_opt = optim.Adam(ours.parameters(), lr=1e-4)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=1e-4)
    src_t, tgt_t = torch.tensor(src), torch.tensor(tgt)
    padding_t, causal_t = torch.tensor(padding), torch.tensor(causal)

    def our_step():
        ours.zero_grad()
        out = ours(src, tgt, tgt_mask=causal, src_key_padding_mask=padding,
                   memory_key_padding_mask=padding)
        ours.backward(2 * out / out.size)  # d mean(out^2)
        ours_opt.step()

    def torch_step():
        theirs_opt.zero_grad()
        out = theirs(src_t, tgt_t, tgt_mask=causal_t, src_key_padding_mask=padding_t,
                     memory_key_padding_mask=padding_t)
        (out ** 2).mean().backward()
        theirs_opt.step()

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    print(f"Transformer training step: d_model {E}, {H} heads, {LAYERS}+{LAYERS} layers, "
          f"feed-forward {FF}, batch {B}, source {S}, target {T}, float32")
    t_ours = median_seconds(our_step, repeats=10)
    t_theirs = median_seconds(torch_step, repeats=10)
    print(report_row("train step", t_ours, t_theirs))
    print("target: ratio <= 1.1x")


if __name__ == "__main__":
    main()
