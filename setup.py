"""winwin_mm: Win-Win high-resolution ViT training for OpenMMLab.

Packaging follows MMYOLO: configs, tools and ``model-index.yml`` are shipped
inside the package under ``winwin_mm/.mim`` (copied for ``pip install .``,
symlinked for ``pip install -e .``), so that configs anywhere can inherit
``_base_ = ['winwin_mm::winwin_vits_camvid.py']`` and ``mim train/test
winwin_mm`` find the tools.

mmcv is an extra, not a hard requirement: ``.[lite]`` (mmcv-lite 2.1.0, the
default of ``tools/install_env.sh``) or ``.[full]`` (mmcv 2.1.0 with compiled
ops). A plain ``pip install -e .`` into an existing OpenMMLab environment
therefore never installs mmcv-lite over a full mmcv.
"""
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def parse_requirements(fname):
    """Read pinned requirements, skipping comments."""
    with open(osp.join(HERE, fname)) as f:
        return [ln.split('#')[0].strip() for ln in f
                if ln.split('#')[0].strip()]


def get_version():
    ns = {}
    with open(osp.join(HERE, 'winwin_mm', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def add_mim_extension():
    """Put configs/, tools/ and model-index.yml into winwin_mm/.mim.

    Symlinks for editable installs (``develop``/``editable_wheel``), copies
    when a wheel or sdist is built (MMYOLO's ``add_mim_extension``).
    """
    if {'develop', 'editable_wheel'} & set(sys.argv):
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel', 'build', 'build_py'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'winwin_mm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)
    if not all(osp.exists(osp.join(mim_path, n)) for n in MIM_FILES):
        warnings.warn(f'incomplete MIM extension in {mim_path}')


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='winwin_mm',
        version=get_version(),
        description='Win-Win: training high-resolution vision transformers '
        'from two windows, as OpenMMLab (MMSegmentation / flow) components',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={'winwin_mm': ['.mim/model-index.yml',
                                    '.mim/configs/**/*.py',
                                    '.mim/tools/*.py', '.mim/tools/*.sh']},
        python_requires='>=3.9',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'dev': parse_requirements('requirements/dev.txt'),
            'lite': parse_requirements('requirements/mmcv_lite.txt'),
            'full': parse_requirements('requirements/mmcv_full.txt'),
            'mim': ['openmim==0.3.9', 'colorama', 'pandas', 'requests',
                    'tabulate'],
        },
        zip_safe=False,
    )
