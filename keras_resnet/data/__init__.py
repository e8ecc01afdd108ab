"""Datasets and tf.data pipelines for training and evaluation."""

from keras_resnet.data.augment import MODES as AUGMENT_MODES
from keras_resnet.data.mixing import MixConfig, mix_batch
from keras_resnet.data.pipeline import Normalization, make_dataset, sample_images
from keras_resnet.data.policies import POLICIES as AUTO_AUGMENT_POLICIES
from keras_resnet.data.sources import Source, decode_image, digits_arrays, load_source
