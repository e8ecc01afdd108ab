"""Make the transfer-learning demonstration of docs/finetuning.md: a torchvision-format
ResNet-18 `.pth` trained on digits 0-4, and a folder of digits 5-9 with few images per
class (keras_resnet.training.transfer_demo).

    python scripts/make_transfer_demo.py --output_dir=runs/transfer_demo
    python scripts/train.py --recipe=finetune --dataset=folder:runs/transfer_demo/finetune \
        --model=resnet18 --weights=runs/transfer_demo/resnet18_digits04.pth ...

The last lines printed are the paths and the pretraining accuracy.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_resnet import cli  # noqa: E402

flags.DEFINE_string("output_dir", "runs/transfer_demo", "Where the folders and the .pth go.")
flags.DEFINE_integer("per_class", 5, "Training images per class of digits 5-9.")
flags.DEFINE_integer("pretrain_epochs", 8, "Epochs of ResNet-18 on digits 0-4.")
flags.DEFINE_integer("image_size", 32, "Model input side.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from keras_resnet.training import transfer_demo

    demo = transfer_demo.make_demo(FLAGS.output_dir, per_class=FLAGS.per_class,
                                   pretrain_epochs=FLAGS.pretrain_epochs,
                                   image_size=FLAGS.image_size, verbose=2)
    print(f"pretrain images: {demo['pretrain_images']}")
    print(f"finetune images: {demo['finetune_images']}")
    print(f"pretrained: {demo['pth']}")
    print(f"finetune folder: {demo['finetune_dir']}")
    print(f"pretrain test accuracy (digits 0-4): {demo['pretrain_accuracy']:.4f}")


if __name__ == "__main__":
    cli.run(main)
