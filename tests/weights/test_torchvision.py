"""torchvision state dicts load into our v1.5 models and reproduce PyTorch's outputs.

torchvision does not install beside torch 2.13 here, so the reference below is a copy
of torchvision's ResNet structure in plain torch, with the same module names (and so
the same state-dict keys): conv1, bn1, layer{1..4}.{i}.conv{1,2,3}/bn{1,2,3},
.downsample.{0,1}, fc; groups, width_per_group and replace_stride_with_dilation as
torchvision's.
"""

import numpy as np
import pytest
from factories import tiny_model

import keras_resnet
from keras_resnet.weights import torchvision as tv

torch = pytest.importorskip("torch")
nn = torch.nn

TOL = 1e-4


def conv3x3(cin, cout, stride=1, groups=1, dilation=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                 base_width=64, dilation=1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                 base_width=64, dilation=1):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class TorchResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, groups=1, width_per_group=64,
                 replace_stride_with_dilation=None):
        super().__init__()
        self.inplanes, self.dilation = 64, 1
        replace = replace_stride_with_dilation or [False, False, False]
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        downsample, previous_dilation = None, self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups,
                        self.base_width, previous_dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation))
        return nn.Sequential(*layers)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.features(x))


def randomized(model, seed=0):
    """Random weights and random BN statistics, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.05)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
    return model.eval()


def images(n=2, size=64, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size, size, 3)).astype("float32")


def torch_out(model, x, features=False):
    with torch.no_grad():
        t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        return (model.features(t) if features else model(t)).numpy()


def save(model, tmp_path, name="model.pth"):
    path = tmp_path / name
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize("depth,block,layers", [
    (18, BasicBlock, [2, 2, 2, 2]),
    pytest.param(50, Bottleneck, [3, 4, 6, 3], marks=pytest.mark.slow),
])
def test_named_constructor_matches_pytorch(tmp_path, depth, block, layers):
    reference = randomized(TorchResNet(block, layers, num_classes=10))
    path = save(reference, tmp_path, f"resnet{depth}.pth")
    constructor = getattr(keras_resnet, f"ResNet{depth}")
    model = constructor(weights=str(path), input_shape=(64, 64, 3), classes=10,
                        classifier_activation=None)
    x = images()
    expected = torch_out(reference, x)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=TOL, rtol=0)
    assert np.abs(expected).max() > 0.1  # the comparison is not between near-zeros


def test_grouped_dilated_model_matches_pytorch(tmp_path):
    # ResNeXt-style grouped 3x3 convs and torchvision's replace_stride_with_dilation.
    reference = randomized(TorchResNet(Bottleneck, [1, 1, 1, 1], num_classes=7, groups=4,
                                       width_per_group=8,
                                       replace_stride_with_dilation=[False, True, True]))
    path = save(reference, tmp_path)
    model = keras_resnet.ResNet([1, 1, 1, 1], weights=str(path), block="bottleneck",
                                groups=4, width_per_group=8,
                                replace_stride_with_dilation=[False, True, True],
                                input_shape=(64, 64, 3), classes=7, classifier_activation=None)
    x = images()
    np.testing.assert_allclose(model.predict(x, verbose=0), torch_out(reference, x),
                               atol=TOL, rtol=0)


def test_headless_model_skips_fc_and_matches_features():
    reference = randomized(TorchResNet(BasicBlock, [1, 1, 1, 1], num_classes=5))
    model = keras_resnet.build_resnet([1, 1, 1, 1], block="basic", include_top=False,
                                      pooling="avg", input_shape=(64, 64, 3))
    keras_resnet.load_torchvision_weights(model, reference.state_dict())
    x = images()
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               torch_out(reference, x, features=True), atol=TOL, rtol=0)


def tiny(depths=(1, 1, 1, 1), **kw):
    return tiny_model(classes=5, size=64, depths=depths, stem="imagenet", name="resnet", **kw)


def test_model_deeper_than_checkpoint_names_first_missing_layer():
    state = TorchResNet(BasicBlock, [1, 1, 1, 1], num_classes=5).state_dict()
    with pytest.raises(ValueError, match=r"layer1\.1\.conv1\.weight.*'conv2_block2_1_conv'"):
        keras_resnet.load_torchvision_weights(tiny((2, 1, 1, 1)), state)


def test_checkpoint_deeper_than_model_names_first_unused_key():
    state = TorchResNet(BasicBlock, [1, 2, 1, 1], num_classes=5).state_dict()
    with pytest.raises(ValueError, match=r"first 'layer2\.1\.conv1\.weight'"):
        keras_resnet.load_torchvision_weights(tiny(), state)


def test_wrong_block_type_names_layer_and_both_shapes():
    state = TorchResNet(Bottleneck, [1, 1, 1, 1], num_classes=5).state_dict()
    model = tiny()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"'conv2_block1_1_conv'.*expects \(3, 3, 64, 64\)"
                                         r".*has \(1, 1, 64, 64\)"):
        keras_resnet.load_torchvision_weights(model, state)
    # Nothing was written before the failure.
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_wrong_classes_names_predictions():
    state = TorchResNet(BasicBlock, [1, 1, 1, 1], num_classes=1000).state_dict()
    with pytest.raises(ValueError, match=r"'predictions'.*\(512, 5\).*\(512, 1000\)"):
        keras_resnet.load_torchvision_weights(tiny(), state)


def test_v1_model_is_refused():
    state = TorchResNet(Bottleneck, [1, 1, 1, 1], num_classes=5).state_dict()
    with pytest.raises(ValueError, match="v1.5"):
        keras_resnet.load_torchvision_weights(tiny(block="bottleneck", version="v1"), state)


def test_se_model_is_refused():
    state = TorchResNet(Bottleneck, [1, 1, 1, 1], num_classes=5).state_dict()
    with pytest.raises(ValueError, match="no counterpart"):
        keras_resnet.load_torchvision_weights(tiny(block="bottleneck", se_ratio=1 / 16), state)


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "full_model.pth"
    torch.save(TorchResNet(BasicBlock, [1, 1, 1, 1], num_classes=5), path)
    with pytest.raises(ValueError, match="not a plain PyTorch state dict"):
        keras_resnet.load_torchvision_weights(tiny(), path)


def test_dict_with_non_tensor_values_is_refused(tmp_path):
    path = tmp_path / "checkpoint.pth"
    state = TorchResNet(BasicBlock, [1, 1, 1, 1], num_classes=5).state_dict()
    torch.save({"epoch": 3, **state}, path)
    with pytest.raises(ValueError, match="'epoch' is a int"):
        keras_resnet.load_torchvision_weights(tiny(), path)


def test_data_parallel_prefix_and_numpy_state_dict_load():
    reference = randomized(TorchResNet(BasicBlock, [1, 1, 1, 1], num_classes=5))
    state = {f"module.{k}": v.numpy() for k, v in reference.state_dict().items()}
    model = keras_resnet.load_torchvision_weights(tiny(classifier_activation=None), state)
    x = images(1)
    np.testing.assert_allclose(model.predict(x, verbose=0), torch_out(reference, x),
                               atol=TOL, rtol=0)


def test_epsilon_mismatch_warns():
    state = TorchResNet(BasicBlock, [1, 1, 1, 1], num_classes=5).state_dict()
    with pytest.warns(UserWarning, match="epsilon"):
        keras_resnet.load_torchvision_weights(tiny(bn_epsilon=1e-3), state)


def test_module_names_follow_torchvision():
    assert tv.torch_module_name("conv1_conv") == "conv1"
    assert tv.torch_module_name("conv2_block1_0_conv") == "layer1.0.downsample.0"
    assert tv.torch_module_name("conv5_block3_3_bn") == "layer4.2.bn3"
    assert tv.torch_module_name("predictions") == "fc"
    assert tv.torch_module_name("conv2_block1_se_reduce") is None
