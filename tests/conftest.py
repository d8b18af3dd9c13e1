import os
import os.path as osp
import sys

import pytest

# first, as every entry point does: under mmcv-lite, `import winwin_mm` is what
# lets mmseg's modules import (placeholder for mmcv's compiled ops)
import winwin_mm  # noqa: F401,E402

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
SHARED_DATA = os.environ.get(
    'WINWIN_DATA', osp.join(osp.dirname(REPO), 'shared', 'data'))


def shared_data(*parts) -> str:
    """Path under ../shared/data, or skip the test when it is absent."""
    path = osp.join(SHARED_DATA, *parts)
    if not osp.exists(path):
        pytest.skip(f'real test data not found at {path} (it lives in '
                    '../shared/data beside the repository; set WINWIN_DATA)')
    return path


@pytest.fixture(scope='session')
def python_exe() -> str:
    return sys.executable


@pytest.fixture(autouse=True)
def restore_default_scope():
    """Undo a test's change of mmengine's default registry scope, so that no
    test depends on the scope an earlier test left (tests that build
    components by short names set their scope themselves)."""
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.fixture
def mmseg_scope():
    """Default scope ``mmseg`` for tests that build mmseg components by
    their bare names (``pytestmark = pytest.mark.usefixtures(...)``); undone
    by :func:`restore_default_scope`."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
