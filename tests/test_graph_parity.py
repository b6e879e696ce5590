"""Graphs of layer calls against tf.keras: drawn DAGs, shared layers, several inputs and outputs.

Hypothesis draws a random graph: 1-2 inputs (vectors or small images), then a sequence of
layer calls on tensors already made -- Dense, Conv2D, pooling, Flatten, Reshape, Permute,
ZeroPadding2D, Cropping2D, UpSampling2D, Activation, the merge layers, arithmetic on tensors
(x + y, x * y, x - 2 y) -- where a Dense or Conv2D may be a layer already used (a shared
layer, called 2-3 times), and a tensor may feed several calls (fan-out). 1-3 of the tensors
become outputs, each through a head with its own loss (mse, sparse or binary crossentropy).

Both models are built by ONE function of the library module, `build_graph(K, spec)`, called
with `scratchnet.keras` and with `keras`; the Keras one gets scratchnet's initial weights by
`set_weights(get_weights())` (both list weights in Keras's graph order). Then, from
identical weights and data: every output of predict, the loss and every weight gradient on
one batch (TF: GradientTape around a tf.function, where Keras's crossentropy sees the
softmax's logits as in fit), k steps of fit with shuffle=False (weights and History), and
evaluate. Tolerances from tests/tolerances.py; in float32 a weight mismatch after fit is
accepted only where TensorFlow's float32 itself misses the float64 truth (test_model_parity's
rule and check).
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import parity_log
import scratchnet as sn
from test_model_parity import DTYPES, check_float32_weights_against_float64_truth
from tf_support import import_tf

tf = import_tf()
import keras  # noqa: E402

from reference import floatx_scope  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def check(actual, expected, dtype, what, kind):
    parity_log.check(actual, expected, dtype, what, f"graph model {kind}")


# ---------------------------------------------------------------- drawing a graph
VEC, IMG = "vec", "img"


@st.composite
def graphs(draw):
    """A graph spec: inputs, calls (op, argument tensors, options, shared-with), outputs."""
    tensors = []                                   # (kind, shape without batch)
    inputs = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(st.booleans()):
            shape = (draw(st.integers(2, 5)),)
        else:
            shape = (draw(st.integers(3, 6)), draw(st.integers(3, 6)), draw(st.integers(1, 2)))
        inputs.append(shape)
        tensors.append((VEC if len(shape) == 1 else IMG, shape))
    calls = []
    layers_made = []                               # (call index, op, input shape) of weighted

    def add(op, args, out, **options):
        calls.append({"op": op, "args": args, **options})
        tensors.append((VEC if len(out) == 1 else IMG, out))
        return len(tensors) - 1

    for _ in range(draw(st.integers(2, 7))):
        i = draw(st.integers(0, len(tensors) - 1))
        kind, shape = tensors[i]
        same = [j for j, t in enumerate(tensors) if t[1] == shape]
        choices = ["activation", "arith", "merge"]
        if kind == VEC:
            choices += ["dense", "dense", "concat", "to_image"]
        else:
            choices += ["conv", "conv", "flatten", "concat", "pad", "permute"]
            if min(shape[:2]) >= 2:
                choices.append("pool")
            if min(shape[:2]) >= 3:
                choices.append("crop")
            if max(shape[:2]) <= 4:
                choices.append("upsample")
        op = draw(st.sampled_from(choices))
        if op == "dense":
            reuse = [c for c, o, s in layers_made if o == "dense" and s == shape]
            if reuse and draw(st.booleans()):
                shared = draw(st.sampled_from(reuse))
                add("dense", [i], (calls[shared]["units"],), shared=shared,
                    units=calls[shared]["units"])
            else:
                units = draw(st.integers(2, 5))
                layers_made.append((len(calls), "dense", shape))
                add("dense", [i], (units,), units=units,
                    activation=draw(st.sampled_from(["tanh", "relu", "sigmoid", "linear"])))
        elif op == "conv":
            h, w, c = shape
            reuse = [k for k, o, s in layers_made if o == "conv" and s[2] == c]
            if reuse and draw(st.booleans()):
                shared = draw(st.sampled_from(reuse))
                spec = calls[shared]
                if spec["padding"] == "valid" and min(h, w) < spec["kernel"]:
                    continue
                k, padding, filters = spec["kernel"], spec["padding"], spec["filters"]
                out = (h, w) if padding == "same" else (h - k + 1, w - k + 1)
                add("conv", [i], out + (filters,), shared=shared, kernel=k, padding=padding,
                    filters=filters)
            else:
                k = draw(st.integers(1, min(3, h, w)))
                padding = draw(st.sampled_from(["same", "valid"]))
                filters = draw(st.integers(1, 3))
                out = (h, w) if padding == "same" else (h - k + 1, w - k + 1)
                layers_made.append((len(calls), "conv", shape))
                add("conv", [i], out + (filters,), kernel=k, padding=padding, filters=filters,
                    activation=draw(st.sampled_from(["relu", "linear", "tanh"])))
        elif op == "pool":
            h, w, c = shape
            kind_ = draw(st.sampled_from(["max", "avg"]))
            padding = draw(st.sampled_from(["same", "valid"]))
            out = (-(-h // 2), -(-w // 2)) if padding == "same" else (h // 2, w // 2)
            add("pool", [i], out + (c,), kind=kind_, padding=padding)
        elif op == "flatten":
            add("flatten", [i], (int(np.prod(shape)),))
        elif op == "to_image":
            add("reshape", [i], (1, 1, shape[0]), target=(1, 1, shape[0]))
        elif op == "pad":
            h, w, c = shape
            add("pad", [i], (h + 2, w + 1, c), padding=((1, 1), (0, 1)))
        elif op == "crop":
            h, w, c = shape
            add("crop", [i], (h - 2, w - 1, c), cropping=((1, 1), (1, 0)))
        elif op == "upsample":
            h, w, c = shape
            add("upsample", [i], (2 * h, w, c), size=(2, 1))
        elif op == "permute":
            h, w, c = shape
            add("permute", [i], (w, h, c), dims=(2, 1, 3))
        elif op == "activation":
            add("activation", [i], shape,
                activation=draw(st.sampled_from(["relu", "tanh", "sigmoid"])))
        elif op == "arith":
            j = draw(st.sampled_from(same))
            add("arith", [i, j], shape, form=draw(st.sampled_from(["a+b", "a*b", "a-2b"])))
        elif op == "merge":
            j = draw(st.sampled_from(same))           # may be i itself: x fed in twice
            merge = draw(st.sampled_from(["Add", "Subtract", "Multiply", "Average", "Maximum"]))
            add("merge", [i, j], shape, kind=merge)
        elif op == "concat":
            fits = [j for j, t in enumerate(tensors) if t[0] == kind and t[1][:-1] == shape[:-1]]
            j = draw(st.sampled_from(fits))
            add("concat", [i, j], shape[:-1] + (shape[-1] + tensors[j][1][-1],))
    n_out = draw(st.integers(1, 3))
    candidates = list(range(len(inputs), len(tensors))) or list(range(len(tensors)))
    picked = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=n_out,
                           unique=True))
    outputs = []
    for t in picked:
        loss = draw(st.sampled_from(["mse", "sparse_categorical_crossentropy",
                                     "binary_crossentropy"]))
        units = {"mse": draw(st.integers(1, 3)), "binary_crossentropy": draw(st.integers(1, 2)),
                 "sparse_categorical_crossentropy": draw(st.integers(2, 3))}[loss]
        activation = {"mse": "linear", "binary_crossentropy": "sigmoid",
                      "sparse_categorical_crossentropy": "softmax"}[loss]
        outputs.append({"tensor": t, "image": tensors[t][0] == IMG, "units": units,
                        "activation": activation, "loss": loss})
    return {"inputs": inputs, "calls": calls, "outputs": outputs,
            "dtype": draw(st.sampled_from(DTYPES)),
            "weights": draw(st.sampled_from([None, "list"])),
            "optimizer": draw(st.sampled_from(["sgd", "adam", "rmsprop"])),
            "batch": draw(st.integers(2, 4)), "steps": draw(st.integers(1, 3)),
            "seed": draw(st.integers(0, 2**16))}


def build_graph(K, spec):
    """The drawn graph, built with the library module K (scratchnet.keras or keras)."""
    L = K.layers
    tensors = [K.Input(shape=s, name=f"in{i}") for i, s in enumerate(spec["inputs"])]
    made = {}
    for n, call in enumerate(spec["calls"]):
        args = [tensors[i] for i in call["args"]]
        op, name = call["op"], f"call{n}"
        if op in ("dense", "conv") and "shared" in call:
            layer = made[call["shared"]]
        elif op == "dense":
            layer = L.Dense(call["units"], activation=call["activation"], name=name)
        elif op == "conv":
            layer = L.Conv2D(call["filters"], call["kernel"], padding=call["padding"],
                             activation=call["activation"], name=name)
        elif op == "pool":
            cls = L.MaxPooling2D if call["kind"] == "max" else L.AveragePooling2D
            layer = cls(2, padding=call["padding"], name=name)
        elif op == "flatten":
            layer = L.Flatten(name=name)
        elif op == "reshape":
            layer = L.Reshape(call["target"], name=name)
        elif op == "pad":
            layer = L.ZeroPadding2D(call["padding"], name=name)
        elif op == "crop":
            layer = L.Cropping2D(call["cropping"], name=name)
        elif op == "upsample":
            layer = L.UpSampling2D(call["size"], name=name)
        elif op == "permute":
            layer = L.Permute(call["dims"], name=name)
        elif op == "activation":
            layer = L.Activation(call["activation"], name=name)
        elif op == "merge":
            layer = getattr(L, call["kind"])(name=name)
        elif op == "concat":
            layer = L.Concatenate(name=name)
        if op == "arith":
            a, b = args
            out = {"a+b": lambda: a + b, "a*b": lambda: a * b,
                   "a-2b": lambda: a - 2.0 * b}[call["form"]]()
        else:
            made.setdefault(n, layer)
            out = layer(args if op in ("merge", "concat") else args[0])
        tensors.append(out)
    outputs = []
    for k, head in enumerate(spec["outputs"]):
        x = tensors[head["tensor"]]
        if head["image"]:
            x = L.Flatten(name=f"flat{k}")(x)
        outputs.append(L.Dense(head["units"], activation=head["activation"], name=f"out{k}")(x))
    model = K.Model(tensors[:len(spec["inputs"])], outputs, name="drawn")
    optimizer = {"sgd": lambda: K.optimizers.SGD(learning_rate=0.1),
                 "adam": lambda: K.optimizers.Adam(learning_rate=0.01),
                 "rmsprop": lambda: K.optimizers.RMSprop(learning_rate=0.01)}[spec["optimizer"]]
    weights = ([0.5 + k for k in range(len(outputs))] if spec["weights"] == "list" else None)
    model.compile(optimizer=optimizer(), loss=[h["loss"] for h in spec["outputs"]],
                  loss_weights=weights, jit_compile=False)
    return model


def graph_data(spec, n):
    rng = np.random.default_rng(spec["seed"])
    dtype = spec["dtype"]
    xs = [rng.standard_normal((n,) + s).astype(dtype) for s in spec["inputs"]]
    ys = []
    for head in spec["outputs"]:
        if head["loss"] == "mse":
            ys.append(rng.standard_normal((n, head["units"])).astype(dtype))
        elif head["loss"] == "binary_crossentropy":
            ys.append(rng.integers(0, 2, (n, head["units"])).astype(dtype))
        else:
            ys.append(rng.integers(0, head["units"], n))
    return xs, ys


def keras_loss_and_grads(twin, xs, ys):
    """Loss and dL/d(trainable weights) of the compiled twin, inside a tf.function as in fit
    (so a crossentropy after softmax/sigmoid starts from the logits)."""
    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            pred = twin(x, training=True)
            loss = twin.compute_loss(x=x, y=y, y_pred=pred, training=True)
        return loss, tape.gradient(loss, twin.trainable_weights)

    loss, grads = step([tf.constant(x) for x in xs], [tf.constant(y) for y in ys])
    return float(loss.numpy()), [g.numpy() for g in grads]


@given(spec=graphs())
def test_drawn_graphs_match_keras(spec):
    dtype, batch, steps = spec["dtype"], spec["batch"], spec["steps"]
    n = batch * steps
    xs, ys = graph_data(spec, n)
    with floatx_scope(dtype):
        sn.utils.set_random_seed(spec["seed"])
        model = build_graph(sn.keras, spec)
        twin = build_graph(keras, spec)
        assert [w.shape for w in model.get_weights()] == [w.shape for w in twin.get_weights()]
        twin.set_weights(model.get_weights())
        initial = model.get_weights()

        for k, (a, b) in enumerate(zip(_as_list(model.predict(xs, verbose=0)),
                                       _as_list(twin.predict(xs, verbose=0)))):
            check(a, b, dtype, f"predict output {k}", "predict")

        prepared, _, targets = model._prepare_xy(xs, ys, "test")
        loss, grads, _ = model._loss_and_grads([x[:batch] for x in prepared],
                                              [t[:batch] for t in targets])
        loss_k, grads_k = keras_loss_and_grads(twin, [x[:batch] for x in xs],
                                               [y[:batch] for y in ys])
        check(float(loss), loss_k, dtype, "loss", "loss")
        assert len(grads) == len(grads_k) == len(model.trainable_weights)
        for i, (g, gk) in enumerate(zip(grads, grads_k)):
            check(g, gk, dtype, f"dL/dweight[{i}]", "gradients")

        hs = model.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0).history
        hk = twin.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0).history
        assert set(hs) == set(hk), (sorted(hs), sorted(hk))
        for key in hk:
            check(hs[key], hk[key], dtype, f"History[{key!r}]", "History")
        try:
            for i, (a, b) in enumerate(zip(model.get_weights(), twin.get_weights())):
                check(a, b, dtype, f"weights[{i}] after {steps} steps", "weights")
        except AssertionError:
            if dtype != "float32":
                raise
            check_float32_weights_against_float64_truth(
                model, twin, lambda: build_graph(keras, {**spec, "dtype": "float64"}), initial,
                xs, ys, batch, 1)
            twin.set_weights(model.get_weights())
        es = model.evaluate(xs, ys, batch_size=batch, verbose=0, return_dict=True)
        ek = twin.evaluate(xs, ys, batch_size=batch, verbose=0, return_dict=True)
        assert set(es) == set(ek)
        for key in ek:
            check(es[key], ek[key], dtype, f"evaluate[{key!r}]", "evaluate")


def _as_list(outputs):
    return outputs if isinstance(outputs, list) else [outputs]
