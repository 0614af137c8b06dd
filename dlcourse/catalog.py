"""The numbered labs of the course: number, unit, what each teaches and what it leaves behind.

The numbers are part of the contract (docs/DESIGN.md, "Labs"): tests, grading manifests and the README
refer to them. Each lab is a thin script ``labs/NN_slug.py`` with a ``main(argv=None)``; setup.py
installs the ``labs/`` folder as the package ``dlcourse.labs``, so the scripts are found the same way
in a checkout, an editable install, a wheel and ``pip install git+...``.
"""

import ast
import dataclasses
import importlib
import importlib.util
import pathlib

from dlcourse.errors import UserError

LABS_PACKAGE = "dlcourse.labs"


def labs_directory():
    """The folder holding the lab scripts: wherever Python finds ``dlcourse.labs``.

    In a checkout that is ``<repo>/labs`` (an editable install maps it there, and a plain import
    from the repository root falls back to it); in an installed package, ``site-packages/dlcourse/labs``.
    """
    try:
        spec = importlib.util.find_spec(LABS_PACKAGE)
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return pathlib.Path(next(iter(spec.submodule_search_locations)))
    return pathlib.Path(__file__).resolve().parent.parent / "labs"


@dataclasses.dataclass(frozen=True)
class Lab:
    """One lab of the course."""

    number: str
    slug: str
    unit: str
    title: str
    outputs: tuple
    dataset: str  # the full dataset it trains on ("none" when it needs no data)
    sample: str  # the embedded stand-in used by --dataset sample and --smoke

    @property
    def name(self):
        """``NN_slug``: the lab's script name and its folder under the output root."""
        return f"{self.number}_{self.slug}"

    @property
    def script(self):
        """The lab's script file (``labs/NN_slug.py`` in a checkout)."""
        return labs_directory() / f"{self.name}.py"

    @property
    def docstring(self):
        """The lab script's docstring: what it teaches, what to observe, its outputs."""
        return ast.get_docstring(ast.parse(self.script.read_text(encoding="utf-8")))


LABS = (
    Lab("01", "perceptron", "I", "Perceptron: the handbook's bipolar-AND exercise in NumPy",
        ("run.json", "decision_line.png"), "none", "none"),
    Lab("02", "xor_mlp", "I", "XOR / XNOR with a 2-2-1 MLP",
        ("xor_mlp.h5", "xnor_mlp.h5"), "none", "none"),
    Lab("03", "deep_ffn", "I", "Deep feed-forward net: six optimizers, capacity, batch vs stochastic descent",
        ("ffn_<optimizer>.h5", "optimizer_comparison.png"), "mnist", "digits"),
    Lab("04", "backprop", "I", "Backpropagation from scratch, checked against GradientTape",
        ("gradient_check.json", "loss_curve.png"), "digits", "digits"),
    Lab("05", "activations_pooling", "II", "Activation functions and pooling",
        ("activations.png", "pooling.json"), "none", "none"),
    Lab("06", "cifar10_cnn", "II", "The notes' CIFAR-10 CNN (Listing II-B)",
        ("cnn_cifar10_model.h5",), "cifar10", "shapes"),
    Lab("07", "lenet5", "II", "LeNet-5 as tabulated in the handbook",
        ("lenet5.h5",), "mnist", "digits"),
    Lab("08", "classic_architectures", "II", "VGG-16, GoogLeNet, ResNet; plain vs residual depth",
        ("architectures.csv", "degradation.png"), "cifar10", "shapes"),
    Lab("09", "regularization", "II", "Dropout, normalization and data augmentation",
        ("normalization_comparison.csv", "augmentation_grid.png"), "cifar10", "shapes"),
    Lab("10", "transfer_learning", "II", "Transfer learning with ResNet50, then fine-tuning",
        ("resnet50_transfer.h5",), "flowers", "shapes"),
    Lab("11", "image_classifier", "II", "Practical work: classifier, curves, confusion matrix, GUI",
        ("classifier.h5", "learning_curves.png", "confusion_matrix.png"), "fashion_mnist", "digits"),
    Lab("12", "sentiment_rnn", "III", "Sentiment with SimpleRNN / LSTM / GRU / bidirectional",
        ("sentiment_<model>.h5", "comparison.csv"), "imdb", "reviews"),
    Lab("13", "bptt_gradients", "III", "BPTT, vanishing gradients, gradient clipping",
        ("gradient_norms.png", "exploding_gradients.png", "sliding_window_vs_rnn.csv"), "none", "none"),
    Lab("14", "dcgan", "IV", "DCGAN with a custom train_step",
        ("dcgan_generator.h5", "dcgan_discriminator.h5"), "mnist", "digits"),
    Lab("15", "conditional_gan", "IV", "Conditional GAN",
        ("cgan_generator.h5", "class_samples.png"), "mnist", "digits"),
    Lab("16", "dense_autoencoder", "V", "The notes' dense MNIST autoencoder (784-128-64-32)",
        ("autoencoder.h5", "encoder.h5", "reconstructions.png"), "mnist", "digits"),
    Lab("17", "autoencoder_variants", "V", "Convolutional, denoising and sparse autoencoders",
        ("conv_autoencoder.h5", "denoising_autoencoder.h5", "sparse_autoencoder.h5", "comparison.csv",
         "anomaly_scores.png"), "mnist", "digits"),
    Lab("18", "vae", "V", "VAE with a reparameterisation (Sampling) layer",
        ("vae_encoder.h5", "vae_decoder.h5", "latent_scatter.png", "latent_grid.png", "interpolation.png"),
        "mnist", "digits"),
    Lab("19", "adversarial_autoencoder", "V", "Adversarial autoencoder (a hybrid of AE and GAN; not BiGAN/ALI)",
        ("aae_encoder.h5", "aae_decoder.h5", "aae_discriminator.h5", "samples.png"), "mnist", "digits"),
    Lab("20", "rnn_modes", "III", "RNN input/output modes: one-to-many, tagging, encoder-decoder",
        ("one_to_many.h5", "tagger.h5", "encoder_decoder.h5", "modes.png"), "none", "none"),
    Lab("21", "seq2seq_attention", "III", "Sequence to sequence, without and with attention",
        ("seq2seq_plain.h5", "seq2seq_attention.h5", "attention_matrix.png", "accuracy_by_length.png"),
        "none", "none"),
    Lab("22", "char_language_model", "III", "Character-level LSTM language model: sampling, perplexity",
        ("char_lm.h5", "samples.txt", "comparison.csv"), "corpus", "corpus"),
    Lab("23", "transformer", "III", "Transformer: attention, positional encoding, a classifier beside an LSTM",
        ("transformer_classifier.h5", "attention_maps.png", "scaling.csv"), "imdb", "reviews"),
    Lab("24", "discriminative_generative", "IV", "Discriminative vs generative classifiers on digits",
        ("discriminative_mlp.h5", "comparison.csv", "comparison.md", "accuracy_by_training_size.png",
         "accuracy_by_missing_share.png", "generated_digits.png"), "digits", "digits"),
    Lab("25", "gan_failures", "IV", "Mode collapse and its fixes: WGAN-GP, spectral norm, feature matching",
        ("comparison.csv", "modes_per_epoch.png", "final_samples.png"), "none", "none"),
    Lab("26", "bigan", "V", "BiGAN: an encoder-decoder GAN with a discriminator on (x, z) pairs",
        ("bigan_encoder.h5", "bigan_generator.h5", "bigan_discriminator.h5", "reconstructions.png",
         "code_classifier.csv"), "mnist", "digits"),
    Lab("27", "autoencoder_applications", "V", "Autoencoder applications: features with few labels, PCA, colouring",
        ("few_label_classifier.h5", "colorization_autoencoder.h5", "applications.csv", "codes_vs_pca.png",
         "colorization.png"), "mnist", "digits"),
    Lab("28", "gan_applications", "IV", "GAN applications: data augmentation, a two-stage (StackGAN-style) generator",
        ("augmentation.csv", "stage1_generator.h5", "stage2_generator.h5", "stages.png"), "mnist", "digits"),
    Lab("29", "image_translation", "IV", "Image-to-image GANs: pix2pix and super-resolution",
        ("pix2pix_generator.h5", "sr_generator.h5", "translation.png", "super_resolution.png", "super_resolution.csv"),
        "mnist", "digits"),
)


def get_lab(key):
    """The lab named by its number (``"6"``, ``"06"``) or slug (``"cifar10_cnn"``, ``"06_cifar10_cnn"``)."""
    key = str(key).strip()
    for lab in LABS:
        if key in (lab.number, lab.slug, lab.name) or (key.isdigit() and int(key) == int(lab.number)):
            return lab
    valid = ", ".join(lab.name for lab in LABS)
    raise UserError(f"unknown lab {key!r}; valid labs are: {valid} (see `dlcourse list`)")


def load_lab_module(lab):
    """Import lab ``lab`` as the module ``dlcourse.labs.NN_slug`` (a name that starts with a digit,
    so through importlib rather than an import statement)."""
    if not lab.script.is_file():
        raise UserError(f"lab {lab.name} is missing from this installation (no {lab.script}); "
                        "reinstall dlcourse (`pip install --force-reinstall dlcourse`)")
    if importlib.util.find_spec(LABS_PACKAGE) is None:  # a checkout imported without installing
        spec = importlib.util.spec_from_file_location(f"{LABS_PACKAGE}.{lab.name}", lab.script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(f"{LABS_PACKAGE}.{lab.name}")
