"""The numbered lab scripts, installed with the package as ``dlcourse.labs``.

Each ``NN_slug.py`` has a ``main(argv=None)``; ``dlcourse run NN`` imports it through
``dlcourse.catalog.load_lab_module``, and ``python labs/NN_slug.py`` runs the same file as a script.
"""
