"""Datasets as `keras.datasets` provides them: `mnist.load_data()`, `fashion_mnist.load_data()`.

Both return `((x_train, y_train), (x_test, y_test))` as uint8 NumPy arrays, exactly as
Keras does, but work offline too: each module's docstring lists the sources tried, in
order. Converted arrays are cached under scratchnet's own file names (see `cache`).
`prepare_all()` fills the cache ahead of time (the `scratchnet data fetch` command).

`image_folders` prepares the lectures' image-folder datasets (horse-or-human, rps) as class
folders on disk; `prepare_image_folders()` makes them all ready (see that module).
"""
from . import fashion_mnist, image_folders, mnist
from .cache import DatasetUnavailableError, data_dir
from .image_folders import prepare_all as prepare_image_folders

__all__ = ["mnist", "fashion_mnist", "image_folders", "prepare_all", "prepare_image_folders",
           "data_dir", "DatasetUnavailableError"]


def prepare_all(verbose=True):
    """Make sure MNIST and Fashion-MNIST are both cached; returns {name: cache path}.

    Raises DatasetUnavailableError (naming the commands that fix it) for a dataset that
    no source can provide, after trying every dataset.
    """
    paths, errors = {}, []
    for name, module in (("mnist", mnist), ("fashion_mnist", fashion_mnist)):
        try:
            paths[name] = module.prepare(verbose)
        except DatasetUnavailableError as e:
            errors.append(f"{name}: {e}")
            continue
        if verbose:
            print(f"{name}: {paths[name]}")
    if errors:
        raise DatasetUnavailableError("\n\n".join(errors))
    return paths
