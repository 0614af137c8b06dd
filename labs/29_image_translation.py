"""Lab 29 — image-to-image GANs: pix2pix and super-resolution (Unit IV, "Applications of GANs"; 003 §9; 004).

The notes list image-to-image translation ("turning sketches into photographs ... Models like CycleGAN
and Pix2Pix", 000 L1921 and item 5, L1943-L1945; 003 §9.2 "Conversion of sketches to photorealistic
images"; 004 "Conditional GAN (cGAN)": "image-to-image translation ... generating photos from
sketches") and super-resolution (000 L1923 and item 14, L1979-L1981; SRGAN, 000 L1882-L1890; 003 §9.1;
004 "Image super-resolution GAN (SRGAN)") among the applications of GANs, with no loss and no network.
This lab trains both, small, on 28x28 digits in [0, 1] (``dlcourse/generative/translation.py``,
networks in ``dlcourse/models/image_translation.py``):

(b) pix2pix (Isola et al. 2017) on a paired task built from the digits: edges -> digit, the edges being
the Sobel gradient magnitude of each digit (a "sketch"). A two-level U-Net generator with skip
connections and a PatchGAN discriminator that scores each patch of an (edges, image) pair; G
minimises the conditional GAN loss J_G + 100 * L1 (lambda = 100). The baseline is the SAME U-Net,
from the same initial weights with the same optimizer, trained with the L1 loss alone. The notes' cGAN feeds noise and a
label to G; pix2pix's G takes the image only (docs/SOURCES.md, erratum B76).
(c) super-resolution, 7x7 (4x4 block means) -> 28x28: a small upsampling generator trained with MSE
alone and, from the same initial weights, with MSE + 1e-3 * J_G against a discriminator on 28x28
images (SRGAN's weighting with its MSE content loss), both compared with bicubic interpolation
(``keras.ops.image.resize``) by PSNR. The adversarial term is there for sharpness, not PSNR: at its
optimum a generator that minimises MSE alone is the best PSNR scorer (docs/SOURCES.md, erratum B77).

What to observe:
  * translation.png (rows: edges, L1-only, pix2pix, target): both U-Nets recover the digit from its
    edges; the L1-only one fills the strokes with a flatter grey where the edges leave the filling
    uncertain. translation.csv: the GAN term need not cost L1: on the sample pix2pix ends with a
    LOWER test L1 and MSE than the L1-only network trained as long from the same weights.
  * super_resolution.png (rows: 7x7 input, bicubic, MSE-only, GAN, target) and super_resolution.csv:
    both learned generators beat bicubic by about 2 dB (bicubic cannot know what a digit looks like);
    with the adversarial weight 1e-3 the GAN-trained one stays within a few tenths of a dB of the
    MSE-only one (on the sample 0.13 dB above it after 15 epochs, neither converged): the GAN term
    does not buy PSNR. With ``--adversarial-weight 0.1`` it trades PSNR for invented texture: 21.52 dB
    on the sample, below bicubic, with blotchy, higher-contrast strokes.
  * history_pix2pix.csv: g_loss = adversarial_loss + 100 * reconstruction_loss, the L1 term dominating.
    On the sample d_loss ends at 1.28, near 2 ln 2 = 1.39, with real_score 0.54 and fake_score 0.47:
    the PatchGAN can barely tell the pairs apart. history_sr_gan.csv: SR's D, which sees the image
    alone, stays ahead (d_loss 0.84, scores 0.67 / 0.33), but with weight 1e-3 its push on G is small.

Reference (embedded digits, ``--dataset sample``, 15 epochs, batch 32, 2-core CPU, about 3 minutes):
edges -> digit test L1 0.043 (MSE 0.0044) for the L1-only U-Net, 0.035 (MSE 0.0037) for pix2pix;
7x7 -> 28x28 PSNR 22.15 dB bicubic, 23.93 dB MSE-only, 24.06 dB GAN-trained (+1.91 dB over bicubic).

Outputs (in <out>/29_image_translation/): pix2pix_generator.h5, pix2pix_l1_generator.h5,
pix2pix_discriminator.h5, sr_generator.h5 (GAN-trained), sr_mse_generator.h5, sr_discriminator.h5,
translation.png, translation.csv, super_resolution.png, super_resolution.csv, history_pix2pix.csv,
history_pix2pix_l1.csv, history_sr_gan.csv, history_sr_mse.csv, run.json.
"""

import sys

import keras
import numpy as np

from dlcourse import artifacts, training
from dlcourse.arguments import positive_float, positive_int
from dlcourse.errors import report_user_errors
from dlcourse.generative.translation import (PIX2PIX_L1_WEIGHT, SRGAN_ADVERSARIAL_WEIGHT, Pix2Pix, SuperResolutionGAN,
                                             bicubic_upsample, downsample, psnr, sobel_edges)
from dlcourse.models.image_translation import (build_patchgan_discriminator, build_sr_discriminator,
                                               build_sr_generator, build_unet_generator)

SCALE = 4  # 28x28 -> 7x7 -> 28x28
SHOWN = 8  # test images per row of the figures
GAN_BETA_1 = 0.5  # pix2pix and DCGAN: Adam(2e-4, beta_1 = 0.5)


def scale(images):
    """uint8 images -> float32 in [0, 1], shape kept (N, 28, 28, 1)."""
    return images.astype("float32") / 255.0


def adam(args):
    """pix2pix's optimizer, for every network here (the baselines too, so only the loss differs)."""
    return keras.optimizers.Adam(args.learning_rate, beta_1=GAN_BETA_1)


def copy_of(model, name):
    """A second network with ``model``'s architecture and initial weights (the fair baseline)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return keras.Model(clone.inputs, clone.outputs, name=name)


def train_pair(run, args, generator, discriminator, gan_class, reconstruction, names, sources, targets, **gan_kwargs):
    """Train a copy of ``generator`` with the reconstruction loss alone and ``generator`` in ``gan_class``
    from the same initial weights; ``names`` = (baseline history stem, GAN history stem). Returns
    ``(baseline, generator)``."""
    baseline_name, gan_name = names
    with run.strategy.scope():
        baseline = copy_of(generator, f"{baseline_name}_generator")
        baseline.compile(optimizer=adam(args), loss="mae" if reconstruction == "l1" else "mse")
        gan = gan_class(generator, discriminator, **gan_kwargs)
        gan.compile(d_optimizer=adam(args), g_optimizer=adam(args))
    fit = dict(epochs=args.epochs, batch_size=args.batch_size, shuffle=True, curves_name=None)
    run.fit(baseline, sources, targets, history_name=f"history_{baseline_name}.csv", **fit)
    run.fit(gan, sources, targets, history_name=f"history_{gan_name}.csv", **fit)
    return baseline, generator


def predict(model, x):
    return np.asarray(model.predict(x, verbose=0), dtype="float32")


def pix2pix(run, args, x_train, x_test):
    """(b): edges -> digit with an L1-only U-Net and pix2pix; translation.csv/.png; returns the rows."""
    with run.strategy.scope():
        generator = build_unet_generator(filters=args.filters, name="pix2pix_generator")
        discriminator = build_patchgan_discriminator(filters=args.filters, name="pix2pix_discriminator")
    baseline, generator = train_pair(run, args, generator, discriminator, Pix2Pix, "l1", ("pix2pix_l1", "pix2pix"),
                                     sobel_edges(x_train), x_train, l1_weight=args.l1_weight)
    edges = sobel_edges(x_test)
    outputs = {"l1_only": predict(baseline, edges), "pix2pix": predict(generator, edges)}
    rows = [{"generator": variant, "file": file, "test_l1": float(np.mean(np.abs(images - x_test))),
             "test_mse": float(np.mean((images - x_test) ** 2))}
            for (variant, images), file in zip(outputs.items(), ("pix2pix_l1_generator.h5", "pix2pix_generator.h5"))]
    run.save_csv(rows, "translation.csv")
    shown = [edges, outputs["l1_only"], outputs["pix2pix"], x_test]
    artifacts.image_grid(np.concatenate([images[:SHOWN] for images in shown]), run.path("translation.png"),
                         ncols=SHOWN, value_range=(0.0, 1.0), tiled=True,
                         row_titles=["edges", "L1 only", "pix2pix", "target"])
    run.save_model(baseline, "pix2pix_l1_generator.h5")
    run.save_model(generator, "pix2pix_generator.h5")
    run.save_model(discriminator, "pix2pix_discriminator.h5")
    return rows


def super_resolution(run, args, x_train, x_test):
    """(c): 7x7 -> 28x28 by bicubic, MSE-only and GAN generators; super_resolution.csv/.png; the rows."""
    low_train, low_test = downsample(x_train, SCALE), downsample(x_test, SCALE)
    with run.strategy.scope():
        generator = build_sr_generator(input_shape=low_train.shape[1:], scale=SCALE, filters=args.filters)
        discriminator = build_sr_discriminator(input_shape=x_train.shape[1:], filters=args.filters)
    baseline, generator = train_pair(run, args, generator, discriminator, SuperResolutionGAN, "mse",
                                     ("sr_mse", "sr_gan"), low_train, x_train,
                                     adversarial_weight=args.adversarial_weight)
    outputs = {"bicubic": bicubic_upsample(low_test, x_test.shape[1:3]), "sr_mse": predict(baseline, low_test),
               "sr_gan": predict(generator, low_test)}
    files = {"bicubic": "", "sr_mse": "sr_mse_generator.h5", "sr_gan": "sr_generator.h5"}
    rows = [{"method": method, "file": files[method], "test_psnr": float(np.mean(psnr(x_test, images))),
             "test_mse": float(np.mean((images - x_test) ** 2))} for method, images in outputs.items()]
    run.save_csv(rows, "super_resolution.csv")
    nearest = np.repeat(np.repeat(low_test[:SHOWN], SCALE, axis=1), SCALE, axis=2)  # the 7x7 input, enlarged
    shown = [nearest, outputs["bicubic"][:SHOWN], outputs["sr_mse"][:SHOWN], outputs["sr_gan"][:SHOWN], x_test[:SHOWN]]
    artifacts.image_grid(np.concatenate(shown), run.path("super_resolution.png"), ncols=SHOWN,
                         value_range=(0.0, 1.0), tiled=True,
                         row_titles=["7x7 input", "bicubic", "MSE only", "GAN", "target"])
    run.save_model(baseline, "sr_mse_generator.h5")
    run.save_model(generator, "sr_generator.h5")
    run.save_model(discriminator, "sr_discriminator.h5")
    return rows


def main(argv=None):
    parser = training.lab_parser("29", epochs=15, batch_size=32,
                                 learning_rate=(2e-4, "pix2pix: Adam(2e-4, beta_1=0.5)"))
    parser.add_argument("--filters", type=positive_int, default=16, help="width f of every network (16)")
    parser.add_argument("--l1-weight", type=positive_float, default=PIX2PIX_L1_WEIGHT,
                        help="lambda of pix2pix's L1 term (Isola et al. 2017: 100)")
    parser.add_argument("--adversarial-weight", type=positive_float, default=SRGAN_ADVERSARIAL_WEIGHT,
                        help="weight of J_G in the super-resolution generator's loss (SRGAN: 1e-3)")
    args = training.parse_lab_args(parser, argv)
    with training.LabRun("29", args) as run:
        (x_train, _), (x_test, _) = run.load_splits()
        x_train, x_test = scale(x_train), scale(x_test)
        translation = {row["generator"]: row for row in pix2pix(run, args, x_train, x_test)}
        resolution = {row["method"]: row for row in super_resolution(run, args, x_train, x_test)}
        metrics = {**{f"test_{quantity}_{variant}": row[f"test_{quantity}"] for variant, row in translation.items()
                      for quantity in ("l1", "mse")},
                   **{f"test_psnr_{method}": row["test_psnr"] for method, row in resolution.items()}}
        metrics["test_psnr_gain_sr_gan"] = resolution["sr_gan"]["test_psnr"] - resolution["bicubic"]["test_psnr"]
        run.finish(metrics=metrics, model=None, scale=SCALE, filters=args.filters, l1_weight=args.l1_weight,
                   adversarial_weight=args.adversarial_weight, translation=list(translation.values()),
                   super_resolution=list(resolution.values()))


if __name__ == "__main__":
    sys.exit(report_user_errors(main))
