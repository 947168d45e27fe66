"""Channel shuffle (Zhang et al. 2018, ShuffleNet): mix channels across groups."""
from ._checks import float_array


def channel_shuffle_forward(x, groups):
    """y[:, j * G + g] = x[:, g * (C / G) + j]: interleave the G groups' channels.

    x: (B, C, H, W), C divisible by G   ->   y: (B, C, H, W)
    Computed as reshape (B, G, C/G, H, W) -> swap the two channel axes -> reshape.
    Backward: the inverse permutation, the same steps with G and C/G swapped.
    """
    op = "channel_shuffle_forward"
    float_array(op, "x", x, ndim=4)
    B, C, H, W = x.shape
    if groups < 1 or C % groups:
        raise ValueError(f"{op}: groups={groups} must divide the channels C={C}")
    y = x.reshape(B, groups, C // groups, H, W).transpose(0, 2, 1, 3, 4).reshape(B, C, H, W)
    return y, groups


def channel_shuffle_backward(dy, groups):
    """The inverse permutation: dx[:, g (C/G) + j] = dy[:, j G + g].

    dy: (B, C, H, W)   cache: groups G (the shuffle is a permutation, nothing else is kept)
    -> dx: (B, C, H, W): reshape (B, C/G, G, H, W), swap the two channel axes, reshape.
    """
    B, C, H, W = dy.shape
    return dy.reshape(B, C // groups, groups, H, W).transpose(0, 2, 1, 3, 4).reshape(B, C, H, W)
