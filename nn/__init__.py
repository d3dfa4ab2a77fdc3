"""chaingrad's neural-network layer: modules, layers, losses, optimizers, init."""
# ruff: noqa: F401  (this file is the list of public names)

from . import data, datasets, functional, init, optim, train
from .io import load, save
from .layers import (
    MLP,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Maxout,
    Perceptron,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .layers.conv import AvgPool2d, Conv2d, MaxPool2d
from .layers.embedding import Embedding
from .layers.recurrent import LSTM, RNN, LSTMCell, RNNCell
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .train import EarlyStopping, History, fit
