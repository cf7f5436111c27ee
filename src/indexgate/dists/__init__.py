"""Distribution formats, without the network: what a wheel or sdist is, whoever read it.

Both the inputs (local projects, direct references, lock files) and the index client read
these, so they sit below both, as uv keeps its distribution-filename and metadata crates
below its client and resolver:

- ``models.py``: wheel and sdist filenames (``parse_filename``), the files an index lists
  (``DistFile``) and the core metadata read from them (``CoreMetadata``);
- ``metadata.py``: core metadata (``METADATA``/``PKG-INFO``) parsed and checked;
- ``wheelzip.py``: a wheel's ``METADATA`` found in its zip, from a tail of its bytes;
- ``build.py``: an sdist's or a local project's metadata built by its backend, only with
  ``--allow-build`` (package code runs there and nowhere else).
"""
