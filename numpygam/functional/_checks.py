"""Input checks shared by every op: clear errors instead of silent broadcasting.

Every message names the op, the argument, what was received and what was
expected, so a student can fix the call without reading this file.
"""
import numpy as np

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

