"""nn.Dropout, as torch.nn.Dropout: active in training mode, the identity in eval mode."""
import numpy as np

from .. import functional as F
from . import init
from .module import Module


class Dropout(Module):
    """y = x * mask / (1 - p) in training mode (mask_i = 0 with probability p); y = x in
    eval mode or when p = 0.  x: any shape.  backward(dy) -> dx.

    The masks come from self.rng, a generator drawn at construction from rng or,
    by default, from the generator numpygam.nn.manual_seed resets; assign a new
    np.random.Generator to self.rng to re-seed it (the trainer does, every step,
    so that a resumed run draws the same masks; Dropout.reseed does it for a whole model).
    """

    def __init__(self, p=0.5, rng=None):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p is a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(init.get_rng(rng).integers(2**63))

    def forward(self, x):
        y, cache = F.dropout_forward(x, self.p if self.training else 0.0, self.rng)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        return F.dropout_backward(dy, self.pop_cache())

    @staticmethod
    def reseed(module, rng):
        """Give every Dropout inside module (itself included) a fresh generator drawn from
        rng: new, reproducible masks (a layer's copies, the trainer's per-step generator)."""
        for m in module.modules():
            if isinstance(m, Dropout):
                m.rng = np.random.default_rng(rng.integers(2**63))

    def extra_repr(self):
        return f"p={self.p}"
