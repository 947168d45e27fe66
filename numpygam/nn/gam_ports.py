"""GAM as its users copy it: the YOLO-family port and the detection-scripts port.

The code the blog's readers put into detectors is not the paper's.  Two public ports,
side by side with the paper (Liu, Shao, Hoffmann 2021):

                       paper (nn.GAM)     YOLO family (default)     detection scripts
  channel gate         sigmoid(MLP)       MLP, no sigmoid           sigmoid(MLP)
  7x7 convolutions     zero padding       zero padding, grouped     zero padding
                       (grouped only for   by `rate` when group
                        ResNet50)          (True by default)
  gate's shuffle       with the groups    4 groups, hard-coded,     none
                                          after the sigmoid
  names                linear1, conv1...  channel_attention.0, ...  channel_attention.0, ...
  c2 != c1             refused            accepted, fails in forward

    nn.GAMAttention(c1, c2)                                   # the YOLO-family port
    nn.GAMAttention(c1, c1, group=False, channel_sigmoid=True,
                    shuffle_groups=None)                      # the detection-scripts port

Both compute, with F1 = x:
    F2 = Mc(F1) * F1,  Mc = permute_back(MLP(permute(F1))) [sigmoid when channel_sigmoid]
    F3 = shuffle(sigmoid(BN(conv(ReLU(BN(conv(F2))))))) * F2   [shuffle: shuffle_groups]
by the same functional gates as nn.GAM (numpygam/functional/gam.py), forward and
backward by hand; state_dict keys are the ports' (channel_attention.0.weight, ...,
spatial_attention.4.num_batches_tracked), so a detector's GAM loads unchanged
(load_gam_from_checkpoint).
"""
import numpy as np

from .activation import ReLU
from .container import Sequential
from .conv import BatchNorm2d, Conv2d
from .gam import _channel_backward, _channel_forward, _spatial_backward, _spatial_forward
from .linear import Linear
from .module import Module, positive_ints


class GAMAttention(Module):
    """GAMAttention(c1, c2, group=True, rate=4, channel_sigmoid=False, shuffle_groups=4)

    x: (B, c1, H, W) -> (B, c1, H, W).  After forward, self.channel_gate and
    self.spatial_gate hold the two gates (B, c1, H, W) (the spatial one after its
    shuffle: the gate each channel is multiplied by).
    backward(dout) -> dx.
    """

    def __init__(self, c1, c2, group=True, rate=4, channel_sigmoid=False, shuffle_groups=4,
                 dtype=np.float32, rng=None):
        positive_ints("GAMAttention", c1=c1, c2=c2, rate=rate)
        if c2 != c1:
            raise ValueError(f"GAMAttention: c2={c2} differs from c1={c1}; the spatial gate "
                             f"multiplies the input, so c2 must equal c1 (the port accepts it "
                             f"and fails inside forward)")
        if c1 % rate:
            raise ValueError(f"GAMAttention: rate={rate} must divide c1={c1} (the hidden width "
                             f"is c1 / rate)")
        hidden = c1 // rate
        groups = rate if group else 1
        if group and hidden % rate:
            raise ValueError(f"GAMAttention: with group=True the convolutions are grouped by "
                             f"rate={rate}, which must divide c1 / rate = {hidden}; use "
                             f"group=False or another rate")
        if shuffle_groups is not None and (shuffle_groups < 1 or c1 % shuffle_groups):
            raise ValueError(f"GAMAttention: shuffle_groups={shuffle_groups} must divide "
                             f"c1={c1}, or be None for no shuffle")
        self.c1, self.rate, self.groups = c1, rate, groups
        self.channel_sigmoid, self.shuffle_groups = channel_sigmoid, shuffle_groups
        kw = dict(dtype=dtype, rng=rng)
        self.channel_attention = Sequential(Linear(c1, hidden, **kw), ReLU(),
                                            Linear(hidden, c1, **kw))
        self.spatial_attention = Sequential(
            Conv2d(c1, hidden, 7, padding=3, groups=groups, **kw), BatchNorm2d(hidden, dtype=dtype),
            ReLU(), Conv2d(hidden, c2, 7, padding=3, groups=groups, **kw),
            BatchNorm2d(c2, dtype=dtype))

    def _parts(self):
        ca, sa = self.channel_attention, self.spatial_attention
        return (ca[0], ca[2]), (sa[0], sa[1], sa[3], sa[4])

    def forward(self, x):
        channel_parts, spatial_parts = self._parts()
        f2, channel_cache = _channel_forward(self, x, self.channel_sigmoid, channel_parts)
        out, spatial_cache = _spatial_forward(self, f2, self.groups, spatial_parts,
                                              shuffle=self.shuffle_groups or 1)
        self.channel_gate, self.spatial_gate = channel_cache.gate, spatial_cache.gate
        self.push_cache((channel_cache, spatial_cache))
        return out

    def backward(self, dout):
        channel_cache, spatial_cache = self.pop_cache()
        channel_parts, spatial_parts = self._parts()
        df2 = _spatial_backward(self, dout, spatial_cache, spatial_parts)
        return _channel_backward(self, df2, channel_cache, channel_parts)

    def extra_repr(self):
        return (f"c1={self.c1}, rate={self.rate}, groups={self.groups}, "
                f"channel_sigmoid={self.channel_sigmoid}, shuffle_groups={self.shuffle_groups}")


def gam_state_dict(checkpoint_state, prefix):
    """The GAM's part of a detector's state_dict: the keys that start with prefix (e.g.
    "model.10." for a YOLO model's 11th layer), with the prefix stripped, as NumPy arrays.

        import torch                                  # PyTorch only to read the file
        sd = torch.load("best.pt", map_location="cpu", weights_only=False)["model"].state_dict()
        gam = nn.GAMAttention(256, 256)
        gam.load_state_dict(gam_state_dict(sd, "model.10."))
    """
    picked = {k[len(prefix):]: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach")
                                          else v)
              for k, v in checkpoint_state.items() if k.startswith(prefix)}
    if not picked:
        prefixes = sorted({k.rsplit("channel_attention.", 1)[0] for k in checkpoint_state
                           if "channel_attention." in k})
        raise KeyError(f"gam_state_dict: no key starts with {prefix!r}; the GAM blocks in this "
                       f"state_dict start with {prefixes or 'nothing (no channel_attention keys)'}")
    return picked
