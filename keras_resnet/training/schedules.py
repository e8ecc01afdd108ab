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
        warmup_mode: str. "linear" (from 0 to base_lr) or "constant" (base_lr x
            warmup_factor). Defaults to "linear".
        warmup_factor: float. Rate during constant warmup, relative. Defaults to 0.1.
        boundaries: list of int. Steps at which "step" divides the rate. Defaults to ().
        decay: float. Factor applied at each boundary. Defaults to 0.1.
    """

    def __init__(self, base_lr, total_steps, kind="cosine", warmup_steps=0,
                 warmup_mode="linear", warmup_factor=0.1, boundaries=(), decay=0.1):
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
                warm = self.base_lr * (step + 1.0) / self.warmup_steps
            else:
                warm = ops.convert_to_tensor(self.base_lr * self.warmup_factor, "float32")
            lr = ops.where(step < self.warmup_steps, warm, lr)
        return lr

    def get_config(self):
        return dict(base_lr=self.base_lr, total_steps=self.total_steps, kind=self.kind,
                    warmup_steps=self.warmup_steps, warmup_mode=self.warmup_mode,
                    warmup_factor=self.warmup_factor, boundaries=list(self.boundaries),
                    decay=self.decay)
