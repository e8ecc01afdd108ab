"""The table of variants with their parameter counts and FLOPs, built from the code."""

import numpy as np

from keras_resnet.models.flops import count_flops
from keras_resnet.models.registry import create_model
from keras_resnet.models.variants import VARIANTS


def variant_rows(names=None):
    """One dict per variant: name, constructor, description, params, GFLOPs.

    Each variant is built at its default input size (224 ImageNet, 32 CIFAR) with its
    default classes (1000 / 10); FLOPs are multiply-adds per image.
    """
    rows = []
    for name in names or list(VARIANTS):  # registration order groups the families
        variant = VARIANTS[name]
        model = create_model(name)
        rows.append({
            "name": name,
            "constructor": variant.constructor,
            "description": variant.description,
            "input": f"{variant.default_size}x{variant.default_size}",
            "classes": variant.default_classes,
            "trainable_params": sum(int(np.prod(w.shape)) for w in model.trainable_weights),
            "gflops": count_flops(model) / 1e9,
        })
    return rows


def markdown_table(rows):
    lines = [
        "| constructor | name | input | classes | trainable params | GFLOPs (mult-adds) "
        "| description |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['constructor']}` | `{r['name']}` | {r['input']} | {r['classes']} | "
            f"{r['trainable_params']:,} | {r['gflops']:.3f} | {r['description']} |"
        )
    return "\n".join(lines)
