"""Check, at ``import winwin_mm``, that the stack is in a known-good range.

Versions are read from the installed distributions' metadata (no import), so
an unsupported version fails here with the installed and the supported
versions named, before mmseg or mmcv fail somewhere deep inside.
``WINWIN_MM_SKIP_VERSION_CHECK=1`` turns the errors into warnings (experts
trying a newer stack).
"""
import importlib.metadata as metadata
import os
import warnings
from typing import Dict, List, Optional

from packaging.version import Version

SKIP_ENV = 'WINWIN_MM_SKIP_VERSION_CHECK'

# distribution -> (min inclusive, max exclusive, the pinned version we test)
SUPPORTED = {
    'torch': ('2.1.0', '2.15.0', '2.13.0'),
    'mmengine': ('0.10.0', '0.11.0', '0.10.7'),
    'mmcv': ('2.0.0', '2.2.0', '2.1.0'),  # mmseg 1.2.2 refuses mmcv >= 2.2
    'mmsegmentation': ('1.2.0', '1.3.0', '1.2.2'),
}
# mmcv is installed under one of these distribution names
MMCV_DISTS = ('mmcv', 'mmcv-lite', 'mmcv-full')
FIX = ('`make test` (or `bash tools/install_env.sh`) builds a .venv with the '
       'pinned stack; in your own environment: `pip install {pin}`.')


class IncompatibleVersionError(ImportError):
    """An installed dependency is outside the range winwin_mm supports."""


def _installed(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def installed_versions() -> Dict[str, Optional[str]]:
    """Installed version of each checked package (mmcv: any of its builds)."""
    found = {name: _installed(name) for name in SUPPORTED if name != 'mmcv'}
    mmcv = {d: _installed(d) for d in MMCV_DISTS}
    mmcv = {d: v for d, v in mmcv.items() if v is not None}
    found['mmcv'] = mmcv
    return found


def version_problems(found: Dict) -> List[str]:
    """Messages for every package outside its supported range."""
    problems = []
    for name, (low, high, pin) in SUPPORTED.items():
        need = f'{name}>={low},<{high}'
        if name == 'mmcv':
            dists = found.get('mmcv') or {}
            if not dists:
                problems.append(
                    f'mmcv is not installed; winwin_mm needs {need}. Fix: '
                    + FIX.format(pin='mmcv-lite==2.1.0  (or the full '
                                 'mmcv==2.1.0)'))
                continue
            if len(dists) > 1:
                listed = ', '.join(f'{d} {v}' for d, v in dists.items())
                problems.append(
                    f'several mmcv builds are installed ({listed}); they all '
                    f'ship the same `mmcv` package and overwrite each other. '
                    f'Fix: `pip uninstall -y {" ".join(dists)}` then install '
                    f'one: `pip install mmcv-lite==2.1.0` or the full '
                    f'`mmcv==2.1.0`.')
                continue
            (dist, version), = dists.items()
            label = f'{dist} {version}'
            pin_dist = 'mmcv-lite' if dist == 'mmcv-lite' else 'mmcv'
        else:
            version = found.get(name)
            if version is None:
                problems.append(f'{name} is not installed; winwin_mm needs '
                                f'{need}. Fix: ' + FIX.format(
                                    pin=f'{name}=={pin}'))
                continue
            label = f'{name} {version}'
            pin_dist = name
        v = Version(version)
        if not Version(low) <= Version(v.base_version) < Version(high):
            problems.append(
                f'{label} is installed but winwin_mm supports {need} '
                f'(tested: {pin}). Fix: ' + FIX.format(
                    pin=f'{pin_dist}=={pin}'))
    return problems


def check_versions(found: Optional[Dict] = None) -> None:
    """Raise :class:`IncompatibleVersionError` listing every problem.

    Args:
        found (dict, optional): versions as :func:`installed_versions`
            returns them; read from the environment by default.
    """
    problems = version_problems(installed_versions() if found is None
                                else found)
    if not problems:
        return
    text = 'winwin_mm cannot run with this environment:\n  - ' + \
        '\n  - '.join(problems)
    if os.environ.get(SKIP_ENV) == '1':
        warnings.warn(text + f'\n({SKIP_ENV}=1: continuing anyway)')
        return
    raise IncompatibleVersionError(
        text + f'\n(Set {SKIP_ENV}=1 to try anyway, at your own risk.)')
