"""Generators and discriminators, each a factory returning a `gan_jax.nets.Network`.

Generators map latents `[B, latent_dim]` to samples `[B, *data_shape]`;
discriminators map samples to `(logits [B], features [B, F])`. Batch-norm statistics
and spectral-norm power-iteration vectors live in the `batch_stats` collection;
dropout draws from the `dropout` RNG stream, only with `train=True`. `GENERATORS`
and `DISCRIMINATORS` register the built-ins by name, each a `Model` (registry.py).
"""

from gan_jax.models.dcgan import DCGANDiscriminator
from gan_jax.models.dcgan import DCGANGenerator
from gan_jax.models.dcgan import dcgan_discriminator
from gan_jax.models.dcgan import dcgan_generator
from gan_jax.models.ensemble import ensemble
from gan_jax.models.gaussian_1d import Gaussian1DDiscriminator
from gan_jax.models.gaussian_1d import Gaussian1DGenerator
from gan_jax.models.gaussian_1d import gaussian_1d_discriminator
from gan_jax.models.gaussian_1d import gaussian_1d_generator
from gan_jax.models.goodfellow import GoodfellowMNISTDiscriminator
from gan_jax.models.goodfellow import GoodfellowMNISTGenerator
from gan_jax.models.goodfellow import goodfellow_mnist_discriminator
from gan_jax.models.goodfellow import goodfellow_mnist_generator
from gan_jax.models.goodfellow import sigmoid_bias_from_marginals
from gan_jax.models.layers import ACTIVATIONS
from gan_jax.models.layers import Maxout
from gan_jax.models.layers import MinibatchDiscrimination
from gan_jax.models.mlp import MLPDiscriminator
from gan_jax.models.mlp import MLPGenerator
from gan_jax.models.mlp import mlp_discriminator
from gan_jax.models.mlp import mlp_generator
from gan_jax.models.metz import MetzDiscriminator
from gan_jax.models.metz import MetzGenerator
from gan_jax.models.metz import metz_discriminator
from gan_jax.models.metz import metz_generator
from gan_jax.models.nnx_adapter import from_nnx
from gan_jax.models.pacgan import in_passes
from gan_jax.models.pacgan import pack
from gan_jax.models.pacgan import packed
from gan_jax.models.registry import Model
from gan_jax.models.resnet import ResNetDiscriminator
from gan_jax.models.resnet import ResNetGenerator
from gan_jax.models.resnet import resnet_discriminator
from gan_jax.models.resnet import resnet_generator
from gan_jax.models.tf_dcgan import TFDCGANDiscriminator
from gan_jax.models.tf_dcgan import TFDCGANGenerator
from gan_jax.models.tf_dcgan import tf_dcgan_discriminator
from gan_jax.models.tf_dcgan import tf_dcgan_generator

# The registries: one line per built-in network (its factory, the data it is for,
# the argument that takes the data's shape, an image generator's output range).
GENERATORS = {
    "mlp": Model(mlp_generator, "points", "output_dim"),
    "gaussian_1d": Model(gaussian_1d_generator, "points"),
    "goodfellow_mnist": Model(goodfellow_mnist_generator, "image", None, "sigmoid"),
    "dcgan": Model(dcgan_generator, "image", "image_shape", "tanh"),
    "resnet": Model(resnet_generator, "image", "image_shape", "tanh"),
    "metz": Model(metz_generator, "image", "image_shape", "tanh"),
    "tf_dcgan": Model(tf_dcgan_generator, "image", "image_shape", "tanh"),
}

DISCRIMINATORS = {
    "mlp": Model(mlp_discriminator, "points"),
    "gaussian_1d": Model(gaussian_1d_discriminator, "points"),
    "goodfellow_mnist": Model(goodfellow_mnist_discriminator, "image"),
    "dcgan": Model(dcgan_discriminator, "image", "image_shape"),
    "resnet": Model(resnet_discriminator, "image"),
    "metz": Model(metz_discriminator, "image", "image_shape"),
    "tf_dcgan": Model(tf_dcgan_discriminator, "image", "image_shape"),
}
