"""`ModelEMA`: an exponential moving average of every model weight, as torchvision's
`ExponentialMovingAverage` (`references/classification/utils.py`, `use_buffers=True`).

Every `every` steps: ema = decay * ema + (1 - decay) * w, for the trainable weights and
the BatchNormalization statistics alike; the first update copies the weights (as
torch's `AveragedModel`). torchvision's recipe updates every 32 steps with decay
0.99998 adjusted for that interval and the batch: `adjusted_decay` gives the same
adjustment. The averaged weights are what is evaluated, saved and exported:
`swap_in` / `swap_out` exchange them with the model's.
"""

import keras
import numpy as np


def adjusted_decay(decay, *, global_batch, every, epochs):
    """torchvision's train.py: alpha = min(1, (1 - decay) * batch * every / epochs),
    decay' = 1 - alpha, so the average spans the same share of training whatever the
    update interval and batch."""
    alpha = min(1.0, (1.0 - decay) * global_batch * every / epochs)
    return 1.0 - alpha


class ModelEMA(keras.callbacks.Callback):
    """Keeps the moving average of `model.weights` every `every` training steps.

    Args:
        decay: float in [0, 1). Weight of the old average.
        every: int >= 1. Steps between updates. Defaults to 1.
        start_step: int. Global steps before which the average is reset to the
            weights (torchvision resets it during the warmup epochs). Defaults to 0.
    """

    def __init__(self, decay, every=1, start_step=0):
        super().__init__()
        if not (isinstance(decay, (int, float)) and 0.0 <= decay < 1.0):
            raise ValueError(f"ema_decay must be in [0, 1). Received: ema_decay={decay!r}.")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"ema_every must be an integer >= 1. Received: ema_every={every!r}.")
        self.decay, self.every, self.start_step = float(decay), every, int(start_step)
        self.average = None  # list of float64 arrays, in model.weights order
        self.updates = 0
        self.step = 0
        self._held = None
        self._last_batch = -1

    # -- state, for checkpoints ------------------------------------------------
    def get_state(self):
        """{"step", "updates", "average"}: what a resumed run needs to continue
        exactly."""
        return {"step": self.step, "updates": self.updates,
                "average": None if self.average is None else [a.copy() for a in self.average]}

    def set_state(self, state):
        self.step, self.updates = int(state["step"]), int(state["updates"])
        self.average = (None if state["average"] is None
                        else [np.array(a, np.float64) for a in state["average"]])

    # -- the average -------------------------------------------------------------
    def update(self, weights):
        """One EMA update from the list of weight arrays `weights`."""
        if self.average is None or self.step <= self.start_step:
            self.average = [np.array(w, np.float64) for w in weights]
        else:
            for average, w in zip(self.average, weights):
                average *= self.decay
                average += (1.0 - self.decay) * np.asarray(w, np.float64)
        self.updates += 1

    def on_epoch_begin(self, epoch, logs=None):
        self._last_batch = -1

    def on_train_batch_end(self, batch, logs=None):
        # With steps_per_execution > 1, Keras calls this once per execution with the
        # index of its last batch: count the steps it covered. An epoch's last
        # execution may run fewer steps than Keras reports (an index past the epoch's
        # end; keras_resnet._keras_compat.exact_steps_per_execution).
        steps = (self.params or {}).get("steps")
        if steps:
            batch = min(batch, steps - 1)
        last = getattr(self, "_last_batch", -1)
        covered = max(1, batch - last)
        self._last_batch = batch
        before, self.step = self.step, self.step + covered
        if self.step // self.every > before // self.every:
            self.update([keras.ops.convert_to_numpy(w) for w in self.model.weights])

    def swap_in(self, model=None):
        """Puts the averaged weights into the model (keeping the raw ones to restore)."""
        model = model or self.model
        if self.average is None:
            return
        self._held = [keras.ops.convert_to_numpy(w) for w in model.weights]
        for variable, average in zip(model.weights, self.average):
            variable.assign(average.astype(variable.dtype))

    def swap_out(self, model=None):
        """Restores the raw training weights after `swap_in`."""
        model = model or self.model
        if self._held is None:
            return
        for variable, value in zip(model.weights, self._held):
            variable.assign(value)
        self._held = None
