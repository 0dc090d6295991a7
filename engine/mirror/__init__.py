"""Release mirroring, built in: direct (source registry → mirror registry), to removable media (``--to-dir``)
and from it (``--from-dir``), resumable and verified; and the ``oc`` / ``oc-mirror`` backends.

| module | what it holds |
|---|---|
| ``run`` | :func:`mirror_release`, the operation, cut into named phases |
| ``core`` | options and results, image jobs, the copier, stores and credentials, journals and records |
| ``verify`` | :func:`verify_mirror`: every manifest and blob by digest, and the tags |
| ``config`` | the ICSP / IDMS and instructions ``oc adm release mirror`` prints |
| ``media`` | the removable-media layout (``oc image mirror --from-dir``), checksums, free space |
| ``commands`` | the equivalent ``oc`` command lines |
| ``ocbackend``, ``ocmirror`` | running ``oc adm release mirror`` / ``oc-mirror`` instead of the built-in copier |
"""

from __future__ import annotations

from engine.mirror.config import (
    icsp_instructions,
    icsp_yaml,
    idms_instructions,
    idms_yaml,
    mirror_sources,
    output_dir,
    write_mirror_config,
)
from engine.mirror.core import (
    STEP,
    MirrorOptions,
    MirrorSummary,
    VerifyProblem,
    VerifyReport,
    component_source,
    media_dir,
)
from engine.mirror.run import mirror_release
from engine.mirror.verify import iter_problems, verify_mirror

__all__ = [
    "STEP",
    "MirrorOptions",
    "MirrorSummary",
    "VerifyProblem",
    "VerifyReport",
    "component_source",
    "icsp_instructions",
    "icsp_yaml",
    "idms_instructions",
    "idms_yaml",
    "iter_problems",
    "media_dir",
    "mirror_release",
    "mirror_sources",
    "output_dir",
    "verify_mirror",
    "write_mirror_config",
]
