"""`tf.function` and TensorFlow 1's graph mode, in a library that has no graphs.

TensorFlow 2 runs operations eagerly, one after the other, as Python does; `@tf.function`
traces a Python function into a graph that TensorFlow can optimize and run faster. scratchnet
has no graphs: every operation is NumPy (or a Numba kernel) run right away. So `tf.function`
here returns the function itself, run eagerly -- the numbers are the same ones the traced
function computes, only the speed differs. (Python side effects such as `print` run on every
call here; in TensorFlow they run once, while tracing.)

TensorFlow 1 code builds a graph first and runs it in a Session:

    x = tf.compat.v1.placeholder(tf.float32, shape=(None, 1))    # TF1
    with tf.compat.v1.Session() as sess: sess.run(z, feed_dict={x: ...})

That style has no meaning without graphs, so each of its entry points raises one
TF1GraphModeError that says so and shows the TensorFlow 2 way, which the same lectures teach
right after (Python ML ch. 13: "TF1 vs TF2"):

    x = tf.constant([[1.0]])           # values, not placeholders
    z = w * x + b                      # computed at once
    print(z.numpy())
"""
import functools

_TF2_WAY = ("scratchnet runs TensorFlow 2's eager style only: write the computation with "
            "values (tf.constant / NumPy arrays, tf.Variable for weights) and read results "
            "directly (`z.numpy()` or the array itself) -- no placeholders, no Session.run.")


class TF1GraphModeError(RuntimeError):
    """TensorFlow 1 graph-mode code (placeholders, Sessions, Graphs) was called."""


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_compile=None, **kwargs):
    """`@tf.function` / `tf.function(f, ...)`: f itself, run eagerly (see the module
    docstring). The arguments TensorFlow's tracing takes are accepted and have no effect."""
    def wrap(f):
        if not callable(f):
            raise TypeError(f"tf.function: expected a function to wrap, received {f!r}")

        @functools.wraps(f)
        def eager(*args, **call_kwargs):
            return f(*args, **call_kwargs)

        eager.python_function = f          # as TensorFlow's Function exposes it
        return eager

    return wrap if func is None else wrap(func)


def _graph_mode(name):
    def refuse(*args, **kwargs):
        raise TF1GraphModeError(f"tf.{name}: this is TensorFlow 1 graph mode. {_TF2_WAY}")

    refuse.__name__ = name.rsplit(".", 1)[-1]
    return refuse


class _Logging:
    """`tf.compat.v1.logging`: course code silences TensorFlow's log with
    `tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)`; scratchnet logs
    nothing, so this does nothing."""
    DEBUG, INFO, WARN, WARNING, ERROR, FATAL = 10, 20, 30, 30, 40, 50

    @staticmethod
    def set_verbosity(level):
        return None


class _CompatV1:
    """`tf.compat.v1`: its logging switch and seed work; the TF1 graph-mode API (everything
    else) refuses with one clear error."""

    logging = _Logging()

    @staticmethod
    def enable_eager_execution(*args, **kwargs):
        return None                      # scratchnet is always eager

    @staticmethod
    def set_random_seed(seed):
        from scratchnet.backend import set_random_seed

        set_random_seed(seed)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _graph_mode(f"compat.v1.{name}")


class _Compat:
    v1 = _CompatV1()


compat = _Compat()
# the same entry points under their TF1 top-level names (`tf.Session()`, `tf.placeholder`)
Session = _graph_mode("Session")
InteractiveSession = _graph_mode("InteractiveSession")
Graph = _graph_mode("Graph")
placeholder = _graph_mode("placeholder")
global_variables_initializer = _graph_mode("global_variables_initializer")
get_default_graph = _graph_mode("get_default_graph")
reset_default_graph = _graph_mode("reset_default_graph")
disable_eager_execution = _graph_mode("disable_eager_execution")

__all__ = ["function", "compat", "TF1GraphModeError", "Session", "InteractiveSession", "Graph",
           "placeholder", "global_variables_initializer", "get_default_graph",
           "reset_default_graph", "disable_eager_execution"]
