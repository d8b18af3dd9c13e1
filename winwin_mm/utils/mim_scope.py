"""Let MMEngine resolve ``winwin_mm::`` config paths.

MMEngine 0.10.7 accepts ``_base_ = ['pkg::dir/config.py']`` only for the
packages in its hard-coded ``MODULE2PACKAGE`` table; registering winwin_mm
there (done at ``import winwin_mm``) makes configs anywhere able to inherit
the configs shipped in ``winwin_mm/.mim/configs`` once winwin_mm is
installed.
"""


def register_mim_scope() -> None:
    """Idempotent."""
    from mmengine.config import utils
    utils.MODULE2PACKAGE.setdefault('winwin_mm', 'winwin_mm')
