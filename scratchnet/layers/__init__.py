"""Keras layers, rebuilt: each file holds one layer's forward and backward."""
from scratchnet.layers.activation import Activation, ReLU, Softmax
from scratchnet.layers.base import Layer
from scratchnet.layers.conv import Conv2D, Convolution2D
from scratchnet.layers.dense import Dense
from scratchnet.layers.flatten import Flatten
from scratchnet.layers.input_layer import Input, InputLayer
from scratchnet.layers.pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D,
                                       GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)

__all__ = ["Activation", "AveragePooling2D", "AvgPool2D", "Conv2D", "Convolution2D", "Dense", "Flatten",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Input", "InputLayer", "Layer",
           "MaxPool2D", "MaxPooling2D", "ReLU", "Softmax"]
