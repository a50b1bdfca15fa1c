"""Load a spec (file, built-in name or dict), validate every field, and normalise it.

Every problem raises SpecError with the path of the field (``layers[1].weights``) so the command
line can print one line and exit 2. Nothing here imports numpy: a spec is checked before any
array is made, so an absurd size is refused at once instead of after an out-of-memory kill.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Mapping

from . import titles
from .errors import SpecError
from .fields import choice, integer, list_of, number, require, short, table, text, type_name, vector
from .names import split_neuron
from .ops import ACTIVATIONS, LOSSES, OPTIMIZERS
from .valueclass import FrozenFields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# plain strings: a run of a built-in loads no pathlib (with urllib.parse and ipaddress, which it
# loads, nearly a tenth of a json run)
EXAMPLES_DIR = os.path.join(os.path.dirname(__file__), "examples")
# every built-in example as parsed, one JSON object by name: a run of one reads no TOML, and
# Python's TOML parser costs more to load (its patterns compile at import) than the run spends
# on the example itself. The TOML files stay what users read and copy; a test keeps the two equal.
EXAMPLES_PARSED = os.path.join(EXAMPLES_DIR, "parsed.json")

MAX_SPREAD = 100.0  # vary.spread: numbers drawn further than this from the spec's are no exercise
MAX_VARY = 1e6  # the ends of a vary range
MAX_LAYERS = 64  # a worked example of more is no longer read; each layer adds pages to the report
MAX_LAYER_SIZE = 1_000_000  # beyond this a layer is a typo, not a teaching network
MAX_PARAMS = 5_000_000  # the default limit; limits=False lifts it
MAX_FILE_BYTES = 64 * 1024 * 1024

TOP_KEYS = (
    "title",
    "learning_rate",
    "loss",
    "loss_options",
    "iterations",
    "mode",
    "batch_size",
    "batch_reduction",
    "optimizer",
    "update_biases",
    "hidden_delta_weights",
    "rounding",
    "dtype",
    "record_input_gradients",
    "derive",
    "init",
    "layers",
    "samples",
    "vary",
)
INPUT_LAYER_KEYS = ("name", "size")
LAYER_KEYS = ("name", "size", "activation", "weights", "bias")
INIT_KEYS = ("method", "seed")
INIT_METHODS = ("uniform", "xavier", "he")
SAMPLE_KEYS = ("input", "target")
VARY_KEYS = ("spread", "decimals", "weights", "biases", "inputs", "targets")
VARY_GROUPS = ("weights", "biases", "inputs", "targets")
MODES = ("online", "batch")
BATCH_REDUCTIONS = ("mean", "sum")
DTYPES = ("float64", "float32")
LOSS_OPTION_KEYS = ("reduction",)
HIDDEN_DELTA = ("original", "updated")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,11}")
_RESERVED = re.compile(r"[wb]\d*")  # w5 and b1 name a weight and a shared bias
_ROUNDING = re.compile(r"exact|(?:hand|sig):([0-9]{1,2})", re.ASCII)


class Spec(FrozenFields):
    """A validated spec.

    ``data`` is the normalised form with every weight explicit; ``to_dict()`` is what a trace
    stores: the same, except that weights drawn from ``init`` are left out (the seed redraws them
    exactly), so a large network's trace does not carry its initial weights twice.
    """

    data: dict[str, Any]
    source: str
    drawn: tuple[int, ...]  # layers whose weights came from init
    _fields = ("data", "source", "drawn")

    def __init__(self, data: dict[str, Any], source: str, drawn: tuple[int, ...] = ()) -> None:
        self._set(data=data, source=source, drawn=drawn)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def rounding_mode(self) -> str | None:
        """ "hand:N" or "sig:N" when values are carried rounded, else None."""
        r: str = self.data["rounding"]
        return None if r == "exact" else r

    def to_dict(self) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(portable(self.data, self.drawn)))
        return copy


def portable(full: dict[str, Any], drawn: tuple[int, ...]) -> dict[str, Any]:
    """The normalised spec without the weights that init redraws exactly."""
    d = dict(full)
    d["layers"] = [
        {k: val for k, val in layer.items() if not (k == "weights" and idx in drawn)}
        for idx, layer in enumerate(full["layers"])
    ]
    return d


# ---------------------------------------------------------------- reading


def example_names() -> list[str]:
    return sorted(n.removesuffix(".toml") for n in os.listdir(EXAMPLES_DIR) if n.endswith(".toml") and n[0] != ".")


def example_data(name: str) -> Any:
    """A built-in example as its TOML file parses."""
    with open(EXAMPLES_PARSED, encoding="utf-8") as f:
        return json.loads(f.read())[name]


def example_text(name: str) -> str:
    # a name, never a path: only the files the package ships are read
    if name not in example_names():
        raise SpecError(f"no built-in example {short(name)!r} (built-ins: {', '.join(example_names())})")
    with open(os.path.join(EXAMPLES_DIR, f"{name}.toml"), encoding="utf-8") as f:
        return f.read()


def read_document(path: Path, source: str) -> Any:
    """A TOML or JSON file as plain data; every way it can be unreadable is a SpecError."""
    return parse_text(read_limited(path, source, MAX_FILE_BYTES), source, path.suffix.lower())


def read_limited(path: Path, source: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. A FIFO would block until a writer
    came, and a device such as /dev/zero never ends, so only a regular file is read, and never
    more than the limit, whatever its size claims."""
    try:
        if path.is_dir():
            raise SpecError("is a folder, not a file", source=source)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SpecError("not a regular file (a pipe or a device is not read)", source=source)
            raw = f.read(limit + 1)
    except OSError as e:
        raise SpecError(f"cannot read: {e.strerror or e}", source=source) from None
    if len(raw) > limit:
        raise SpecError(f"file is too large (over {limit:,} bytes)", source=source)
    return raw


def parse_text(raw: bytes, source: str, suffix: str = "") -> Any:
    if not raw.strip():
        raise SpecError("file is empty", source=source)
    if b"\x00" in raw:
        raise SpecError("not a text file (contains NUL bytes)", source=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text (bad byte at offset {e.start})", source=source) from None
    as_json = suffix == ".json" or (suffix != ".toml" and text.lstrip()[:1] in "{[")
    try:
        return _parse_json(text, source) if as_json else _parse_toml(text, source)
    except RecursionError:
        raise SpecError("nesting is too deep to be a spec", source=source) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, val in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = val
    return out


def _parse_json(text: str, source: str) -> Any:
    try:
        # NaN and Infinity parse as floats so the field check can name where they are
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise SpecError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", source=source) from None
    except ValueError as e:
        raise SpecError(f"invalid JSON: {number_too_long(e)}", source=source) from None


def number_too_long(e: ValueError) -> str:
    """Python's refusal of a huge integer, said without its advice to raise the limit."""
    msg = str(e)
    if "int_max_str_digits" in msg or "integer string conversion" in msg:
        return "a number of more than 4300 digits"
    return short(msg, 80)


def _parse_toml(text: str, source: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            what = msg[: m.start()].strip()
            raise SpecError(f"invalid TOML at line {m.group(1)}, column {m.group(2)}: {what}", source=source) from None
        raise SpecError(f"invalid TOML: {msg}", source=source) from None
    except ValueError as e:  # an integer of more digits than Python converts
        raise SpecError(f"invalid TOML: {number_too_long(e)}", source=source) from None


if TYPE_CHECKING:
    SpecSource = str | os.PathLike[str] | Mapping[str, Any] | Spec  # what load_spec() and trace() take


def load_spec(
    source: SpecSource = "article",
    *,
    limits: bool = True,
    **overrides: Any,
) -> Spec:
    """A validated Spec from a built-in name, a TOML/JSON path (str or os.PathLike), a dict, or a Spec.

    Keyword overrides replace top-level keys (``iterations=10000``) before validation.
    """
    if isinstance(source, Spec):
        if not overrides or all(val is None for val in overrides.values()):
            return source
        data: Any = source.to_dict()
        name = source.source
    elif isinstance(source, Mapping):
        data, name = dict(source), "<dict>"
    else:
        text = os.fspath(source)
        # a file of a built-in's name comes first
        if os.path.exists(text) or text not in example_names():
            data, name = _read_file(text), text
        else:
            data, name = example_data(text), text
    if overrides:
        if not isinstance(data, dict):
            raise SpecError("a spec must be a table (TOML) or an object (JSON)", source=name)
        data = {**data, **{k: val for k, val in overrides.items() if val is not None}}
    try:
        full, drawn = normalise_full(data, limits=limits)
        return Spec(full, name, drawn)
    except SpecError as e:
        raise e.at(name) from None


def _read_file(text: str) -> Any:
    """The spec in a file, or the spec a trace.json ran."""
    from pathlib import Path

    path = Path(text)
    if not path.exists():
        known = ", ".join(example_names())
        raise SpecError(f"no such file, and no built-in example of that name (built-ins: {known})", source=text)
    data = read_document(path, text)
    if is_trace(data):  # a trace.json holds the spec it ran, normalised: run that again
        data = data["spec"]
    return data


def is_trace(data: Any) -> bool:
    """Whether a document is a bptrace trace rather than a spec."""
    return isinstance(data, dict) and "format_version" in data and isinstance(data.get("spec"), dict)


def looks_like_spec(data: Any) -> bool:
    return isinstance(data, dict) and "format_version" not in data and bool({"layers", "learning_rate"} & set(data))


# ---------------------------------------------------------------- the spec


def normalise(data: Any, limits: bool = True) -> dict[str, Any]:
    """The validated, normalised spec as plain data, with every default and weight filled in."""
    return normalise_full(data, limits)[0]


def normalise_full(data: Any, limits: bool = True, draw: bool = True) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The normalised spec and the indices of the layers whose weights were drawn from init
    (with ``draw=False``, of the layers whose weights init would draw, left out)."""
    if not isinstance(data, dict):
        raise SpecError(f"a spec must be a table (TOML) or an object (JSON), got {type_name(data)}")
    if "$schema" in data:  # an editor's link to spec.schema.json; nothing bptrace reads
        text(data["$schema"], "$schema")
        data = {k: v for k, v in data.items() if k != "$schema"}
    table(data, "", TOP_KEYS)
    # none given stays None (null in a trace): each report then takes its language's default
    out: dict[str, Any] = {"title": titles.check(data.get("title"))}
    lr = number(require(data, "learning_rate"), "learning_rate")
    if lr <= 0:
        raise SpecError(f"expected a number above 0, got {lr!r}", "learning_rate")
    out["learning_rate"] = lr
    out["loss"] = choice(data.get("loss", "mse"), "loss", list(LOSSES))
    out["iterations"] = integer(data.get("iterations", 1), "iterations", 1, 10**18, what="a count")
    out["mode"] = choice(data.get("mode", "online"), "mode", MODES)
    ub = data.get("update_biases", True)
    if not isinstance(ub, bool):
        raise SpecError(f"expected true or false, got {type_name(ub)}", "update_biases")
    out["update_biases"] = ub
    out["hidden_delta_weights"] = choice(
        data.get("hidden_delta_weights", "original"), "hidden_delta_weights", HIDDEN_DELTA
    )
    rounding = text(data.get("rounding", "exact"), "rounding")
    m = _ROUNDING.fullmatch(rounding)
    if not m or (m.group(1) is not None and not 1 <= int(m.group(1)) <= 15):
        raise SpecError(
            f"expected 'exact', 'hand:N' or 'sig:N' with N from 1 to 15, got {short(rounding)!r}", "rounding"
        )
    out["rounding"] = rounding
    init = _init(data["init"]) if "init" in data else None
    if init is not None:
        out["init"] = init
    layers = _layers(require(data, "layers"), init is not None, limits)
    loss = LOSSES[out["loss"]]
    act = layers[-1]["activation"]
    if loss.form(act) is None:
        fits = ", ".join(k for k in loss.forms if k != "*")
        raise SpecError(
            f"{out['loss']} needs an output activation of {fits}, not {act}", f"layers[{len(layers) - 1}].activation"
        )
    if out["mode"] == "batch" and out["hidden_delta_weights"] == "updated":
        raise SpecError(
            "'updated' only makes sense in online mode (a batch updates once, after every delta is known)",
            "hidden_delta_weights",
        )
    if "derive" in data:
        out["derive"] = _derive(data["derive"], layers)
    out["samples"] = _samples(require(data, "samples"), layers, out["loss"])
    _training(data, out, len(out["samples"]))
    if init is None:
        drawn: tuple[int, ...] = ()
    elif draw:
        drawn = _fill_init(layers, init)
    else:
        drawn = tuple(k for k, layer in enumerate(layers) if k and "weights" not in layer)
    out["layers"] = layers
    if "vary" in data:
        out["vary"] = _vary(data["vary"])
    # fixed key order: the normalised spec is part of every trace and must not depend on input order
    order = [k for k in TOP_KEYS if k in out]
    return {k: out[k] for k in order}, drawn


def _derive(val: Any, layers: list[dict[str, Any]]) -> list[str]:
    """The weights to derive in full, at most one per layer, each a weight of this network."""
    items = list_of(val, "derive", 'a list of weight names such as ["w2", "w6"]')
    first, owner = 1, {}
    for idx in range(1, len(layers)):
        count = layers[idx]["size"] * layers[idx - 1]["size"]
        owner.update({k: idx for k in range(first, first + count)})
        first += count
    seen: dict[int, str] = {}
    out = []
    for k, raw in enumerate(items):
        name = text(raw, f"derive[{k}]")
        m = re.fullmatch(r"w(\d{1,9})", name)
        if not m or int(m.group(1)) not in owner:
            raise SpecError(
                f"unknown weight {short(name)!r}; this network's weights are w1 to w{first - 1}", f"derive[{k}]"
            )
        layer = owner[int(m.group(1))]
        if layer in seen:
            raise SpecError(
                f"{seen[layer]} and {name} are both in layer {layers[layer]['name']!r}: name one weight per layer",
                f"derive[{k}]",
            )
        seen[layer] = name
        out.append(name)
    return out


def _training(data: dict[str, Any], out: dict[str, Any], n_samples: int) -> None:
    """The keys of the conventions beyond the article's (reduction, mini-batches, optimizer, input
    gradients, float32). Each is written into the normalised spec only when it differs from its
    default, so a spec that does not use them normalises (and traces) exactly as before."""
    loss = LOSSES[out["loss"]]
    if "loss_options" in data:
        opts = table(data["loss_options"], "loss_options", LOSS_OPTION_KEYS)
        red = choice(opts.get("reduction", loss.default_reduction), "loss_options.reduction", list(loss.reductions))
        if red != loss.default_reduction:
            out["loss_options"] = {"reduction": red}
    if "batch_size" in data:
        size = integer(data["batch_size"], "batch_size", 1, what="a batch size")
        if "mode" not in data:
            out["mode"] = "batch"
            if out["hidden_delta_weights"] == "updated":
                raise SpecError("'updated' only makes sense in online mode", "hidden_delta_weights")
        if out["mode"] == "online" and size != 1:
            raise SpecError('a batch size needs mode = "batch" (online mode updates after every sample)', "batch_size")
        if out["mode"] == "batch" and size < n_samples:
            out["batch_size"] = size
    if "batch_reduction" in data:
        br = choice(data["batch_reduction"], "batch_reduction", BATCH_REDUCTIONS)
        if br != "mean" and out["mode"] == "batch":
            out["batch_reduction"] = br
    if "optimizer" in data:
        opt = _optimizer(data["optimizer"])
        if opt != {"name": "sgd", "weight_decay": 0.0}:
            out["optimizer"] = opt
            if out["hidden_delta_weights"] == "updated":
                raise SpecError(
                    "'updated' follows the article's plain update inside a step; it does not combine with an optimizer",
                    "hidden_delta_weights",
                )
    if "dtype" in data:
        dt = choice(data["dtype"], "dtype", DTYPES)
        if dt != "float64":
            if out["rounding"] != "exact":
                raise SpecError("hand rounding works on float64 values; use one or the other", "dtype")
            out["dtype"] = dt
    if "record_input_gradients" in data:
        rig = data["record_input_gradients"]
        if not isinstance(rig, bool):
            raise SpecError(f"expected true or false, got {type_name(rig)}", "record_input_gradients")
        if rig:
            out["record_input_gradients"] = True


def _optimizer(val: Any) -> dict[str, Any]:
    keys = ("name", *sorted({k for o in OPTIMIZERS.values() for k in o.settings}))
    t = table(val, "optimizer", keys)
    name = choice(t.get("name", "sgd"), "optimizer.name", list(OPTIMIZERS))
    opt = OPTIMIZERS[name]
    out: dict[str, Any] = {"name": name}
    for k in t:
        if k != "name" and k not in opt.settings:
            raise SpecError(f"{name} has no setting {k!r} (its settings: {', '.join(opt.settings)})", f"optimizer.{k}")
    for k, default in opt.settings.items():
        x = number(t.get(k, default), f"optimizer.{k}")
        if k in ("beta1", "beta2", "alpha") and not 0.0 <= x < 1.0:
            raise SpecError(f"expected a number from 0 up to (not including) 1, got {x!r}", f"optimizer.{k}")
        if k in ("momentum", "weight_decay") and x < 0.0:
            raise SpecError(f"expected a number of at least 0, got {x!r}", f"optimizer.{k}")
        if k == "eps" and x <= 0.0:
            raise SpecError(f"expected a number above 0, got {x!r}", f"optimizer.{k}")
        out[k] = x
    return out


# ---------------------------------------------------------------- reading a normalised spec


def reduction(data: dict[str, Any]) -> str:
    """How a sample's error combines its outputs: half_sum, sum or mean."""
    opts = data.get("loss_options")
    return opts["reduction"] if opts else LOSSES[data["loss"]].default_reduction


def optimizer(data: dict[str, Any]) -> dict[str, Any]:
    return data.get("optimizer") or {"name": "sgd", "weight_decay": 0.0}


def batches(data: dict[str, Any]) -> list[list[int]]:
    """The 0-based sample indices of each batch in order (one sample each online; the last batch may be smaller)."""
    n = len(data["samples"])
    if data["mode"] == "online":
        return [[s] for s in range(n)]
    size = data.get("batch_size", n)
    return [list(range(a, min(a + size, n))) for a in range(0, n, size)]


def _init(val: Any) -> dict[str, Any]:
    t = table(val, "init", INIT_KEYS)
    method = choice(require(t, "method", "init"), "init.method", INIT_METHODS)
    seed = integer(t.get("seed", 0), "init.seed", 0, 2**63 - 1)
    return {"method": method, "seed": seed}


def _distinct_from_neurons(name: str, size: int, path: str, before: list[dict[str, Any]]) -> None:
    """A layer may not be called like a neuron of another layer (layer h1 beside neuron 1 of
    layer h): layer-wide keys (net.h1, b_h1 in matrix form) would then name two things."""
    own = split_neuron(name)
    for k, lay in enumerate(before):
        if own is not None and own[0] == lay["name"] and own[1] < lay["size"]:
            raise SpecError(
                f"layer name {name!r} is also the name of neuron {own[1] + 1} of layer {lay['name']!r} "
                f"(layers[{k}]): rename one of them",
                f"{path}.name",
            )
        other = split_neuron(lay["name"])
        if other is not None and other[0] == name and other[1] < size:
            raise SpecError(
                f"layer name {lay['name']!r} (layers[{k}]) is also the name of neuron {other[1] + 1} of "
                f"layer {name!r}: rename one of them",
                f"{path}.name",
            )


def _layers(val: Any, have_init: bool, limits: bool) -> list[dict[str, Any]]:
    items = list_of(val, "layers", "a list of layers")
    if len(items) > MAX_LAYERS:
        raise SpecError(
            f"expected at most {MAX_LAYERS} layers, got {len(items):,} (a report of each would not end)", "layers"
        )
    if len(items) < 2:
        raise SpecError(f"expected at least 2 layers (an input layer and an output layer), got {len(items)}", "layers")
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    params = 0
    for idx, raw in enumerate(items):
        path = f"layers[{idx}]"
        t = table(raw, path, INPUT_LAYER_KEYS if idx == 0 else LAYER_KEYS)
        name = text(require(t, "name", path), f"{path}.name")
        if not _NAME.fullmatch(name) or _RESERVED.fullmatch(name):
            raise SpecError(
                f"{short(name)!r} is not a layer name: use 1 to 12 letters or digits, starting with a letter, "
                "and not w or b alone or followed by digits (they name weights and biases)",
                f"{path}.name",
            )
        if name in seen:
            raise SpecError(f"duplicate layer name {name!r} (also layers[{seen[name]}])", f"{path}.name")
        seen[name] = idx
        size = integer(require(t, "size", path), f"{path}.size", 1, MAX_LAYER_SIZE, "a size")
        _distinct_from_neurons(name, size, path, out)
        layer: dict[str, Any] = {"name": name, "size": size}
        if idx:
            prev = out[-1]["size"]
            params += size * prev + size
            if limits and params > MAX_PARAMS:
                raise SpecError(
                    f"the network has over {params:,} parameters (limit {MAX_PARAMS:,}); "
                    "pass --no-limit (limits=False) to lift the limit",
                    f"{path}.size",
                )
            act = choice(t.get("activation", "sigmoid"), f"{path}.activation", list(ACTIVATIONS))
            if not ACTIVATIONS[act].hidden_ok and idx < len(items) - 1:
                raise SpecError(f"{act} is only allowed on the output layer", f"{path}.activation")
            layer["activation"] = act
            if "weights" in t:
                layer["weights"] = _matrix(t["weights"], f"{path}.weights", size, prev)
            elif not have_init:
                raise SpecError("missing: give the weights or an [init] table to draw them", f"{path}.weights")
            bias = t.get("bias", 0)
            if isinstance(bias, list):
                layer["bias"] = vector(bias, f"{path}.bias", size, "one bias per neuron")
            else:
                layer["bias"] = number(bias, f"{path}.bias")
        out.append(layer)
    return out


def _matrix(val: Any, path: str, rows: int, cols: int) -> list[list[float]]:
    items = list_of(val, path, f"a {rows}×{cols} list of rows")
    if len(items) != rows or not all(isinstance(r, list) for r in items):
        if all(isinstance(r, list) for r in items):
            got = f"{len(items)} rows"
        else:
            got = "a flat list" if items and not any(isinstance(r, list) for r in items) else "rows that are not lists"
        raise SpecError(f"expected {rows}×{cols} (one row per neuron), got {got}", path)
    widths = {len(r) for r in items}
    if widths != {cols}:
        if len(widths) == 1:
            raise SpecError(f"expected {rows}×{cols}, got {rows}×{widths.pop()}", path)
        bad = next(j for j, r in enumerate(items) if len(r) != cols)
        raise SpecError(f"ragged: row {bad} has {len(items[bad])} entries, expected {cols}", path)
    return [[number(x, f"{path}[{j}][{i}]") for i, x in enumerate(r)] for j, r in enumerate(items)]


def _samples(val: Any, layers: list[dict[str, Any]], loss: str) -> list[dict[str, Any]]:
    items = list_of(val, "samples", "a list of samples")
    if not items:
        raise SpecError("expected at least one sample", "samples")
    n_in, n_out = layers[0]["size"], layers[-1]["size"]
    out_act = layers[-1]["activation"]
    out = []
    for s, raw in enumerate(items):
        path = f"samples[{s}]"
        t = table(raw, path, SAMPLE_KEYS)
        x = vector(require(t, "input", path), f"{path}.input", n_in, f"the size of layer {layers[0]['name']!r}")
        y = vector(require(t, "target", path), f"{path}.target", n_out, f"the size of layer {layers[-1]['name']!r}")
        if loss == "cross_entropy":
            for k, v in enumerate(y):
                if not 0.0 <= v <= 1.0:
                    raise SpecError(f"cross_entropy needs targets from 0 to 1, got {v!r}", f"{path}.target[{k}]")
            if out_act == "softmax" and abs(math.fsum(y) - 1.0) > 1e-9:
                raise SpecError(
                    f"softmax with cross_entropy needs targets that sum to 1, got a sum of {math.fsum(y)!r}",
                    f"{path}.target",
                )
        out.append({"input": x, "target": y})
    return out


def _vary(val: Any) -> dict[str, Any]:
    t = table(val, "vary", VARY_KEYS)
    out: dict[str, Any] = {}
    if "spread" in t:
        spread = number(t["spread"], "vary.spread")
        if not 0 <= spread <= MAX_SPREAD:
            raise SpecError(f"expected a number from 0 to {MAX_SPREAD:g}, got {spread!r}", "vary.spread")
        out["spread"] = spread
    if "decimals" in t:
        out["decimals"] = integer(t["decimals"], "vary.decimals", 0, 6)
    for g in VARY_GROUPS:
        if g not in t:
            continue
        r = t[g]
        if r is False:
            out[g] = False
            continue
        lo, hi = vector(r, f"vary.{g}", 2, "a range [low, high], or false to keep them")
        if lo > hi:
            raise SpecError(f"the low end {lo!r} is above the high end {hi!r}", f"vary.{g}")
        if max(abs(lo), abs(hi)) > MAX_VARY:
            raise SpecError(f"expected a range within ±{MAX_VARY:g}, got [{lo!r}, {hi!r}]", f"vary.{g}")
        out[g] = [lo, hi]
    return out


# ---------------------------------------------------------------- drawing initial weights


def init_bound(method: str, fan_in: int, fan_out: int) -> float:
    """Half-width of the uniform range each method draws from."""
    if method == "xavier":
        return math.sqrt(6.0 / (fan_in + fan_out))
    if method == "he":
        return math.sqrt(6.0 / fan_in)
    return 1.0 / math.sqrt(fan_in)


def _fill_init(layers: list[dict[str, Any]], init: dict[str, Any]) -> tuple[int, ...]:
    """Draw every omitted weight matrix; returns the indices of the layers drawn."""
    # Python's Mersenne Twister is documented to give the same random() stream on every platform
    # and version, so a seed means the same weights everywhere. Every layer takes its draws, given
    # weights or not, so giving one layer's weights does not change the others'.
    import random  # only drawn weights need it

    rng = random.Random(init["seed"])
    drawn = []
    for idx in range(1, len(layers)):
        layer, prev = layers[idx], layers[idx - 1]["size"]
        bound = init_bound(init["method"], prev, layer["size"])
        rows = [[(2.0 * rng.random() - 1.0) * bound for _ in range(prev)] for _ in range(layer["size"])]
        if "weights" not in layer:
            layer["weights"] = rows
            drawn.append(idx)
        # keep key order stable whether weights were given or drawn
        layers[idx] = {k: layer[k] for k in LAYER_KEYS if k in layer}
    return tuple(drawn)
