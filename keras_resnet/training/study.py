"""The degradation study of the paper's Figure 6: plain nets get worse with depth,
residual nets of the same depth do not."""

import os

from keras_resnet.io import atomic_savefig
from keras_resnet.training import callbacks as cb
from keras_resnet.training import loop


def degradation_study(depths=(20, 56), *, output_dir="runs/degradation", recipe="digits",
                      **overrides):
    """Trains plain<d> and resnet<d> for each depth and plots their curves side by side.

    Args:
        depths: sequence of int. CIFAR depths 6n+2 (both plainN and resnetN must be
            registered). Defaults to (20, 56).
        output_dir: str. One subfolder per model plus `degradation.png`.
            Defaults to "runs/degradation".
        recipe: str. Recipe for every run. Defaults to "digits".
        **overrides: `TrainConfig` settings for every run (None values ignored).

    Returns:
        dict with "png" (path), "test_accuracy" {model: float} and "rows"
        {model: per-epoch metric rows}.
    """
    loop.prepare_output_dir(output_dir)
    overrides = {k: v for k, v in overrides.items() if k not in ("model", "output_dir")}
    accuracy, rows = {}, {}
    for depth in depths:
        for family in ("plain", "resnet"):
            name = f"{family}{depth}"
            config = loop.build_config(recipe, model=name,
                                       output_dir=os.path.join(output_dir, name), **overrides)
            result = loop.train_and_evaluate(config)
            accuracy[name] = result["test_accuracy"]
            rows[name] = cb.load_rows(loop.run_paths(config.output_dir)["json"])
    png = os.path.join(output_dir, "degradation.png")
    plot_study(rows, png)
    return {"png": png, "test_accuracy": accuracy, "rows": rows}


def plot_study(rows, path):
    """Figure-6 style: training error (thin) and held-out error (bold) per epoch, plain
    nets on the left, residual nets on the right."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, family in zip(axes, ("plain", "resnet")):
        for name, history in sorted(rows.items()):
            if not name.startswith(family):
                continue
            epochs = [r["epoch"] for r in history]
            line, = axis.plot(epochs, [100 * (1 - r.get("accuracy", float("nan")))
                                       for r in history], linewidth=1, label=f"{name} train")
            axis.plot(epochs, [100 * (1 - r.get("val_accuracy", float("nan"))) for r in history],
                      linewidth=2.5, color=line.get_color(), label=f"{name} test")
        axis.set_title("plain" if family == "plain" else "ResNet")
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    axes[0].set_ylabel("error (%)")
    figure.tight_layout()
    atomic_savefig(figure, path, dpi=100)
