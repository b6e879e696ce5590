"""The small two-class problem and network the callback tests train (in scratchnet and in
tf.keras, from one `build(K)`): 3 features, a tanh layer of 5, a softmax of 2."""
import numpy as np

RNG = np.random.default_rng(7)
X = RNG.normal(size=(24, 3))
Y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * RNG.normal(size=24) > 0).astype("int64")
X_VAL = RNG.normal(size=(10, 3))
Y_VAL = (X_VAL @ np.array([1.0, -2.0, 0.5]) > 0).astype("int64")


def build(K):
    return K.Sequential([K.Input((3,)),
                         K.layers.Dense(5, activation="tanh", name="hidden"),
                         K.layers.Dense(2, activation="softmax", name="out")], name="net")
