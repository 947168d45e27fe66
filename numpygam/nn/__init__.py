"""numpygam.nn: modules that hold parameters and call the functional pairs."""
from .activation import GELU, ReLU, Sigmoid, Tanh
from .container import Sequential
from .embedding import Embedding
from .init import manual_seed
from .linear import Linear
from .module import Module, Parameter, evaluating
from .attention import Attention, AttentionalHidden, LocalAttention
from .multihead import MultiheadAttention
from .conv import BatchNorm2d, Conv2d
from .gam import GAM, ChannelGate, SpatialGate
from .gam_ports import GAMAttention, gam_state_dict
from .pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .baselines import CBAM, SEBlock
from .resnet import BasicBlock
from .recurrent import GRU, GRUCell
from .seq2seq import BahdanauDecoder, Encoder, LuongDecoder, Seq2Seq, SequenceLoss
from .layer_norm import LayerNorm
from .dropout import Dropout
from .transformer import (PositionalEncoding, Transformer, TransformerDecoder,
                          TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)
from .transformer_translator import TransformerTranslator
