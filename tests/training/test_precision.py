"""Mixed precision (with float32 logits), XLA and steps_per_execution on CPU.

Loss scaling for float16 comes from Keras itself: `Model.compile(auto_scale_loss=True)`
wraps the optimizer in a LossScaleOptimizer when the model's policy is mixed_float16.
"""

import keras
import numpy as np
import pytest

from keras_resnet.training import build_config, load_model, train_and_evaluate
from keras_resnet.training.loop import validate

QUICK = dict(model="resnet20", image_size=16, max_steps_per_epoch=3, verbose=0,
             batch_size=16, epochs=1)


@pytest.mark.slow
@pytest.mark.parametrize("precision,jit,spe", [("bfloat16", True, 1), ("float16", False, 2)])
def test_mixed_precision_xla_and_steps_per_execution(tmp_path, precision, jit, spe):
    try:
        result = train_and_evaluate(build_config(
            "digits", mixed_precision=precision, jit_compile=jit, steps_per_execution=spe,
            output_dir=str(tmp_path), **QUICK))
    finally:
        keras.config.set_dtype_policy("float32")
    assert np.isfinite(result["test_accuracy"])
    model = load_model(tmp_path / "model.keras", safe_mode=True)
    assert model.get_layer("conv1_conv").compute_dtype == precision
    assert model.get_layer("predictions").compute_dtype == "float32"  # logits stay float32
    # Issue 16, item 17: under the default policy a float16 checkpoint lost its
    # LossScaleOptimizer's variables (0 iterations); load_model applies the recorded one.
    last = load_model(tmp_path / "last.keras")
    steps = int(result["model"].optimizer.iterations)
    assert steps > 0 and int(last.optimizer.iterations) == steps
    if precision == "float16":
        assert type(last.optimizer).__name__ == "LossScaleOptimizer"


def test_unknown_precision_lists_choices(tmp_path):
    with pytest.raises(ValueError, match=r"float32.*float16.*bfloat16"):
        validate(build_config("digits", mixed_precision="int4", output_dir=str(tmp_path)))
