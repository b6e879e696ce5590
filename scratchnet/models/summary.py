"""`model.summary()`: the table Keras 3 prints — layer, output shape, parameter count.

The layout is Keras's (rich) table on an 80-column terminal: columns 33, 24 and 15 characters
wide between the borders, one space of padding each side. A cell longer than its column is
wrapped the way rich wraps it: at spaces, onto as many lines as needed, so
'average_pooling2d (AveragePooling2D)' becomes 'average_pooling2d' over '(AveragePooling2D)';
a single word wider than the column is cut and ends in '…'. The columns never move.
"""

_WIDTHS = (33, 24, 15)
_ELLIPSIS = "…"


def _memory(num_bytes):
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024


def _shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def _wrap(text, width):
    """`text` as lines of at most `width` characters: rich's word wrap, overflow='ellipsis'."""
    lines, line = [], ""
    for word in text.split():
        if len(word) > width:
            word = word[:width - 1] + _ELLIPSIS
        if line and len(line) + 1 + len(word) <= width:
            line += " " + word
            continue
        if line:
            lines.append(line)
        line = word
    lines.append(line)
    return lines


def _row(cells, left, sep, right):
    """One table row; several lines when a cell wraps (the others padded with blanks)."""
    w0, w1, w2 = _WIDTHS
    name, shape, params = (_wrap(cell, w - 2) for cell, w in zip(cells, _WIDTHS))
    height = max(len(name), len(shape), len(params))
    name, shape, params = (col + [""] * (height - len(col)) for col in (name, shape, params))
    return "\n".join(f"{left} {a:<{w0 - 2}} {sep} {b:<{w1 - 2}} {sep} {c:>{w2 - 2}} {right}"
                     for a, b, c in zip(name, shape, params))


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
