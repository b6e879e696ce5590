"""Keras layers, rebuilt: each file holds one layer's forward and backward."""
from scratchnet.layers.activation import Activation, ReLU, Softmax
from scratchnet.layers.base import Layer
from scratchnet.layers.dense import Dense
from scratchnet.layers.flatten import Flatten
from scratchnet.layers.input_layer import Input, InputLayer

__all__ = ["Activation", "Dense", "Flatten", "Input", "InputLayer", "Layer", "ReLU", "Softmax"]
