"""Spatial padding of (B, C, H, W) maps, "zeros" or "replicate", and its backward."""
import numpy as np

PADDING_MODES = ("zeros", "replicate")


def pad2d_forward(x, padding, mode="zeros"):
    """xp = x with `padding` rows/columns added on every side.

    x: (B, C, H, W) -> xp: (B, C, H + 2p, W + 2p)
    "zeros" adds zeros; "replicate" repeats the edge row/column (np.pad's "edge",
    PyTorch's padding_mode="replicate").
    Backward: the interior of dxp, plus, for "replicate", every padded
    row/column's gradient summed into the edge it copies.
    """
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {mode!r}")
    if padding == 0:
        return x, (padding, mode)
    widths = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    return np.pad(x, widths, mode="constant" if mode == "zeros" else "edge"), (padding, mode)


def pad2d_backward(dxp, cache):
    """The interior of dxp, plus (replicate) each padded row and column summed into its edge.

    dxp: (B, C, H + 2p, W + 2p)   cache: (padding p, mode)
    -> dx: (B, C, H, W).
    """
    padding, mode = cache
    if padding == 0:
        return dxp
    p = padding
    if mode == "zeros":
        return np.ascontiguousarray(dxp[:, :, p:-p, p:-p])
    d = dxp[:, :, p:-p, :].copy()              # fold the padded rows into the edge rows
    d[:, :, 0, :] += dxp[:, :, :p, :].sum(axis=2)
    d[:, :, -1, :] += dxp[:, :, -p:, :].sum(axis=2)
    dx = d[:, :, :, p:-p].copy()               # then the padded columns into the edge columns
    dx[:, :, :, 0] += d[:, :, :, :p].sum(axis=3)
    dx[:, :, :, -1] += d[:, :, :, -p:].sum(axis=3)
    return dx
