"""Training: recipes, schedules, strategies, callbacks and `train_and_evaluate`."""

from keras_resnet.io import RunFolderLocked
from keras_resnet.io import load_keras as load_model  # .keras checkpoints, dtype policy applied
from keras_resnet.training.callbacks import CheckpointWriteError
from keras_resnet.training.loop import (
    ConfigError,
    TrainConfig,
    TrainingDiverged,
    WorkerLost,
    build_config,
    train_and_evaluate,
)
from keras_resnet.training.recipes import RECIPES, get_recipe, list_recipes
from keras_resnet.training.schedules import WarmupSchedule
from keras_resnet.training.strategies import STRATEGIES, make_strategy
