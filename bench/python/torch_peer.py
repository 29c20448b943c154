"""Peer `torch`: PyTorch CPU, eager mode, autograd for every gradient.
Workloads: mlp, tiny, scalar, matmul, lenet, adam_mlp, rnn, rnn_builtin, conv_infer."""

import os

THREADS = int(os.environ.get("PEERS_THREADS", "2"))
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, str(THREADS))

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common import *  # noqa: F401,F403

PEER = "torch"
torch.set_num_threads(THREADS)


def _linear(w_in_out, bias):
    """nn.Linear whose weight is the given [in, out] matrix (torch stores [out, in])."""
    fan_in, fan_out = w_in_out.shape
    lin = nn.Linear(fan_in, fan_out, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w_in_out.T)))
        if bias:
            lin.bias.zero_()
    return lin


def mlp():
    train_x, train_y, test_x, test_y = load_mnist()
    xs, ys = shuffled_train(train_x, train_y)
    xs = torch.from_numpy(xs)
    ys = torch.from_numpy(ys.astype(np.int64))
    model = nn.Sequential(
        _linear(glorot(SEED_MLP_W1, IN, MLP_HIDDEN), True),
        nn.ReLU(),
        _linear(glorot(SEED_MLP_W2, MLP_HIDDEN, CLASSES), True),
    )
    # torch's RMSprop: v = alpha*v + (1-alpha)*g^2 ; w -= lr*g/(sqrt(v)+eps)
    opt = torch.optim.RMSprop(model.parameters(), lr=MLP_LR, alpha=MLP_RHO, eps=MLP_EPS)
    n = xs.shape[0]
    loss_sum = torch.zeros(())

    t0 = time.perf_counter()
    for s in range(0, n, MLP_BATCH):
        x = xs[s : s + MLP_BATCH]
        y = ys[s : s + MLP_BATCH]
        loss = F.cross_entropy(model(x), y)  # log-softmax + NLL, mean over batch
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
    secs = time.perf_counter() - t0

    with torch.no_grad():
        pred = model(torch.from_numpy(test_x)).argmax(dim=1).numpy()
    acc = float((pred == test_y).mean())
    print(f"mean train loss {float(loss_sum) / ((n + MLP_BATCH - 1) // MLP_BATCH):.4f}", file=sys.stderr)
    print_result(PEER, "mlp", secs, acc)


def tiny():
    train_x, train_y, test_x, test_y = load_mnist()
    images = torch.from_numpy(np.ascontiguousarray(train_x[:TINY_N]))
    labels = torch.from_numpy(one_hot(train_y[:TINY_N]))
    w01 = uniform(SEED_TINY_W01, IN * TINY_HIDDEN, -0.1, 0.1).reshape(IN, TINY_HIDDEN)
    w12 = uniform(SEED_TINY_W12, TINY_HIDDEN * CLASSES, -0.1, 0.1).reshape(TINY_HIDDEN, CLASSES)
    model = nn.Sequential(_linear(w01, False), nn.ReLU(), _linear(w12, False))
    opt = torch.optim.SGD(model.parameters(), lr=TINY_ALPHA)
    error = torch.zeros(())

    t0 = time.perf_counter()
    for _ in range(TINY_PASSES):
        error = torch.zeros(())
        for i in range(TINY_N):
            out = model(images[i : i + 1])
            # 0.5 * SSE, so that d loss / d out = out - onehot (the book's delta)
            loss = 0.5 * ((out - labels[i : i + 1]) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            error += loss.detach()
    secs = time.perf_counter() - t0

    with torch.no_grad():
        pred = model(torch.from_numpy(test_x)).argmax(dim=1).numpy()
    acc = float((pred == test_y).mean())
    print(f"last-pass train SSE/n {2 * float(error) / TINY_N:.4f}", file=sys.stderr)
    print_result(PEER, "tiny", secs, acc)


def scalar():
    t0 = time.perf_counter()
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(SCALAR_N):
        y = y * 1.0001 + 0.0001
    y.backward()
    g = float(x.grad)
    secs = time.perf_counter() - t0
    print(f"y {float(y):.6f}", file=sys.stderr)
    print_result(PEER, "scalar", secs, g)


def matmul():
    a, b = matmul_inputs()
    a, b = torch.from_numpy(a), torch.from_numpy(b)
    c = a @ b
    check = float(c[0, 0])
    t0 = time.perf_counter()
    for _ in range(MATMUL_REPS):
        c = a @ b
        check += float(c[-1, -1])
    secs = time.perf_counter() - t0
    print(f"checksum {check:.4f}", file=sys.stderr)
    print_result(PEER, "matmul", secs, gflops(secs))


class LeNet(nn.Module):
    """conv 1->6 5x5 pad 2, relu, max-pool 2, conv 6->16 5x5, relu, max-pool 2,
    dense 400-120-84-10 with relu; weights from seeds 31..35, biases zero."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        with torch.no_grad():
            for conv, seed in ((self.conv1, SEED_LENET_CONV1), (self.conv2, SEED_LENET_CONV2)):
                out, inputs, k, _ = conv.weight.shape
                conv.weight.copy_(torch.from_numpy(conv_glorot(seed, out, inputs, k)))
                conv.bias.zero_()
        self.fc1 = _linear(glorot(SEED_LENET_FC1, 400, 120), True)
        self.fc2 = _linear(glorot(SEED_LENET_FC2, 120, 84), True)
        self.fc3 = _linear(glorot(SEED_LENET_FC3, 84, CLASSES), True)

    def forward(self, x):  # x: [n, 784]
        h = x.view(-1, 1, 28, 28)
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = h.flatten(1)  # [n, 16*5*5], channel-major
        h = F.relu(self.fc1(h))
        h = F.relu(self.fc2(h))
        return self.fc3(h)


def _evaluate(model, test_x, test_y):
    """(correct, sum of all logits in f64) over the test set in batches of 1,000, no grad."""
    correct, checksum = 0, 0.0
    with torch.no_grad():
        for s in range(0, test_x.shape[0], LENET_TEST_BATCH):
            logits = model(test_x[s : s + LENET_TEST_BATCH])
            correct += int((logits.argmax(dim=1) == test_y[s : s + LENET_TEST_BATCH]).sum())
            checksum += float(logits.double().sum())
    return correct, checksum


def _train_epoch(model, opt, xs, ys, batch):
    """One pass over xs in consecutive batches (the last one shorter); returns the losses."""
    losses = []
    for s in range(0, xs.shape[0], batch):
        loss = F.cross_entropy(model(xs[s : s + batch]), ys[s : s + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses


def _shuffled(seed):
    train_x, train_y, test_x, test_y = load_mnist()
    xs, ys = shuffled_train(train_x, train_y, seed)
    return (
        torch.from_numpy(xs),
        torch.from_numpy(ys.astype(np.int64)),
        torch.from_numpy(test_x),
        torch.from_numpy(test_y.astype(np.int64)),
    )


def lenet():
    xs, ys, test_x, test_y = _shuffled(SEED_LENET_SHUFFLE)
    model = LeNet()
    # torch's momentum: v = 0.9 v + g; w -= lr v
    opt = torch.optim.SGD(model.parameters(), lr=LENET_LR, momentum=LENET_MOMENTUM)

    t0 = time.perf_counter()
    losses = _train_epoch(model, opt, xs, ys, LENET_BATCH)
    secs = time.perf_counter() - t0

    report_losses(losses)
    correct, _ = _evaluate(model, test_x, test_y)
    print_result(PEER, "lenet", secs, correct / test_x.shape[0])


def conv_infer():
    _, _, test_x, test_y = load_mnist()
    test_x, test_y = torch.from_numpy(test_x), torch.from_numpy(test_y.astype(np.int64))
    model = LeNet()

    t0 = time.perf_counter()
    correct, checksum = _evaluate(model, test_x, test_y)
    secs = time.perf_counter() - t0

    print(f"checksum {checksum:.6f}", file=sys.stderr)
    print_result(PEER, "conv_infer", secs, correct / test_x.shape[0])


def adam_mlp():
    xs, ys, test_x, test_y = _shuffled(SEED_ADAM_SHUFFLE)
    model = nn.Sequential(
        _linear(glorot(SEED_ADAM_W1, IN, ADAM_HIDDEN1), True),
        nn.ReLU(),
        _linear(glorot(SEED_ADAM_W2, ADAM_HIDDEN1, ADAM_HIDDEN2), True),
        nn.ReLU(),
        _linear(glorot(SEED_ADAM_W3, ADAM_HIDDEN2, CLASSES), True),
    )
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)  # betas 0.9, 0.999, eps 1e-8

    t0 = time.perf_counter()
    losses = _train_epoch(model, opt, xs, ys, ADAM_BATCH)
    secs = time.perf_counter() - t0

    report_losses(losses)
    with torch.no_grad():
        correct = int((model(test_x).argmax(dim=1) == test_y).sum())
    print_result(PEER, "adam_mlp", secs, correct / test_x.shape[0])


class HandRnn(nn.Module):
    """h = tanh(x_t W + h U + b) from h = 0 over the 28 rows, then h V + c."""

    def __init__(self):
        super().__init__()
        p = lambda a: nn.Parameter(torch.from_numpy(np.ascontiguousarray(a)))
        self.w = p(glorot(SEED_RNN_W, RNN_SIDE, RNN_HIDDEN))
        self.u = p(glorot(SEED_RNN_U, RNN_HIDDEN, RNN_HIDDEN))
        self.b = p(np.zeros(RNN_HIDDEN, dtype=np.float32))
        self.v = p(glorot(SEED_RNN_V, RNN_HIDDEN, CLASSES))
        self.c = p(np.zeros(CLASSES, dtype=np.float32))

    def forward(self, x):  # x: [n, 784]
        x = x.view(-1, RNN_SIDE, RNN_SIDE)
        h = torch.zeros(x.shape[0], RNN_HIDDEN)
        for t in range(RNN_SIDE):
            h = torch.tanh(x[:, t, :] @ self.w + h @ self.u + self.b)
        return h @ self.v + self.c


class BuiltinRnn(nn.Module):
    """The same network through nn.RNN (weight_ih = W^T, weight_hh = U^T, bias_hh = 0)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(RNN_SIDE, RNN_HIDDEN, nonlinearity="tanh", batch_first=True)
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(torch.from_numpy(glorot(SEED_RNN_W, RNN_SIDE, RNN_HIDDEN).T.copy()))
            self.rnn.weight_hh_l0.copy_(torch.from_numpy(glorot(SEED_RNN_U, RNN_HIDDEN, RNN_HIDDEN).T.copy()))
            self.rnn.bias_ih_l0.zero_()
            self.rnn.bias_hh_l0.zero_()
        self.readout = _linear(glorot(SEED_RNN_V, RNN_HIDDEN, CLASSES), True)

    def forward(self, x):  # x: [n, 784]
        _, h = self.rnn(x.view(-1, RNN_SIDE, RNN_SIDE))  # h: [1, n, hidden], the last state
        return self.readout(h[0])


def _rnn(model, workload):
    xs, ys, test_x, test_y = _shuffled(SEED_RNN_SHUFFLE)
    n = RNN_STEPS * RNN_BATCH
    opt = torch.optim.SGD(model.parameters(), lr=RNN_LR)

    t0 = time.perf_counter()
    losses = _train_epoch(model, opt, xs[:n], ys[:n], RNN_BATCH)
    secs = time.perf_counter() - t0

    report_losses(losses)
    with torch.no_grad():
        correct = int((model(test_x).argmax(dim=1) == test_y).sum())
    print_result(PEER, workload, secs, correct / test_x.shape[0])


def rnn():
    _rnn(HandRnn(), "rnn")


def rnn_builtin():
    _rnn(BuiltinRnn(), "rnn_builtin")


if __name__ == "__main__":
    w = workload_arg(
        ["mlp", "tiny", "scalar", "matmul", "lenet", "adam_mlp", "rnn", "rnn_builtin", "conv_infer"]
    )
    globals()[w]()
