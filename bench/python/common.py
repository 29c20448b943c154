"""Shared helpers for the Python peers: MNIST loading, the deterministic
SplitMix64 stream (same as rust/src/lib.rs), and the RESULT line.
See ../README.md for the exact definitions."""

import gzip
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# PEERS_MNIST_DIR, else $TAPEGRAD_DATA_DIR/mnist, else ../shared/data/mnist next to the repository
MNIST_DIR = os.environ.get("PEERS_MNIST_DIR") or (
    os.path.join(os.environ["TAPEGRAD_DATA_DIR"], "mnist")
    if os.environ.get("TAPEGRAD_DATA_DIR")
    else os.path.join(HERE, "..", "..", "..", "shared", "data", "mnist")
)

IN, CLASSES = 784, 10
SEED_MLP_W1, SEED_MLP_W2, SEED_SHUFFLE = 1, 2, 3
SEED_TINY_W01, SEED_TINY_W12 = 11, 12
SEED_MATMUL_A, SEED_MATMUL_B = 21, 22
SEED_LENET_CONV1, SEED_LENET_CONV2 = 31, 32
SEED_LENET_FC1, SEED_LENET_FC2, SEED_LENET_FC3, SEED_LENET_SHUFFLE = 33, 34, 35, 36
SEED_ADAM_W1, SEED_ADAM_W2, SEED_ADAM_W3, SEED_ADAM_SHUFFLE = 41, 42, 43, 44
SEED_RNN_W, SEED_RNN_U, SEED_RNN_V, SEED_RNN_SHUFFLE = 51, 52, 53, 54

MLP_HIDDEN, MLP_BATCH = 512, 128
MLP_LR, MLP_RHO, MLP_EPS = 0.001, 0.9, 1e-7
TINY_N, TINY_HIDDEN, TINY_ALPHA, TINY_PASSES = 1000, 40, 0.005, 10
SCALAR_N = 100_000
MATMUL_N, MATMUL_REPS = 1024, 20
LENET_BATCH, LENET_LR, LENET_MOMENTUM, LENET_TEST_BATCH = 64, 0.01, 0.9, 1000
ADAM_HIDDEN1, ADAM_HIDDEN2, ADAM_BATCH, ADAM_LR = 256, 128, 32, 0.001
RNN_SIDE, RNN_HIDDEN, RNN_BATCH, RNN_STEPS, RNN_LR = 28, 128, 64, 400, 0.05

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _read_gz(name):
    with gzip.open(os.path.join(MNIST_DIR, name), "rb") as f:
        return f.read()


def load_images(name):
    b = _read_gz(name)
    assert int.from_bytes(b[0:4], "big") == 0x0803, name
    n = int.from_bytes(b[4:8], "big")
    px = np.frombuffer(b, dtype=np.uint8, count=n * IN, offset=16)
    return (px.astype(np.float32) / np.float32(255.0)).reshape(n, IN)


def load_labels(name):
    b = _read_gz(name)
    assert int.from_bytes(b[0:4], "big") == 0x0801, name
    n = int.from_bytes(b[4:8], "big")
    return np.frombuffer(b, dtype=np.uint8, count=n, offset=8).copy()


def load_mnist():
    return (
        load_images("train-images-idx3-ubyte.gz"),
        load_labels("train-labels-idx1-ubyte.gz"),
        load_images("t10k-images-idx3-ubyte.gz"),
        load_labels("t10k-labels-idx1-ubyte.gz"),
    )


def splitmix64(seed, n):
    """The first n outputs of SplitMix64 started from state `seed` (uint64 array).
    Output k (0-based) mixes state seed + (k+1)*golden, so it vectorises."""
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniform(seed, n, lo, hi):
    """n values lo + (hi-lo)*u in f64, rounded to f32; u = (next>>11) / 2^53."""
    u = (splitmix64(seed, n) >> np.uint64(11)).astype(np.float64) * (1.0 / 2.0**53)
    return (lo + (hi - lo) * u).astype(np.float32)


def glorot(seed, fan_in, fan_out):
    """Glorot-uniform weight, shape [fan_in, fan_out] (input-major), f32."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return uniform(seed, fan_in * fan_out, -limit, limit).reshape(fan_in, fan_out)


def conv_glorot(seed, out, inputs, k):
    """Glorot-uniform conv kernels [out, in, k, k]: fans in*k*k and out*k*k, f32."""
    limit = np.sqrt(6.0 / ((inputs + out) * k * k))
    return uniform(seed, out * inputs * k * k, -limit, limit).reshape(out, inputs, k, k)


def permutation(seed, n):
    """Fisher-Yates: p = 0..n-1; for i = n-1 down to 1: j = next % (i+1); swap."""
    r = splitmix64(seed, n - 1)
    i = np.arange(n - 1, 0, -1, dtype=np.uint64)
    js = (r % (i + np.uint64(1))).astype(np.int64).tolist()
    p = list(range(n))
    for k, j in enumerate(js):
        i = n - 1 - k
        p[i], p[j] = p[j], p[i]
    return np.array(p, dtype=np.int64)


def shuffled_train(train_x, train_y, seed=SEED_SHUFFLE):
    perm = permutation(seed, len(train_y))
    return np.ascontiguousarray(train_x[perm]), train_y[perm].copy()


def one_hot(labels):
    o = np.zeros((len(labels), CLASSES), dtype=np.float32)
    o[np.arange(len(labels)), labels] = 1.0
    return o


def matmul_inputs():
    n = MATMUL_N * MATMUL_N
    a = uniform(SEED_MATMUL_A, n, -1.0, 1.0).reshape(MATMUL_N, MATMUL_N)
    b = uniform(SEED_MATMUL_B, n, -1.0, 1.0).reshape(MATMUL_N, MATMUL_N)
    return a, b


def gflops(seconds):
    return MATMUL_REPS * 2.0 * MATMUL_N**3 / seconds / 1e9


def report_losses(losses):
    """The first and last step's loss and the mean, on stderr (losses: a list of 0-d tensors
    or floats), so that runs of different frameworks can be seen to do the same work."""
    values = [float(v) for v in losses]
    print(f"first step loss {values[0]:.7f}", file=sys.stderr)
    print(f"final step loss {values[-1]:.7f}", file=sys.stderr)
    print(f"mean train loss {sum(values) / len(values):.4f} over {len(values)} steps", file=sys.stderr)


def print_result(peer, workload, seconds, metric):
    print(f"RESULT peer={peer} workload={workload} seconds={seconds:.6f} metric={metric}")
    sys.stdout.flush()


def workload_arg(known):
    w = sys.argv[1] if len(sys.argv) > 1 else ""
    if w not in known:
        print(f"usage: {sys.argv[0]} <{'|'.join(known)}>", file=sys.stderr)
        sys.exit(2)
    return w
