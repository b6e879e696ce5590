"""`model.summary()`: the table Keras 3 prints — layer, output shape, parameter count."""

_WIDTHS = (33, 24, 15)


def _memory(num_bytes):
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024


def _shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def _row(cells, left, sep, right):
    name, shape, params = cells
    w0, w1, w2 = _WIDTHS
    return (f"{left} {name:<{w0 - 1}}{sep} {shape:<{w1 - 1}}{sep}{params:>{w2 - 1}} {right}")


def _rule(left, mid, right, fill):
    return left + mid.join(fill * w for w in _WIDTHS) + right


def format_summary(model):
    import numpy as np

    lines = [f'Model: "{model.name}"']
    lines.append(_rule("┏", "┳", "┓", "━"))
    lines.append(_row(("Layer (type)", "Output Shape", "Param #"), "┃", "┃", "┃"))
    lines.append(_rule("┡", "╇", "┩", "━"))
    layers = model.layers
    for i, layer in enumerate(layers):
        shape = _shape(layer.output_shape) if layer.output_shape else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        lines.append(_row((f"{layer.name} ({type(layer).__name__})", shape, params), "│", "│", "│"))
        if i < len(layers) - 1:
            lines.append(_rule("├", "┼", "┤", "─"))
    lines.append(_rule("└", "┴", "┘", "─"))
    itemsize = np.dtype(model.dtype or "float32").itemsize
    trainable = sum(w.size for w in model.trainable_weights)
    total = sum(w.size for w in model.weights)
    for label, count in (("Total", total), ("Trainable", trainable),
                         ("Non-trainable", total - trainable)):
        lines.append(f" {label} params: {count:,} ({_memory(count * itemsize)})")
    return "\n".join(lines)
