"""Handwritten-digit classifier, in the spirit of Azure ML's tf_mnist.py, with numpy only.

A two-hidden-layer MLP (relu, relu, softmax, cross-entropy, plain SGD) trained on scikit-learn's
bundled 8x8 digits (digits.csv.gz: 1,797 rows of 64 pixels 0..16 and a label), read from
--data-folder. A fixed seed splits the data into train and test sets; test accuracy is printed
every epoch and the model is saved under ./outputs/model (weights.npz + model.json).

The launch decides the mode:
  - MPI (OMPI_COMM_WORLD_SIZE > 1, or WORLD_SIZE > 1 with mpi4py): each rank trains on its shard
    of the training set; the gradients are averaged with an Allreduce every step (Horovod style);
    at the end every rank prints a digest of its weights and an Allreduce checks they are equal;
    rank 0 saves the model.
  - TF_CONFIG with workers and a ps: the ps holds the parameters (plain TCP, python stdlib); every
    step each worker sends its shard's gradient and gets the new parameters back (synchronous:
    one gradient per worker per step, averaged); worker 0 (the chief) saves the model; the ps
    exits once every worker said it is done.
  - neither: one process on the whole training set.
"""

import argparse
import gzip
import hashlib
import json
import os
import socket
import struct
import sys
import time

import numpy as np

SEED = 42
TEST_FRACTION = 0.2


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-folder", required=True, help="folder holding digits.csv.gz")
    p.add_argument("--batch-size", type=int, default=32, help="examples per step and process")
    p.add_argument("--first-layer-neurons", type=int, default=100)
    p.add_argument("--second-layer-neurons", type=int, default=100)
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=10)
    return p.parse_args()


def log(msg):
    print(msg, flush=True)


# ---- data ----------------------------------------------------------------------------------


def load_digits(folder):
    path = os.path.join(folder, "digits.csv.gz")
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    x = data[:, :64] / 16.0
    y = data[:, 64].astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(y))
    n_test = int(round(len(y) * TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def shard(n, index, count):
    """The training indices of shard `index` of `count` (contiguous, sizes differ by at most 1)."""
    return np.array_split(np.arange(n), count)[index]


# ---- the model: parameters as one flat float64 vector ----------------------------------------


class Mlp:
    def __init__(self, sizes):
        self.shapes = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            self.shapes += [(a, b), (b,)]
        self.size = sum(int(np.prod(s)) for s in self.shapes)

    def init(self):
        rng = np.random.default_rng(SEED)
        parts = []
        for s in self.shapes:
            if len(s) == 2:
                parts.append(rng.normal(0.0, np.sqrt(2.0 / s[0]), s).ravel())  # He init
            else:
                parts.append(np.zeros(s))
        return np.concatenate(parts)

    def unflatten(self, flat):
        out, at = [], 0
        for s in self.shapes:
            n = int(np.prod(s))
            out.append(flat[at : at + n].reshape(s))
            at += n
        return out

    def forward(self, flat, x):
        w1, b1, w2, b2, w3, b3 = self.unflatten(flat)
        h1 = np.maximum(x @ w1 + b1, 0.0)
        h2 = np.maximum(h1 @ w2 + b2, 0.0)
        z = h2 @ w3 + b3
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return h1, h2, p

    def gradient(self, flat, x, y):
        """Mean cross-entropy gradient over the batch (x, y), as a flat vector, and the loss."""
        w1, b1, w2, b2, w3, b3 = self.unflatten(flat)
        h1, h2, p = self.forward(flat, x)
        n = len(y)
        loss = -np.log(p[np.arange(n), y] + 1e-12).mean()
        dz = p.copy()
        dz[np.arange(n), y] -= 1.0
        dz /= n
        gw3, gb3 = h2.T @ dz, dz.sum(axis=0)
        d2 = (dz @ w3.T) * (h2 > 0)
        gw2, gb2 = h1.T @ d2, d2.sum(axis=0)
        d1 = (d2 @ w2.T) * (h1 > 0)
        gw1, gb1 = x.T @ d1, d1.sum(axis=0)
        return np.concatenate([g.ravel() for g in (gw1, gb1, gw2, gb2, gw3, gb3)]), loss

    def accuracy(self, flat, x, y):
        return float((self.forward(flat, x)[2].argmax(axis=1) == y).mean())


def digest(flat):
    return hashlib.sha256(np.ascontiguousarray(flat, dtype=np.float64).tobytes()).hexdigest()[:16]


def steps_per_epoch(n_train, workers, batch):
    """The same on every process: the smallest shard's whole batches (at least one)."""
    smallest = n_train // workers
    return max(1, smallest // batch)


def batches(indices, batch, steps, epoch, who):
    rng = np.random.default_rng([SEED, epoch, who])
    order = rng.permutation(indices)
    for s in range(steps):
        yield order[(s * batch) % len(order) :][:batch]


def save_model(args, model, flat, acc, mode, workers):
    out = os.path.join("outputs", "model")
    os.makedirs(out, exist_ok=True)
    names = ["w1", "b1", "w2", "b2", "w3", "b3"]
    np.savez(os.path.join(out, "weights.npz"), **dict(zip(names, model.unflatten(flat))))
    meta = {
        "layers": [64, args.first_layer_neurons, args.second_layer_neurons, 10],
        "activation": "relu",
        "output": "softmax",
        "test_accuracy": acc,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "mode": mode,
        "workers": workers,
        "digest": digest(flat),
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(meta, f, indent=2)
    log(f"model saved to {out}/ (weights.npz, model.json)")


def make_model(args):
    return Mlp([64, args.first_layer_neurons, args.second_layer_neurons, 10])


# ---- single process --------------------------------------------------------------------------


def train_single(args):
    xtr, ytr, xte, yte = load_digits(args.data_folder)
    model = make_model(args)
    w = model.init()
    log(f"single process: {len(ytr)} training examples, {len(yte)} test examples")
    steps = steps_per_epoch(len(ytr), 1, args.batch_size)
    acc = 0.0
    for epoch in range(1, args.epochs + 1):
        for b in batches(np.arange(len(ytr)), args.batch_size, steps, epoch, 0):
            g, loss = model.gradient(w, xtr[b], ytr[b])
            w -= args.learning_rate * g
        acc = model.accuracy(w, xte, yte)
        log(f"epoch {epoch}: loss {loss:.4f} test accuracy {acc:.4f}")
    log(f"final test accuracy: {acc:.4f}")
    log(f"weights digest {digest(w)}")
    save_model(args, model, w, acc, "single", 1)


# ---- MPI: allreduce of the gradients ---------------------------------------------------------


def train_mpi(args):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    xtr, ytr, xte, yte = load_digits(args.data_folder)
    mine = shard(len(ytr), rank, size)
    log(f"rank {rank}: {len(mine)} examples of {len(ytr)} (shard {rank} of {size}, "
        f"indices {mine[0]}..{mine[-1]})")
    model = make_model(args)
    w = model.init()
    comm.Bcast(w, root=0)  # the same start everywhere, even if the seeds ever differed
    steps = steps_per_epoch(len(ytr), size, args.batch_size)
    exchanges, acc = 0, 0.0
    total = np.empty(model.size)
    for epoch in range(1, args.epochs + 1):
        for b in batches(mine, args.batch_size, steps, epoch, rank):
            g, loss = model.gradient(w, xtr[b], ytr[b])
            comm.Allreduce(g, total, op=MPI.SUM)
            exchanges += 1
            w -= args.learning_rate * (total / size)
        acc = model.accuracy(w, xte, yte)
        log(f"rank {rank} epoch {epoch}: loss {loss:.4f} test accuracy {acc:.4f} "
            f"({exchanges} allreduce exchanges)")
    # Equal weights everywhere: rank 0's weights against every rank's, the largest difference.
    ref = w.copy()
    comm.Bcast(ref, root=0)
    diff = comm.allreduce(float(np.abs(w - ref).max()), op=MPI.MAX)
    digests = comm.allgather(digest(w))
    log(f"rank {rank}: {exchanges} gradient exchanges (allreduce), weights digest {digest(w)}")
    if rank == 0:
        same = len(set(digests)) == 1 and diff == 0.0
        log(f"weights identical on all {size} ranks: {'yes' if same else 'NO'} "
            f"(max abs diff {diff:g}, digests {' '.join(digests)})")
        log(f"final test accuracy: {acc:.4f}")
        save_model(args, model, w, acc, "mpi", size)
        if not same:
            sys.exit("the ranks' weights differ")


# ---- TF_CONFIG: a parameter server over TCP ---------------------------------------------------
# Messages: a 1-byte kind, a 4-byte big-endian length, then the payload.
#   worker -> ps: b"H" (hello, payload: worker index), b"G" (a float64 gradient), b"D" (done)
#   ps -> worker: b"P" (the float64 parameters)


def send(sock, kind, payload=b""):
    sock.sendall(kind + struct.pack(">I", len(payload)) + payload)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        buf += chunk
    return bytes(buf)


def recv(sock):
    kind = recv_exact(sock, 1)
    (n,) = struct.unpack(">I", recv_exact(sock, 4))
    return kind, recv_exact(sock, n)


def run_ps(args, cfg):
    workers = len(cfg["cluster"]["worker"])
    host, port = cfg["cluster"]["ps"][0].rsplit(":", 1)
    model = make_model(args)
    w = model.init()
    srv = socket.create_server((host, int(port)))
    log(f"ps 0: listening on {host}:{port} for {workers} workers, {model.size} parameters")
    conns = {}
    while len(conns) < workers:
        c, _ = srv.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        kind, payload = recv(c)
        assert kind == b"H", kind
        conns[int(payload.decode())] = c
        send(c, b"P", w.tobytes())
    srv.close()
    rounds = 0
    while conns:
        grads = []
        for i in sorted(conns):
            kind, payload = recv(conns[i])
            if kind == b"D":
                log(f"ps 0: worker {i} is done")
                conns.pop(i).close()
            else:
                assert kind == b"G", kind
                grads.append(np.frombuffer(payload, dtype=np.float64))
        if not grads:
            continue
        w -= args.learning_rate * np.mean(grads, axis=0)
        rounds += 1
        for i in sorted(conns):
            send(conns[i], b"P", w.tobytes())
    log(f"ps 0: {rounds} synchronous updates, weights digest {digest(w)}; all workers done")


def connect(host, port, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            s = socket.create_connection((host, port), timeout=seconds)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_worker(args, cfg, index):
    workers = len(cfg["cluster"]["worker"])
    xtr, ytr, xte, yte = load_digits(args.data_folder)
    mine = shard(len(ytr), index, workers)
    log(f"worker {index}: {len(mine)} examples of {len(ytr)} (shard {index} of {workers}, "
        f"indices {mine[0]}..{mine[-1]})")
    model = make_model(args)
    host, port = cfg["cluster"]["ps"][0].rsplit(":", 1)
    s = connect(host, int(port))
    send(s, b"H", str(index).encode())
    kind, payload = recv(s)
    assert kind == b"P", kind
    w = np.frombuffer(payload, dtype=np.float64).copy()
    steps = steps_per_epoch(len(ytr), workers, args.batch_size)
    exchanges, acc = 0, 0.0
    for epoch in range(1, args.epochs + 1):
        for b in batches(mine, args.batch_size, steps, epoch, index):
            g, loss = model.gradient(w, xtr[b], ytr[b])
            send(s, b"G", g.tobytes())
            kind, payload = recv(s)
            assert kind == b"P", kind
            w = np.frombuffer(payload, dtype=np.float64).copy()
            exchanges += 1
        acc = model.accuracy(w, xte, yte)
        log(f"worker {index} epoch {epoch}: loss {loss:.4f} test accuracy {acc:.4f} "
            f"({exchanges} exchanges with the ps)")
    send(s, b"D")
    s.close()
    log(f"worker {index}: {exchanges} gradient/parameter exchanges with the ps, "
        f"weights digest {digest(w)}")
    if index == 0:
        log(f"final test accuracy: {acc:.4f}")
        save_model(args, model, w, acc, "parameter-server", workers)


def main():
    args = parse_args()
    env = os.environ
    tf_config = json.loads(env["TF_CONFIG"]) if env.get("TF_CONFIG") else None
    mpi_size = int(env.get("OMPI_COMM_WORLD_SIZE", env.get("PMI_SIZE", "1")))
    if mpi_size <= 1 and int(env.get("WORLD_SIZE", "1")) > 1:
        try:
            import mpi4py  # noqa: F401

            mpi_size = int(env["WORLD_SIZE"])
        except ImportError:
            pass
    log(f"python {sys.executable}, numpy {np.__version__} from {np.__file__}")
    prefix = env.get("CONDA_PREFIX")
    if prefix:
        # In an envpack (or conda) environment image: the job must run on that environment's python
        # and numpy, not on whatever the base image brings.
        inside = all(os.path.realpath(p).startswith(prefix.rstrip("/") + "/")
                     for p in (sys.executable, np.__file__))
        log(f"conda environment {prefix}: {'yes' if inside else 'NO'}")
        if not inside:
            sys.exit(f"python or numpy is not the conda environment's ({prefix})")
    if tf_config and tf_config.get("cluster", {}).get("ps"):
        task = tf_config["task"]
        if task["type"] == "ps":
            run_ps(args, tf_config)
        else:
            run_worker(args, tf_config, int(task["index"]))
    elif mpi_size > 1:
        train_mpi(args)
    else:
        train_single(args)


if __name__ == "__main__":
    main()
