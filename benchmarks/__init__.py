"""skal's benchmarks: thin scripts over one shared module, :mod:`benchmarks._common`.

Run a script as a module from the repository root, e.g.
``python -m benchmarks.bench_label_efficiency --report``.
"""
