"""Running a graph of layer calls forward, and backpropagating through it in reverse.

A `Plan` is a Functional model's graph (engine/symbolic.py) laid out to run: every tensor
gets a slot number, every layer call becomes a `Step` (layer, input slots, output slots), in
Keras's execution order (deepest nodes first). Then:

forward -- run the steps in order; each step reads its inputs' slots, calls
    `y, cache = layer.forward(x, training)` and writes y into its output slot. The caches
    are kept, one per step (one per CALL: a layer called twice has two steps, two caches).

backward -- run the steps in reverse; each step takes dL/dy from its output slot and calls
    `dx = layer.backward(dy, cache)`, which also adds this call's share to the layer's
    weight gradients. dL/dx is ADDED into the input slot: a tensor that feeds several
    layers (fan-out) receives the sum of their gradients, as the chain rule says
    (dL/dx = sum over the paths from x to the loss). A step whose outputs received no
    gradient is skipped; a step whose inputs need no gradient (nothing before it has
    trainable weights) is told so (`need_input_grad=False`) and skips computing dL/dx.

Fusion is a rewrite of the steps: a Conv2D whose output feeds only a MaxPooling2D (and is
not a model output) runs the pool inside its own pass (`Conv2D.fuses_with`), so the full
conv output is never written to memory. The rewritten plan is made once per mode (training
or not); each fused step checks `fuses_with` again when it runs and falls back to the two
plain calls when something changed (e.g. `conv.implementation = 'naive'`).

Buffers: each step runs with its own workspace (engine/workspace.py) active, a child of the
caller's, so a step gets back its own arrays step after step; the model's outputs are made
fresh (`fresh_outputs`) where the caller keeps them.
"""
import numpy as np

from scratchnet.engine import context, workspace
from scratchnet.layers.base import trainable_version


class Step:
    """One layer call of the plan (or a fused Conv2D + MaxPooling2D pair)."""

    __slots__ = ("layer", "pool", "inputs", "outputs", "structure", "key", "is_output",
                 "multi")

    def __init__(self, layer, inputs, outputs, structure, key, is_output, multi, pool=None):
        self.layer, self.pool = layer, pool
        self.inputs, self.outputs = inputs, outputs
        self.structure, self.key = structure, key
        self.is_output, self.multi = is_output, multi

    def __repr__(self):
        fused = f"+{self.pool.name}" if self.pool is not None else ""
        return f"<Step {self.layer.name}{fused} {self.inputs}->{self.outputs}>"


class Plan:
    def __init__(self, inputs, outputs, nodes_by_depth):
        slot_of = {}

        def slot(tensor):
            key = id(tensor)
            if key not in slot_of:
                slot_of[key] = len(slot_of)
            return slot_of[key]

        self.input_slots = [slot(x) for x in inputs]
        output_ids = {id(x) for x in outputs}
        steps = []
        for depth in sorted(nodes_by_depth, reverse=True):
            for node in nodes_by_depth[depth]:
                if node.is_input:
                    continue
                ins = [slot(x) for x in node.input_tensors]
                outs = [slot(x) for x in node.outputs]
                is_output = any(id(x) in output_ids for x in node.outputs)
                steps.append(Step(node.layer, ins, outs, node.structure, len(steps),
                                  is_output, node.multi))
        self.output_slots = [slot(x) for x in outputs]
        self.num_slots = len(slot_of)
        self.steps = steps
        self._fused = {}                    # training -> steps
        self._producers = {}                # training -> output_producers
        self._need_dx = {}
        self._workspaces = {}

    # ---- the fusion rewrite ----------------------------------------------------------
    def steps_for(self, training):
        """The steps to run in this mode: Conv2D + MaxPooling2D pairs fused where they can be."""
        training = bool(training)
        steps = self._fused.get(training)
        if steps is None:
            steps = self._fused[training] = self._fuse(training)
        return steps

    def _fuse(self, training):
        consumers = {}
        for step in self.steps:
            for s in step.inputs:
                consumers.setdefault(s, []).append(step)
        outputs = set(self.output_slots)
        fused_into = {}                     # id(pool step) -> fused step
        dropped = set()
        for step in self.steps:
            if step.multi or step.structure != "one" or len(step.outputs) != 1:
                continue
            out = step.outputs[0]
            users = consumers.get(out, [])
            if out in outputs or len(users) != 1:
                continue
            pool = users[0]
            if (pool.structure != "one" or pool.multi
                    or step.layer.activity_regularizer is not None
                    or pool.layer.activity_regularizer is not None
                    or not step.layer.fuses_with(pool.layer, training)):
                continue
            fused_into[id(pool)] = Step(step.layer, step.inputs, pool.outputs, "one",
                                        ("fused", step.key, pool.key), pool.is_output, False,
                                        pool=pool.layer)
            dropped.add(id(step))
        return [fused_into.get(id(step), step) for step in self.steps
                if id(step) not in dropped]

    def output_producers(self, training):
        """Per model output: the index of the step (in `steps_for(training)`) that made it,
        when that step is a plain single-output call of a layer ending in softmax/sigmoid and
        nothing else uses the output (a crossentropy may then start from the step's logits);
        else None."""
        key = bool(training)
        found = self._producers.get(key)
        if found is None:
            steps = self.steps_for(training)
            used = {s for step in steps for s in step.inputs}
            found = []
            for s in self.output_slots:
                k = next((k for k, step in enumerate(steps) if s in step.outputs), None)
                ok = (k is not None and steps[k].pool is None and not steps[k].multi
                      and s not in used and self.output_slots.count(s) == 1
                      and steps[k].layer.activity_regularizer is None
                      and steps[k].layer._logits_kind() is not None)
                found.append(k if ok else None)
            self._producers[key] = found
        return found

    # ---- which steps need dL/dx -------------------------------------------------------
    def need_dx(self, steps, need_input_grad):
        """Per step: does any of its inputs need a gradient? An input does when it is a
        model input whose gradient the caller wants, or comes from a step that has trainable
        weights or itself needs dL/dx. (Read from the layers' `trainable` now.)"""
        key = (id(steps), bool(need_input_grad))
        version = trainable_version[0]
        found = self._need_dx.get(key)
        if found is None or found[0] != version:
            requires = [False] * self.num_slots
            if need_input_grad:
                for s in self.input_slots:
                    requires[s] = True
            flags = []
            for step in steps:
                need = any(requires[s] for s in step.inputs)
                flags.append(need)
                if need or step.layer._has_trainable_weights() or (
                        step.pool is not None and step.pool._has_trainable_weights()):
                    for s in step.outputs:
                        requires[s] = True
            found = self._need_dx[key] = (version, flags)
        return found[1]

    def _step_workspaces(self, steps, root, fresh_outputs):
        """Each step's workspace under `root` (None for all when there is no root, and for
        the steps that make the outputs when they must be fresh)."""
        if root is None:
            return [None] * len(steps)
        key = (id(steps), id(root), fresh_outputs)
        found = self._workspaces.get(key)
        if found is None or found[0] is not root:
            found = self._workspaces[key] = (root, [_step_workspace(s, root, fresh_outputs)
                                                    for s in steps])
        return found[1]

    # ---- running ----------------------------------------------------------------------
    def forward(self, xs, training, root=None, fresh_outputs=True):
        """Run the plan on the input arrays `xs`. Returns the state backward needs:
        (values by slot, caches by step, steps, root, fresh_outputs)."""
        values = [None] * self.num_slots
        for s, x in zip(self.input_slots, xs):
            values[s] = x
        steps = self.steps_for(training)
        caches = [None] * len(steps)
        for k, (step, ws) in enumerate(zip(steps, self._step_workspaces(steps, root,
                                                                          fresh_outputs))):
            previous = workspace.activate(ws)
            try:
                x = (values[step.inputs[0]] if step.structure == "one"
                     else [values[s] for s in step.inputs])
                if step.pool is None:
                    y, caches[k] = step.layer.forward(x, training=training)
                else:
                    y, caches[k] = _forward_fused(step, x, training, ws)
            finally:
                workspace.activate(previous)
            if step.multi:
                for s, v in zip(step.outputs, y):
                    values[s] = v
            else:
                values[step.outputs[0]] = y
                if step.layer.activity_regularizer is not None:   # R(y) joins the loss
                    context.add_loss(step.layer._activity_loss(y))
        return values, caches, steps, root, fresh_outputs

    def outputs(self, state):
        """The model's outputs of a forward pass. With fresh outputs, an output that is a
        view into an array a step reuses (a Flatten at the end) is copied."""
        values, _, steps, root, fresh_outputs = state
        outs = [values[s] for s in self.output_slots]
        if fresh_outputs and root is not None and any(o.base is not None for o in outs):
            reused = [values[s] for step in steps if not step.is_output for s in step.outputs]
            outs = [o.copy() if o.base is not None and any(
                np.may_share_memory(o, v) for v in reused) else o for o in outs]
        return outs

    def backward(self, state, output_grads, need_input_grad=False, logits_outputs=()):
        """dL/d(inputs) (None where not needed) from dL/d(outputs) (None: no loss on it).
        `logits_outputs`: output positions whose gradient is dL/dz of the producing layer's
        final softmax/sigmoid (a crossentropy fused with it, see losses.py): there the
        layer's `backward_from_logits` runs."""
        values, caches, steps, root, fresh_outputs = state
        grads = [None] * self.num_slots
        from_logits = set()
        for position, (s, g) in enumerate(zip(self.output_slots, output_grads)):
            if g is None:
                continue
            grads[s] = g if grads[s] is None else grads[s] + g
            if position in logits_outputs:
                from_logits.add(s)
        flags = self.need_dx(steps, need_input_grad)
        workspaces = self._step_workspaces(steps, root, fresh_outputs)
        for k in range(len(steps) - 1, -1, -1):
            step = steps[k]
            outs = step.outputs
            if step.multi:
                dys = [grads[s] for s in outs]
                if all(d is None for d in dys):
                    continue
                dy = [d if d is not None else np.zeros_like(values[s])
                      for d, s in zip(dys, outs)]
                for s in outs:
                    grads[s] = None
            else:
                dy = grads[outs[0]]
                if step.layer.activity_regularizer is not None:   # + dR(y)/dy
                    dy = step.layer._activity_grad(values[outs[0]], dy)
                if dy is None:
                    continue
                grads[outs[0]] = None
            need = flags[k]
            ws = workspaces[k]
            previous = workspace.activate(ws)
            try:
                if step.pool is not None:
                    dx = _backward_fused(step, dy, caches[k], need, ws)
                elif from_logits and outs[0] in from_logits:
                    dx = step.layer.backward_from_logits(dy, caches[k], need_input_grad=need)
                else:
                    dx = step.layer.backward(dy, caches[k], need_input_grad=need)
            finally:
                workspace.activate(previous)
            caches[k] = None                  # done with it: its arrays can go
            if not need:
                continue
            if step.structure == "one":
                s = step.inputs[0]
                if dx is not None:
                    grads[s] = dx if grads[s] is None else grads[s] + dx
                continue
            for s, g in zip(step.inputs, dx):
                if g is not None:
                    grads[s] = g if grads[s] is None else grads[s] + g
        return [grads[s] for s in self.input_slots]


def _step_workspace(step, root, fresh_outputs):
    if root is None or (fresh_outputs and step.is_output):
        return None
    return root.child(step.key)


def _forward_fused(step, x, training, ws):
    conv, pool = step.layer, step.pool
    if conv.fuses_with(pool, training):
        y, cache = conv.forward_fused(x, pool, training)
        return y, ("fused", cache)
    # something changed since the plan was made: the two calls, each with its workspace
    workspace.activate(None if ws is None else ws.child("conv"))
    z, conv_cache = conv.forward(x, training=training)
    workspace.activate(None if ws is None else ws.child("pool"))
    y, pool_cache = pool.forward(z, training=training)
    return y, ("plain", conv_cache, pool_cache)


def _backward_fused(step, dy, cache, need, ws):
    conv, pool = step.layer, step.pool
    if cache[0] == "fused":
        return conv.backward_fused(dy, cache[1], pool, need_input_grad=need)
    _, conv_cache, pool_cache = cache
    workspace.activate(None if ws is None else ws.child("pool"))
    dz = pool.backward(dy, pool_cache)
    workspace.activate(None if ws is None else ws.child("conv"))
    return conv.backward(dz, conv_cache, need_input_grad=need)
