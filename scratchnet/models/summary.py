"""`model.summary()`: the table Keras 3 prints -- layer, output shape, parameter count (and,
for a graph that is not a plain chain, what each layer is connected to).

The layout is Keras's (rich) table on an 80-column terminal: columns 33, 24 and 15 characters
wide between the borders (21, 19, 12 and 19 with the "Connected to" column), one space of
padding each side. A cell longer than its column is wrapped the way rich wraps it: at spaces,
onto as many lines as needed, so 'average_pooling2d (AveragePooling2D)' becomes
'average_pooling2d' over '(AveragePooling2D)'; a single word wider than the column is cut and
ends in '…'. The columns never move.

Which rows: a Sequential model's layers; a Functional model's layers in graph order, its
InputLayers included; a subclassed model's layers in the order they were assigned, with the
output shape of their calls in the first run ('?' before it, or for a layer called on
different shapes). After training, the optimizer's variables are counted too, as in Keras.
"""
_WIDTHS = (33, 24, 15)
_WIDTHS_CONNECTED = (21, 19, 12, 19)
_ELLIPSIS = "…"


def _memory(num_bytes):
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024


def _shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def _shapes(shapes):
    return _shape(shapes[0]) if len(shapes) == 1 else "[" + ", ".join(map(_shape, shapes)) + "]"


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


def _row(cells, widths, edge, aligns):
    """One table row; several lines when a cell wraps (the others padded with blanks)."""
    columns = [_wrap(cell, w - 2) for cell, w in zip(cells, widths)]
    height = max(len(c) for c in columns)
    columns = [c + [""] * (height - len(c)) for c in columns]
    lines = []
    for parts in zip(*columns):
        cells = [f"{p:>{w - 2}}" if a == ">" else f"{p:<{w - 2}}"
                 for p, w, a in zip(parts, widths, aligns)]
        lines.append(f"{edge} " + f" {edge} ".join(cells) + f" {edge}")
    return "\n".join(lines)


def _rule(widths, left, mid, right, fill):
    return left + mid.join(fill * w for w in widths) + right


def _sequential_like(graph):
    """Keras's test: one node per depth, each with at most one input, no layer twice."""
    nodes = []
    for depth_nodes in graph.nodes_by_depth.values():
        if len(depth_nodes) > 1 or (len(depth_nodes) == 1
                                    and len(depth_nodes[0].input_tensors) > 1):
            return False
        nodes += depth_nodes
    ids = {id(n) for n in nodes}
    for layer in graph.layers:
        if sum(id(n) in ids for n in layer._inbound_nodes) > 1:
            return False
    return True


def _output_shape(model, layer):
    if layer._inbound_nodes:
        return _shapes([x.shape for x in layer._inbound_nodes[-1].outputs])
    traced = model._traced_shapes
    if traced is not None and layer in traced["layers"]:
        calls = traced["layers"][layer]
        if all(c == calls[0] for c in calls):
            return _shapes(calls[0])
    return "?"


def _connections(layer, relevant):
    parts = []
    for node in layer._inbound_nodes:
        if id(node) not in relevant:
            continue
        for x in node.input_tensors:
            inbound, node_index, tensor_index = x._keras_history
            parts.append(f"{inbound.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


def _optimizer_variables(model):
    optimizer = model.optimizer
    if not (model.compiled and optimizer is not None and optimizer.built):
        return 0, 0
    variables = optimizer.variables
    return (int(sum(v.size for v in variables)),
            int(sum(v.size * v.dtype.itemsize for v in variables)))


def format_summary(model):
    from scratchnet.models.sequential import Sequential

    graph = model._graph
    if isinstance(model, Sequential) or graph is None:
        layers, connected = model.layers, False
    else:
        layers, connected = list(graph.layers), not _sequential_like(graph)
    widths = _WIDTHS_CONNECTED if connected else _WIDTHS
    aligns = ("<", "<", ">", "<")[:len(widths)]
    relevant = ({id(n) for nodes in graph.nodes_by_depth.values() for n in nodes}
                if connected else set())
    header = ("Layer (type)", "Output Shape", "Param #", "Connected to")[:len(widths)]

    lines = [f'Model: "{model.name}"', _rule(widths, "┏", "┳", "┓", "━"),
             _row(header, widths, "┃", aligns), _rule(widths, "┡", "╇", "┩", "━")]
    for i, layer in enumerate(layers):
        kind = getattr(layer, "class_name", type(layer).__name__)
        built = layer.built or getattr(layer, "_keras_builds_at_init", False)
        params = f"{layer.count_params():,}" if built else "0 (unbuilt)"
        cells = [f"{layer.name} ({kind})", _output_shape(model, layer), params]
        if connected:
            cells.append(_connections(layer, relevant))
        lines.append(_row(cells, widths, "│", aligns))
        if i < len(layers) - 1:
            lines.append(_rule(widths, "├", "┼", "┤", "─"))
    lines.append(_rule(widths, "└", "┴", "┘", "─"))

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    counts = [int(sum(w.size for w in ws)) for ws in (trainable, non_trainable)]
    sizes = [int(sum(w.size * w.dtype.itemsize for w in ws)) for ws in (trainable, non_trainable)]
    opt_count, opt_size = _optimizer_variables(model)
    rows = [("Total", sum(counts) + opt_count, sum(sizes) + opt_size),
            ("Trainable", counts[0], sizes[0]), ("Non-trainable", counts[1], sizes[1])]
    if opt_count:
        rows.append(("Optimizer", opt_count, opt_size))
    for label, count, size in rows:
        lines.append(f" {label} params: {count:,} ({_memory(size)})")
    return "\n".join(lines)

