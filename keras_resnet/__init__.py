"""keras_resnet: the ResNet family for Keras 3.

Drop-in for `keras.applications.ResNet50` and every variant it lacks:

    import keras_resnet
    model = keras_resnet.ResNet50(weights=None, classes=1000)
    model = keras_resnet.ResNet56()                 # CIFAR, option A shortcuts
    model = keras_resnet.create_model("plain56")    # any registered name
"""

from keras_resnet.applications import *  # noqa: F401,F403  (named constructors)
from keras_resnet.applications import CONSTRUCTORS, ResNet, create_model
from keras_resnet.models import (
    ResNetFCN,
    build_resnet,
    count_flops,
    feature_pyramid,
    fold_batch_norm,
    get_variant,
    list_models,
    preprocess_input,
)
from keras_resnet.models.decode import decode_predictions
from keras_resnet.weights import list_weights, load_torchvision_weights

__version__ = "0.1.0"
