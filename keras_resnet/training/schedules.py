"""Learning-rate schedules driven by the optimizer's iteration counter, so a resumed run
(which restores `optimizer.iterations`) continues on the same curve."""

import keras
from keras import ops

SCHEDULES = ("step", "cosine", "plateau", "constant")


@keras.saving.register_keras_serializable(package="keras_resnet")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Warmup, then step decay, cosine annealing or a constant rate.

    Args:
        base_lr: float. Peak learning rate after warmup.
        total_steps: int. Steps of the whole run (cosine reaches 0 there).
        kind: str. "step", "cosine" or "constant" ("plateau" runs as constant here,
            with `keras.callbacks.ReduceLROnPlateau` lowering it).
        warmup_steps: int. Warmup length. Defaults to 0.
        warmup_mode: str. "linear" (a ramp up to base_lr) or "constant" (base_lr x
            warmup_factor). Defaults to "linear".
        warmup_factor: float. Rate during constant warmup, relative. Defaults to 0.1.
        warmup_start_factor: float in [0, 1). Linear warmup only: the first step runs
            at base_lr x this and the rate rises linearly to base_lr at warmup_steps
            (torchvision's LinearLR start_factor, --lr-warmup-decay; timm's warmup_lr /
            lr). 0 keeps the ramp of the paper's recipes here, base_lr x (step + 1) /
            warmup_steps, whose first step already moves (a ramp from exactly 0 would
            waste it). Defaults to 0.
        boundaries: list of int. Steps at which "step" divides the rate. Defaults to ().
        decay: float. Factor applied at each boundary. Defaults to 0.1.
    """

    def __init__(self, base_lr, total_steps, kind="cosine", warmup_steps=0,
                 warmup_mode="linear", warmup_factor=0.1, boundaries=(), decay=0.1,
                 warmup_start_factor=0.0):
        if kind not in SCHEDULES:
            raise ValueError(f"Unknown schedule={kind!r}. Allowed values: {list(SCHEDULES)}.")
        if warmup_mode not in ("linear", "constant"):
            raise ValueError(f"Unknown warmup_mode={warmup_mode!r}. "
                             "Allowed values: ['linear', 'constant'].")
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.kind = kind
        self.warmup_steps = int(warmup_steps)
        self.warmup_mode = warmup_mode
        self.warmup_factor = float(warmup_factor)
        if not 0.0 <= warmup_start_factor < 1.0:  # NaN fails too
            raise ValueError(f"warmup_start_factor must be in [0, 1). "
                             f"Received: warmup_start_factor={warmup_start_factor!r}.")
        self.warmup_start_factor = float(warmup_start_factor)
        self.boundaries = [int(b) for b in boundaries]
        self.decay = float(decay)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        lr = ops.convert_to_tensor(self.base_lr, "float32")
        if self.kind == "step":
            for boundary in self.boundaries:
                lr = ops.where(step >= boundary, lr * self.decay, lr)
        elif self.kind == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
            lr = 0.5 * lr * (1.0 + ops.cos(3.141592653589793 * progress))
        if self.warmup_steps > 0:
            if self.warmup_mode == "linear":
                start = self.warmup_start_factor
                offset = 1.0 if start == 0 else 0.0
                warm = self.base_lr * (
                    start + (1.0 - start) * (step + offset) / self.warmup_steps)
            else:
                warm = ops.convert_to_tensor(self.base_lr * self.warmup_factor, "float32")
            lr = ops.where(step < self.warmup_steps, warm, lr)
        return lr

    def get_config(self):
        return dict(base_lr=self.base_lr, total_steps=self.total_steps, kind=self.kind,
                    warmup_steps=self.warmup_steps, warmup_mode=self.warmup_mode,
                    warmup_factor=self.warmup_factor, boundaries=list(self.boundaries),
                    decay=self.decay, warmup_start_factor=self.warmup_start_factor)
