"""``python -m numbanet.models.train_digits``: train the digits CNN and save its weights.

Trains ``numbanet.models.digits_cnn()`` on the 8x8 digits shipped with numbanet, with
the fixed 80/20 split of ``numbanet.demo.digits_split`` (1,438 training and 359 test
images), cross-entropy and Adam in mini-batches of 64 with a cosine learning-rate
schedule, then prints the test accuracy and
writes the weights (``nb.save`` format) to ``numbanet/models/weights/digits_cnn.nbz``,
where ``digits_cnn(pretrained=True)`` finds them. The run is deterministic for a given
``--seed`` (same weights, same order of batches) on the CPU.
"""
from __future__ import annotations

import argparse
import time

import numbanet as nb
from numbanet import nn, optim
from numbanet.demo import digits_split
from numbanet.models.digits import DIGITS_WEIGHTS, digits_cnn
from numbanet.utils.data import DataLoader, TensorDataset


def images(x):
    """Flat rows of 64 pixels as (N, 1, 8, 8) images."""
    return nb.tensor(x).reshape(-1, 1, 8, 8)


def accuracy(model: nn.Module, x: nb.Tensor, y: nb.Tensor) -> float:
    with nb.no_grad():
        return (model(x).argmax(1) == y).sum().item() / len(y)


def train(epochs: int = 15, batch_size: int = 64, lr: float = 1e-2, seed: int = 0,
          report=print) -> tuple[nn.Module, float]:
    """The trained model and its test accuracy; ``report`` gets a line per epoch."""
    nb.manual_seed(seed)
    x_train, y_train, x_test, y_test = digits_split()
    loader = DataLoader(TensorDataset(images(x_train), nb.tensor(y_train)),
                        batch_size=batch_size, shuffle=True)
    x_test, y_test = images(x_test), nb.tensor(y_test)
    model = digits_cnn()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    # the learning rate falls from lr to 0 along a half cosine: big steps first, then settling
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        schedule.step()
        model.eval()
        acc = accuracy(model, x_test, y_test)
        if report:
            report(f"epoch {epoch:2d}/{epochs}  train loss {total / len(y_train):.4f}  "
                   f"test accuracy {100 * acc:5.1f}%")
    return model, acc


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m numbanet.models.train_digits",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=DIGITS_WEIGHTS, help="where to write the weights")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model, acc = train(args.epochs, seed=args.seed)
    nb.save(model.state_dict(), args.out)
    print(f"test accuracy: {100 * acc:.1f}% ({time.perf_counter() - start:.1f} s); "
          f"weights written to {args.out}")


if __name__ == "__main__":
    main()
