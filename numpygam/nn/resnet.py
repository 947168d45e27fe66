"""A ResNet basic block with an optional attention module, as in the GAM paper's ResNets."""
import numpy as np

from .. import functional as F
from .container import Sequential
from .conv import BatchNorm2d, Conv2d
from .module import Module


class BasicBlock(Module):
    """out = relu(attention(bn2(conv2(relu(bn1(conv1(x)))))) + shortcut(x)).

    conv1: 3x3, stride; conv2: 3x3; no biases (the batch norms follow), as ResNet18.
    shortcut: identity, or (when the stride or channels change) a 1x1 conv + BN
    named downsample, PyTorch's names.  attention: a Module mapping (B, planes, H, W)
    to the same shape (GAM, SEBlock, CBAM, ...), placed after the second convolution.
    x: (B, in_planes, H, W) -> (B, planes, H / stride, W / stride)
    """

    def __init__(self, in_planes, planes, stride=1, attention=None, dtype=np.float32, rng=None):
        self.conv1 = Conv2d(in_planes, planes, 3, stride, 1, bias=False, dtype=dtype, rng=rng)
        self.bn1 = BatchNorm2d(planes, dtype=dtype)
        self.conv2 = Conv2d(planes, planes, 3, 1, 1, bias=False, dtype=dtype, rng=rng)
        self.bn2 = BatchNorm2d(planes, dtype=dtype)
        self.attention = attention
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = Sequential(
                Conv2d(in_planes, planes, 1, stride, bias=False, dtype=dtype, rng=rng),
                BatchNorm2d(planes, dtype=dtype))

    def forward(self, x):
        out, relu1 = F.relu_forward(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.attention is not None:
            out = self.attention(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        out, relu2 = F.relu_forward(out + shortcut)
        self.push_cache((relu1, relu2))
        return out

    def backward(self, dout):
        relu1, relu2 = self.pop_cache()
        d = F.relu_backward(dout, relu2)
        dx = d if self.downsample is None else self.downsample.backward(d)
        if self.attention is not None:
            d = self.attention.backward(d)
        d = self.conv2.backward(self.bn2.backward(d))
        d = F.relu_backward(d, relu1)
        return dx + self.conv1.backward(self.bn1.backward(d))
