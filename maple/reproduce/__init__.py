"""``maplebench reproduce``: the seed thread's published rows, rerun on modeled kernels.

* :mod:`maple.reproduce.published`: the figures the 2022 maple tree v6 thread printed
  (package data ``data/seed.csv``, one row per published row, with message id and author);
* :mod:`maple.reproduce.agreement`: when a modeled figure agrees with a published one (the
  targets of issue 11's "Measures");
* :mod:`maple.reproduce.seed`: which cells reproduce each row, running them with
  :class:`maple.bench.runner.Runner` on the model clock, and the modeled percentages;
* :mod:`maple.reproduce.render` and :mod:`maple.reproduce.plot`: text, CSV and a figure.
"""
