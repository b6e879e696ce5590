"""Keras layers, rebuilt: each file holds one layer's (or one family's) forward and backward."""
from scratchnet.layers.activation import Activation, ReLU, Softmax
from scratchnet.layers.base import Layer
from scratchnet.layers.conv import Conv2D, Convolution2D
from scratchnet.layers.dense import Dense
from scratchnet.layers.dropout import Dropout
from scratchnet.layers.flatten import Flatten
from scratchnet.layers.input_layer import Input, InputLayer
from scratchnet.layers.merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                     Subtract, add, concatenate)
from scratchnet.layers.normalization import BatchNormalization
from scratchnet.layers.pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D,
                                       GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from scratchnet.layers.preprocessing import (RandomContrast, RandomFlip, RandomRotation,
                                             RandomTranslation, RandomZoom, Rescaling,
                                             Resizing)
from scratchnet.layers.reshaping import (Cropping2D, Permute, Reshape, UpSampling2D,
                                         ZeroPadding2D)

__all__ = ["Activation", "Add", "Average", "AveragePooling2D", "AvgPool2D", "BatchNormalization",
           "Concatenate", "Conv2D", "Convolution2D", "Cropping2D", "Dense", "Dropout", "Flatten",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Input", "InputLayer", "Layer",
           "MaxPool2D", "MaxPooling2D", "Maximum", "Minimum", "Multiply", "Permute", "ReLU",
           "Reshape", "Softmax", "Subtract", "UpSampling2D", "ZeroPadding2D", "add",
           "concatenate"]
# preprocessing.py
__all__ += ["RandomContrast", "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom",
            "Rescaling", "Resizing"]
