"""Coursera C1 W4 (horse or human): ImageDataGenerator(...).flow_from_directory, the
300x300x3 ConvNet, `fit_generator` with validation generators, and the load_img prediction
loop -- the lecture's code (../shared/lectures/002_*.txt, its typos mended: `train_dagagen`
for `train_datagen`, the `import` split over two lines, `model.predict(image, ...)` for
`model.predict(images, ...)`, Colab's upload dialog replaced by a list of files) run with
only the import swapped, on a folder tree of small real image files made here; and the same
training compared with TensorFlow's (Keras 3 has no fit_generator: its side calls fit)."""
import numpy as np
import pytest
from PIL import Image

import parity_log
import scratchnet
from tf_support import import_tf

tf = import_tf()

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning",
                                        "ignore::DeprecationWarning")

LECTURE = '''
import tensorflow as tf
from tensorflow.keras.preprocessing.image import ImageDataGenerator

train_datagen = ImageDataGenerator(rescale=1./255)
train_generator = train_datagen.flow_from_directory(
train_dir,
target_size=(300,300),
batch_size = 128,
class_mode = 'binary')

test_datagen = ImageDataGenerator(rescale=1./255)
validation_generator = test_datagen.flow_from_directory(
validation_dir,
target_size=(300,300),
batch_size=32,
class_mode ='binary')

model = tf.keras.models.Sequential([
  tf.keras.layers.Conv2D(16, (3,3), activation='relu', input_shape=(300, 300, 3)),
  tf.keras.layers.MaxPooling2D(2, 2),
  tf.keras.layers.Conv2D(32, (3,3), activation='relu'),
  tf.keras.layers.MaxPooling2D(2,2),
  tf.keras.layers.Conv2D(64, (3,3), activation='relu'),
  tf.keras.layers.MaxPooling2D(2,2),
  tf.keras.layers.Flatten(),
  tf.keras.layers.Dense(512, activation='relu'),
  tf.keras.layers.Dense(1, activation='sigmoid')
])

from tensorflow.keras.optimizers import RMSprop

model.compile(loss = 'binary_crossentropy',
    optimizer = RMSprop(lr=0.001),
    metrics = ['acc'])

history = model.fit_generator(
    train_generator,
    steps_per_epoch = 1,
    epochs = 2,
    validation_data = validation_generator,
    validation_steps = 1,
    verbose =2
)

import numpy as np
from tensorflow.keras.preprocessing import image

for fn in uploaded:

    path= fn
    img = image.load_img(path,target_size=(300,300))
    x=image.img_to_array(img)
    x=np.expand_dims(x,axis=0)

    images=np.vstack([x])
    classes = model.predict(images, batch_size=10)
    print(classes[0])
    if classes[0]>0.5:
        print(fn+"is a human")
    else:
        print(fn + "is a horse")
'''


def image_tree(root, per_class, size=(40, 32), seed=0):
    """horses/ and humans/ folders of small real PNG and JPEG files (two kinds of pictures
    a model can tell apart: warm left-heavy, cool right-heavy gradients with noise)."""
    rng = np.random.default_rng(seed)
    paths = []
    for k, name in enumerate(("horses", "humans")):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            ramp = np.linspace(0, 1, size[0])[None, :, None]
            base = ramp if k == 0 else ramp[:, ::-1]
            colour = np.array([200, 120, 40]) if k == 0 else np.array([40, 120, 200])
            pixels = base * colour + rng.normal(0, 20, (size[1], size[0], 3))
            img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            path = folder / f"{name}{i:02d}.{'png' if i % 2 else 'jpg'}"
            img.save(path)
            paths.append(str(path))
    return paths


def test_the_horse_or_human_lecture_runs_as_written(tmp_path, capsys):
    image_tree(tmp_path / "train", 3)
    paths = image_tree(tmp_path / "validation", 2, seed=1)
    code = LECTURE.replace("tensorflow", "scratchnet")
    ns = {"train_dir": str(tmp_path / "train"), "validation_dir": str(tmp_path / "validation"),
          "uploaded": paths[:1] + paths[-1:]}
    exec(compile(code, "<Coursera C1 W4, scratchnet>", "exec"), ns)
    out = capsys.readouterr().out
    assert "Found 6 images belonging to 2 classes." in out
    assert "Found 4 images belonging to 2 classes." in out
    assert ns["model"].count_params() == 40_165_409
    assert sorted(ns["history"].history) == ["acc", "loss", "val_acc", "val_loss"]
    assert len(ns["history"].history["loss"]) == 2
    assert out.count("is a horse") + out.count("is a human") == 2
    assert ns["train_generator"].class_indices == {"horses": 0, "humans": 1}


def small_convnet(K, weights=None):
    model = K.Sequential([
        K.layers.Conv2D(4, (3, 3), activation="relu", input_shape=(24, 24, 3)),
        K.layers.MaxPooling2D(2, 2),
        K.layers.Flatten(),
        K.layers.Dense(1, activation="sigmoid")])
    if weights is not None:
        model.set_weights(weights)
    model.compile(loss="binary_crossentropy", optimizer=K.optimizers.RMSprop(0.001),
                  metrics=["acc"])
    return model


@pytest.mark.parametrize("shuffle", [False, True])
def test_training_from_flow_from_directory_equals_tensorflows(tmp_path, shuffle):
    """The same folders, the same generator settings (unshuffled, or shuffled with a seed and
    augmented), the same starting weights: scratchnet's fit_generator and Keras's fit give the
    same History and weights -- the same images in every batch, transformed alike, which
    needs fit to read ahead exactly as Keras does (the first two batches, then
    on_epoch_end, which reshuffles)."""
    image_tree(tmp_path / "train", 6)
    image_tree(tmp_path / "validation", 3, seed=1)
    weights = small_convnet(scratchnet.keras).get_weights()
    augment = dict(rotation_range=30, zoom_range=0.2, horizontal_flip=True) if shuffle else {}
    results = []
    for K, train in ((scratchnet.keras, "fit_generator"), (tf.keras, "fit")):
        datagen = K.preprocessing.image.ImageDataGenerator(rescale=1. / 255, **augment)
        flow = lambda d, b: datagen.flow_from_directory(   # noqa: E731
            str(tmp_path / d), target_size=(24, 24), batch_size=b, class_mode="binary",
            shuffle=shuffle, seed=7 if shuffle else None)
        model = small_convnet(K, weights)
        history = getattr(model, train)(flow("train", 4), steps_per_epoch=3, epochs=2,
                                        validation_data=flow("validation", 3),
                                        validation_steps=2, shuffle=False, verbose=0)
        results.append((history.history, model.get_weights(),
                        model.predict(flow("validation", 3), verbose=0)))
    ours, theirs = results
    assert sorted(ours[0]) == sorted(theirs[0])
    for key in theirs[0]:
        parity_log.check(np.asarray(ours[0][key], np.float32),
                         np.asarray(theirs[0][key], np.float32), "float32", key,
                         "flow_from_directory fit")
    for a, b in zip(ours[1], theirs[1]):
        parity_log.check(a, b, "float32", "weights", "flow_from_directory fit")
    parity_log.check(ours[2], theirs[2], "float32", "predict", "flow_from_directory fit")


def test_every_image_import_path_the_courses_use():
    from scratchnet.keras.preprocessing import image
    from scratchnet.keras.preprocessing.image import ImageDataGenerator

    assert ImageDataGenerator is scratchnet.keras.preprocessing.image.ImageDataGenerator
    assert image.load_img is scratchnet.keras.utils.load_img
    assert (scratchnet.keras.preprocessing.image_dataset_from_directory
            is scratchnet.keras.utils.image_dataset_from_directory)
    assert scratchnet.keras.layers.Rescaling is scratchnet.layers.Rescaling
    assert scratchnet.keras.utils.Sequence is scratchnet.keras.utils.PyDataset
