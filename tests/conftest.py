import os
import os.path as osp
import sys

import pytest

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
