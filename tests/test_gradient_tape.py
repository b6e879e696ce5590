"""tf.GradientTape against real TensorFlow: the tape's rules, layer and model calls on the
tape, the lectures' hand-written training loops, custom layers written as `call`.

Every program is ONE function of the library module (`def f(T): ...`), run once with
scratchnet and once with TensorFlow from the same starting values; gradients, losses and the
weights after k steps must agree (tests/tolerances.py via parity_log.check).
"""
import numpy as np
import pytest

import parity_log
import scratchnet as sn
from tf_support import import_tf

tf = import_tf()
from reference import floatx_scope  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
DTYPES = ["float32", "float64"]


def both(program, dtype, *args):
    """program(T, *args) for T = scratchnet, then TensorFlow, in floatx `dtype`."""
    with floatx_scope(dtype):
        return program(sn, *args), program(tf, *args)


def numpy_of(value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [numpy_of(v) for v in value]
    if isinstance(value, dict):
        return {k: numpy_of(v) for k, v in value.items()}
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def check_same(ours, theirs, dtype, what, area="GradientTape"):
    ours, theirs = numpy_of(ours), numpy_of(theirs)
    if isinstance(theirs, dict):
        assert sorted(ours) == sorted(theirs), what
        for key in theirs:
            check_same(ours[key], theirs[key], dtype, f"{what}[{key}]", area)
        return
    if isinstance(theirs, list):
        assert len(ours) == len(theirs), what
        for i, (a, b) in enumerate(zip(ours, theirs)):
            check_same(a, b, dtype, f"{what}[{i}]", area)
        return
    if theirs is None:
        assert ours is None, f"{what}: expected None (unconnected), received {ours}"
        return
    assert ours is not None, f"{what}: scratchnet gave None, TensorFlow {theirs}"
    parity_log.check(np.asarray(ours), np.asarray(theirs, ours.dtype), dtype, what, area)


# ---- the tape's rules ---------------------------------------------------------------------
def rules(T, dtype):
    x0 = np.array([[1.0, -2.0, 3.0]], dtype)
    w = T.Variable(np.array([[0.5], [-1.0], [2.0]], dtype), name="w")
    b = T.Variable(np.array([0.25], dtype), name="b")
    frozen = T.Variable(np.array(2.0, dtype), trainable=False)
    unused = T.Variable(np.array(1.0, dtype))
    x = T.constant(x0)
    out = {}
    with T.GradientTape(persistent=True) as tape:
        tape.watch(x)
        z = T.matmul(x, w) + b
        y = T.reduce_sum(T.square(z) * frozen) + T.reduce_mean(x * x)
        with tape.stop_recording():
            hidden = w * 3.0                    # not recorded
        y2 = y + T.reduce_sum(hidden)
    out["y"] = y
    out["grads"] = tape.gradient(y, {"w": w, "b": b, "x": x})
    out["frozen"] = tape.gradient(y, frozen)              # not watched: None
    out["unused"] = tape.gradient(y, [unused, w])         # unconnected: None
    out["zero"] = tape.gradient(y, unused, unconnected_gradients="zero")
    out["stopped"] = tape.gradient(y2, w)                 # the paused op adds nothing
    out["weighted"] = tape.gradient(z, w, output_gradients=T.constant(np.array([[3.0]],
                                                                                dtype)))
    out["intermediate"] = tape.gradient(y, z)
    out["two_targets"] = tape.gradient([y, T.reduce_sum(z)], b)
    out["watched"] = [v.name.split(":")[0] for v in tape.watched_variables()]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_tapes_rules_are_tensorflows(dtype):
    ours, theirs = both(rules, dtype, dtype)
    # (TensorFlow also lists `unused` once gradient() has been asked about it; the variables
    # read while recording come first, in order, in both)
    assert ours["watched"] == theirs["watched"][:2] == ["w", "b"]
    for key in ("y", "grads", "frozen", "unused", "zero", "stopped", "weighted",
                "intermediate", "two_targets"):
        check_same(ours[key], theirs[key], dtype, key)


def test_a_tape_is_used_once_unless_persistent():
    for T in (sn, tf):
        v = T.Variable(3.0)
        with T.GradientTape() as tape:
            y = v * v
        assert float(tape.gradient(y, v)) == 6.0
        with pytest.raises(RuntimeError, match="non-persistent"):
            tape.gradient(y, v)


def test_watch_accessed_variables_off_watches_only_what_is_watched():
    for T in (sn, tf):
        v, u = T.Variable(3.0), T.Variable(2.0)
        with T.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(u)
            y = v * u
        gv, gu = tape.gradient(y, [v, u])
        assert gv is None and float(gu) == 3.0


def test_gradient_of_a_constant_needs_watch():
    for T in (sn, tf):
        x = T.constant(3.0)
        with T.GradientTape() as tape:
            y = x * x
        assert tape.gradient(y, x) is None
        with T.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        assert float(tape.gradient(y, x)) == 6.0


# ---- layers and models on the tape ------------------------------------------------------------
def shared_dense(T, dtype):
    """One Dense layer called twice on the tape: its gradients are the sum of both calls."""
    T.keras.backend.clear_session()
    rng = np.random.default_rng(1)
    layer = T.keras.layers.Dense(3, activation="tanh")
    x = T.constant(rng.normal(size=(4, 3)).astype(dtype))
    layer(x)
    layer.set_weights([rng.normal(size=(3, 3)).astype(dtype),
                       rng.normal(size=3).astype(dtype)])
    with T.GradientTape() as tape:
        tape.watch(x)
        y = T.reduce_sum(layer(layer(x)) * T.constant(rng.normal(size=(4, 3)).astype(dtype)))
    return tape.gradient(y, [x] + list(layer.trainable_variables))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_layer_called_twice_on_the_tape(dtype):
    ours, theirs = both(shared_dense, dtype, dtype)
    check_same(ours, theirs, dtype, "shared Dense")


def mlp(T):
    return T.keras.Sequential([T.keras.Input((6,)),
                               T.keras.layers.Dense(8, activation="relu"),
                               T.keras.layers.Dense(4, activation="softmax")])


def cnn(T):
    return T.keras.Sequential([T.keras.Input((10, 10, 1)),
                               T.keras.layers.Conv2D(4, 3, activation="relu"),
                               T.keras.layers.MaxPooling2D(),
                               T.keras.layers.Flatten(),
                               T.keras.layers.Dense(3)])


def custom_loop(T, build, weights, x, y, from_logits, steps=4):
    """The custom training loop of Hands-On CV ch. 3 notebook 4 / TensorFlow's "advanced"
    tutorial: GradientTape, tape.gradient, optimizer.apply_gradients; `train_step` is a
    tf.function as those notebooks write it."""
    model = build(T)
    model.set_weights(weights)
    loss_object = T.keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    optimizer = T.keras.optimizers.Adam(learning_rate=0.01)
    train_loss = T.keras.metrics.Mean(name="train_loss")
    train_accuracy = T.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")

    @T.function
    def train_step(images, labels):
        with T.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_accuracy(labels, predictions)
        return loss

    losses = [train_step(x, y) for _ in range(steps)]
    return (losses, model.get_weights(), float(train_loss.result()),
            float(train_accuracy.result()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_custom_training_loop_gives_tensorflows_weights(dtype, kind):
    rng = np.random.default_rng(2)
    build, shape, logits = (mlp, (16, 6), False) if kind == "mlp" else (cnn, (8, 10, 10, 1),
                                                                        True)
    with floatx_scope(dtype):
        weights = build(sn).get_weights()
    x = rng.normal(size=shape).astype(dtype)
    y = rng.integers(0, 4 if kind == "mlp" else 3, shape[0])
    ours, theirs = both(custom_loop, dtype, build, weights, x, y, logits)
    area = f"custom loop {kind}"
    check_same(ours[0], theirs[0], dtype, "losses", area)
    check_same(ours[1], theirs[1], dtype, "weights after 4 steps", area)
    assert ours[2] == pytest.approx(theirs[2], rel=1e-5)
    assert ours[3] == theirs[3]


def subclassed_loop(T, weights, x, y):
    """A subclassed model (the shape of Hands-On CV's LeNet5(Model)) inside the tape."""
    class Small(T.keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = T.keras.layers.Conv2D(3, 3, padding="same", activation="relu")
            self.pool = T.keras.layers.MaxPooling2D()
            self.flatten = T.keras.layers.Flatten()
            self.out = T.keras.layers.Dense(2)

        def call(self, inputs):
            return self.out(self.flatten(self.pool(self.pool(self.conv(inputs)))))

    model = Small()
    model(x[:1])
    model.set_weights(weights)
    optimizer = T.keras.optimizers.SGD(0.1)
    loss_fn = T.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(3):
        with T.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
    return model.get_weights()


@pytest.mark.parametrize("dtype", DTYPES)
def test_subclassed_model_with_a_reused_layer_on_the_tape(dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 8, 8, 1)).astype(dtype)
    y = rng.integers(0, 2, 4)
    weights = [rng.normal(size=s).astype(dtype) * 0.3 for s in
               [(3, 3, 1, 3), (3,), (12, 2), (2,)]]
    ours, theirs = both(subclassed_loop, dtype, weights, x, y)
    check_same(ours, theirs, dtype, "subclassed model weights", "custom loop subclassed")


# ---- the lectures' programs by hand -----------------------------------------------------------
def linear_regression(T, x, y, steps=20):
    """Python ML (TF2 edition): a line fitted by hand with a GradientTape, the Variables
    updated by `assign_sub` and, in a second run, by an optimizer."""
    w = T.Variable(0.0, name="weight")
    b = T.Variable(0.0, name="bias")

    def loss_fn(y_true, y_pred):
        return T.reduce_mean(T.square(y_true - y_pred))

    history = []
    for _ in range(steps):
        with T.GradientTape() as tape:
            current_loss = loss_fn(y, w * x + b)
        dW, db = tape.gradient(current_loss, [w, b])
        w.assign_sub(0.05 * dW)
        b.assign_sub(0.05 * db)
        history.append(current_loss)
    optimizer = T.keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)
    for _ in range(steps):
        with T.GradientTape() as tape:
            current_loss = loss_fn(y, w * x + b)
        grads = tape.gradient(current_loss, [w, b])
        optimizer.apply_gradients(zip(grads, [w, b]))
    step = (lambda: loss_fn(y, w * x + b))
    if T is sn:
        optimizer.minimize(step, [w, b])   # tf.keras 2's minimize (Keras 3 dropped it)
    else:
        with T.GradientTape() as tape:
            current_loss = step()
        optimizer.apply_gradients(zip(tape.gradient(current_loss, [w, b]), [w, b]))
    return history, [w, b]


def test_linear_regression_by_hand_matches_tensorflow():
    x = np.arange(10, dtype="float32")
    y = np.array([1.0, 1.3, 3.1, 2.0, 5.0, 6.3, 6.6, 7.4, 8.0, 9.0], "float32")
    ours, theirs = both(linear_regression, "float32", x, y)
    check_same(ours[0], theirs[0], "float32", "loss per step", "lecture programs")
    check_same(ours[1], theirs[1], "float32", "w, b after 41 steps", "lecture programs")


def neuron(T, dtype):
    """The university course's neuron: o = sigmoid(w*x + b), MSE, gradient descent."""
    x = T.constant(np.array([[1.0], [0.0], [2.0], [-1.0]], dtype))
    target = T.constant(np.array([[1.0], [0.0], [1.0], [0.0]], dtype))
    w = T.Variable(np.array([[0.3]], dtype))
    b = T.Variable(np.array([-0.1], dtype))
    losses = []
    for _ in range(10):
        with T.GradientTape() as tape:
            out = T.math.sigmoid(T.matmul(x, w) + b)
            loss = T.keras.losses.MeanSquaredError()(target, out)
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(0.5 * dw)
        b.assign_sub(0.5 * db)
        losses.append(loss)
    return losses, [w, b], out


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_university_courses_neuron(dtype):
    ours, theirs = both(neuron, dtype, dtype)
    check_same(ours, theirs, dtype, "neuron: losses, w and b, output", "lecture programs")


BEGINNER = '''
import tensorflow as tf
model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dropout(0.2),
  tf.keras.layers.Dense(10)
])
model.set_weights(weights)
predictions = model(x_train[:1]).numpy()
probabilities = tf.nn.softmax(predictions).numpy()
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
first_loss = loss_fn(y_train[:1], predictions).numpy()
'''


def test_tensorflows_beginner_tutorial_runs_as_written():
    rng = np.random.default_rng(4)
    x_train = rng.random((2, 28, 28)).astype("float32")
    y_train = np.array([3, 1])
    weights = [w * 1 for w in sn.keras.Sequential([
        sn.keras.layers.Flatten(input_shape=(28, 28)), sn.keras.layers.Dense(128),
        sn.keras.layers.Dense(10)]).get_weights()]
    results = []
    for module in ("tensorflow", "scratchnet"):
        ns = {"x_train": x_train, "y_train": y_train, "weights": weights}
        exec(compile(BEGINNER.replace("tensorflow", module), module, "exec"), ns)
        results.append(ns)
    theirs, ours = results
    assert type(ours["predictions"]) is np.ndarray and ours["first_loss"].shape == ()
    for key in ("predictions", "probabilities", "first_loss"):
        check_same(ours[key], theirs[key], "float32", key, "lecture programs")


# ---- custom layers written as call -------------------------------------------------------------
def simple_convolution_layer(T):
    """Hands-On CV ch. 3, notebook 1 (as printed in the book)."""
    class SimpleConvolutionLayer(T.keras.layers.Layer):
        def __init__(self, num_kernels=32, kernel_size=(3, 3), stride=1):
            super().__init__()
            self.num_kernels = num_kernels
            self.kernel_size = kernel_size
            self.stride = stride

        def build(self, input_shape):
            num_input_channels = input_shape[-1]
            kernels_shape = (*self.kernel_size, num_input_channels, self.num_kernels)
            glorot_uni_initializer = T.initializers.GlorotUniform()
            self.kernels = self.add_weight(name='kernels', shape=kernels_shape,
                                           initializer=glorot_uni_initializer, trainable=True)
            self.bias = self.add_weight(name='bias', shape=(self.num_kernels,),
                                        initializer='random_normal', trainable=True)

        def call(self, inputs):
            return T.nn.conv2d(inputs, self.kernels,
                               strides=[1, self.stride, self.stride, 1],
                               padding='VALID') + self.bias

    return SimpleConvolutionLayer


def lenet_with_simple_convolutions(T):
    """Hands-On CV ch. 3's LeNet5(Model) with its commented-out alternative in place:
    `self.conv1 = SimpleConvolutionLayer(6, kernel_size=(5, 5))`."""
    SimpleConvolutionLayer = simple_convolution_layer(T)

    class LeNet5(T.keras.Model):
        def __init__(self, num_classes):
            super().__init__()
            self.conv1 = SimpleConvolutionLayer(6, kernel_size=(5, 5))
            self.conv2 = SimpleConvolutionLayer(16, kernel_size=(5, 5))
            self.max_pool = T.keras.layers.MaxPooling2D(pool_size=(2, 2))
            self.flatten = T.keras.layers.Flatten()
            self.dense1 = T.keras.layers.Dense(32, activation='relu')
            self.dense3 = T.keras.layers.Dense(num_classes, activation='softmax')

        def call(self, inputs):
            x = self.max_pool(self.conv1(inputs))
            x = self.max_pool(self.conv2(x))
            x = self.flatten(x)
            return self.dense3(self.dense1(x))

    return LeNet5(10)


def sequential_with_simple_convolution(T):
    return T.keras.Sequential([T.keras.Input((12, 12, 1)),
                               simple_convolution_layer(T)(4, kernel_size=(3, 3)),
                               T.keras.layers.MaxPooling2D(),
                               T.keras.layers.Flatten(),
                               T.keras.layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["sequential", "lenet5"])
def test_a_custom_layer_with_no_backward_trains_in_fit_like_tensorflow(dtype, which):
    rng = np.random.default_rng(5)
    if which == "sequential":
        build, x, classes = sequential_with_simple_convolution, rng.normal(
            size=(20, 12, 12, 1)), 3
    else:
        build, x, classes = lenet_with_simple_convolutions, rng.random((20, 28, 28, 1)), 10
    x = x.astype(dtype)
    y = rng.integers(0, classes, len(x))
    with floatx_scope(dtype):
        ours, theirs = build(sn), build(tf)
        ours(x[:1]), theirs(x[:1])
        assert [w.shape for w in ours.get_weights()] == [w.shape for w in
                                                         theirs.get_weights()]
        ours.set_weights(theirs.get_weights())
        for m in (ours, theirs):
            m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        h_ours = ours.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0)
        h_theirs = theirs.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0)
        predictions = ours.predict(x[:4], verbose=0), theirs.predict(x[:4], verbose=0)
    area = f"custom layer in fit ({which})"
    check_same(np.asarray(h_ours.history["loss"], dtype), h_theirs.history["loss"], dtype,
               "loss", area)
    assert h_ours.history["accuracy"] == pytest.approx(h_theirs.history["accuracy"])
    check_same(ours.get_weights(), theirs.get_weights(), dtype, "weights after fit", area)
    check_same(*predictions, dtype, "predict", area)


def test_custom_layer_weights_are_variables_and_its_summary_has_its_shapes(capsys):
    layer = simple_convolution_layer(sn)(2)
    out = layer(np.ones((1, 5, 5, 1), "float32"))
    assert isinstance(out, sn.Tensor) and out.shape == (1, 3, 3, 2)
    assert isinstance(layer.kernels, sn.Variable) and layer.kernels.name == "kernels"
    assert [v.path for v in layer.trainable_variables] == [f"{layer.name}/kernels",
                                                            f"{layer.name}/bias"]
    model = sequential_with_simple_convolution(sn)
    model.summary()
    assert "(None, 10, 10, 4)" in capsys.readouterr().out


def dense_by_hand(T, x, weights):
    """A layer of tf.matmul + bias (the usual first custom layer), called in a tape and
    trained one step by minimize."""
    class MyDense(T.keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="zeros",
                                     trainable=True)

        def call(self, inputs):
            return T.nn.relu(T.matmul(inputs, self.w) + self.b)

    layer = MyDense(3)
    layer(x)
    layer.set_weights(weights)
    with T.GradientTape() as tape:
        y = T.reduce_sum(T.square(layer(x)))
    grads = tape.gradient(y, layer.trainable_variables)
    loss = (lambda: T.reduce_sum(T.square(layer(x))))
    if T is sn:          # tf.keras 2's minimize(loss, var_list); Keras 3 has none
        T.keras.optimizers.SGD(0.01).minimize(loss, layer.trainable_variables)
    else:
        with T.GradientTape() as tape:
            value = loss()
        T.keras.optimizers.SGD(0.01).apply_gradients(
            zip(tape.gradient(value, layer.trainable_variables), layer.trainable_variables))
    return grads, layer.get_weights()


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_custom_dense_layer_in_a_tape(dtype):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 4)).astype(dtype)
    weights = [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=3).astype(dtype)]
    ours, theirs = both(dense_by_hand, dtype, x, weights)
    check_same(ours, theirs, dtype, "custom dense: gradients, weights after minimize")


# ---- your own loss function in compile -----------------------------------------------------------
def fit_with_loss(T, loss, x, y, weights):
    model = T.keras.Sequential([T.keras.Input((1,)), T.keras.layers.Dense(1)])
    model.set_weights(weights)
    model.compile(optimizer="sgd", loss=loss(T) if callable(loss) else loss,
                  metrics=["mae", "mse"])
    history = model.fit(x, y, epochs=3, batch_size=3, verbose=0, shuffle=False)
    return history.history, model.get_weights()


def python_ml_loss(T):
    """Python ML (TF2 edition): the regression's loss, written with tf operations."""
    def loss_fn(y_true, y_pred):
        return T.reduce_mean(T.square(y_true - y_pred))
    return loss_fn


def per_sample_loss(T):
    def half_abs(y_true, y_pred):         # one value per sample: fit averages them
        return 0.5 * T.reduce_sum(T.abs(y_true - y_pred), axis=-1)
    return half_abs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", [python_ml_loss, per_sample_loss, "mae"])
def test_a_loss_function_of_tf_operations_trains_like_tensorflow(dtype, loss):
    x = np.arange(10, dtype=dtype)
    y = np.array([1.0, 1.3, 3.1, 2.0, 5.0, 6.3, 6.6, 7.4, 8.0, 9.0], dtype)
    weights = [np.array([[0.1]], dtype), np.array([0.0], dtype)]
    ours, theirs = both(fit_with_loss, dtype, loss, x, y, weights)
    name = loss if isinstance(loss, str) else loss.__name__
    for key in theirs[0]:
        check_same(np.asarray(ours[0][key], dtype), theirs[0][key], dtype, key,
                   f"loss function ({name})")
    check_same(ours[1], theirs[1], dtype, "weights", f"loss function ({name})")


def test_a_loss_function_is_saved_by_name_and_loaded_from_custom_objects(tmp_path):
    loss_fn = python_ml_loss(sn)
    model = sn.keras.Sequential([sn.keras.Input((1,)), sn.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=loss_fn)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="custom_objects"):
        sn.keras.models.load_model(tmp_path / "m.keras")
    loaded = sn.keras.models.load_model(tmp_path / "m.keras",
                                        custom_objects={"loss_fn": loss_fn})
    assert loaded.loss.fn is loss_fn


def test_a_loss_function_without_a_gradient_is_refused():
    def numpy_loss(y_true, y_pred):
        return np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)

    model = sn.keras.Sequential([sn.keras.Input((1,)), sn.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=numpy_loss)
    with pytest.raises((TypeError, ValueError), match="numpy_loss"):
        model.fit(np.ones((4, 1)), np.ones(4), verbose=0)


# ---- subclassed models whose call is made of tf operations -----------------------------------
def test_python_mls_linear_regression_runs_as_printed(capsys):
    """The subclassed model with two tf.Variables: built, summarized, trained by hand on a
    shuffled, repeated tf.data pipeline, then by fit with a loss function of its own. Its
    shuffle draws NumPy's numbers, not TensorFlow's, so this checks where training gets
    (near TensorFlow's printed result, and fit near the least-squares line) -- the
    deterministic version below is compared with TensorFlow step by step."""
    from lecture_linear_regression import LINEAR_REGRESSION

    ns = {}
    exec(compile(LINEAR_REGRESSION.replace("tensorflow", "scratchnet"), "pml", "exec"), ns)
    out = capsys.readouterr().out
    assert "Total params: 2" in out and "tf.Tensor(0.25, shape=(), dtype=float32)" in out
    assert out.count("Epoch ") == 20
    hand = ns["Ws"][-1], ns["bs"][-1]          # TensorFlow's run ends at 2.6577, 4.8799
    assert abs(hand[0] - 2.6577) < 0.02 and abs(hand[1] - 4.8799) < 0.02
    x, y = ns["X_train_norm"][:, 0], ns["y_train"]
    w_ls, b_ls = np.polyfit(x, y, 1)            # where 200 epochs of fit get to
    model = ns["model"]                         # (the one trained by fit)
    assert [v.name for v in model.trainable_variables] == ["weight", "bias"]
    assert abs(float(model.w) - w_ls) < 0.01 and abs(float(model.b) - b_ls) < 0.01
    assert model.layers == [] and model.count_params() == 2


def linear_model_by_hand(T, x, y, steps=12):
    """The same model and training step, in order (no shuffle), with an optimizer too."""
    class MyModel(T.keras.Model):
        def __init__(self):
            super().__init__()
            self.w = T.Variable(0.0, name='weight')
            self.b = T.Variable(0.0, name='bias')

        def call(self, x):
            return self.w * x + self.b

    def loss_fn(y_true, y_pred):
        return T.reduce_mean(T.square(y_true - y_pred))

    model = MyModel()
    model.build(input_shape=(None, 1))
    optimizer = T.keras.optimizers.SGD(learning_rate=0.01)
    losses = []
    for i in range(steps):
        bx, by = x[i % len(x):i % len(x) + 1], y[i % len(x):i % len(x) + 1]
        with T.GradientTape() as tape:
            current_loss = loss_fn(model(bx), by)
        dW, db = tape.gradient(current_loss, [model.w, model.b])
        if i % 2:
            model.w.assign_sub(0.05 * dW)
            model.b.assign_sub(0.05 * db)
        else:
            optimizer.apply_gradients(zip([dW, db], [model.w, model.b]))
        losses.append(current_loss)
    return losses, [model.w, model.b]


def test_a_model_of_variables_trains_by_hand_like_tensorflow():
    x = np.linspace(-1.5, 1.5, 10).astype("float32").reshape(-1, 1)
    y = np.array([1.0, 1.3, 3.1, 2.0, 5.0, 6.3, 6.6, 7.4, 8.0, 9.0], "float32")
    ours, theirs = both(linear_model_by_hand, "float32", x, y)
    check_same(ours, theirs, "float32", "losses and w, b", "subclassed tf ops")


def test_fit_trains_a_model_of_variables_as_its_custom_loop_does():
    """Keras 3 does not track a plain tf.Variable on a keras.Model (its fit warns "no
    trainable weights" and leaves w and b at 0); tf.keras 2 did, and so does scratchnet: fit
    with SGD(0.01), batches of 1 in order, gives exactly the hand-written loop's weights."""
    x = np.linspace(-1.5, 1.5, 10).reshape(-1, 1).astype("float32")
    y = np.array([1.0, 1.3, 3.1, 2.0, 5.0, 6.3, 6.6, 7.4, 8.0, 9.0], "float32")

    def make():
        class MyModel(sn.keras.Model):
            def __init__(self):
                super().__init__()
                self.w = sn.Variable(0.0, name='weight')
                self.b = sn.Variable(0.0, name='bias')

            def call(self, x):
                return self.w * x + self.b
        return MyModel()

    def loss_fn(y_true, y_pred):
        return sn.reduce_mean(sn.square(y_true - y_pred))

    fitted = make()
    fitted.compile(optimizer="sgd", loss=loss_fn)
    fitted.fit(x, y, epochs=2, batch_size=1, shuffle=False, verbose=0)
    by_hand, optimizer = make(), sn.keras.optimizers.SGD(0.01)
    for _ in range(2):
        for i in range(10):
            with sn.GradientTape() as tape:
                loss = loss_fn(y[i:i + 1, None], by_hand(x[i:i + 1]))
            grads = tape.gradient(loss, by_hand.trainable_variables)
            optimizer.apply_gradients(zip(grads, by_hand.trainable_variables))
    assert fitted.get_weights()[0] == by_hand.get_weights()[0]
    assert fitted.get_weights()[1] == by_hand.get_weights()[1]
    assert fitted.weight_paths == [f"{fitted.name}/weight", f"{fitted.name}/bias"]


def mixed_model(T, weights, x, y, numpy_spelling=False):
    """A subclassed model mixing layers and tf operations in call: trained by fit."""
    class Mixed(T.keras.Model):
        def __init__(self):
            super().__init__()
            self.scale = self.add_weight(shape=(1, 8), initializer="ones", name="scale")
            self.dense = T.keras.layers.Dense(4, activation="tanh")
            self.out = T.keras.layers.Dense(2)

        def call(self, inputs):
            h = self.dense(inputs)
            if numpy_spelling:        # the same math in NumPy's spelling (scratchnet only)
                both_ = np.concatenate([np.exp(-h ** 2), h @ np.eye(4, dtype=h.dtype)], axis=1)
                return self.out(both_ * self.scale + both_.sum(axis=1, keepdims=True) / 8)
            both_ = T.concat([T.exp(-h ** 2), T.matmul(h, T.eye(4, dtype=h.dtype))], axis=1)
            return self.out(both_ * self.scale + T.reduce_sum(both_, axis=1, keepdims=True) / 8)

    model = Mixed()
    model(x[:1])
    model.set_weights(weights)
    model.compile(optimizer=T.keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return history.history["loss"], model.get_weights()


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_subclassed_model_of_layers_and_tf_operations_fits_like_tensorflow(dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(12, 3)).astype(dtype)
    y = rng.normal(size=(12, 2)).astype(dtype)
    with floatx_scope(dtype):
        probe = sn.keras.layers.Dense(4)
        probe.build((None, 3))
    weights = [np.full((1, 8), 0.5, dtype), rng.normal(size=(3, 4)).astype(dtype),
               np.zeros(4, dtype), rng.normal(size=(8, 2)).astype(dtype), np.zeros(2, dtype)]
    ours, theirs = both(mixed_model, dtype, weights, x, y)
    check_same(np.asarray(ours[0], dtype), theirs[0], dtype, "loss", "subclassed tf ops")
    check_same(ours[1], theirs[1], dtype, "weights after fit", "subclassed tf ops")
    with floatx_scope(dtype):
        spelled = mixed_model(sn, weights, x, y, numpy_spelling=True)
    assert spelled[0] == ours[0]
    for a, b in zip(spelled[1], ours[1]):
        np.testing.assert_array_equal(a, b)


def persistent_model_tape(T, weights, x):
    model = cnn(T)
    model.set_weights(weights)
    with T.GradientTape(persistent=True) as tape:
        p = model(x, training=True)
        loss = T.reduce_sum(p * p)
        other = T.reduce_mean(p)
    return (tape.gradient(loss, model.trainable_variables),
            tape.gradient(other, model.trainable_variables),
            tape.gradient(loss, model.trainable_variables))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_persistent_tape_differentiates_a_model_call_more_than_once(dtype):
    rng = np.random.default_rng(8)
    with floatx_scope(dtype):
        weights = cnn(sn).get_weights()
    x = rng.normal(size=(3, 10, 10, 1)).astype(dtype)
    ours, theirs = both(persistent_model_tape, dtype, weights, x)
    check_same(ours, theirs, dtype, "three gradients of one model call")
    for a, b in zip(ours[0], ours[2]):
        np.testing.assert_array_equal(a, b)


def two_outputs(T, weights, x):
    inputs = T.keras.Input((3,))
    hidden = T.keras.layers.Dense(4, activation="tanh")(inputs)
    outputs = {"a": T.keras.layers.Dense(2)(hidden), "b": T.keras.layers.Dense(1)(hidden)}
    model = T.keras.Model(inputs, outputs)
    model.set_weights(weights)
    with T.GradientTape(persistent=True) as tape:
        out = model(x)
        both_ = T.reduce_sum(out["a"] ** 2) + 3.0 * T.reduce_sum(out["b"])
        only_b = T.reduce_sum(out["b"])
    return (tape.gradient(both_, model.trainable_variables),
            tape.gradient(only_b, model.trainable_variables))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_model_with_two_outputs_on_the_tape(dtype):
    """A loss on one output leaves the other head's weights unconnected: None, as in TF."""
    rng = np.random.default_rng(9)
    weights = [rng.normal(size=s).astype(dtype) for s in [(3, 4), (4,), (4, 2), (2,),
                                                          (4, 1), (1,)]]
    x = rng.normal(size=(5, 3)).astype(dtype)
    ours, theirs = both(two_outputs, dtype, weights, x)
    check_same(ours, theirs, dtype, "gradients of a two-output model")
    assert ours[1][2] is None and ours[1][3] is None
