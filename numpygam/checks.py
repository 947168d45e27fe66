"""Every op and module of the library, gradient-checked on small random inputs.

`python -m numpygam check` runs this list.  Each entry is a name and a
function that returns a GradcheckReport; a new op adds one line here.
"""
import numpy as np

from . import functional as F
from . import nn
from .gradcheck import gradcheck, gradcheck_module


def _cases(rng):
    def r(*shape):
        return rng.standard_normal(shape)

    def away_from_zero(*shape):  # keeps ReLU's kink out of the finite-difference stencil
        x = r(*shape)
        return x + np.sign(x) * 0.1

    nn.manual_seed(0)
    return [
        ("linear", lambda: gradcheck(F.linear_forward, F.linear_backward,
                                     {"x": r(2, 3, 4), "W": r(5, 4), "b": r(5)})),
        ("relu", lambda: gradcheck(F.relu_forward, F.relu_backward, {"x": away_from_zero(3, 4)})),
        ("tanh", lambda: gradcheck(F.tanh_forward, F.tanh_backward, {"x": r(3, 4)})),
        ("sigmoid", lambda: gradcheck(F.sigmoid_forward, F.sigmoid_backward, {"x": r(3, 4)})),
        ("softmax", lambda: gradcheck(F.softmax_forward, F.softmax_backward, {"scores": r(2, 3, 5)},
                                      {"mask": rng.random((2, 1, 5)) < 0.7})),
        ("log_softmax", lambda: gradcheck(F.log_softmax_forward, F.log_softmax_backward,
                                          {"x": r(3, 6)})),
        ("cross_entropy", lambda: gradcheck(
            F.cross_entropy_forward, F.cross_entropy_backward, {"logits": r(2, 4, 6)},
            {"targets": np.array([[1, 5, -100, 0], [2, 2, 3, -100]])})),
        ("embedding", lambda: gradcheck(F.embedding_forward, F.embedding_backward, {"W": r(6, 3)},
                                        {"indices": np.array([[0, 2, 2], [5, 1, 0]])})),
        ("nn.Linear", lambda: gradcheck_module(nn.Linear(4, 3), [r(2, 4)])),
        ("nn.Sequential", lambda: gradcheck_module(
            nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid()), [r(2, 4)])),
        ("nn.Embedding", lambda: gradcheck_module(nn.Embedding(6, 3, padding_idx=0),
                                                  [np.array([[1, 2], [5, 2]])])),
    ]


def run_checks(seed=0, only=None):
    """Run every check (or those whose name contains `only`); return [(name, report)]."""
    rng = np.random.default_rng(seed)
    return [(name, check()) for name, check in _cases(rng) if only is None or only in name]


def format_table(results):
    lines = [f"{'op':<20} {'input':<14} {'worst rel. error':>16}  result"]
    for name, report in results:
        for row in report.inputs:
            lines.append(f"{name:<20} {row.name:<14} {row.max_rel_error:>16.2e}  "
                         f"{'pass' if row.passed else 'FAIL: ' + row.verdict()}")
    return "\n".join(lines)
