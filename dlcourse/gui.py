"""A Tkinter window to test a saved image classifier; the ``dlcourse gui MODEL.h5`` command.

Unit II, "Practical Work: Image classification", step 6: the GUI must (a) load a local image,
(b) display the model's prediction with the associated probability and (c) display the correct
class for validation, if given. The window only arranges widgets; everything it shows comes from
:class:`dlcourse.prediction.Predictor` and :func:`dlcourse.prediction.check_answer`, which are
tested without a display. Tkinter itself needs a display (X11, macOS, Windows; on a headless
Linux server run it under ``xvfb-run``), and Python's Tk support (Debian: ``python3-tk``).

Usage: ``dlcourse gui saved_models/11_image_classifier/classifier.h5``
"""

import pathlib

from dlcourse.errors import UserError, report_user_errors
from dlcourse.prediction import Predictor, check_answer

__all__ = ["PredictionWindow", "format_predictions", "configure_parser", "command"]

PREVIEW_SIZE = 256
IMAGE_TYPES = [("Images", "*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp"), ("All files", "*")]


def format_predictions(predictions):
    """The text the window shows for ``[(name, probability), ...]``: one ranked line per class."""
    return "\n".join(f"{rank}. {name}: {probability:.1%}"
                     for rank, (name, probability) in enumerate(predictions, start=1))


class PredictionWindow:
    """The window: "Open image..." button, the image, the top-3 predictions, a true-class check.

    ``open_image(path)`` and ``check(true_class)`` do what the buttons do, so tests (and scripts)
    can drive the window without a file dialog.
    """

    def __init__(self, root, predictor, k=3):
        import tkinter
        from tkinter import ttk

        self.root = root
        self.predictor = predictor
        self.k = k
        self.predictions = None
        self._photo = None  # keep a reference, or Tk shows a blank image
        root.title(f"dlcourse: {predictor.model.name}")
        frame = ttk.Frame(root, padding=10)
        frame.grid(sticky="nsew")
        ttk.Button(frame, text="Open image...", command=self.ask_image).grid(row=0, column=0, sticky="w")
        self.path_label = ttk.Label(frame, text="no image loaded")
        self.path_label.grid(row=0, column=1, columnspan=2, sticky="w", padx=8)
        self.image_label = ttk.Label(frame, text="(image)", anchor="center")
        self.image_label.grid(row=1, column=0, columnspan=3, pady=8)
        self.predictions_label = ttk.Label(frame, text="", justify="left", font=("TkFixedFont", 11))
        self.predictions_label.grid(row=2, column=0, columnspan=3, sticky="w")
        ttk.Label(frame, text="True class (optional):").grid(row=3, column=0, sticky="w", pady=(8, 0))
        self.true_class = tkinter.StringVar(root)
        self.true_class_box = ttk.Combobox(frame, textvariable=self.true_class,
                                           values=predictor.class_names, width=18)
        self.true_class_box.grid(row=3, column=1, sticky="w", pady=(8, 0))
        self.true_class_box.bind("<<ComboboxSelected>>", lambda event: self.check())
        ttk.Button(frame, text="Check", command=self.check).grid(row=3, column=2, sticky="w", pady=(8, 0))
        self.verdict_label = ttk.Label(frame, text="")
        self.verdict_label.grid(row=4, column=0, columnspan=3, sticky="w", pady=(4, 0))

    def ask_image(self):
        from tkinter import filedialog

        path = filedialog.askopenfilename(parent=self.root, title="Open an image", filetypes=IMAGE_TYPES)
        if path:
            self.open_image(path)

    def open_image(self, path):
        """Show ``path`` and its top-k predictions; a bad file shows the error instead."""
        from PIL import Image, ImageTk

        self.verdict_label.configure(text="")
        try:
            self.predictions = self.predictor.predict(path, k=self.k)
            with Image.open(path) as image:
                image = image.convert("RGB")
                image.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
                if max(image.size) < PREVIEW_SIZE // 2:  # blow tiny dataset images up (pixelated)
                    factor = PREVIEW_SIZE // max(image.size)
                    image = image.resize((image.width * factor, image.height * factor),
                                         Image.Resampling.NEAREST)
                self._photo = ImageTk.PhotoImage(image, master=self.root)
        except UserError as error:
            self.predictions = None
            self._photo = None
            self.image_label.configure(image="", text="(no image)")
            self.predictions_label.configure(text=f"error: {error}")
            return None
        self.path_label.configure(text=pathlib.Path(path).name)
        self.image_label.configure(image=self._photo, text="")
        self.predictions_label.configure(text=format_predictions(self.predictions))
        if self.true_class.get().strip():
            self.check()
        return self.predictions

    def check(self, true_class=None):
        """Compare the top prediction with the true class (from the argument or the combobox)."""
        if true_class is not None:
            self.true_class.set(true_class)
        given = self.true_class.get().strip()
        if not given or self.predictions is None:
            self.verdict_label.configure(text="open an image and give its true class to check")
            return None
        try:
            correct, message = check_answer(self.predictions, given, self.predictor.class_names)
        except UserError as error:
            self.verdict_label.configure(text=str(error), foreground="")
            return None
        self.verdict_label.configure(text=message, foreground="dark green" if correct else "red")
        return correct


def configure_parser(parser):
    parser.description = "Open a window to test a saved image classifier on local images."
    parser.add_argument("model", help="a saved classifier, e.g. saved_models/11_image_classifier/classifier.h5")
    parser.add_argument("--image", help="an image to show on start")
    return parser


def _run(args):
    predictor = Predictor.from_file(args.model)  # UserError before any window opens
    try:
        import tkinter
    except ImportError:
        raise UserError("this Python has no Tkinter; install it (Debian/Ubuntu: apt-get install "
                        "python3-tk) or use `dlcourse predict`") from None

    try:
        root = tkinter.Tk()
    except tkinter.TclError as error:
        raise UserError(f"cannot open a window ({error}); on a machine without a display use "
                        f"`dlcourse predict {args.model} IMAGE...` or run under xvfb-run") from None
    window = PredictionWindow(root, predictor)
    if args.image:
        window.open_image(args.image)
    root.mainloop()
    return 0


def command(args):
    """``dlcourse gui``: returns the exit code."""
    return report_user_errors(_run, args)
