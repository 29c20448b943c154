"""Evaluates tapegrad's random op programs with JAX, in float64.

    python eval_jax.py PROGRAMS.json RESULTS.json

PROGRAMS.json is written by tests/differential.rs: a list of programs, each a list of nodes
(a leaf tensor, or an op named after the tapegrad method that records it, with its
parameters and the numbers of its input nodes) and an objective, the sum of
`sum(value * weights)` over some nodes. For each program this writes every node's value, the
objective and the gradient of the objective with respect to every leaf; the Rust test
compares them with tapegrad's.

Each op is JAX's own function where JAX's derivative at non-differentiable points agrees
with tapegrad's. Where tapegrad documents another convention, the op below encodes
tapegrad's and says so (see "Checked against JAX" in docs/debugging.md):

* abs: the derivative at 0 is 0 (JAX: 1);
* leaky_relu: the derivative at 0 is the slope (JAX: 1);
* clamp: the derivative is 0 on the bounds themselves (JAX: 1/2, from max and min);
* max_pool2d: a window's gradient goes to its first maximum in row-major order (JAX's
  select-and-scatter picks one too, but does not document which).

Ties of max, min, maximum and minimum share the gradient evenly in both, and relu'(0) is 0
in both, so those use JAX's functions unchanged.
"""

import json
import math
import os
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor

# Compiling dominates the run time, and these programs are small: XLA's LLVM optimisation
# costs far more than it saves. (Set before jax is imported, which reads it.)
# XLA's algebraic simplifier aborts the process ("Window dimensions do not match RHS shape")
# on some second derivatives of strided convolutions; the programs are small enough without it.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + " --xla_backend_optimization_level=0 --xla_disable_hlo_passes=algsimp"
)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")
# The programs of a seed are the same from run to run: in the virtual environment of
# .ci/differential-setup, keep what XLA compiled for the next run.
if os.path.exists(os.path.join(sys.prefix, "tapegrad-requirements.txt")):
    jax.config.update("jax_compilation_cache_dir", os.path.join(sys.prefix, "compilation-cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402
from jax.scipy.special import logsumexp  # noqa: E402


def number(x):
    """A JSON number, or for the infinities the string Python's float() reads."""
    return float(x) if isinstance(x, str) else x


def array(t):
    return jnp.asarray(np.array([number(x) for x in t["data"]], dtype=np.float64).reshape(t["shape"]))


def axes_of(p):
    return None if p["axes"] is None else tuple(p["axes"])


def reduction(p, total, count):
    return total / count if p["reduction"] == "mean" else total


def along(a, axis, start, end):
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, end)
    return a[tuple(index)]


def tapegrad_abs(p, a):
    # tapegrad: d|a|/da = sign(a), 0 at a = 0.
    return jnp.where(a > 0, a, jnp.where(a < 0, -a, 0.0))


def tapegrad_clamp(p, a):
    # tapegrad: the gradient is 1 strictly inside [lo, hi] and 0 elsewhere, bounds included.
    lo, hi = number(p["lo"]), number(p["hi"])
    inside = (a > lo) & (a < hi)
    return jnp.where(inside, a, lax.stop_gradient(jnp.clip(a, lo, hi)))


def tapegrad_max_pool2d(p, x):
    # tapegrad: the gradient goes to the first maximum of the window in row-major order.
    (kh, kw), (sh, sw) = p["kernel"], p["stride"]
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    taps = [
        x[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    windows = jnp.stack(taps, axis=-1)
    first = jnp.argmax(lax.stop_gradient(windows), axis=-1)
    return jnp.take_along_axis(windows, first[..., None], axis=-1)[..., 0]


def conv2d(p, x, w, b=None):
    (ph, pw) = p["padding"]
    y = lax.conv_general_dilated(
        x,
        w,
        window_strides=tuple(p["stride"]),
        padding=[(ph, ph), (pw, pw)],
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=lax.Precision.HIGHEST,
    )
    return y if b is None else y + b[None, :, None, None]


def conv2d_input_grad(p, g, w):
    """The vjp of conv2d with respect to its input, shaped p["shape"]."""
    _, vjp = jax.vjp(lambda x: conv2d(p, x, w), jnp.zeros(p["shape"], g.dtype))
    return vjp(g)[0]


def conv2d_weight_grad(p, x, g):
    """The vjp of conv2d with respect to its weight, shaped p["shape"]."""
    _, vjp = jax.vjp(lambda w: conv2d(p, x, w), jnp.zeros(p["shape"], g.dtype))
    return vjp(g)[0]


def avg_pool2d(p, x):
    (kh, kw), (sh, sw) = p["kernel"], p["stride"]
    total = lax.reduce_window(x, 0.0, lax.add, (1, 1, kh, kw), (1, 1, sh, sw), "VALID")
    return total / (kh * kw)


def gather(p, a):
    axis = p["axis"] % a.ndim
    out_shape = a.shape[:axis] + a.shape[axis + 1 :]
    idx = jnp.asarray(p["indices"], dtype=jnp.int32).reshape(out_shape)
    return jnp.take_along_axis(a, jnp.expand_dims(idx, axis), axis=axis).squeeze(axis)


def softmax_cross_entropy(p, z, t):
    rows = z.shape[0] if z.ndim == 2 else 1
    return reduction(p, -jnp.sum(t * jax.nn.log_softmax(z, axis=-1)), rows)


def softmax_cross_entropy_with_labels(p, z):
    logp = jax.nn.log_softmax(z.reshape(-1, z.shape[-1]), axis=-1)
    labels = jnp.asarray(p["labels"])
    picked = logp[jnp.arange(len(p["labels"])), labels]
    return reduction(p, -jnp.sum(picked), len(p["labels"]))


def bce_with_logits(p, z, t):
    terms = -(t * jax.nn.log_sigmoid(z) + (1.0 - t) * jax.nn.log_sigmoid(-z))
    return reduction(p, jnp.sum(terms), z.size)


def dropout(p, a):
    keep = jnp.asarray(p["keep"], dtype=jnp.float64).reshape(a.shape)
    return a * keep / (1.0 - p["p"])


def reduce_with(fn):
    return lambda p, a: fn(a, axis=axes_of(p), keepdims=p["keepdims"])


OPS = {
    "add": lambda p, a, b: a + b,
    "sub": lambda p, a, b: a - b,
    "mul": lambda p, a, b: a * b,
    "div": lambda p, a, b: a / b,
    "pow": lambda p, a, b: jnp.power(a, b),
    "maximum": lambda p, a, b: jnp.maximum(a, b),
    "minimum": lambda p, a, b: jnp.minimum(a, b),
    "matmul": lambda p, a, b: jnp.matmul(a, b, precision=lax.Precision.HIGHEST),
    "dot": lambda p, a, b: jnp.dot(a, b, precision=lax.Precision.HIGHEST),
    "outer": lambda p, a, b: jnp.outer(a, b),
    "add_scalar": lambda p, a: a + number(p["c"]),
    "sub_scalar": lambda p, a: a - number(p["c"]),
    "mul_scalar": lambda p, a: a * number(p["c"]),
    "div_scalar": lambda p, a: a / number(p["c"]),
    "rsub_scalar": lambda p, a: number(p["c"]) - a,
    "rdiv_scalar": lambda p, a: number(p["c"]) / a,
    "powf": lambda p, a: jnp.power(a, number(p["c"])),
    "neg": lambda p, a: -a,
    "exp": lambda p, a: jnp.exp(a),
    "ln": lambda p, a: jnp.log(a),
    "sqrt": lambda p, a: jnp.sqrt(a),
    "abs": tapegrad_abs,
    "square": lambda p, a: jnp.square(a),
    "relu": lambda p, a: jax.nn.relu(a),
    "sigmoid": lambda p, a: jax.nn.sigmoid(a),
    "tanh": lambda p, a: jnp.tanh(a),
    "softplus": lambda p, a: jax.nn.softplus(a),
    "t": lambda p, a: a.T,
    "flatten": lambda p, a: a.reshape(a.shape[0], -1),
    "clamp": tapegrad_clamp,
    # tapegrad: the derivative at 0 is the slope.
    "leaky_relu": lambda p, a: jnp.where(a > 0, a, p["slope"] * a),
    "elu": lambda p, a: jnp.where(a > 0, a, p["alpha"] * jnp.expm1(jnp.where(a > 0, 0.0, a))),
    "erf": lambda p, a: jax.scipy.special.erf(a),
    "gelu": lambda p, a: jax.nn.gelu(a, approximate=False),
    "gelu_tanh": lambda p, a: jax.nn.gelu(a, approximate=True),
    "silu": lambda p, a: jax.nn.silu(a),
    "softmax": lambda p, a: jax.nn.softmax(a, axis=p["axis"]),
    "log_softmax": lambda p, a: jax.nn.log_softmax(a, axis=p["axis"]),
    "sum": reduce_with(jnp.sum),
    "mean": reduce_with(jnp.mean),
    "max": reduce_with(jnp.max),
    "min": reduce_with(jnp.min),
    "logsumexp": lambda p, a: logsumexp(a, axis=axes_of(p), keepdims=p["keepdims"]),
    "transpose": lambda p, a: jnp.swapaxes(a, p["axis0"], p["axis1"]),
    "permute": lambda p, a: jnp.transpose(a, p["axes"]),
    "reshape": lambda p, a: jnp.reshape(a, p["shape"]),
    "broadcast_to": lambda p, a: jnp.broadcast_to(a, p["shape"]),
    "narrow": lambda p, a: along(a, p["axis"], p["start"], p["end"]),
    "slice_axis": lambda p, a: along(a, p["axis"], p["start"], p["end"]),
    "slice_step": lambda p, a: a[tuple(slice(p["start"], p["end"], p["step"]) if i == p["axis"] % a.ndim else slice(None) for i in range(a.ndim))],
    "slice": lambda p, a: a[tuple(slice(s, e) for s, e in p["ranges"])],
    "index_select": lambda p, a: jnp.take(a, jnp.asarray(p["indices"], dtype=jnp.int32), axis=p["axis"]),
    "gather": gather,
    "concat": lambda p, *xs: jnp.concatenate(xs, axis=p["axis"]),
    "stack": lambda p, *xs: jnp.stack(xs, axis=p["axis"]),
    "pad": lambda p, a: jnp.pad(a, p["pads"], constant_values=number(p["value"])) if a.ndim else a,
    "conv2d": conv2d,
    "conv2d_input_grad": conv2d_input_grad,
    "conv2d_weight_grad": conv2d_weight_grad,
    "max_pool2d": tapegrad_max_pool2d,
    "avg_pool2d": avg_pool2d,
    "softmax_cross_entropy": softmax_cross_entropy,
    "softmax_cross_entropy_with_labels": softmax_cross_entropy_with_labels,
    "bce_with_logits": bce_with_logits,
    "mse": lambda p, a, t: reduction(p, jnp.sum(jnp.square(a - t)), a.size),
    "dropout": dropout,
    "dropout_with_mask": lambda p, a: a * array(p["mask"]),
}


def encode(x):
    """A tensor for JSON, which has no NaN or infinity: those become strings."""
    x = np.asarray(x, dtype=np.float64)
    data = [v if math.isfinite(v) else str(v) for v in x.ravel().tolist()]
    return {"shape": list(x.shape), "data": data}


def build(program):
    """The program as a function of its leaves giving (objective, values), and the leaves."""
    nodes = program["nodes"]
    leaves = [i for i, n in enumerate(nodes) if "leaf" in n]

    def run(*leaf_values):
        values = [None] * len(nodes)
        for i, v in zip(leaves, leaf_values):
            values[i] = v
        for i, n in enumerate(nodes):
            if "op" in n:
                values[i] = OPS[n["op"]](n, *(values[j] for j in n["args"]))
        objective = sum(jnp.sum(values[o["node"]] * array(o["weights"])) for o in program["objective"])
        return objective, values

    grad_fn = jax.value_and_grad(run, argnums=tuple(range(len(leaves))), has_aux=True)
    return grad_fn, [array(nodes[i]["leaf"]) for i in leaves]


def result(program, outcome):
    nodes = program["nodes"]
    (objective, values), grads = outcome
    leaves = [i for i, n in enumerate(nodes) if "leaf" in n]
    by_node = dict(zip(leaves, grads))
    return {
        "seed": program["seed"],
        "objective": float(objective),
        "values": [encode(v) for v in values],
        "grads": [encode(by_node[i]) if nodes[i].get("requires_grad") else None for i in range(len(nodes))],
    }


def evaluate_chunk(programs):
    """Evaluates programs as one compiled function: XLA compiles one large module much faster
    than many small ones, and compiling dominates the run time."""
    try:
        built = [build(p) for p in programs]
        fns = [f for f, _ in built]
        compiled = jax.jit(lambda xs: [f(*x) for f, x in zip(fns, xs)]).lower([x for _, x in built]).compile()
        outcomes = compiled([x for _, x in built])
        return [result(p, o) for p, o in zip(programs, outcomes)]
    except Exception:
        if len(programs) == 1:
            # Reported per program, so that one failing case does not hide the rest.
            return [{"seed": programs[0]["seed"], "error": traceback.format_exc()}]
        return [r for p in programs for r in evaluate_chunk([p])]


def main(source, target):
    with open(source) as f:
        programs = json.load(f)
    chunk = 16
    chunks = [programs[i : i + chunk] for i in range(0, len(programs), chunk)]
    # XLA compiles without holding the interpreter lock: two threads keep two cores busy.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [r for rs in pool.map(evaluate_chunk, chunks) for r in rs]
    with open(target, "w") as f:
        json.dump({"jax_version": jax.__version__, "results": results}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
