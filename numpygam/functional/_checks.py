"""Input checks shared by every op: clear errors instead of silent broadcasting.

Every message names the op, the argument, what was received and what was
expected, so a student can fix the call without reading this file.
"""
import numpy as np

from .padding import PADDING_MODES

FLOAT_DTYPES = (np.float32, np.float64)


def float_array(op, name, x, ndim=None, min_ndim=None):
    """Return `x` if it is a float32/float64 ndarray of the right rank, else raise."""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{op}: {name} must be a NumPy array of float32 or float64, got "
            f"{type(x).__name__}; wrap it with np.asarray({name}, dtype=np.float64)")
    if x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(
            f"{op}: {name} must have dtype float32 or float64, got {x.dtype}; "
            f"cast it with {name}.astype(np.float64)")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(
            f"{op}: {name} must have {ndim} dimensions, got shape {x.shape} "
            f"({x.ndim} dimensions)")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"{op}: {name} must have at least {min_ndim} dimension(s), got shape {x.shape}")
    return x


def forward_output_shape(op, name, grad, expected, output):
    """Raise unless a backward's incoming gradient has its forward's output shape:
    a batch split into shares would otherwise slice a misshaped one silently."""
    if np.shape(grad) != expected:
        raise ValueError(f"{op}: {name} has shape {np.shape(grad)}, expected {expected}, "
                         f"the shape of the forward's {output}")


def same_dtype(op, **arrays):
    """Raise unless all given (non-None) arrays share one float dtype."""
    given = {k: v for k, v in arrays.items() if v is not None}
    dtypes = {v.dtype for v in given.values()}
    if len(dtypes) > 1:
        listed = ", ".join(f"{k} is {v.dtype}" for k, v in given.items())
        raise TypeError(f"{op}: all inputs must share one dtype, but {listed}; "
                        "cast them to the same dtype")


def dim_equal(op, what, got, expected):
    """Raise if a size `got` differs from `expected`, naming both."""
    if got != expected:
        raise ValueError(f"{op}: {what}: got {got}, expected {expected}")


def bool_mask(op, name, mask, target_shape):
    """Check a boolean mask broadcastable to `target_shape`; return it broadcast."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, np.ndarray) else type(mask).__name__
        raise TypeError(f"{op}: {name} must be a boolean NumPy array (True = may attend), "
                        f"got {got}")
    try:
        return np.broadcast_to(mask, target_shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {mask.shape} does not broadcast to "
                         f"the scores' shape {target_shape}") from None


def float_broadcast(op, name, x, target_shape):
    """Check a float array that broadcasts to `target_shape` (e.g. an additive mask);
    return it broadcast."""
    float_array(op, name, x)
    try:
        if np.broadcast_shapes(x.shape, target_shape) == tuple(target_shape):
            return np.broadcast_to(x, target_shape)
    except ValueError:
        pass
    raise ValueError(f"{op}: {name} of shape {x.shape} does not broadcast to the scores' "
                     f"shape {tuple(target_shape)}")


def conv_arguments(op, x, W, b, stride, padding, padding_mode, groups):
    """Raise unless (x, W, b) and the options make a valid conv2d call."""
    float_array(op, "x", x, ndim=4)
    if 0 in x.shape:
        raise ValueError(f"{op}: x has shape {x.shape}; the batch, channel, height and width "
                         "of a convolution's input must each be at least 1")
    float_array(op, "W", W, ndim=4)
    if b is not None:
        float_array(op, "b", b, ndim=1)
        dim_equal(op, "b.shape[0] must equal the output channels W.shape[0]", b.shape[0],
                  W.shape[0])
    same_dtype(op, x=x, W=W, b=b)
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride not in (1, 2):
        raise ValueError(f"{op}: stride must be the integer 1 or 2, got {stride!r}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"{op}: padding must be an integer >= 0, got {padding!r}")
    if W.shape[2] != W.shape[3]:
        raise ValueError(f"{op}: the kernel must be square, got W.shape[2:] = {W.shape[2:]}")
    if groups < 1 or x.shape[1] % groups or W.shape[0] % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels "
                         f"({x.shape[1]}) and the output channels ({W.shape[0]})")
    dim_equal(op, f"W.shape[1] must equal in_channels / groups = {x.shape[1]} / {groups}",
              W.shape[1], x.shape[1] // groups)
    K = W.shape[2]
    if x.shape[2] + 2 * padding < K or x.shape[3] + 2 * padding < K:
        raise ValueError(f"{op}: the padded input {x.shape[2] + 2 * padding}x"
                         f"{x.shape[3] + 2 * padding} is smaller than the {K}x{K} kernel")
