"""The built-in demo dataset: writers of real motion in the released file formats of Human3.6M, MPI-INF-3DHP and
3DPW (the loaders in `harness.datasets` read them like the real files), and the converter of the committed motion."""
