"""numpygam.nn: modules that hold parameters and call the functional pairs."""
from .activation import ReLU, Sigmoid, Tanh
from .attention import Attention, AttentionalHidden, LocalAttention
from .baselines import CBAM, SEBlock
from .container import Sequential
from .conv import BatchNorm2d, Conv2d
from .embedding import Embedding
from .gam import GAM, ChannelGate, SpatialGate
from .init import manual_seed
from .linear import Linear
from .module import Module, Parameter
from .multihead import MultiheadAttention
from .pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .recurrent import GRU, GRUCell
from .resnet import BasicBlock
from .seq2seq import BahdanauDecoder, Encoder, LuongDecoder, Seq2Seq, SequenceLoss
