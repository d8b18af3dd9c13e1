"""winwin_mm: Win-Win high-resolution ViT training for OpenMMLab.

Packaging follows MMYOLO: configs, tools and ``model-index.yml`` are shipped
inside the package under ``winwin_mm/.mim`` (symlinks in the source tree;
a wheel built by ``pip install .`` holds real copies), so that configs anywhere can inherit
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
from setuptools.command.build_py import build_py

PTH = 'winwin_mm_mim_scope.pth'

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
    """Link configs/, tools/ and model-index.yml into winwin_mm/.mim.

    Symlinks (MMYOLO's ``add_mim_extension``); building a wheel or an sdist
    follows them and ships real copies, and an editable install sees the
    live files. Where symlinks are not possible (some Windows set-ups) the
    files are copied.
    """
    if not {'develop', 'editable_wheel', 'sdist', 'bdist_wheel', 'build',
            'build_py', 'egg_info', 'dist_info'} & set(sys.argv):
        return
    mim_path = osp.join(HERE, 'winwin_mm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if osp.islink(dst) and os.readlink(dst) == osp.relpath(
                src, mim_path):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        try:
            os.symlink(osp.relpath(src, mim_path), dst)
        except OSError:
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                    '__pycache__', '*.pyc'))
            else:
                shutil.copyfile(src, dst)
    missing = [n for n in MIM_FILES
               if not osp.exists(osp.join(mim_path, n))]
    if missing:
        warnings.warn(f'MIM extension in {mim_path} lacks {missing}')


class BuildPyWithPth(build_py):
    """Also put ``winwin_mm_mim_scope.pth`` at the top of the wheel.

    pytest-cov's pattern: a .pth file in site-packages runs at start-up; this
    one registers the ``winwin_mm::`` config scope with MMEngine (see
    ``_winwin_mm_mim_scope.py``) so that tools that parse configs before
    importing winwin_mm (``mim test mmseg``) resolve it too.
    """

    def run(self):
        super().run()
        self.copy_file(osp.join(HERE, PTH), osp.join(self.build_lib, PTH))

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [
            osp.join(self.build_lib, PTH)]


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
        py_modules=['_winwin_mm_mim_scope'],
        cmdclass={'build_py': BuildPyWithPth},
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
