"""``prune-structured``: remove whole channels so the network is really smaller and faster.

The network is traced once with ``torch.export`` (through the plugin's 0–1 wrapper) and every
tensor's channel dimension is given an identity, a *space*. A conv's output starts a new space;
element-wise ops keep it; adding two tensors (a residual connection) merges their spaces, so all
convs that write into a residual stream are pruned with the same channel indices; a pixel shuffle
links its output space to its input in blocks of r², so a sub-pixel conv loses whole r² groups;
norm layers on a space are sliced with it. A space is skipped (left intact) when it reaches the
network's input or output, meets a per-channel constant, a concat, a reshape, a grouped conv or any
op this analysis does not know: pruning there would be unsafe.

Channels are ranked by the L1 norm of their filters in every producing conv plus their input
slices in every consuming conv (each normalised by the layer's mean), and ``--amount`` of each
prunable space is removed. ``--finetune-steps N`` then distils the pruned network towards the
original's outputs on random calibration crops through the shared trainer (:mod:`.finetune`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from genedit_core.sdk import get_bool, get_float, get_int

from ._wrap import ForwardModule, example_input, require_module
from .finetune import prepare, run_finetune
from .optimizing import Context, Outcome

_KEEP_SPACE = {
    "relu",
    "relu_",
    "leaky_relu",
    "leaky_relu_",
    "gelu",
    "sigmoid",
    "tanh",
    "silu",
    "silu_",
    "hardtanh",
    "hardtanh_",
    "elu",
    "elu_",
    "clone",
    "contiguous",
    "alias",
    "detach",
    "dropout",
    "dropout_",
    "_to_copy",
    "to",
    "pad",
    "constant_pad_nd",
    "reflection_pad2d",
    "replication_pad2d",
    "upsample_nearest2d",
    "upsample_bilinear2d",
    "upsample_bicubic2d",
    "max_pool2d",
    "avg_pool2d",
    "clamp",
    "clamp_",
    "hardswish",
    "mish",
    "softplus",
    "neg",
    "abs",
    "type_as",
}
_BINARY = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}
_NORMS = {"batch_norm", "_native_batch_norm_legit_no_training", "instance_norm"}


@dataclass
class Space:
    size: int
    producers: list[tuple[str, str]] = field(default_factory=list)  # (module, "conv"|"convt")
    consumers: list[tuple[str, str]] = field(default_factory=list)
    norms: list[str] = field(default_factory=list)
    unsafe: str | None = None


class _Spaces:
    def __init__(self) -> None:
        self.parent: list[int] = []
        self.info: list[Space] = []
        self.links: dict[int, tuple[int, int]] = {}  # pixel-shuffle output space -> (input space, r²)

    def new(self, size: int) -> int:
        self.parent.append(len(self.parent))
        self.info.append(Space(size))
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        sa, sb = self.info[ra], self.info[rb]
        self.parent[rb] = ra
        sa.producers += sb.producers
        sa.consumers += sb.consumers
        sa.norms += sb.norms
        sa.unsafe = sa.unsafe or sb.unsafe
        if sa.size != sb.size:
            sa.unsafe = sa.unsafe or "channel counts differ"
        return ra

    def mark(self, i: int | None, why: str) -> None:
        if i is not None:
            s = self.info[self.find(i)]
            s.unsafe = s.unsafe or why


def _op(node: Any) -> str:
    name = getattr(node.target, "__name__", str(node.target))
    return name.split(".")[0]


def _channels(node: Any) -> int | None:
    val = node.meta.get("val") if hasattr(node, "meta") else None
    shape = getattr(val, "shape", None)
    return int(shape[1]) if shape is not None and len(shape) >= 2 else None


def analyse(model: Any) -> tuple[_Spaces, dict[str, nn.Module]]:
    """Trace the model and return its channel spaces and the modules they name."""
    wrapper = ForwardModule(model).eval()
    h = max(32, model.min_size)
    x = example_input(model, h, h, batch=2).float()
    with torch.no_grad():
        program = torch.export.export(wrapper, (x,), strict=False)
    params = {k: v for k, v in program.graph_signature.inputs_to_parameters.items()}
    buffers = dict(program.graph_signature.inputs_to_buffers)
    spaces = _Spaces()
    space: dict[Any, int | None] = {}

    def module_of(node: Any) -> str | None:
        fqn = params.get(getattr(node, "name", None)) or buffers.get(getattr(node, "name", None))
        if fqn is None or not fqn.startswith("net."):
            return None
        return fqn[len("net.") :].rsplit(".", 1)[0]

    for node in program.graph.nodes:
        if node.op == "placeholder":
            if node.name in params or node.name in buffers:
                space[node] = None
            elif node.name in program.graph_signature.user_inputs:
                ch = _channels(node)
                space[node] = spaces.new(ch) if ch else None
                spaces.mark(space[node], "network input")
            else:
                space[node] = None  # lifted constants
            continue
        if node.op == "output":
            for arg in node.args[0] if isinstance(node.args[0], (tuple, list)) else [node.args[0]]:
                spaces.mark(space.get(arg), "network output")
            continue
        if node.op != "call_function":
            continue
        op = _op(node)
        args = list(node.args)
        tensor_args = [a for a in args if hasattr(a, "op")]
        if op in ("conv2d", "convolution", "conv_transpose2d"):
            inp, weight = args[0], args[1]
            name = module_of(weight)
            transposed = op == "conv_transpose2d" or (op == "convolution" and bool(args[6]))
            # conv2d(x, w, b, stride, padding, dilation, groups); conv_transpose2d(..., output_padding,
            # groups, dilation); convolution(..., dilation, transposed, output_padding, groups).
            at = 8 if op == "convolution" else 6
            groups = int(args[at]) if len(args) > at else int(node.kwargs.get("groups", 1))
            out_ch = _channels(node)
            out_space = spaces.new(out_ch) if out_ch else None
            space[node] = out_space
            in_space = space.get(inp)
            kind = "convt" if transposed else "conv"
            if name is None or groups != 1:
                spaces.mark(in_space, f"grouped or functional conv {name}")
                spaces.mark(out_space, f"grouped or functional conv {name}")
                continue
            if in_space is not None:
                spaces.info[spaces.find(in_space)].consumers.append((name, kind))
            if out_space is not None:
                spaces.info[out_space].producers.append((name, kind))
            continue
        if op in _NORMS:
            s = space.get(args[0])
            space[node] = s
            name = module_of(args[1]) if len(args) > 1 and hasattr(args[1], "op") else None
            if s is not None:
                if name is None:
                    spaces.mark(s, "norm without parameters")
                else:
                    spaces.info[spaces.find(s)].norms.append(name)
            continue
        if op == "getitem":
            space[node] = space.get(args[0]) if args[1] == 0 else None
            continue
        if op == "pixel_shuffle":
            s = space.get(args[0])
            ch = _channels(node)
            t = spaces.new(ch) if ch else None
            space[node] = t
            if s is None or t is None:
                spaces.mark(s, "pixel shuffle")
                spaces.mark(t, "pixel shuffle")
            else:
                spaces.links[t] = (s, int(args[1]) ** 2)
            continue
        if op in _KEEP_SPACE and tensor_args and tensor_args[0] is args[0]:
            space[node] = space.get(args[0])
            for a in tensor_args[1:]:
                spaces.mark(space.get(a), f"second tensor operand of {op}")
            continue
        if op in _BINARY and len(tensor_args) >= 1:
            spaced = [space.get(a) for a in tensor_args if space.get(a) is not None]
            consts = [a for a in tensor_args if space.get(a) is None]
            result = spaced[0] if spaced else None
            for other in spaced[1:]:
                result = spaces.union(result, other)
            for c in consts:
                ch = _channels(c)
                if ch not in (None, 1) and result is not None:
                    spaces.mark(result, f"per-channel constant in {op}")
            space[node] = result
            continue
        for a in tensor_args:
            spaces.mark(space.get(a), f"unsupported op {op}")
        space[node] = None
    modules = dict(require_module(model).named_modules())
    return spaces, modules


@dataclass
class Group:
    root: int
    size: int
    producers: list[tuple[str, str]]
    consumers: list[tuple[str, str]]
    norms: list[str]
    expand: tuple[int, int] | None = None  # (linked pixel-shuffle input root, r²)


def prunable_groups(spaces: _Spaces) -> tuple[list[Group], dict[str, str]]:
    """Groups that can lose channels, and the reason each other group was skipped."""
    roots = {spaces.find(i) for i in range(len(spaces.parent))}
    skipped: dict[str, str] = {}
    linked_inputs: dict[int, list[int]] = {}
    for t, (s, _r2) in spaces.links.items():
        linked_inputs.setdefault(spaces.find(s), []).append(spaces.find(t))
    groups = []
    for r in sorted(roots):
        info = spaces.info[r]
        label = ",".join(sorted({p for p, _ in info.producers})) or f"space{r}"
        if r in linked_inputs:
            continue  # pruned through its pixel-shuffle output
        if info.unsafe:
            skipped[label] = info.unsafe
            continue
        expand = None
        link = next(((s, r2) for t, (s, r2) in spaces.links.items() if spaces.find(t) == r), None)
        if link is not None:
            s_root = spaces.find(link[0])
            s_info = spaces.info[s_root]
            if s_info.unsafe or len(linked_inputs.get(s_root, [])) != 1 or not s_info.producers:
                skipped[label] = s_info.unsafe or "pixel-shuffle input shared or unprunable"
                continue
            expand = (s_root, link[1])
        elif not info.producers:
            skipped[label] = "no producing conv"
            continue
        groups.append(Group(r, info.size, info.producers, info.consumers, info.norms, expand))
    return groups, skipped


def _importance(group: Group, spaces: _Spaces, modules: dict[str, nn.Module]) -> torch.Tensor:
    def layer_score(name: str, kind: str, role: str, n: int, block: int = 1) -> torch.Tensor:
        w = modules[name].weight.detach().float()
        if kind == "convt":
            w = w.transpose(0, 1)
        dim = 0 if role == "producer" else 1
        per = w.abs().transpose(0, dim).reshape(w.shape[dim], -1).sum(1)
        per = per / per.mean().clamp_min(1e-12)
        return per.reshape(n, block).sum(1)

    score = torch.zeros(group.size)
    for name, kind in group.producers:
        score += layer_score(name, kind, "producer", group.size)
    for name, kind in group.consumers:
        score += layer_score(name, kind, "consumer", group.size)
    if group.expand is not None:
        s_info = spaces.info[group.expand[0]]
        for name, kind in s_info.producers:
            score += layer_score(name, kind, "producer", group.size, group.expand[1])
        for name, kind in s_info.consumers:
            score += layer_score(name, kind, "consumer", group.size, group.expand[1])
    return score


def prune_channels(
    model: Any, amount: float, residual: bool = True
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Slice every prunable group in place; returns the surgery ops and a per-group report.

    ``residual=False`` leaves groups written by several convs (residual streams) intact: they carry
    the most information, so pruning only block-internal channels costs far less quality.
    """
    spaces, modules = analyse(model)
    groups, skipped = prunable_groups(spaces)
    if not residual:
        for g in [g for g in groups if len({p for p, _ in g.producers}) > 1]:
            skipped[",".join(sorted({p for p, _ in g.producers}))] = "residual stream (--residual false)"
            groups.remove(g)
    keep_in: dict[str, torch.Tensor] = {}
    keep_out: dict[str, torch.Tensor] = {}
    keep_norm: dict[str, torch.Tensor] = {}
    pruned: dict[str, str] = {}
    claimed: dict[str, int] = {}
    for g in groups:
        n_keep = max(1, g.size - int(amount * g.size))
        if n_keep == g.size:
            continue
        keep = torch.sort(torch.topk(_importance(g, spaces, modules), n_keep).indices).values
        members = [(g, keep, g.producers, g.consumers, g.norms)]
        if g.expand is not None:
            s_root, r2 = g.expand
            info = spaces.info[s_root]
            wide = (keep[:, None] * r2 + torch.arange(r2)[None]).reshape(-1)
            members.append((g, wide, info.producers, info.consumers, info.norms))
        conflict = False
        for _, _idx, prods, cons, _norms in members:
            for name, _k in prods:
                conflict |= name in keep_out or claimed.get(name, g.root) != g.root
            for name, _k in cons:
                conflict |= name in keep_in
        if conflict:
            skipped[",".join(p for p, _ in g.producers)] = "a conv is shared between groups"
            continue
        for _, idx, prods, cons, norms in members:
            for name, _k in prods:
                keep_out[name] = idx
                claimed[name] = g.root
            for name, _k in cons:
                keep_in[name] = idx
            for name in norms:
                keep_norm[name] = idx
        label = ",".join(sorted({p for p, _ in g.producers}))
        if g.expand is not None:
            shuffled = ",".join(sorted({p for p, _ in spaces.info[g.expand[0]].producers}))
            label = f"{shuffled} (pixel shuffle, r²={g.expand[1]})"
        pruned[label] = f"{g.size} -> {n_keep}"
    ops = _slice(modules, keep_in, keep_out, keep_norm)
    return ops, {"pruned_groups": pruned, "skipped_groups": skipped}


def _slice(
    modules: dict[str, nn.Module],
    keep_in: dict[str, torch.Tensor],
    keep_out: dict[str, torch.Tensor],
    keep_norm: dict[str, torch.Tensor],
) -> list[dict[str, Any]]:
    ops = []
    with torch.no_grad():
        for name in sorted(set(keep_in) | set(keep_out)):
            conv = modules[name]
            w = conv.weight.detach()
            transposed = isinstance(conv, nn.ConvTranspose2d)
            out_dim, in_dim = (1, 0) if transposed else (0, 1)
            if name in keep_out:
                w = w.index_select(out_dim, keep_out[name].to(w.device))
            if name in keep_in:
                w = w.index_select(in_dim, keep_in[name].to(w.device))
            conv.weight = nn.Parameter(w.contiguous())
            if conv.bias is not None and name in keep_out:
                conv.bias = nn.Parameter(conv.bias.detach()[keep_out[name].to(w.device)].contiguous())
            cin, cout = (w.shape[1], w.shape[0]) if not transposed else (w.shape[0], w.shape[1])
            conv.in_channels, conv.out_channels = int(cin), int(cout)
            ops.append({"op": "conv", "name": name, "in": int(cin), "out": int(cout)})
        for name, idx in sorted(keep_norm.items()):
            norm = modules[name]
            for attr in ("weight", "bias"):
                p = getattr(norm, attr, None)
                if p is not None:
                    setattr(norm, attr, nn.Parameter(p.detach()[idx.to(p.device)].contiguous()))
            for attr in ("running_mean", "running_var"):
                b = getattr(norm, attr, None)
                if b is not None:
                    setattr(norm, attr, b[idx.to(b.device)].contiguous())
            norm.num_features = len(idx)
            ops.append({"op": "norm", "name": name, "features": len(idx)})
    return ops


def apply(model: Any, ctx: Context) -> Outcome:
    require_module(model)
    amount = get_float(ctx.params, "amount", 0.5, lo=0.0, hi=0.95)
    steps = get_int(ctx.params, "finetune_steps", 0, lo=0)
    lr = get_float(ctx.params, "lr", 1e-4, lo=0.0)
    probe = example_input(model, 24, 24, seed=7)
    with torch.no_grad():
        shape_before = tuple(model.forward(probe).shape)
    pairs = prepare(model, ctx, steps)
    ops, details = prune_channels(model, amount, residual=get_bool(ctx.params, "residual", True))
    if not ops:
        details["note"] = "nothing was prunable at this amount; the model is unchanged"
    with torch.no_grad():
        shape_after = tuple(model.forward(probe).shape)
    if shape_after != shape_before:
        raise RuntimeError(f"structured pruning changed the output shape {shape_before} -> {shape_after}")
    if steps:
        details["finetune"] = run_finetune(model, pairs, ctx, steps, lr)
    details["amount"] = amount
    return Outcome(
        forward=model.forward, details=details, recipe={"surgery": ops, "amount": amount}, transform=True
    )
