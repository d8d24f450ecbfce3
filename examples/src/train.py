"""A small training script in the shape of Azure ML's TensorFlow walkthrough: it reads its data
folder, trains a tiny model with plain numpy-free Python, and writes outputs/ and logs.
Run under `envpack run` it sees RANK/WORLD_SIZE (MPI) or TF_CONFIG (TensorFlow distribution)."""
import argparse
import json
import os
import random


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-folder", default="data")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    rank = int(os.environ.get("RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    world = int(os.environ.get("WORLD_SIZE", os.environ.get("OMPI_COMM_WORLD_SIZE", "1")))
    random.seed(rank)
    # y = 3x + 1 with noise; each rank sees its own shard.
    xs = [random.uniform(-1, 1) for _ in range(1000)][rank::world]
    ys = [3 * x + 1 + random.gauss(0, 0.1) for x in xs]
    w, b = 0.0, 0.0
    for epoch in range(args.epochs):
        for i in range(0, len(xs), args.batch_size):
            bx, by = xs[i:i + args.batch_size], ys[i:i + args.batch_size]
            gw = sum(2 * (w * x + b - y) * x for x, y in zip(bx, by)) / len(bx)
            gb = sum(2 * (w * x + b - y) for x, y in zip(bx, by)) / len(bx)
            w -= args.learning_rate * gw * 10
            b -= args.learning_rate * gb * 10
        print(f"rank {rank}/{world} epoch {epoch} w={w:.3f} b={b:.3f}", flush=True)
    os.makedirs("outputs", exist_ok=True)
    with open(f"outputs/model-rank{rank}.json", "w") as f:
        json.dump({"w": w, "b": b}, f)


if __name__ == "__main__":
    main()
