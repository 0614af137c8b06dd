"""Custom Keras layers, all registered under the package name ``"dlcourse"``.

One module per topic (a better fit than one ``layers.py`` once five units add layers). Every layer
takes ``**kwargs`` and implements ``get_config`` so a saved ``.h5`` reloads with ``safe_mode=True``
after only ``import dlcourse``. Add a new module's import here.
"""

from dlcourse.layers.pooling import *  # noqa: F401,F403
from dlcourse.layers.lenet import *  # noqa: F401,F403
from dlcourse.layers.sampling import *  # noqa: F401,F403
from dlcourse.layers.transformer import *  # noqa: F401,F403
from dlcourse.layers.recurrent import *  # noqa: F401,F403
from dlcourse.layers.language import *  # noqa: F401,F403

# Custom augmentation layers live beside the augmentation pipeline they belong to; importing it here
# registers them, so a model with augmentation at its front reloads after only ``import dlcourse``.
from dlcourse.augmentation import RandomKernelFilter  # noqa: F401,E402
