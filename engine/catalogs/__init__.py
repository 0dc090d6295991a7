"""Operator catalogs end to end: the file-based catalog format (:mod:`.fbc`), index images (:mod:`.index`),
what is installed and whether it blocks the next OpenShift minor (:mod:`.installed`), mirroring a filtered
catalog (:mod:`.mirror`) and pointing the cluster at it (:mod:`.apply`).

The older single-CatalogSource re-point (``ocp-airgap catalog set/restore``) stays in :mod:`engine.catalog`.
"""
