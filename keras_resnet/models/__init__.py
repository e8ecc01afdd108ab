"""Model builders: blocks, shortcuts, stems, heads, the variant table and registry.

Imports only keras, so the builders run under any Keras backend.
"""

from keras_resnet.models.features import ResNetFCN, feature_pyramid, stage_output_names
from keras_resnet.models.flops import count_flops
from keras_resnet.models.fold import fold_batch_norm
from keras_resnet.models.layers import (
    FusedBatchNormalization,
    ResizeToMatch,
    StochasticDepth,
    ZeroPadShortcut,
)
from keras_resnet.models.preprocessing import normalization, preprocess_input
from keras_resnet.models.registry import create_model, get_variant, list_models, variant_config
from keras_resnet.models.resnet import build_resnet
from keras_resnet.models.variants import VARIANTS, Variant
