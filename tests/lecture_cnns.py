"""The convolutional lecture models, written as the lectures write them.

Each builder takes `(Sequential, layers)`, so the same code builds the scratchnet model and
its tf.keras original (`coursera_cnn(keras.Sequential, keras.layers, 64)`). Shared by the
model-parity and summary tests; independent of scratchnet/lecture_models.py on purpose, so
the tests check the lectures' text, not our registry.
"""


def coursera_cnn(S, L, filters):
    """Coursera C1 W3 (ML Zero to Hero 3), as the notebook writes it."""
    return S([
        L.Conv2D(filters, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        L.MaxPooling2D(2, 2),
        L.Conv2D(filters, (3, 3), activation="relu"),
        L.MaxPooling2D(2, 2),
        L.Flatten(),
        L.Dense(128, activation="relu"),
        L.Dense(10, activation="softmax"),
    ])


def lenet5(S, L):
    """Hands-On Computer Vision with TensorFlow 2, ch. 3."""
    return S([
        L.Conv2D(6, kernel_size=(5, 5), padding="same", activation="relu",
                 input_shape=(28, 28, 1)),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Conv2D(16, kernel_size=(5, 5), activation="relu"),
        L.MaxPooling2D(pool_size=(2, 2)),
        L.Flatten(),
        L.Dense(120, activation="relu"),
        L.Dense(84, activation="relu"),
        L.Dense(10, activation="softmax"),
    ])


def pyml_ch15_cnn(S, L):
    """Python Machine Learning ch. 15, without the Dropout(0.5) before the last layer."""
    return S([
        L.Conv2D(32, kernel_size=(5, 5), padding="valid", activation="relu",
                 input_shape=(28, 28, 1)),
        L.MaxPool2D(pool_size=(2, 2)),
        L.Conv2D(64, kernel_size=(5, 5), padding="valid", activation="relu"),
        L.MaxPool2D(pool_size=(2, 2)),
        L.Flatten(),
        L.Dense(1024, activation="relu"),
        L.Dense(10, activation="softmax"),
    ])


def horse_or_human(S, L):
    """Coursera C1 W4: horse-or-human on 300x300 colour images (40,165,409 parameters)."""
    return S([
        L.Conv2D(16, (3, 3), activation="relu", input_shape=(300, 300, 3)),
        L.MaxPooling2D(2, 2),
        L.Conv2D(32, (3, 3), activation="relu"),
        L.MaxPooling2D(2, 2),
        L.Conv2D(64, (3, 3), activation="relu"),
        L.MaxPooling2D(2, 2),
        L.Flatten(),
        L.Dense(512, activation="relu"),
        L.Dense(1, activation="sigmoid"),
    ])


# Python ML ch. 15's CNN cell, verbatim (the lecture code that the lecture-code and checkpoint
# tests run with the import swapped)
PYTHON_ML_CNN_CELL = '''
from tensorflow.keras import layers,models
model = models.Sequential()
model.add(layers.Conv2D(32,(5,5),padding='valid',activation='relu', input_shape=(28,28,1)))
model.add(layers.MaxPool2D((2,2)))
model.add(layers.Conv2D(64,(5,5),padding='valid',activation='relu'))
model.add(layers.MaxPool2D((2,2)))
model.add(layers.Flatten())
model.add(layers.Dense(1024, activation='relu'))
model.add(layers.Dropout(0.5))  # 유닛을 끌 확률 매개변수
model.add(layers.Dense(10,activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam',metrics=['acc'])
'''
