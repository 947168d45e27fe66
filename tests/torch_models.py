"""PyTorch versions of GAM (the blog's class, verbatim, and its paper variant), SE, CBAM
and the basic block: the oracle the numpygam modules are checked against."""
import torch
import torch.nn as tnn


def channel_shuffle(x, groups):
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class BlogGAM(tnn.Module):
    """The blog's PyTorch GAM (seeds/), unchanged but for the two optional arguments:
    `paper=True` adds the paper's channel sigmoid and zero padding; `groups` the
    grouped convolutions and channel shuffle of the paper's ResNet50 variant."""

    def __init__(self, in_channels, out_channels, rate=4, paper=False, groups=1):
        super().__init__()
        in_channels = int(in_channels)
        out_channels = int(out_channels)
        inchannel_rate = int(in_channels / rate)
        mode = "zeros" if paper else "replicate"
        self.paper, self.groups = paper, groups
        self.linear1 = tnn.Linear(in_channels, inchannel_rate)
        self.relu = tnn.ReLU(inplace=True)
        self.linear2 = tnn.Linear(inchannel_rate, in_channels)
        self.conv1 = tnn.Conv2d(in_channels, inchannel_rate, kernel_size=7, padding=3,
                                padding_mode=mode, groups=groups)
        self.conv2 = tnn.Conv2d(inchannel_rate, out_channels, kernel_size=7, padding=3,
                                padding_mode=mode, groups=groups)
        self.norm1 = tnn.BatchNorm2d(inchannel_rate)
        self.norm2 = tnn.BatchNorm2d(out_channels)
        self.sigmoid = tnn.Sigmoid()

    def forward(self, x):
        b, c, h, w = x.shape
        x_permute = x.permute(0, 2, 3, 1).view(b, -1, c)
        x_att_permute = self.linear2(self.relu(self.linear1(x_permute))).view(b, h, w, c)
        x_channel_att = x_att_permute.permute(0, 3, 1, 2)
        if self.paper:
            x_channel_att = x_channel_att.sigmoid()
        x = x * x_channel_att
        x_spatial_att = self.relu(self.norm1(self.conv1(x)))
        x_spatial_att = self.sigmoid(self.norm2(self.conv2(x_spatial_att)))
        if self.groups > 1:
            x_spatial_att = channel_shuffle(x_spatial_att, self.groups)
        return x * x_spatial_att


class SE(tnn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1, self.fc2 = tnn.Linear(c, c // r), tnn.Linear(c // r, c)

    def forward(self, x):
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3))))))
        return x * s[:, :, None, None]


class CBAM(tnn.Module):
    def __init__(self, c, r, k=7):
        super().__init__()
        self.fc1, self.fc2 = tnn.Linear(c, c // r), tnn.Linear(c // r, c)
        self.conv = tnn.Conv2d(2, 1, k, padding=k // 2, bias=False)

    def mlp(self, v):
        return self.fc2(torch.relu(self.fc1(v)))

    def forward(self, x):
        mc = torch.sigmoid(self.mlp(x.mean((2, 3))) + self.mlp(x.amax((2, 3))))
        x1 = x * mc[:, :, None, None]
        pooled = torch.cat([x1.mean(1, keepdim=True), x1.amax(1, keepdim=True)], 1)
        return x1 * torch.sigmoid(self.conv(pooled))


class BasicBlock(tnn.Module):
    def __init__(self, cin, cout, stride, attention=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.attention = attention
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                             tnn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        if self.attention is not None:
            out = self.attention(out)
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


def yolo_channel_shuffle(x, groups=2):
    """The YOLO-family port's channel_shuffle, as it is copied."""
    B, C, H, W = x.size()
    out = x.view(B, groups, C // groups, H, W).permute(0, 2, 1, 3, 4).contiguous()
    out = out.view(B, C, H, W)
    return out


class YoloGAMAttention(tnn.Module):
    """The YOLO family's GAMAttention(c1, c2, group=True, rate=4), as it is copied: no
    channel sigmoid, both 7x7 convolutions grouped by rate, the gate shuffled in 4 groups."""

    def __init__(self, c1, c2, group=True, rate=4):
        super().__init__()
        self.channel_attention = tnn.Sequential(
            tnn.Linear(c1, int(c1 / rate)),
            tnn.ReLU(inplace=True),
            tnn.Linear(int(c1 / rate), c1))
        self.spatial_attention = tnn.Sequential(
            tnn.Conv2d(c1, c1 // rate, kernel_size=7, padding=3, groups=rate)
            if group else tnn.Conv2d(c1, int(c1 / rate), kernel_size=7, padding=3),
            tnn.BatchNorm2d(int(c1 / rate)),
            tnn.ReLU(inplace=True),
            tnn.Conv2d(c1 // rate, c2, kernel_size=7, padding=3, groups=rate)
            if group else tnn.Conv2d(int(c1 / rate), c2, kernel_size=7, padding=3),
            tnn.BatchNorm2d(c2))

    def forward(self, x):
        b, c, h, w = x.shape
        x_permute = x.permute(0, 2, 3, 1).view(b, -1, c)
        x_att_permute = self.channel_attention(x_permute).view(b, h, w, c)
        x_channel_att = x_att_permute.permute(0, 3, 1, 2)
        x = x * x_channel_att
        x_spatial_att = self.spatial_attention(x).sigmoid()
        x_spatial_att = yolo_channel_shuffle(x_spatial_att, 4)  # last shuffle
        out = x * x_spatial_att
        return out


class DetectionGAMAttention(tnn.Module):
    """The detection scripts' GAM_Attention(in_channels, rate=4), as it is copied: the
    channel sigmoid, no groups, no shuffle."""

    def __init__(self, in_channels, rate=4):
        super().__init__()
        self.channel_attention = tnn.Sequential(
            tnn.Linear(in_channels, int(in_channels / rate)),
            tnn.ReLU(inplace=True),
            tnn.Linear(int(in_channels / rate), in_channels))
        self.spatial_attention = tnn.Sequential(
            tnn.Conv2d(in_channels, int(in_channels / rate), kernel_size=7, padding=3),
            tnn.BatchNorm2d(int(in_channels / rate)),
            tnn.ReLU(inplace=True),
            tnn.Conv2d(int(in_channels / rate), in_channels, kernel_size=7, padding=3),
            tnn.BatchNorm2d(in_channels))

    def forward(self, x):
        b, c, h, w = x.shape
        x_permute = x.permute(0, 2, 3, 1).view(b, -1, c)
        x_att_permute = self.channel_attention(x_permute).view(b, h, w, c)
        x_channel_att = x_att_permute.permute(0, 3, 1, 2).sigmoid()
        x = x * x_channel_att
        x_spatial_att = self.spatial_attention(x).sigmoid()
        out = x * x_spatial_att
        return out
