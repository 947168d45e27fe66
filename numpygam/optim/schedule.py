"""Learning-rate schedule: linear warm-up, then cosine decay."""
import math


def warmup_cosine(step, total_steps, base_lr, warmup_steps=100, final_ratio=0.05):
    """lr at `step` (0-based):
        step < warmup:  base_lr (step + 1) / warmup                (linear warm-up)
        afterwards:     base_lr (r + (1 - r) (1 + cos(pi p)) / 2)  (cosine to r base_lr)
    with p the fraction of the post-warm-up steps done and r = final_ratio.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    p = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return base_lr * (final_ratio + (1 - final_ratio) * (1 + math.cos(math.pi * p)) / 2)
